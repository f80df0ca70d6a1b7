"""Multi-channel STFT features of SAR-SSL and their per-shard cache.

Source: Yang & Li, "Self-supervised learning of spatial acoustic representation with
cross-channel signal reconstruction and multi-channel Conformer" (arXiv 2312.00476), section on
the input features; reference implementation ``Audio-WestlakeU/SAR-SSL``:
``code/common/utils_module.py`` (class ``STFT``: ``torch.stft`` with a Hann window,
``center=False``) and ``code/learner.py`` (``STFTLearner.data_preprocess``: division by the mean
magnitude of channel 0, then frequency bins 1..256 kept, i.e. the DC bin dropped).

The normalising mean magnitude is taken over *all* 257 bins of channel 0 (DC included), as the
reference code computes it before dropping the DC bin; the paper does not say which bins enter
the mean, and the difference is a fraction of one bin in 257.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import torch

from audiopipe.io import atomic_path
from audiopipe.signals.shards import LABELS

#: STFT settings of SAR-SSL (paper and ``code/run_pretrain.py``): 512-point frames, hop 256.
N_FFT = 512
HOP = 256
#: the shard label datasets the feature cache copies (shard contract of the acoustics stage).
LABEL_KEYS = LABELS  # the shard contract of audiopipe.signals.shards


def n_frames(num_samples: int, n_fft: int = N_FFT, hop: int = HOP) -> int:
    """Number of STFT frames without centring: ``1 + (num_samples - n_fft) // hop``.

    Raises
    ------
    ValueError
        If the signal is shorter than one frame.
    """
    if num_samples < n_fft:
        raise ValueError(f"signal has {num_samples} samples, fewer than one {n_fft}-sample frame")
    return 1 + (num_samples - n_fft) // hop


def stft_features(signals: np.ndarray, *, n_fft: int = N_FFT, hop: int = HOP,
                  eps: float = 1e-6) -> np.ndarray:
    """SAR-SSL input features: normalised real/imaginary STFT of every channel.

    Parameters
    ----------
    signals : ndarray, shape (n, channels, samples) or (channels, samples)
        Microphone signals (any scale; float or int). Channel 0 is the reference channel.
    n_fft : int
        Frame and FFT length in samples (Hann window, periodic). SAR-SSL: 512.
    hop : int
        Frame shift in samples. SAR-SSL: 256.
    eps : float
        Added to the mean magnitude before dividing (reference code: 1e-6).

    Returns
    -------
    ndarray, float32, shape (n, channels, n_fft // 2, frames, 2)
        Real and imaginary parts (last axis) of the STFT, frequency bins 1 .. n_fft/2 (the DC bin
        is dropped), frames from :func:`n_frames` (``center=False``), every channel divided by the
        mean magnitude of channel 0 of the same example. A ``(channels, samples)`` input gives a
        ``(channels, bins, frames, 2)`` output.

    Raises
    ------
    ValueError
        If the array does not have 2 or 3 dimensions or is shorter than one frame.
    """
    x = np.asarray(signals)
    single = x.ndim == 2
    if single:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"signals must have shape (n, channels, samples), got {x.shape}")
    n, m, t = x.shape
    n_frames(t, n_fft, hop)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).reshape(n * m, t)
    window = torch.hann_window(n_fft)  # periodic, as torch.hann_window in the reference
    spec = torch.stft(xt, n_fft=n_fft, hop_length=hop, win_length=n_fft, window=window,
                      center=False, normalized=False, return_complex=True)
    spec = spec.reshape(n, m, n_fft // 2 + 1, -1)
    scale = spec[:, 0].abs().mean(dim=(1, 2)) + eps  # (n,)
    spec = spec / scale[:, None, None, None]
    out = torch.view_as_real(spec[:, :, 1:]).numpy().astype(np.float32)
    return out[0] if single else out


def read_shard_signals(path: Path, start: int = 0, stop: int | None = None) -> np.ndarray:
    """Read ``signals`` of a simulated shard as float32 ``(n, channels, samples)``.

    int16 shards are scaled by their ``scale`` attribute (shard contract).

    Raises
    ------
    KeyError
        If the shard has no ``signals`` dataset or an int16 one lacks ``scale``.
    """
    with h5py.File(path, "r") as f:
        if "signals" not in f:
            raise KeyError(f"{path}: no 'signals' dataset")
        ds = f["signals"]
        x = ds[start:stop]
        if x.dtype == np.int16:
            if "scale" not in ds.attrs:
                raise KeyError(f"{path}: int16 'signals' without a 'scale' attribute")
            x = x.astype(np.float32) * np.float32(ds.attrs["scale"])
        return x.astype(np.float32, copy=False)


def cache_features(shard: Path, output: Path, *, batch: int = 64) -> dict:
    """Compute SAR-SSL features of one signal shard into one feature shard (HDF5).

    Parameters
    ----------
    shard : Path
        Signal shard (shard contract: ``signals`` (n, 2, samples), ``labels/<name>`` (n,),
        ``room_id`` (n,), file attribute ``sampling_rate`` = 16000).
    output : Path
        Feature shard, written atomically: ``features`` float32 (n, 2, 256, frames, 2),
        ``labels/<name>`` and ``room_id`` copied, attributes ``source`` (input path),
        ``n_fft``, ``hop``, ``sampling_rate`` and ``set``/``seed`` copied from the input.
    batch : int
        Examples transformed at once (memory bound only).

    Returns
    -------
    dict
        ``n`` (examples) and ``frames``.

    Raises
    ------
    KeyError
        If a dataset of the shard contract is missing (the message names the shard and key).
    ValueError
        If the sampling rate is not 16000 Hz or the signals are not two-channel.
    """
    shard, output = Path(shard), Path(output)
    with h5py.File(shard, "r") as f:
        for key in ("signals", "room_id", *(f"labels/{k}" for k in LABEL_KEYS)):
            if key not in f:
                raise KeyError(f"{shard}: missing dataset {key!r} (shard contract)")
        fs = int(f.attrs.get("sampling_rate", -1))
        if fs != 16000:
            raise ValueError(f"{shard}: sampling_rate is {fs}, SAR-SSL features need 16000 Hz")
        n, m, t = f["signals"].shape
        if m != 2:
            raise ValueError(f"{shard}: 'signals' has {m} channels, SAR-SSL needs 2")
        labels = {k: f[f"labels/{k}"][()].astype(np.float32) for k in LABEL_KEYS}
        room_id = f["room_id"][()].astype(np.int64)
        attrs = {k: f.attrs[k] for k in ("set", "seed", "backend") if k in f.attrs}
    nt = n_frames(t)
    with atomic_path(output) as tmp:
        with h5py.File(tmp, "w") as g:
            feats = g.create_dataset("features", shape=(n, 2, N_FFT // 2, nt, 2), dtype="float32")
            for i in range(0, n, batch):
                feats[i:i + batch] = stft_features(read_shard_signals(shard, i, i + batch))
            for k, v in labels.items():
                g.create_dataset(f"labels/{k}", data=v)
            g.create_dataset("room_id", data=room_id)
            g.attrs.update(attrs)
            g.attrs.update(source=str(shard), n_fft=N_FFT, hop=HOP, sampling_rate=fs,
                           normalisation=json.dumps("channel-0 mean magnitude, DC included"))
    return {"n": int(n), "frames": int(nt)}
