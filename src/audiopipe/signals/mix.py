"""Spatialisation and mixing: RIR convolution, SNR scaling, speech excerpts.

Source: SAR-SSL reference code (Audio-WestlakeU/SAR-SSL), ``code_v1/common/utils_room_acoustics.py``
(``sou_conv_rir``: full convolution cut to the source length; ``add_noise``: the noise is scaled
so that the mean power of the *direct-path* microphone signals over the noise power is the SNR;
``pad_cut_sig_samespk``: utterances of one speaker are concatenated until long enough, then a
random excerpt is cut) and ``code_v1/dataset.py`` (``WSJ0Dataset``: the excerpt's mean is removed).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.fft
import scipy.signal

from audiopipe.io import read_audio


def convolve_rir(source: np.ndarray, rir: np.ndarray) -> np.ndarray:
    """Convolve a mono source with a multi-channel RIR, keeping the source length.

    Uses an FFT of a fast length (``scipy.fft.next_fast_len``).

    Parameters
    ----------
    source : numpy.ndarray, shape (samples,)
    rir : numpy.ndarray, shape (channels, taps)

    Returns
    -------
    numpy.ndarray, shape (channels, samples), float32
        ``(source * rir)[:samples]`` per channel (SAR-SSL ``sou_conv_rir``).
    """
    source = np.asarray(source, np.float32)
    rir = np.asarray(rir, np.float32)
    if source.ndim != 1 or rir.ndim != 2:
        raise ValueError(f"source must be (samples,) and rir (channels, taps); got {source.shape}, {rir.shape}")
    n = source.size
    nfft = scipy.fft.next_fast_len(n + rir.shape[1] - 1, real=True)
    spec = scipy.fft.rfft(source, nfft) [None, :] * scipy.fft.rfft(rir, nfft, axis=-1)
    return scipy.fft.irfft(spec, nfft, axis=-1)[:, :n].astype(np.float32)


def convolve_rirs(source: np.ndarray, *rirs: np.ndarray) -> list[np.ndarray]:
    """:func:`convolve_rir` of one source with several RIRs, sharing the source's FFT.

    Parameters
    ----------
    source : numpy.ndarray, shape (samples,)
    *rirs : numpy.ndarray, shape (channels_i, taps_i)

    Returns
    -------
    list of numpy.ndarray, shapes (channels_i, samples), float32
    """
    source = np.asarray(source, np.float32)
    n = source.size
    taps = max(r.shape[-1] for r in rirs)
    nfft = scipy.fft.next_fast_len(n + taps - 1, real=True)
    src = scipy.fft.rfft(source, nfft)[None, :]
    stacked = np.zeros((sum(r.shape[0] for r in rirs), taps), np.float32)
    k = 0
    for r in rirs:
        stacked[k:k + r.shape[0], :r.shape[-1]] = r
        k += r.shape[0]
    y = scipy.fft.irfft(src * scipy.fft.rfft(stacked, nfft, axis=-1), nfft, axis=-1)[:, :n].astype(np.float32)
    out, k = [], 0
    for r in rirs:
        out.append(y[k:k + r.shape[0]])
        k += r.shape[0]
    return out


def scale_noise_to_snr(reference: np.ndarray, noise: np.ndarray, snr_db: float, eps: float = 1e-10) -> np.ndarray:
    """Scale ``noise`` so that ``10 log10(P_reference / P_noise) = snr_db``.

    Powers are means over channels and samples (SAR-SSL ``add_noise`` with the direct-path
    signal ``mic_sig_wonr`` as reference).

    Parameters
    ----------
    reference : numpy.ndarray, shape (channels, samples)
        Signal whose power defines the SNR (the direct-path microphone signals in SAR-SSL).
    noise : numpy.ndarray, shape (channels, samples)
    snr_db : float

    Returns
    -------
    numpy.ndarray, shape (channels, samples)
        The scaled noise.
    """
    if reference.shape != noise.shape:
        raise ValueError(f"reference {reference.shape} and noise {noise.shape} shapes differ")
    p_ref = float(np.mean(np.asarray(reference, np.float64) ** 2))
    p_noise = float(np.mean(np.asarray(noise, np.float64) ** 2))
    return (noise * (np.sqrt(p_ref / 10 ** (snr_db / 10)) / (np.sqrt(p_noise) + eps))).astype(np.float32)


def snr_db(reference: np.ndarray, noise: np.ndarray) -> float:
    """``10 log10(mean(reference^2) / mean(noise^2))`` in dB."""
    return float(10 * np.log10(np.mean(np.asarray(reference, np.float64) ** 2)
                               / np.mean(np.asarray(noise, np.float64) ** 2)))


def _record_span(rec: dict, fs: int) -> tuple[int, int]:
    """(start, stop) samples of a manifest record; ``start``/``duration`` (s) mark a segment."""
    start = int(round(float(rec.get("start", 0.0)) * fs))
    if "duration" in rec and rec.get("duration") is not None:
        stop = start + int(round(float(rec["duration"]) * fs))
    else:
        stop = start + int(rec["num_samples"]) if "num_samples" in rec else -1
    return start, stop


def speech_excerpt(rng: np.random.Generator, records: list[dict], n_samples: int, fs: int,
                   index: int | None = None, cache: dict | None = None) -> tuple[np.ndarray, dict]:
    """A mean-free mono speech excerpt of ``n_samples`` from manifest records.

    Record ``index`` (random by default) and the following records of the same ``speaker``
    (when the field exists; all records otherwise) are concatenated until long enough, then a
    random excerpt is cut (SAR-SSL ``pad_cut_sig_samespk``). Multi-channel files give channel 0.

    Parameters
    ----------
    rng : numpy.random.Generator
    records : list of dict
        Manifest records with ``id``, ``path``, ``sampling_rate`` and optionally ``start``,
        ``duration`` (s), ``num_samples``, ``speaker``.
    n_samples : int
    fs : int
        Required sampling rate in Hz.
    index : int, optional
    cache : dict, optional
        path -> audio cache shared between calls.

    Returns
    -------
    excerpt : numpy.ndarray, shape (n_samples,), float32
    provenance : dict
        ``ids`` of the records used and ``offset`` (samples into their concatenation).

    Raises
    ------
    ValueError
        If the manifest is empty, a record lacks ``path``, or its rate differs from ``fs``.
    """
    if not records:
        raise ValueError("speech manifest has no records")
    cache = {} if cache is None else cache
    i = int(rng.integers(len(records))) if index is None else int(index)
    spk = records[i].get("speaker")
    pool = [r for r in records if r.get("speaker") == spk] if spk is not None else records
    j = pool.index(records[i])
    parts, ids, total = [], [], 0
    for k in range(len(pool) * max(1, n_samples) + 1):
        rec = pool[(j + k) % len(pool)]
        if "path" not in rec:
            raise ValueError(f"speech manifest record {rec.get('id', '?')!r} has no 'path'")
        if int(rec.get("sampling_rate", fs)) != fs:
            raise ValueError(f"speech record {rec.get('id')!r} ({rec['path']}) is {rec.get('sampling_rate')} Hz, expected {fs} Hz")
        path = str(rec["path"])
        if path not in cache:
            cache[path] = read_audio(Path(path), sampling_rate=fs)[0][0]
        start, stop = _record_span(rec, fs)
        seg = cache[path][start:stop if stop > 0 else None]
        if seg.size == 0:
            raise ValueError(f"speech record {rec.get('id')!r} ({path}) selects no samples")
        parts.append(seg)
        ids.append(rec.get("id", path))
        total += seg.size
        if total >= n_samples:
            break
    sig = np.concatenate(parts)
    off = int(rng.integers(sig.size - n_samples + 1))
    out = sig[off:off + n_samples].astype(np.float32)
    out -= out.mean()
    return out, {"ids": ids, "offset": off}
