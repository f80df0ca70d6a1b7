"""Shared pieces of the corpus adapters: layout errors, manifest writing, measured-RIR loading.

Every ``prepare_<corpus>(root, output_dir, ...)`` in :mod:`audiopipe.corpora` walks one corpus
tree, checks it, and writes one lhotse-style manifest ``<output_dir>/<corpus>_recordings.jsonl.gz``
(records sorted by ``id``, gzip with ``mtime=0``: the same tree gives the same bytes, so the
preparation is idempotent). Every record carries the lhotse fields

``id, path, sampling_rate, num_samples, num_channels, duration``

(``duration`` in s, ``sampling_rate`` in Hz) plus ``corpus`` and ``kind`` (``"speech"``,
``"rir"``, ``"noise"`` or ``"array_recording"``). Measured-RIR records also carry the fields that
:func:`load_rir` needs to read the RIR back (``format`` and format-specific keys) and the
annotations used by signal generation:

``mic_positions``
    ``(channels, 3)`` microphone positions in m, or ``None`` when the corpus gives none.
``source_position``
    ``(3,)`` source position in m (same frame as ``mic_positions``), or ``None``.
``room``, ``array``, ``room_size`` (m, or ``None``), ``T60`` (s, annotated by the corpus, or
``None``), ``DRR`` (dB per channel, annotated, or ``None``).

Paths in the records are the corpus root joined with the relative file path, as given: prepare
from an absolute root (or from the directory the pipeline runs in) to get loadable paths.

The annotated T60/DRR are the corpus' own values; the labels audiopipe measures itself come from
:mod:`audiopipe.acoustics.params`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import scipy.io

from audiopipe.io import AudioFileError, read_audio, read_jsonl, write_jsonl

__all__ = [
    "CorpusLayoutError",
    "MeasuredRIR",
    "load_rir",
    "load_rirs",
    "manifest_path",
    "mic_pairs",
    "write_manifest",
]


class CorpusLayoutError(ValueError):
    """A corpus tree does not have the expected layout or content.

    The message always names the path (file, folder, column or key) at fault.
    """


# ----------------------------------------------------------------------------------- checks


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is a folder, else raise :class:`CorpusLayoutError` naming it."""
    if not path.is_dir():
        raise CorpusLayoutError(f"{path}: missing folder ({what})")
    return path


def require_file(path: Path, what: str) -> Path:
    """Return ``path`` if it is a file, else raise :class:`CorpusLayoutError` naming it."""
    if not path.is_file():
        raise CorpusLayoutError(f"{path}: missing file ({what})")
    return path


def require_columns(df: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    """Raise :class:`CorpusLayoutError` naming ``path`` and the columns missing from ``df``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise CorpusLayoutError(
            f"{path}: missing column(s) {missing}; found {list(map(str, df.columns))}"
        )


def check_positions(arr: Any, n: int | None, path: Path | str, what: str) -> np.ndarray:
    """Check an array of 3-D positions ``(n, 3)`` in m (finite); return it as float64."""
    try:
        a = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise CorpusLayoutError(f"{path}: {what} is not numeric ({e})") from e
    if a.ndim != 2 or a.shape[1] != 3 or (n is not None and a.shape[0] != n):
        want = f"({n}, 3)" if n is not None else "(n, 3)"
        raise CorpusLayoutError(f"{path}: {what} has shape {a.shape}, expected {want}")
    if not np.all(np.isfinite(a)):
        raise CorpusLayoutError(f"{path}: {what} contains non-finite values")
    return a


def wav_info(path: Path, num_channels: int | None = None, sampling_rate: int | None = None) -> dict:
    """:func:`audiopipe.io.audio_info` with its error re-raised as :class:`CorpusLayoutError`."""
    from audiopipe.io import audio_info

    if path.suffix.lower() not in (".wav", ".flac"):
        raise CorpusLayoutError(f"{path}: expected a .wav file, found '{path.suffix}'")
    try:
        return audio_info(path, num_channels=num_channels, sampling_rate=sampling_rate)
    except AudioFileError as e:
        raise CorpusLayoutError(str(e)) from e


def load_npy(path: Path, what: str) -> np.ndarray:
    """``numpy.load`` of a required .npy, errors re-raised as :class:`CorpusLayoutError`."""
    require_file(path, what)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise CorpusLayoutError(f"{path}: unreadable .npy ({e})") from e


def loadmat(path: Path, keys: Sequence[str] = ()) -> dict:
    """Read a MATLAB v4–v7.2 file with scipy; check that ``keys`` are present."""
    require_file(path, "MATLAB file")
    try:
        m = scipy.io.loadmat(str(path))
    except (ValueError, TypeError, OSError, NotImplementedError) as e:
        raise CorpusLayoutError(f"{path}: unreadable MATLAB file ({e})") from e
    missing = [k for k in keys if k not in m]
    if missing:
        raise CorpusLayoutError(
            f"{path}: missing MATLAB variable(s) {missing}; found "
            f"{sorted(k for k in m if not k.startswith('__'))}"
        )
    return m


def base_record(
    *,
    id: str,
    path: Path | str,
    sampling_rate: int,
    num_samples: int,
    num_channels: int,
    corpus: str,
    kind: str,
    **extra: Any,
) -> dict:
    """Build a record with the lhotse fields first (``duration`` in s) and corpus fields after."""
    rec = {
        "id": id,
        "path": str(path),
        "sampling_rate": int(sampling_rate),
        "num_samples": int(num_samples),
        "num_channels": int(num_channels),
        "duration": float(num_samples) / float(sampling_rate),
        "corpus": corpus,
        "kind": kind,
    }
    for k, v in extra.items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        elif isinstance(v, np.generic):
            v = v.item()
        rec[k] = v
    return rec


def manifest_path(output_dir: Path, corpus: str, split: str | None = None) -> Path:
    """Path of a lhotse-style corpus manifest: ``<output_dir>/<corpus>_recordings_<split>.jsonl.gz``
    (``<corpus>_recordings.jsonl.gz`` for a corpus without splits)."""
    return Path(output_dir) / (f"{corpus}_recordings_{split}.jsonl.gz" if split else f"{corpus}_recordings.jsonl.gz")


def write_manifest(records: list[dict], output_dir: Path, corpus: str, split: str | None = None,
                   allow_empty: bool = False) -> Path:
    """Write records sorted by ``id`` atomically (gzip, mtime 0: same records, same bytes); raise on
    duplicate ids, or on no records unless ``allow_empty``; return the path."""
    if not records and not allow_empty:
        where = f"{corpus} ({split})" if split else corpus
        raise CorpusLayoutError(f"{where}: no recordings found, manifest would be empty")
    records = sorted(records, key=lambda r: r["id"])
    ids = [r["id"] for r in records]
    dup = sorted({i for i, j in zip(ids, ids[1:], strict=False) if i == j})
    if dup:
        raise CorpusLayoutError(f"{corpus}: duplicate recording id(s) {dup[:5]}")
    out = manifest_path(output_dir, corpus, split)
    write_jsonl(out, records)
    return out


# ------------------------------------------------------------------------- measured RIRs


@dataclass
class MeasuredRIR:
    """One measured multichannel RIR in the form signal generation uses.

    Attributes
    ----------
    rir : numpy.ndarray
        ``(channels, samples)`` float64 RIR at ``sampling_rate``.
    sampling_rate : int
        Hz.
    mic_positions : numpy.ndarray or None
        ``(channels, 3)`` in m, or ``None`` when the corpus gives none.
    source_position : numpy.ndarray or None
        ``(3,)`` in m, or ``None`` when unknown.
    T60 : float or None
        T60 annotated by the corpus (s), or ``None``.
    DRR : numpy.ndarray or None
        ``(channels,)`` DRR annotated by the corpus (dB), or ``None``.
    room_size : numpy.ndarray or None
        ``(3,)`` room dimensions in m, or ``None``.
    id, corpus, room, array : str
        Provenance (the manifest record's fields).
    channels : list of int
        Indices of the loaded channels in the record's full channel list.
    source_doa : numpy.ndarray or None
        ``(3,)`` unit vector from the array centre to the source when the corpus gives a
        direction but no position (TAU-SRIR), else ``None``.
    direct_path_times : numpy.ndarray or None
        ``(channels,)`` annotated direct-path arrival times in s (dEchorate .mat), else ``None``.
    """

    rir: np.ndarray
    sampling_rate: int
    mic_positions: np.ndarray | None
    source_position: np.ndarray | None
    T60: float | None
    DRR: np.ndarray | None
    room_size: np.ndarray | None
    id: str
    corpus: str
    room: str | None
    array: str | None
    channels: list[int] = field(default_factory=list)
    source_doa: np.ndarray | None = None
    direct_path_times: np.ndarray | None = None


def _opt_array(v: Any) -> np.ndarray | None:
    return None if v is None else np.asarray(v, dtype=np.float64)


def load_rir(record: dict, channels: Sequence[int] | None = None) -> MeasuredRIR:
    """Read the measured RIR of one manifest record as a :class:`MeasuredRIR`.

    Only the requested channels are read where the format allows it (MeshRIR reads one row of
    each requested ``ir_<m>.npy``; HDF5 and WAV read slices).

    Parameters
    ----------
    record : dict
        A record of ``kind == "rir"`` from a ``prepare_*`` manifest.
    channels : sequence of int, optional
        Channel indices (0-based, into the record's channels); all by default.

    Returns
    -------
    MeasuredRIR
        ``rir`` of shape ``(len(channels), samples)``; positions and annotations restricted to
        those channels.

    Raises
    ------
    CorpusLayoutError
        If the record is not an RIR record, a channel index is out of range, or the stored data
        no longer matches the record (missing file, other shape or sampling rate).
    """
    if record.get("kind") != "rir":
        raise CorpusLayoutError(f"record {record.get('id')!r}: kind is {record.get('kind')!r}, not 'rir'")
    n = int(record["num_channels"])
    chans = list(range(n)) if channels is None else [int(c) for c in channels]
    bad = [c for c in chans if not 0 <= c < n]
    if bad:
        raise CorpusLayoutError(f"record {record['id']!r}: channel(s) {bad} out of range 0..{n - 1}")
    fmt = record.get("format")
    reader = _READERS.get(fmt)
    if reader is None:
        raise CorpusLayoutError(f"record {record['id']!r}: unknown RIR format {fmt!r}")
    rir = np.asarray(reader(record, chans), dtype=np.float64)
    if rir.shape != (len(chans), int(record["num_samples"])):
        raise CorpusLayoutError(
            f"{record['path']}: RIR of record {record['id']!r} has shape {rir.shape}, manifest says "
            f"({len(chans)}, {record['num_samples']}); re-run prepare"
        )
    mics = _opt_array(record.get("mic_positions"))
    drr = _opt_array(record.get("DRR"))
    tdir = _opt_array(record.get("direct_path_times"))
    return MeasuredRIR(
        rir=rir,
        sampling_rate=int(record["sampling_rate"]),
        mic_positions=None if mics is None else mics[chans],
        source_position=_opt_array(record.get("source_position")),
        T60=None if record.get("T60") is None else float(record["T60"]),
        DRR=None if drr is None else drr[chans],
        room_size=_opt_array(record.get("room_size")),
        id=record["id"],
        corpus=record["corpus"],
        room=record.get("room"),
        array=record.get("array"),
        channels=chans,
        source_doa=_opt_array(record.get("source_doa")),
        direct_path_times=None if tdir is None else tdir[chans],
    )


def mic_pairs(
    mic_positions: np.ndarray | Sequence[Sequence[float]],
    dist_range: tuple[float, float] = (0.03, 0.20),
) -> list[tuple[int, int]]:
    """Channel pairs ``(i, j)``, ``i < j``, whose spacing lies in ``dist_range`` (m, inclusive).

    SAR-SSL builds its 2-microphone measured-RIR sets from every such pair
    (``gen_real_rir.py``: ``combinations(range(nmic), 2)`` filtered by ``micpair_dist_in_range``
    with ``mic_dist_range = [0.03, 0.20]``).

    Parameters
    ----------
    mic_positions : array-like
        ``(channels, 3)`` positions in m.
    dist_range : tuple of float
        ``(min, max)`` spacing in m; a 1e-9 m tolerance absorbs rounding at the bounds.

    Returns
    -------
    list of tuple of int
        Pairs in lexicographic order.
    """
    p = np.asarray(mic_positions, dtype=float)
    d = np.linalg.norm(p[:, None, :] - p[None, :, :], axis=-1)
    lo, hi = dist_range
    return [(i, j) for i in range(len(p)) for j in range(i + 1, len(p)) if lo - 1e-9 <= d[i, j] <= hi + 1e-9]


def load_rirs(manifest: str | os.PathLike, channels: Sequence[int] | None = None) -> list[MeasuredRIR]:
    """Load every ``kind == "rir"`` record of a manifest with :func:`load_rir`."""
    return [load_rir(r, channels) for r in read_jsonl(manifest) if r.get("kind") == "rir"]


def _check_fs(record: dict, fs: int) -> None:
    if int(fs) != int(record["sampling_rate"]):
        raise CorpusLayoutError(
            f"{record['path']}: sampling rate is {fs} Hz, manifest says {record['sampling_rate']} Hz"
        )


def _read_wav(record: dict, chans: list[int]) -> np.ndarray:
    try:
        x, fs = read_audio(record["path"])
    except AudioFileError as e:
        raise CorpusLayoutError(str(e)) from e
    _check_fs(record, fs)
    return x[chans]


def _read_wav_per_channel(record: dict, chans: list[int]) -> np.ndarray:
    out = []
    for c in chans:
        p = record["channel_paths"][c]
        try:
            x, fs = read_audio(p, num_channels=1)
        except AudioFileError as e:
            raise CorpusLayoutError(str(e)) from e
        _check_fs(record, fs)
        out.append(x[0])
    lens = {len(x) for x in out}
    if len(lens) > 1:
        raise CorpusLayoutError(f"{record['path']}: per-channel RIR files differ in length {sorted(lens)}")
    return np.stack(out)


def _read_npy_rows(record: dict, chans: list[int]) -> np.ndarray:
    d = Path(record["path"])
    rows = []
    for c in chans:
        p = d / f"ir_{c}.npy"
        require_file(p, "MeshRIR IR file")
        a = np.load(p, mmap_mode="r")
        rows.append(np.asarray(a[int(record["source_index"])], dtype=np.float64))
    return np.stack(rows)


def _read_mat(record: dict, chans: list[int]) -> np.ndarray:
    m = loadmat(Path(record["path"]), [record["key"]])
    a = np.asarray(m[record["key"]], dtype=np.float64)
    if a.ndim == 3:
        a = a[:, :, int(record.get("source_index", 0))]
    return a[:, chans].T  # stored (samples, channels)


def _read_hdf5(record: dict, chans: list[int]) -> np.ndarray:
    with h5py.File(record["path"], "r") as f:
        if record["key"] not in f:
            raise CorpusLayoutError(f"{record['path']}: missing HDF5 dataset {record['key']!r}")
        a = f[record["key"]][:, sorted(set(chans))]  # stored (samples, channels)
    pos = {c: i for i, c in enumerate(sorted(set(chans)))}
    return np.asarray(a, dtype=np.float64)[:, [pos[c] for c in chans]].T


def _read_tau(record: dict, chans: list[int]) -> np.ndarray:
    from audiopipe.corpora.tau_srir import read_tau_point

    return read_tau_point(Path(record["path"]), record["array_format"], int(record["trajectory"]),
                          int(record["height"]), int(record["point"]), chans)


_READERS = {
    "wav": _read_wav,
    "wav_per_channel": _read_wav_per_channel,
    "meshrir_npy": _read_npy_rows,
    "mat": _read_mat,
    "hdf5": _read_hdf5,
    "tau_srir_mat": _read_tau,
}
