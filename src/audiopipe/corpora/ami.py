"""AMI meeting corpus for speech activity detection, pyannote-style protocol files.

Layout (as ``pyannote/AMI-diarization-setup`` + the AMI "Mix-Headset" audio)::

    <root>/amicorpus/<uri>/audio/<uri>.Mix-Headset.wav
    <root>/lists/<split>.meetings.txt      one uri per line; split in train, dev, test
    <root>/rttms/<split>/<uri>.rttm        SPEAKER <uri> 1 <start> <dur> <NA> <NA> <speaker> <NA> <NA>
    <root>/uems/<split>/<uri>.uem          <uri> 1 <start> <end>   (optional: whole file)

Speech activity is the union of all speaker turns of a file.
"""

from __future__ import annotations

from pathlib import Path

from audiopipe.corpora._base import write_manifest
from audiopipe.io import audio_info

SPLITS = ("train", "dev", "test")


def read_rttm(path: Path) -> dict[str, list[tuple[float, float, str]]]:
    """Parse an RTTM file into ``uri -> [(start s, end s, speaker), ...]`` (SPEAKER lines only).

    Raises
    ------
    ValueError
        If a SPEAKER line has fewer than 8 fields or a negative duration (names file and line).
    """
    out: dict[str, list[tuple[float, float, str]]] = {}
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        f = line.split()
        if not f or f[0] != "SPEAKER":
            continue
        if len(f) < 8:
            raise ValueError(f"{path}:{i}: RTTM SPEAKER line has {len(f)} fields, expected >= 8")
        start, dur = float(f[3]), float(f[4])
        if dur < 0:
            raise ValueError(f"{path}:{i}: negative duration {dur}")
        out.setdefault(f[1], []).append((start, start + dur, f[7]))
    return out


def read_uem(path: Path) -> dict[str, list[tuple[float, float]]]:
    """Parse a UEM file into ``uri -> [(start s, end s), ...]``."""
    out: dict[str, list[tuple[float, float]]] = {}
    for i, line in enumerate(Path(path).read_text().splitlines(), 1):
        f = line.split()
        if not f:
            continue
        if len(f) != 4:
            raise ValueError(f"{path}:{i}: UEM line has {len(f)} fields, expected 4")
        out.setdefault(f[0], []).append((float(f[2]), float(f[3])))
    return out


def speech_regions(turns: list[tuple[float, float, str]]) -> list[tuple[float, float]]:
    """Union of speaker turns as sorted, non-overlapping ``(start, end)`` regions in s."""
    merged: list[list[float]] = []
    for s, e, _ in sorted(turns):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return [(s, e) for s, e in merged]


def prepare_ami(root: Path, output_dir: Path, splits: list[str] | None = None) -> dict[str, Path]:
    """Write ``ami_recordings_<split>.jsonl.gz``: one record per meeting with ``speech`` regions and ``annotated``.

    Parameters
    ----------
    root : Path
        Corpus root (``amicorpus/``, ``lists/``, ``rttms/``, optional ``uems/``).
    output_dir : Path
        Where the manifests go.
    splits : list of str, optional
        Subset of ``train``, ``dev``, ``test`` (default: those whose list file exists).

    Raises
    ------
    FileNotFoundError
        If a requested list or RTTM file is missing; ValueError for malformed RTTM/UEM lines or a
        RTTM holding another uri's turns; :class:`audiopipe.io.AudioFileError` for missing audio.
    """
    root = Path(root)
    splits = list(splits) if splits else [s for s in SPLITS if (root / "lists" / f"{s}.meetings.txt").is_file()]
    if not splits:
        raise FileNotFoundError(f"{root / 'lists'}: no <split>.meetings.txt list found")
    out = {}
    for split in splits:
        lst = root / "lists" / f"{split}.meetings.txt"
        if not lst.is_file():
            raise FileNotFoundError(f"{lst}: AMI list is missing")
        recs = []
        for uri in [u.strip() for u in lst.read_text().splitlines() if u.strip()]:
            rttm = root / "rttms" / split / f"{uri}.rttm"
            if not rttm.is_file():
                raise FileNotFoundError(f"{rttm}: reference RTTM is missing")
            turns = read_rttm(rttm)
            if set(turns) - {uri}:
                # an empty RTTM is a recording without speech; turns of another uri are an error
                raise ValueError(f"{rttm}: SPEAKER lines for uri(s) {sorted(set(turns) - {uri})}, expected {uri!r}")
            wav = root / "amicorpus" / uri / "audio" / f"{uri}.Mix-Headset.wav"
            info = audio_info(wav)
            uem = root / "uems" / split / f"{uri}.uem"
            annotated = read_uem(uem).get(uri) if uem.is_file() else None
            recs.append({"id": uri, "path": str(wav.resolve()), **info, "split": split,
                         "speech": speech_regions(turns.get(uri, [])),
                         "annotated": annotated or [(0.0, info["duration"])],
                         "rttm": str(rttm.resolve())})
        out[split] = write_manifest(recs, output_dir, "ami", split)
    return out

