"""MUSDB18-HQ: manifests, the official validation split, resampled HDF5 copies, demo tracks.

MUSDB18-HQ (Rafii et al., 2019, zenodo 3338373) is laid out as::

    <root>/train/<track>/{mixture,vocals,drums,bass,other}.wav   (100 tracks; 14 are "valid")
    <root>/test/<track>/{mixture,vocals,drums,bass,other}.wav    (50 tracks)

44.1 kHz, stereo, PCM_16. The official validation split is the list in the ``musdb`` package,
``musdb/configs/mus.yaml`` (``validation_tracks``), reproduced in :data:`VALID_TRACKS`.
"""

from __future__ import annotations

import logging
import re
from math import gcd
from pathlib import Path

import h5py
import numpy as np
from scipy.signal import resample_poly

from audiopipe.corpora._base import write_manifest
from audiopipe.io import atomic_path, audio_info, read_audio, read_jsonl

log = logging.getLogger(__name__)

#: source names in the order used by every array in this module (stems axis)
SOURCES: tuple[str, ...] = ("vocals", "drums", "bass", "other")

#: official MUSDB18 validation tracks (musdb 0.4.3, ``configs/mus.yaml``: ``validation_tracks``)
VALID_TRACKS: tuple[str, ...] = (
    "Actions - One Minute Smile",
    "Clara Berry And Wooldog - Waltz For My Victims",
    "Johnny Lokke - Promises & Lies",
    "Patrick Talbot - A Reason To Leave",
    "Triviul - Angelsaint",
    "Alexander Ross - Goodbye Bolero",
    "Fergessen - Nos Palpitants",
    "Leaf - Summerghost",
    "Skelpolu - Human Mistakes",
    "Young Griffo - Pennies",
    "ANiMAL - Rockshow",
    "James May - On The Line",
    "Meaxic - Take A Step",
    "Traffic Experiment - Sirens",
)

SPLITS = ("train", "valid", "test")


def track_id(name: str) -> str:
    """File-system and wildcard-safe identifier of a track name (lower-case ``[a-z0-9_]``)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug:
        raise ValueError(f"track name {name!r} gives an empty identifier")
    return slug


def prepare_musdb(root: Path, output_dir: Path, valid_tracks: list[str] | None = None,
                  valid_list: str | None = None) -> dict[str, Path]:
    """Write one manifest per split (``musdb18hq_recordings_{train,valid,test}.jsonl.gz``) for MUSDB18-HQ.

    Idempotent: the same tree gives the same bytes. Records carry the lhotse fields of the
    mixture (``id, path, sampling_rate, num_samples, num_channels, duration``) plus ``track``
    (folder name), ``split``, ``subset`` (folder: train/test) and ``sources`` (name -> path).

    Parameters
    ----------
    root : Path
        Corpus root holding ``train/`` and ``test/``.
    output_dir : Path
        Where the manifests go.
    valid_tracks : list of str, optional
        Track folder names of ``train/`` that form the validation split (default: the official
        list :data:`VALID_TRACKS`). Names not present are ignored.
    valid_list : str, optional
        A text file of validation track names, one per line (relative paths are relative to
        ``root``); overrides ``valid_tracks``.

    Returns
    -------
    dict
        split -> manifest path.

    Raises
    ------
    FileNotFoundError
        If ``root/train`` or ``root/test`` is missing or a track lacks a stem.
    ValueError
        If a stem's rate, channels or length differ from its mixture's, or two tracks share an id.
    """
    root, output_dir = Path(root), Path(output_dir)
    if valid_list is not None:
        path = root / valid_list
        if not path.is_file():
            raise FileNotFoundError(f"{path}: validation track list (valid_list) is missing")
        valid_tracks = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    valid = set(VALID_TRACKS if valid_tracks is None else valid_tracks)
    recs: dict[str, list[dict]] = {s: [] for s in SPLITS}
    seen: dict[str, str] = {}
    for subset in ("train", "test"):
        d = root / subset
        if not d.is_dir():
            raise FileNotFoundError(f"{d}: MUSDB18-HQ subset folder is missing")
        for tdir in sorted(p for p in d.iterdir() if p.is_dir()):
            tid = track_id(tdir.name)
            if tid in seen:
                raise ValueError(f"{tdir}: id {tid!r} also used by {seen[tid]!r}")
            seen[tid] = str(tdir)
            mix = tdir / "mixture.wav"
            if not mix.is_file():
                raise FileNotFoundError(f"{mix}: mixture is missing")
            info = audio_info(mix)
            stems = {}
            for s in SOURCES:
                p = tdir / f"{s}.wav"
                if not p.is_file():
                    raise FileNotFoundError(f"{p}: stem {s!r} is missing")
                si = audio_info(p, sampling_rate=info["sampling_rate"], num_channels=info["num_channels"])
                if si["num_samples"] != info["num_samples"]:
                    raise ValueError(f"{p}: {si['num_samples']} samples, mixture has {info['num_samples']}")
                stems[s] = str(p)
            split = "test" if subset == "test" else ("valid" if tdir.name in valid else "train")
            recs[split].append({"id": tid, "path": str(mix), **info, "track": tdir.name,
                                "split": split, "subset": subset, "sources": stems})
    out = {}
    for split, rs in recs.items():
        out[split] = write_manifest(rs, output_dir, "musdb18hq", split, allow_empty=True)
        log.info("%s: %d tracks", out[split], len(rs))
    return out


def resample_tracks(manifest: Path, output: Path, sampling_rate: int) -> int:
    """Write the tracks of a manifest, resampled to ``sampling_rate``, into one HDF5 shard.

    Resampling is polyphase (``scipy.signal.resample_poly``, Kaiser window β = 5.0). Layout: one
    group per track id with ``mixture`` float32 ``(channels, samples)`` and ``sources`` float32
    ``(4, channels, samples)`` in :data:`SOURCES` order (contiguous, uncompressed); file
    attributes ``sampling_rate`` and ``sources``; group attributes ``track`` and ``duration`` (s).

    Parameters
    ----------
    manifest : Path
        A manifest from :func:`prepare_musdb`.
    output : Path
        HDF5 shard to write (atomically).
    sampling_rate : int
        Target rate (Hz).

    Returns
    -------
    int
        Number of tracks written.

    Raises
    ------
    ValueError
        If ``sampling_rate`` is not positive.
    """
    if sampling_rate <= 0:
        raise ValueError(f"sampling_rate must be positive, got {sampling_rate}")
    recs = read_jsonl(manifest)
    with atomic_path(output) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs["sampling_rate"] = int(sampling_rate)
        h5.attrs["sources"] = list(SOURCES)
        for r in recs:
            mix, fs = read_audio(r["path"])
            stems = np.stack([read_audio(r["sources"][s], sampling_rate=fs)[0] for s in SOURCES])
            mix, stems = resample(mix, fs, sampling_rate), resample(stems, fs, sampling_rate)
            g = h5.create_group(r["id"])
            g.create_dataset("mixture", data=mix.astype(np.float32))
            g.create_dataset("sources", data=stems.astype(np.float32))
            g.attrs["track"] = r["track"]
            g.attrs["duration"] = mix.shape[-1] / sampling_rate
    return len(recs)


def resample(x: np.ndarray, fs_in: int, fs_out: int) -> np.ndarray:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``); float32."""
    if int(fs_in) == int(fs_out):
        return np.asarray(x, dtype=np.float32)
    g = gcd(int(fs_in), int(fs_out))
    return resample_poly(x, int(fs_out) // g, int(fs_in) // g, axis=-1).astype(np.float32)


def read_shard_track(shard: Path, tid: str) -> tuple[np.ndarray, np.ndarray, int]:
    """Read one track of a shard: ``mixture (channels, samples)``, ``sources (4, channels,
    samples)``, rate (Hz).

    Raises
    ------
    KeyError
        If the shard has no track ``tid`` (the message names the shard).
    """
    with h5py.File(shard, "r") as h5:
        if tid not in h5:
            raise KeyError(f"{shard}: no track {tid!r}")
        return h5[tid]["mixture"][()], h5[tid]["sources"][()], int(h5.attrs["sampling_rate"])

