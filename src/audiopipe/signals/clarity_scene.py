"""Render Clarity-style hearing-aid scenes: binaural room impulse responses and SNR-set mixtures.

The Clarity CEC2 scene renderer (pyclarity ``clarity/data/scene_renderer_cec2.py``) places a
target talker and 1–3 interferers in a room, renders each source at the hearing-aid microphones
through room impulse responses mixed down with measured HRIRs, pads the target to
``[time_start, time_end)`` inside a scene of ``duration`` samples, equalises the interferers' RMS,
and scales their sum so that the better-ear speech-weighted SNR at the reference channel (CH1)
equals the scene's ``SNR``. This module does the same with two differences, stated here:

* the room response comes from pyroomacoustics' image-source model of a shoebox room (the
  CEC2 rooms are RAVEN simulations rendered to 4th-order ambisonics, not shipped here);
* each image source is rendered through the nearest measured HRIR direction of the listener's
  head (``HRIRs_MAT/<head>-BTE_fr.mat``, the CH1 pair) when HRIRs are given, otherwise through two
  omnidirectional microphones at the ear positions (±8.75 cm on the inter-aural axis).

The anechoic reference is the direct path alone through the same HRIR, as CEC2's
``target_anechoic`` is.

Coordinates: Clarity room files give ``dimensions`` ``"AxBxH"`` with positions ``x`` in
[−B/2, B/2] and ``y`` in [0, A] (checked on all 50 rooms of ``rooms.train.json``); they are
rotated into pyroomacoustics' [0, A]×[0, B]×[0, H] box by (x, y) → (y, B/2 − x), which keeps the
left/right orientation of the listener.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.io
import scipy.signal

SPEED_OF_SOUND = 343.0  # m/s
EAR_HALF_SPACING = 0.0875  # m


@dataclass
class HRIRSet:
    """Measured HRIRs of one head and microphone pair.

    Attributes
    ----------
    irs : np.ndarray
        ``(directions, 2, taps)`` left/right impulse responses at ``sampling_rate``.
    azimuth_deg, elevation_deg : np.ndarray
        ``(directions,)``; azimuth 0° = straight ahead, +90° = left (Oldenburg/Clarity convention).
    sampling_rate : int
    """

    irs: np.ndarray
    azimuth_deg: np.ndarray
    elevation_deg: np.ndarray
    sampling_rate: int

    @classmethod
    def from_mat(cls, path: str | Path, sampling_rate: int | None = None) -> "HRIRSet":
        """Load a Clarity ``HRIRs_MAT/*.mat`` file (``M_data`` (taps, dirs, 2), ``M_directions``).

        Resamples to ``sampling_rate`` (Hz) with a polyphase filter when given.

        Raises
        ------
        ValueError
            If the file lacks ``M_data``, ``M_directions`` or ``srate``.
        """
        m = scipy.io.loadmat(str(path))
        for k in ("M_data", "M_directions", "srate"):
            if k not in m:
                raise ValueError(f"{path}: not a Clarity HRIR file (missing {k!r})")
        irs = np.transpose(m["M_data"], (1, 2, 0)).astype(np.float64)  # dirs, 2, taps
        fs = int(np.asarray(m["srate"]).ravel()[0])
        if sampling_rate and sampling_rate != fs:
            g = np.gcd(sampling_rate, fs)
            irs = scipy.signal.resample_poly(irs, sampling_rate // g, fs // g, axis=-1)
            fs = sampling_rate
        d = np.asarray(m["M_directions"], dtype=float)
        return cls(irs, d[0], d[1], fs)

    def nearest(self, azimuth_deg: np.ndarray, elevation_deg: np.ndarray) -> np.ndarray:
        """Index of the measured direction nearest (great circle) to each requested direction."""
        def unit(az, el):
            az, el = np.radians(az), np.radians(el)
            return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1)

        return np.argmax(unit(azimuth_deg, elevation_deg) @ unit(self.azimuth_deg, self.elevation_deg).T, -1)


def clarity_to_box(position, dimensions: tuple[float, float, float]) -> np.ndarray:
    """Map a Clarity room position (x ∈ [−B/2, B/2], y ∈ [0, A], z) into [0, A]×[0, B]×[0, H]."""
    a, b, _ = dimensions
    x, y, z = map(float, position)
    return np.array([y, b / 2 - x, z])


def clarity_to_box_vector(v) -> np.ndarray:
    """Rotate a Clarity direction vector like :func:`clarity_to_box` (no offset)."""
    x, y, z = map(float, v)
    return np.array([y, -x, z])


def binaural_rirs(
    room_dim: tuple[float, float, float],
    sources: list[np.ndarray],
    head: np.ndarray,
    view: np.ndarray,
    fs: int,
    t60: float,
    hrirs: HRIRSet | None = None,
    max_order: int = 12,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Binaural RIRs from every source to the listener's hearing-aid microphone pair.

    Parameters
    ----------
    room_dim : tuple of float
        Shoebox size (m), pyroomacoustics frame.
    sources : list of np.ndarray
        Source positions ``(3,)`` (m).
    head, view : np.ndarray
        Head centre ``(3,)`` (m) and look direction ``(3,)``.
    fs : int
        Sampling rate (Hz).
    t60 : float
        Target reverberation time (s); wall absorption from Sabine's formula
        (``pyroomacoustics.inverse_sabine``).
    hrirs : HRIRSet, optional
        Measured HRIRs; ``None`` renders to two omnidirectional ear microphones.
    max_order : int
        Largest image-source order (caps the cost; the late tail beyond it is truncated).

    Returns
    -------
    brirs, direct : list of np.ndarray
        Per source, ``(2, taps)`` reverberant and direct-path-only responses.
    """
    import pyroomacoustics as pra

    e_abs, order = pra.inverse_sabine(t60, room_dim)
    order = int(min(order, max_order))
    view = np.asarray(view, float)
    view = view / np.linalg.norm(view[:2]) if np.linalg.norm(view[:2]) > 0 else np.array([1.0, 0, 0])
    left = np.array([-view[1], view[0], 0.0])  # 90° counter-clockwise of the look direction
    brirs, direct = [], []
    for src in sources:
        if hrirs is None:
            mics = np.stack([head + EAR_HALF_SPACING * left, head - EAR_HALF_SPACING * left], 1)
            out = []
            for o in (order, 0):
                room = pra.ShoeBox(room_dim, fs=fs, materials=pra.Material(e_abs), max_order=o)
                room.add_source(src)
                room.add_microphone_array(mics)
                room.compute_rir()
                n = max(len(room.rir[m][0]) for m in range(2))
                out.append(np.stack([np.pad(room.rir[m][0], (0, n - len(room.rir[m][0]))) for m in range(2)]))
            brirs.append(out[0])
            direct.append(out[1])
            continue
        room = pra.ShoeBox(room_dim, fs=fs, materials=pra.Material(e_abs), max_order=order)
        room.add_source(src)
        room.add_microphone(head)
        room.image_source_model()
        s = room.sources[0]
        images = np.asarray(s.images)
        damping = np.asarray(s.damping).mean(0)  # average over octave bands
        rel = images - head[:, None]
        dist = np.linalg.norm(rel, axis=0)
        # head frame: x = look direction, y = left, z = up
        fx, fy = rel.T @ view, rel.T @ left
        az = np.degrees(np.arctan2(fy, fx))
        el = np.degrees(np.arcsin(np.clip(rel[2] / dist, -1, 1)))
        idx = hrirs.nearest(az, el)
        delay = np.round(dist / SPEED_OF_SOUND * fs).astype(int)
        gain = damping / (4 * np.pi * dist)
        is_direct = np.asarray(s.orders) == 0
        taps = hrirs.irs.shape[-1]
        n = int(delay.max()) + taps
        brirs.append(_render_images(delay, gain, idx, hrirs.irs, n))
        direct.append(_render_images(delay[is_direct], gain[is_direct], idx[is_direct], hrirs.irs, n))
    return brirs, direct


def _render_images(delay, gain, idx, irs, n) -> np.ndarray:
    """Sum HRIRs placed at the image sources' delays: one impulse train per measured direction."""
    out = np.zeros((2, n))
    taps = irs.shape[-1]
    for d in np.unique(idx):
        sel = idx == d
        train = np.zeros(n - taps + 1)
        np.add.at(train, delay[sel], gain[sel])
        out += scipy.signal.fftconvolve(train[None, :], irs[d], axes=-1)[:, :n]
    return out


def place(signal: np.ndarray, start: int, duration: int) -> np.ndarray:
    """Zero-pad ``(channels, samples)`` so it starts at ``start`` in a ``duration``-sample scene."""
    out = np.zeros((signal.shape[0], duration))
    seg = signal[:, : max(0, duration - start)]
    out[:, start : start + seg.shape[1]] = seg
    return out


def render_scene(
    target: np.ndarray,
    interferers: list[np.ndarray],
    target_brir: np.ndarray,
    target_direct: np.ndarray,
    interferer_brirs: list[np.ndarray],
    time_start: int,
    time_end: int,
    duration: int,
    snr_db: float,
) -> dict[str, np.ndarray]:
    """Mix one scene as CEC2 does (pyclarity ``generate_binaural_signals``).

    Parameters
    ----------
    target : np.ndarray
        Dry target ``(samples,)``.
    interferers : list of np.ndarray
        Dry interferers ``(samples,)``, each at least ``duration`` long.
    target_brir, target_direct : np.ndarray
        ``(2, taps)`` responses of the target; ``interferer_brirs`` likewise per interferer.
    time_start, time_end, duration : int
        Target placement and scene length (samples).
    snr_db : float
        Better-ear speech-weighted SNR at this channel pair over ``[time_start, time_end)``.

    Returns
    -------
    dict
        ``mix``, ``target``, ``interferer``, ``target_anechoic``: ``(2, duration)`` float arrays,
        ``mix == target + interferer`` exactly.
    """
    from clarity.data.utils import better_ear_speechweighted_snr

    rev_t = place(scipy.signal.fftconvolve(target[None], target_brir, axes=-1), time_start, duration)
    dir_t = place(scipy.signal.fftconvolve(target[None], target_direct, axes=-1), time_start, duration)
    ints = [scipy.signal.fftconvolve(x[None, :duration], h, axes=-1)[:, :duration]
            for x, h in zip(interferers, interferer_brirs)]
    # equalise interferer RMS (CEC2: hoa.equalise_rms_levels) then set the SNR
    ints = [i / (np.sqrt(np.mean(i**2)) + 1e-12) for i in ints]
    inter = np.sum(ints, 0)
    sw = better_ear_speechweighted_snr(rev_t[:, time_start:time_end].T, inter[:, time_start:time_end].T)
    inter = inter * sw * 10 ** (-snr_db / 20)
    return {"mix": rev_t + inter, "target": rev_t, "interferer": inter, "target_anechoic": dir_t}
