"""Room impulse responses (RIRs) of shoebox rooms behind one interface, three backends.

* ``ism`` — audiopipe's own batched image-source method (Allen & Berkley 1979, JASA 65(4),
  eq. (10)-(11)) written in torch, so that the same code runs on CPU and on a CUDA device.
  As gpuRIR does for SAR-SSL (Diaz-Guerra et al., "gpuRIR", Multimed. Tools Appl. 2021, sec. 3.3),
  image sources are summed until the RIR has decayed ``ism_decay_db`` (12 dB, i.e.
  ``Tdiff = 12/60 T60``) and the rest, up to ``max_decay_db`` (40 dB, ``Tmax = 40/60 T60``), is a
  diffuse tail: noise under an exponential envelope. ``tail_decay="sabine"`` is gpuRIR's model
  (``envPred_kernel`` / ``diffRev_kernel`` of ``src/gpuRIR_cuda.cu``, see
  :func:`sabine_tail_envelope`): unit-variance logistic noise, power decaying 60 dB per T60 from
  the mean power of the last 10 ms of the image-source part, assigned to the centre of that
  window. ``tail_decay="ism"`` — the default of this module — follows the image sources' own
  energy decay (see :func:`ism_rirs`), which keeps T60 within 10 % of the full image-source model.
  Unlike gpuRIR, both times are counted from the direct-path arrival (so a distant source keeps
  its early reflections); the tail is independent per microphone (gpuRIR's is too). A 10 Hz
  zero-phase high-pass removes the DC build-up of the image sources, as in pyroomacoustics.
* ``pyroomacoustics`` — pyroomacoustics' full image-source model (``ShoeBox`` with
  ``max_order`` from ``pyroomacoustics.inverse_sabine``): the slow reference.
* ``gpurir`` — gpuRIR's ``simulateRIR`` called exactly as SAR-SSL does
  (``code_v1/dataset.py``, ``RandomMicSigDataset.genRIR``): ``Tdiff = att2t_SabineEstimator(12,
  T60)``, ``Tmax = att2t_SabineEstimator(40, T60)``, ``Tdiff = Tmax`` when T60 < 0.15 s,
  ``nb_img = t2n(Tdiff, room)``. Only available when ``gpuRIR`` imports and CUDA is present
  (gpuRIR is not on PyPI).

Every backend returns float32 ``(channels, samples)`` and is checked by :func:`check_rir`
(gpuRIR sometimes returns all-zero RIRs: github.com/DavidDiazGuerra/gpuRIR issue #45).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from audiopipe.acoustics.rooms import Room

BACKENDS = ("ism", "pyroomacoustics", "gpurir")

#: half-width in samples of the Hann-windowed sinc fractional-delay filter of the ``ism`` backend
FRAC_DELAY_HALF_WIDTH = 16

_LN10 = math.log(10.0)


class InvalidRIRError(RuntimeError):
    """A simulated RIR is all zeros or holds NaN/inf values."""


class BackendUnavailableError(RuntimeError):
    """The requested RIR backend cannot run on this machine (missing package or CUDA)."""


def check_rir(rir: np.ndarray, context: str = "") -> np.ndarray:
    """Raise :class:`InvalidRIRError` if ``rir`` has non-finite values or a silent channel.

    Parameters
    ----------
    rir : numpy.ndarray, shape (channels, samples)
    context : str
        Text naming the room/backend, put in the error message.

    Returns
    -------
    numpy.ndarray
        ``rir`` unchanged.
    """
    if not np.all(np.isfinite(rir)):
        raise InvalidRIRError(f"RIR holds NaN/inf values ({context})")
    energy = np.sum(np.asarray(rir, dtype=np.float64) ** 2, axis=-1)
    if np.any(energy == 0):
        raise InvalidRIRError(f"RIR channel(s) {np.flatnonzero(energy == 0).tolist()} are all zeros ({context})")
    return rir


def gpurir_available() -> bool:
    """True when gpuRIR imports and a CUDA device is present."""
    try:
        import gpuRIR  # noqa: F401
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _frac_delay_taps(delay: torch.Tensor, half_width: int, amp: torch.Tensor | None = None,
                     offset: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Hann-windowed sinc taps of a fractional delay (samples): (index, value), each (..., 2W).

    Tap ``i`` (``i = -W+1 .. W``) sits at ``floor(delay) + i``, at ``t = i - f`` from the delay
    (``f`` the fractional part, kept in ``[1e-6, 1 - 1e-6]`` so that ``t != 0``);
    ``sinc(t) = (-1)^(i+1) sin(pi f) / (pi t)`` and the window
    ``0.5 (1 + cos(pi t / W))`` come from one sine/cosine per delay by the angle-addition
    formulas, so each tap costs a few multiplications. ``amp`` (same shape as ``delay``)
    scales the taps; ``offset`` (integer, same shape) is added to the indices.
    """
    base = torch.floor(delay)
    f = (delay - base).clamp_(1e-6, 1 - 1e-6).unsqueeze(-1)
    i = torch.arange(-half_width + 1, half_width + 1, device=delay.device, dtype=delay.dtype)
    ang = math.pi / half_width
    sign = 1.0 - 2.0 * torch.remainder(i + 1, 2)  # (-1)^(i+1)
    scale = torch.sin(math.pi * f) / math.pi
    if amp is not None:
        scale = scale * amp.unsqueeze(-1)
    val = (0.5 * torch.cos(ang * i)) * torch.cos(ang * f)  # window: 0.5 + 0.5 cos(a i - a f)
    val.addcmul_(0.5 * torch.sin(ang * i), torch.sin(ang * f)).add_(0.5)
    val.div_(i - f).mul_(sign).mul_(scale)
    base = base.to(torch.long)
    if offset is not None:
        base = base + offset
    idx = base.unsqueeze(-1) + torch.arange(-half_width + 1, half_width + 1, device=delay.device)
    return idx, val


def _axis_images(src: float, length: float, b0: float, b1: float, n_max: int, device, dtype):
    """Image coordinates and reflection gains along one axis (Allen & Berkley eq. 10)."""
    n = torch.arange(-n_max, n_max + 1, device=device, dtype=dtype)
    n2 = torch.cat([n, n])
    q = torch.cat([torch.zeros_like(n), torch.ones_like(n)])
    coord = (1 - 2 * q) * src + 2 * n2 * length
    gain = torch.pow(torch.tensor(b0, dtype=dtype, device=device), torch.abs(n2 - q)) * torch.pow(
        torch.tensor(b1, dtype=dtype, device=device), torch.abs(n2))
    return coord, gain


def ism_times(room: Room, ism_decay_db: float = 12.0, max_decay_db: float = 40.0) -> tuple[float, float]:
    """Image-source and total durations ``(Tdiff, Tmax)`` in s after the direct path.

    ``Tdiff = ism_decay_db / 60 * T60`` and ``Tmax = max_decay_db / 60 * T60`` (gpuRIR's
    ``att2t_SabineEstimator``); when T60 < 0.15 s the whole RIR is image sources (SAR-SSL).
    """
    t_diff = ism_decay_db / 60.0 * room.t60
    t_max = max_decay_db / 60.0 * room.t60
    if room.t60 < 0.15 or t_diff > t_max:
        t_diff = t_max
    return t_diff, t_max


def ism_rirs(
    rooms: Sequence[Room],
    fs: int,
    *,
    ism_decay_db: float = 12.0,
    max_decay_db: float = 40.0,
    diffuse_tail: bool = True,
    seed: int = 0,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    half_width: int = FRAC_DELAY_HALF_WIDTH,
    hpf_hz: float = 10.0,
    tail_decay: str = "ism",
    fit_decay_db: float = 30.0,
    sabine_window_ms: float | None = 10.0,
) -> list[np.ndarray]:
    """Simulate RIRs of several rooms at once with the batched torch image-source method.

    All image sources of all rooms and microphones are placed into one buffer by one
    ``index_add_``; on a CUDA device this is one kernel for the whole batch.

    Parameters
    ----------
    rooms : sequence of Room
        Rooms with microphones and one source each (:mod:`audiopipe.acoustics.rooms`).
    fs : int
        Sampling rate in Hz.
    ism_decay_db : float
        Decay in dB up to which image sources are summed (12 dB in SAR-SSL).
    max_decay_db : float
        Decay in dB at which the RIR ends (40 dB in SAR-SSL).
    diffuse_tail : bool
        Add the diffuse exponentially decaying tail between the two (False: ISM only).
    seed : int
        Seed of the tail noise (torch CPU generator, so CPU and CUDA give the same tail).
    device : str or torch.device
        ``"cpu"``, ``"cuda"``, ...
    dtype : torch.dtype
        Computation type (float32 by default; float64 for reference runs).
    half_width : int
        Half-width in samples of the windowed-sinc fractional-delay filter.
    hpf_hz : float
        Cut-off in Hz of the zero-phase high-pass applied to the image-source part (0: none).
        A sum of image sources, all positive pulses, builds up a DC/low-frequency component
        whose energy dominates the late part; Allen & Berkley (1979, sec. IV) high-pass their
        RIRs, and pyroomacoustics applies a 2nd-order Butterworth at 10 Hz forwards and
        backwards (``rir_hpf_fc``). audiopipe applies the same magnitude response
        ``|H(f)|^2 = r / (1 + r)``, ``r = (f / f_c)^4``, in the frequency domain (torch, so it
        runs on the device), before the tail level is fitted.
    tail_decay : {"ism", "sabine"}
        Envelope of the diffuse tail. ``"sabine"``: gpuRIR's model, hence SAR-SSL's
        (:func:`sabine_tail_envelope`; logistic noise).
        ``"ism"`` (default): the tail's energy envelope is the image sources' own energy
        histogram (``sum beta^2k / (4 pi d)^2`` per 24th of the window, interpolated in dB)
        from ``Tdiff`` to the ``fit_decay_db`` time, and past it the least-squares line through
        the last half of that histogram. Counting image energies is far cheaper than placing
        them, and it follows the real shoebox decay, which is neither exponential nor Sabine's
        (strongly absorbing rooms decay faster, weakly absorbing ones with uneven walls
        slower and slower). Only phases are random.
    fit_decay_db : float
        End of the energy fit for ``tail_decay="ism"``, in dB of Sabine decay (30 dB).
    sabine_window_ms : float or None
        Level window of ``tail_decay="sabine"``: the last ``sabine_window_ms`` of the
        image-source part (10 ms: gpuRIR's ``w_sz``). ``None`` matches the energy of the whole
        second half ``[Tdiff/2, Tdiff)`` instead (audiopipe's earlier rule, a lower-variance
        level estimate than 10 ms of a sparse image-source part; kept for that reason).

    Returns
    -------
    list of numpy.ndarray
        One float32 ``(channels, samples)`` RIR per room; sample 0 is time 0 (the source emits
        at t = 0), the length is ``ceil((t_direct_max + Tmax) fs) + half_width``.

    Raises
    ------
    InvalidRIRError
        If a room gives an all-zero or non-finite RIR.
    """
    if tail_decay not in ("ism", "sabine"):
        raise ValueError(f"tail_decay must be 'ism' or 'sabine', got {tail_decay!r}")
    device = torch.device(device)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    pieces_idx, pieces_val, meta = [], [], []
    offset = 0
    for room in rooms:
        c = float(room.sound_speed)
        mic = torch.as_tensor(room.mic_pos, dtype=dtype, device=device)  # (M, 3)
        m_count = mic.shape[0]
        t_diff, t_max = ism_times(room, ism_decay_db, max_decay_db)
        d_dir = torch.linalg.norm(mic - torch.as_tensor(room.src_pos, dtype=dtype, device=device), dim=1)
        t_dir = d_dir / c  # (M,)
        t_dir_max = float(t_dir.max())
        n_samples = int(math.ceil((t_dir_max + t_max) * fs)) + half_width
        # radius (m) of the sphere of image sources placed, per microphone
        r_keep = (t_dir + t_diff) * c
        fit = diffuse_tail and tail_decay == "ism" and t_max > t_diff
        t_fit = max(fit_decay_db / 60.0 * room.t60, t_diff) if fit else t_diff
        r_all = (t_dir + t_fit) * c
        dist, gain, mic_idx = _images(room, mic, r_all, device, dtype)
        tail_fit = None
        if fit:
            tail_fit = _fit_image_energy(dist / c - t_dir[mic_idx], (gain / (4 * math.pi * dist)) ** 2, mic_idx,
                                         m_count, t_diff, t_fit)
        keep = dist <= r_keep[mic_idx]
        dk, mk = dist[keep], mic_idx[keep]
        amp = gain[keep] / (4 * math.pi * dk)
        # rows of n_samples + 2 W: taps before time 0 or past the end land in the margins
        idx, val = _frac_delay_taps(dk * (fs / c), half_width, amp,
                                    offset + half_width + mk * (n_samples + 2 * half_width))
        pieces_idx.append(idx.reshape(-1))
        pieces_val.append(val.reshape(-1))
        meta.append((offset, m_count, n_samples, t_dir.cpu().numpy(), t_diff, t_max, room.t60, tail_fit))
        offset += m_count * (n_samples + 2 * half_width)
    buf = torch.zeros(offset, dtype=dtype, device=device)
    if len(pieces_idx) == 1:
        buf.index_add_(0, pieces_idx[0], pieces_val[0])
    elif pieces_idx:
        buf.index_add_(0, torch.cat(pieces_idx), torch.cat(pieces_val))
    out = []
    for k, (off, m_count, n_samples, t_dir, t_diff, t_max, t60, tail_fit) in enumerate(meta):
        h = buf[off:off + m_count * (n_samples + 2 * half_width)].reshape(m_count, -1)
        h = h[:, half_width:half_width + n_samples]
        if hpf_hz > 0:
            h = highpass_zero_phase(h, fs, hpf_hz)
        if diffuse_tail and t_max > t_diff:
            h = _add_diffuse_tail(h, t_dir, t_diff, t_max, t60, fs, gen, tail_fit,
                                  sabine_window_ms if tail_decay == "sabine" else None)
        rir = h.to(torch.float32).cpu().numpy()
        check_rir(rir, f"ism backend, room {k}: dims {np.round(rooms[k].dims, 3).tolist()}, T60 {t60:.3f} s")
        out.append(rir)
    return out


def highpass_zero_phase(h: torch.Tensor, fs: int, fc: float, order: int = 2) -> torch.Tensor:
    """Zero-phase Butterworth high-pass (forward-backward magnitude) of ``h`` (..., samples).

    Multiplies the spectrum (zero-padded to a fast FFT length >= 2 x samples) by
    ``|H(f)|^2 = r / (1 + r)`` with ``r = (f / fc)^(2 order)`` and crops back.
    """
    import scipy.fft

    n = h.shape[-1]
    nfft = scipy.fft.next_fast_len(2 * n, real=True)
    f = torch.fft.rfftfreq(nfft, d=1.0 / fs, device=h.device).to(h.dtype)
    r = (f / fc) ** (2 * order)
    gain = r / (1 + r)
    return torch.fft.irfft(torch.fft.rfft(h, n=nfft) * gain, n=nfft)[..., :n]


def _images(room: Room, mic: torch.Tensor, radius: torch.Tensor, device, dtype):
    """Image sources within ``radius[m]`` metres of microphone ``m``: (distance, gain, mic index)."""
    coords, gains = [], []
    for ax in range(3):
        n_max = int(math.ceil(float(radius.max()) / (2 * room.dims[ax]))) + 1
        co, g = _axis_images(float(room.src_pos[ax]), float(room.dims[ax]), float(room.beta[2 * ax]),
                             float(room.beta[2 * ax + 1]), n_max, device, dtype)
        coords.append(co)
        gains.append(g)
    gain = (gains[0][:, None, None] * gains[1][None, :, None] * gains[2][None, None, :]).reshape(-1)
    d2 = ((coords[0][None, :] - mic[:, 0:1]) ** 2)[:, :, None, None] \
        + ((coords[1][None, :] - mic[:, 1:2]) ** 2)[:, None, :, None] \
        + ((coords[2][None, :] - mic[:, 2:3]) ** 2)[:, None, None, :]
    d2 = d2.reshape(mic.shape[0], -1)  # (M, K)
    mic_idx, img_idx = torch.nonzero(d2 <= (radius ** 2)[:, None], as_tuple=True)
    return torch.sqrt(d2[mic_idx, img_idx]), gain[img_idx], mic_idx


def _fit_image_energy(rel_t: torch.Tensor, energy: torch.Tensor, mic_idx: torch.Tensor, m_count: int,
                      t0: float, t1: float, n_bins: int = 24) -> list[dict | None]:
    """Per microphone, the image-source energy per second in ``n_bins`` bins over ``[t0, t1)``.

    Returns per microphone ``{"t": bin centres (s), "level_db": 10 log10(E / s), "a": .., "b": ..}``
    where ``a + b t`` (dB, dB/s) is a least-squares line through the last half of the bins (for
    extrapolation past ``t1``), or None where the histogram or the fit is degenerate.
    """
    bw = (t1 - t0) / n_bins
    if bw <= 0:
        return [None] * m_count
    b = torch.floor((rel_t - t0) / bw).to(torch.long)
    ok = (b >= 0) & (b < n_bins)
    hist = torch.bincount((mic_idx * n_bins + b)[ok], weights=energy[ok].to(torch.float64),
                          minlength=m_count * n_bins).reshape(m_count, n_bins).cpu().numpy()
    tc = t0 + (np.arange(n_bins) + 0.5) * bw
    out: list[dict | None] = []
    for m in range(m_count):
        good = hist[m] > 0
        late = good & (np.arange(n_bins) >= n_bins // 2)
        if late.sum() < 3:
            out.append(None)
            continue
        level = 10 * np.log10(np.where(good, hist[m], 1e-300) / bw)
        slope, icpt = np.polyfit(tc[late], level[late], 1)
        out.append({"t": tc[good], "level_db": level[good], "a": float(icpt), "b": float(slope)} if slope < 0 else None)
    return out


#: gpuRIR's ``-13.8155 = ln(10^-6)``: power decay exponent per T60 (60 dB)
_LN_1E6 = 6.0 * _LN10


def sabine_tail_envelope(h_early, fs: float, t60: float, n_start: int, n_stop: int, n_direct: float,
                         window_ms: float = 10.0) -> np.ndarray:
    """Amplitude envelope of gpuRIR's diffuse tail for samples ``n_start .. n_stop - 1``.

    gpuRIR ``envPred_kernel`` (``src/gpuRIR_cuda.cu``): over the window
    ``[w_start, n_start)`` with ``w_start = ceil(max(n_start - w_sz, n_direct))``,
    ``w_sz = window_ms fs / 1000``, the mean power ``P`` of the image-source part is assigned to
    the window centre ``w_c = w_start + (n_start - w_start) / 2``; the tail power is
    ``P exp(-ln(10^6) (n - w_c) / (T60 fs))`` (60 dB per T60) and ``diffRev_kernel`` multiplies
    its square root by unit-variance logistic noise. gpuRIR takes the T60 of the walls by Sabine's
    formula; :func:`audiopipe.acoustics.rooms.sabine_absorption` makes that the target T60.

    Parameters
    ----------
    h_early : array-like, shape (samples,)
        The image-source part (at least ``n_start`` samples; later samples are ignored).
    fs : float
        Sampling rate in Hz.
    t60 : float
        Reverberation time in s.
    n_start, n_stop : int
        First and one-past-last tail sample.
    n_direct : float
        Direct-path delay in (fractional) samples (gpuRIR ``tau_dp``); the window never starts
        before it.
    window_ms : float
        Level window in ms (gpuRIR: 10).

    Returns
    -------
    numpy.ndarray, shape (n_stop - n_start,), float64
        Amplitude envelope (zeros when the window is empty or silent).
    """
    h = np.asarray(h_early, dtype=np.float64)
    n_start, n_stop = int(n_start), int(n_stop)
    w_start = math.ceil(max(n_start - window_ms * 1e-3 * fs, float(n_direct)))
    if w_start >= n_start or n_stop <= n_start:
        return np.zeros(max(n_stop - n_start, 0))
    w_center = w_start + (n_start - w_start) / 2.0
    power = float(np.mean(h[w_start:n_start] ** 2))
    n = np.arange(n_start, n_stop, dtype=np.float64)
    return np.sqrt(power * np.exp(-_LN_1E6 * (n - w_center) / (t60 * fs)))


def logistic_from_uniform(u: torch.Tensor) -> torch.Tensor:
    """gpuRIR's ``diffRev_kernel`` noise: ``sqrt(3)/pi ln(u / (1 - u + 1e-6))`` (unit-variance logistic for u ~ U(0, 1))."""
    return (math.sqrt(3.0) / math.pi) * torch.log(u / (1.0 - u + 1e-6))


def logistic_noise(shape, gen: torch.Generator) -> torch.Tensor:
    """Unit-variance logistic noise (float64) from ``gen``, as gpuRIR's diffuse tail."""
    return logistic_from_uniform(torch.rand(shape, generator=gen, dtype=torch.float64).clamp_(1e-12, 1.0))


def _add_diffuse_tail(h: torch.Tensor, t_dir: np.ndarray, t_diff: float, t_max: float, t60: float,
                      fs: int, gen: torch.Generator, tail_fit=None, sabine_window_ms: float | None = None) -> torch.Tensor:
    """Add noise under an exponential envelope from ``t_dir + t_diff`` to ``t_dir + t_max``.

    With ``tail_fit[m]`` (``tail_decay="ism"``) the energy per second follows the image-source
    histogram, Gaussian noise. Otherwise the envelope decays 60 dB per T60: with
    ``sabine_window_ms`` from the mean power of that last stretch of the image-source part
    (:func:`sabine_tail_envelope`, gpuRIR) with logistic noise; with None from the energy of the
    image-source part in ``[Tdiff/2, Tdiff)``, Gaussian noise.
    """
    m_count, n_samples = h.shape
    t = torch.arange(n_samples, dtype=h.dtype, device=h.device) / fs
    if sabine_window_ms is None:
        noise = torch.randn(m_count, n_samples, generator=gen, dtype=torch.float32).to(h.device, h.dtype)
    else:
        noise = logistic_noise((m_count, n_samples), gen).to(h.device, h.dtype)
    h = h.clone()
    for m in range(m_count):
        rel = t - float(t_dir[m])
        tail = (rel >= t_diff) & (rel < t_max)
        if tail_fit is not None and tail_fit[m] is not None:
            fit = tail_fit[m]
            r = rel.cpu().numpy().astype(np.float64)
            level = np.where(r <= fit["t"][-1], np.interp(r, fit["t"], fit["level_db"]), fit["a"] + fit["b"] * r)
            env = torch.as_tensor(np.sqrt(10.0 ** (level / 10.0) / fs), dtype=h.dtype, device=h.device)
            h[m] = h[m] + torch.where(tail, env * noise[m], torch.zeros_like(env))
            continue
        if sabine_window_ms is not None:
            idx = torch.nonzero(tail).flatten()
            if idx.numel() == 0:
                continue
            n0, n1 = int(idx[0]), int(idx[-1]) + 1
            env = sabine_tail_envelope(h[m, :n0].cpu().numpy(), fs, t60, n0, n1, float(t_dir[m]) * fs,
                                       sabine_window_ms)
            h[m, n0:n1] = h[m, n0:n1] + torch.as_tensor(env, dtype=h.dtype, device=h.device) * noise[m, n0:n1]
            continue
        env = torch.exp(-3.0 * _LN10 * rel / t60)  # amplitude: -60 dB at rel = T60
        fit = (rel >= 0.5 * t_diff) & (rel < t_diff)
        e_ism = torch.sum(h[m][fit] ** 2)
        e_env = torch.sum(env[fit] ** 2)
        if float(e_env) <= 0 or float(e_ism) <= 0:
            continue
        scale = torch.sqrt(e_ism / e_env)
        h[m] = h[m] + torch.where(tail, scale * env * noise[m], torch.zeros_like(env))
    return h


def direct_path_rir(room: Room, fs: int, n_samples: int | None = None,
                    half_width: int = FRAC_DELAY_HALF_WIDTH, delay_offset: float = 0.0) -> np.ndarray:
    """Direct-path RIRs ``1/(4 pi d)`` at delay ``d/c`` (same fractional-delay filter as ``ism``).

    Parameters
    ----------
    room : Room
    fs : int
        Sampling rate in Hz.
    n_samples : int, optional
        Output length (default: just past the latest direct path).
    half_width : int
        Half-width in samples of the windowed-sinc filter.
    delay_offset : float
        Extra delay in samples (pyroomacoustics RIRs are delayed by 40 samples).

    Returns
    -------
    numpy.ndarray, shape (channels, samples), float32
    """
    d = np.linalg.norm(room.mic_pos - room.src_pos[None, :], axis=1)
    tau = torch.as_tensor(d / room.sound_speed * fs + delay_offset, dtype=torch.float64)
    if n_samples is None:
        n_samples = int(math.ceil(float(tau.max()))) + half_width + 1
    idx, val = _frac_delay_taps(tau, half_width)
    val = val / torch.as_tensor(4 * np.pi * d, dtype=torch.float64)[:, None]
    out = torch.zeros(len(d), n_samples, dtype=torch.float64)
    ok = (idx >= 0) & (idx < n_samples)
    for m in range(len(d)):
        out[m].index_add_(0, idx[m][ok[m]], val[m][ok[m]])
    return out.numpy().astype(np.float32)


_PRA_WALLS = ("west", "east", "south", "north", "floor", "ceiling")  # x0, x1, y0, y1, z0, z1


def pyroomacoustics_rir(room: Room, fs: int, max_order: int | None = None) -> np.ndarray:
    """Full image-source RIR from pyroomacoustics (reference backend).

    pyroomacoustics delays every RIR by 40 samples (half its 81-tap fractional-delay filter);
    the output keeps that delay (labels are measured relative to the direct-path peak).

    Parameters
    ----------
    room : Room
    fs : int
        Sampling rate in Hz.
    max_order : int, optional
        Reflection order (default: ``pyroomacoustics.inverse_sabine(T60, dims)``).

    Returns
    -------
    numpy.ndarray, shape (channels, samples), float32
    """
    import pyroomacoustics as pra

    if max_order is None:
        _, max_order = pra.inverse_sabine(room.t60, list(room.dims), c=room.sound_speed)
    materials = {w: pra.Material(float(a)) for w, a in zip(_PRA_WALLS, room.alpha)}
    shoebox = pra.ShoeBox(list(room.dims), fs=fs, materials=materials, max_order=int(max_order),
                          air_absorption=False)
    shoebox.set_sound_speed(room.sound_speed)
    shoebox.add_source(list(room.src_pos))
    shoebox.add_microphone_array(np.asarray(room.mic_pos).T)
    shoebox.compute_rir()
    n = max(len(shoebox.rir[m][0]) for m in range(len(room.mic_pos)))
    out = np.zeros((len(room.mic_pos), n), np.float32)
    for m in range(len(room.mic_pos)):
        r = shoebox.rir[m][0]
        out[m, :len(r)] = r
    return out


def backend_delay(backend: str) -> float:
    """Samples by which ``backend`` delays time 0 (to align direct-path RIRs with its RIRs).

    pyroomacoustics delays by half its fractional-delay filter (``frac_delay_length // 2``,
    40 samples by default); ``ism`` and ``gpurir`` do not delay.
    """
    if backend == "pyroomacoustics":
        import pyroomacoustics as pra

        return float(pra.constants.get("frac_delay_length") // 2)
    if backend in BACKENDS:
        return 0.0
    raise ValueError(f"unknown RIR backend {backend!r}; choose one of {BACKENDS}")


def gpurir_rir(room: Room, fs: int, ism_decay_db: float = 12.0, max_decay_db: float = 40.0) -> np.ndarray:
    """RIR from gpuRIR, called as SAR-SSL does (``code_v1/dataset.py``, ``genRIR``).

    Raises
    ------
    BackendUnavailableError
        If gpuRIR does not import or no CUDA device is present.
    """
    if not gpurir_available():
        raise BackendUnavailableError("backend 'gpurir' needs the gpuRIR package and a CUDA device; "
                                      "use backend 'ism' (torch, CPU or CUDA) instead")
    import gpuRIR

    t_diff = gpuRIR.att2t_SabineEstimator(ism_decay_db, room.t60)
    t_max = gpuRIR.att2t_SabineEstimator(max_decay_db, room.t60)
    if room.t60 < 0.15:
        t_diff = t_max
    nb_img = gpuRIR.t2n(t_diff, list(room.dims), c=room.sound_speed)
    rirs = gpuRIR.simulateRIR(room_sz=list(room.dims), beta=list(room.beta), pos_src=room.src_pos[None, :],
                              pos_rcv=room.mic_pos, nb_img=nb_img, Tmax=t_max, fs=fs, Tdiff=t_diff,
                              mic_pattern="omni", c=room.sound_speed)
    return np.asarray(rirs[0], dtype=np.float32)


def simulate_rir(
    room: Room,
    fs: int,
    backend: str = "ism",
    *,
    device: str = "cpu",
    ism_decay_db: float = 12.0,
    max_decay_db: float = 40.0,
    seed: int = 0,
    retries: int = 2,
    tail_decay: str = "ism",
    fit_decay_db: float = 30.0,
    sabine_window_ms: float | None = 10.0,
) -> np.ndarray:
    """Simulate the RIR of ``room`` with one backend (see the module docstring).

    Parameters
    ----------
    room : Room
    fs : int
        Sampling rate in Hz.
    backend : {"ism", "pyroomacoustics", "gpurir"}
    device : str
        torch device of the ``ism`` backend.
    ism_decay_db, max_decay_db : float
        Image-source / total decay in dB (``ism`` and ``gpurir``).
    seed : int
        Seed of the ``ism`` diffuse tail.
    tail_decay : {"ism", "sabine"}
        Tail envelope of the ``ism`` backend (see :func:`ism_rirs`).
    fit_decay_db : float
        End in dB of the image-energy fit of ``tail_decay="ism"``.
    sabine_window_ms : float or None
        Level window of ``tail_decay="sabine"`` (see :func:`ism_rirs`; gpuRIR: 10 ms).
    retries : int
        How many times an all-zero/non-finite RIR is simulated again before the error is
        raised (gpuRIR issue #45 is intermittent).

    Returns
    -------
    numpy.ndarray, shape (channels, samples), float32

    Raises
    ------
    ValueError
        Unknown backend.
    BackendUnavailableError
        ``gpurir`` without gpuRIR/CUDA.
    InvalidRIRError
        Still all-zero or non-finite after ``retries`` new attempts.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown RIR backend {backend!r}; choose one of {BACKENDS}")
    last: Exception | None = None
    for attempt in range(retries + 1):
        try:
            if backend == "ism":
                return ism_rirs([room], fs, ism_decay_db=ism_decay_db, max_decay_db=max_decay_db,
                                seed=seed + attempt, device=device, tail_decay=tail_decay,
                                fit_decay_db=fit_decay_db, sabine_window_ms=sabine_window_ms)[0]
            if backend == "pyroomacoustics":
                return check_rir(pyroomacoustics_rir(room, fs), "pyroomacoustics backend")
            return check_rir(gpurir_rir(room, fs, ism_decay_db, max_decay_db), "gpurir backend")
        except InvalidRIRError as e:
            last = e
    raise InvalidRIRError(f"{last} (after {retries} retries; room {room.to_dict()})")
