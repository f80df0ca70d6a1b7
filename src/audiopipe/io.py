"""Small I/O helpers shared by every layer: atomic writes, JSONL manifests, checked audio reads.

Every writer here follows the project's atomic-output rule (``../shared/DESIGN.md``): data is
written to ``<name>.tmp`` next to the target and renamed into place, so an interrupted job never
leaves a file that looks complete.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf


class AudioFileError(ValueError):
    """An audio file is unreadable, truncated, or has an unexpected format.

    The message always names the file at fault.
    """


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path that is renamed to ``path`` when the block succeeds.

    On an exception the temporary file is removed and ``path`` is left untouched (a previous
    complete version stays in place).

    Parameters
    ----------
    path : path-like
        Final destination. Parent directories are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # keep the real suffix last so that libraries choosing a format by extension still work
    tmp = path.with_name(f".{path.name}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Atomically write ``obj`` as indented JSON (plain Python and numpy scalars allowed)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot serialise {type(o).__name__} to JSON")


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Atomically write records as JSON lines; gzip when ``path`` ends in ``.gz``.

    Returns
    -------
    int
        Number of records written.
    """
    n = 0
    with atomic_path(path) as tmp:
        opener = gzip.open if str(path).endswith(".gz") else open
        # mtime=0 keeps gzip output byte-identical across runs (determinism rule)
        if opener is gzip.open:
            with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as fh:
                for rec in records:
                    fh.write((json.dumps(rec, default=_json_default) + "\n").encode())
                    n += 1
        else:
            with open(tmp, "w") as fh:
                for rec in records:
                    fh.write(json.dumps(rec, default=_json_default) + "\n")
                    n += 1
    return n


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL manifest (optionally ``.gz``).

    Raises
    ------
    ValueError
        If a line is not valid JSON; the message names the file and line number.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    out = []
    with opener(path, "rt") as fh:
        for i, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{i}: invalid JSON line ({e.msg})") from e
    return out


def audio_info(
    path: str | os.PathLike,
    *,
    sampling_rate: int | None = None,
    num_channels: int | None = None,
) -> dict:
    """Read and check an audio file's header and payload size.

    Parameters
    ----------
    path : path-like
        Audio file readable by libsndfile (WAV, FLAC, MP3, ...).
    sampling_rate : int, optional
        Expected sampling rate in Hz.
    num_channels : int, optional
        Expected number of channels.

    Returns
    -------
    dict
        ``sampling_rate`` (Hz), ``num_samples``, ``num_channels``, ``duration`` (s).

    Raises
    ------
    AudioFileError
        If the file is missing, unreadable, truncated (the data chunk is shorter than the
        header says), or its rate or channel count differs from the expected one.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioFileError(f"{path}: audio file is missing")
    try:
        info = sf.info(str(path))
    except Exception as e:  # libsndfile raises a bare RuntimeError/LibsndfileError
        raise AudioFileError(f"{path}: unreadable audio file ({e})") from e
    if path.suffix.lower() == ".wav" and info.format == "WAV":
        _check_wav_payload(path, info)
    if sampling_rate is not None and info.samplerate != sampling_rate:
        raise AudioFileError(
            f"{path}: sampling rate is {info.samplerate} Hz, expected {sampling_rate} Hz"
        )
    if num_channels is not None and info.channels != num_channels:
        raise AudioFileError(f"{path}: has {info.channels} channel(s), expected {num_channels}")
    return {
        "sampling_rate": int(info.samplerate),
        "num_samples": int(info.frames),
        "num_channels": int(info.channels),
        "duration": float(info.frames) / info.samplerate,
    }


def _check_wav_payload(path: Path, info: Any) -> None:
    """Detect a truncated RIFF/WAVE file: libsndfile silently shortens the frame count."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        while True:
            hdr = fh.read(8)
            if len(hdr) < 8:
                raise AudioFileError(f"{path}: truncated WAV file (no data chunk)")
            cid, size = hdr[:4], int.from_bytes(hdr[4:], "little")
            if cid == b"data":
                have = path.stat().st_size - fh.tell()
                if size != 0xFFFFFFFF and have < size:
                    raise AudioFileError(
                        f"{path}: truncated WAV file (data chunk declares {size} bytes, "
                        f"{have} present)"
                    )
                return
            fh.seek(size + (size & 1), 1)


def read_audio(
    path: str | os.PathLike,
    *,
    sampling_rate: int | None = None,
    num_channels: int | None = None,
    start: int = 0,
    stop: int | None = None,
) -> tuple[np.ndarray, int]:
    """Read audio as float32 ``(channels, samples)`` in [-1, 1], checking its format.

    soundfile scales integer and float WAVs alike (never ``/32768``), which matters for Clarity's
    mixed int16/float32 files.

    Raises
    ------
    AudioFileError
        See :func:`audio_info`.
    """
    audio_info(path, sampling_rate=sampling_rate, num_channels=num_channels)
    try:
        x, fs = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    except Exception as e:
        raise AudioFileError(f"{path}: unreadable audio data ({e})") from e
    return np.ascontiguousarray(x.T), int(fs)


def write_audio(path: str | os.PathLike, x: np.ndarray, sampling_rate: int, subtype: str = "FLOAT") -> None:
    """Atomically write ``x`` of shape ``(channels, samples)`` or ``(samples,)`` as WAV."""
    x = np.asarray(x)
    data = x.T if x.ndim == 2 else x
    with atomic_path(path) as tmp:
        sf.write(str(tmp), data, sampling_rate, subtype=subtype, format="WAV")


def stable_seed(*parts: Any) -> int:
    """Derive a 32-bit seed from any printable parts (params, setting identifier, shard index).

    The same parts give the same seed on every machine and Python version (md5, not ``hash``).
    """
    key = "\x1f".join(str(p) for p in parts)
    return int(hashlib.md5(key.encode()).hexdigest()[:8], 16)
