"""Demo corpus in the MUSDB18-HQ layout, cut from a real MUSDB18 track."""

from __future__ import annotations

from pathlib import Path

from audiopipe.corpora.musdb import SOURCES, SPLITS, track_id
from audiopipe.demo._sources import staging
from audiopipe.io import read_audio, write_audio


def build(root: Path, fixtures: Path | None, downloads: Path,
          track: str = "music/musdb18hq_sample/train/Music Delta - 80s Rock",
          segment_seconds: float = 1.1, splits: dict | None = None) -> None:
    """Cut one real MUSDB18-HQ-layout track into short tracks in the MUSDB18-HQ layout.

    Consecutive non-overlapping segments of ``segment_seconds`` are taken from the start of the
    source track (deterministic, no randomness) and written, stems and mixture alike, as
    PCM_16 WAV under ``root/{train,test}/<name> - part<i>/``; the validation tracks are listed
    in ``root/valid_tracks.txt`` (the corpus option ``valid_list``), and ``DEMO.json`` records,
    per track, the source files and sample range. The mixture is the source's real
    ``mixture.wav`` segment (not a re-sum of the stems).

    Parameters
    ----------
    root : Path
        Root of the demo corpus; replaced atomically.
    fixtures : Path or None
        ``shared/fixtures``.
    downloads : Path
        Folder of the registry packages fetched by ``scripts/setup.sh``.
    track : str
        A track folder with ``mixture.wav`` and the four stems, relative to ``fixtures``.
    segment_seconds : float
        Duration of each demo track (s).
    splits : dict
        Number of segments per split, ``{"train": 3, "valid": 1, "test": 2}`` (default);
        segments are assigned in the order train, valid, test whatever the dict's order. "valid" tracks go to ``train/`` and are listed in the returned
        manifest's ``valid_tracks`` field, to pass to :func:`prepare_musdb`.

    Raises
    ------
    FileNotFoundError
        Without the fixtures.
    ValueError
        If the source is too short for the requested segments, or a split name is unknown.
    """
    if fixtures is None:
        raise FileNotFoundError("the MUSDB18-HQ demo is cut from ../shared/fixtures")
    source = Path(fixtures) / track
    splits = dict(splits or {"train": 3, "valid": 1, "test": 2})
    mix, fs = read_audio(source / "mixture.wav")
    stems = {s: read_audio(source / f"{s}.wav", sampling_rate=fs, num_channels=mix.shape[0])[0]
             for s in SOURCES}
    seg = int(round(segment_seconds * fs))
    total = sum(splits.values())
    if total * seg > mix.shape[-1]:
        raise ValueError(f"{source}: {mix.shape[-1] / fs:.2f} s is too short for {total} segments "
                         f"of {segment_seconds} s")
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"unknown split(s) {sorted(unknown)}: expected some of {SPLITS}")
    recs, i = [], 0
    summary = {"corpus": "musdb18hq", "origin": "fixtures", "licence": "MUSDB18 sample (see fixtures README)",
               "tracks": recs}
    with staging(root, summary) as output_root:
        for split in SPLITS:  # fixed order, whatever the order of the dict (JSON may sort its keys)
            for _ in range(int(splits.get(split, 0))):
                a, b = i * seg, (i + 1) * seg
                name = f"{source.name} - part{i}"
                tdir = output_root / ("test" if split == "test" else "train") / name
                write_audio(tdir / "mixture.wav", mix[:, a:b], fs, subtype="PCM_16")
                for s in SOURCES:
                    write_audio(tdir / f"{s}.wav", stems[s][:, a:b], fs, subtype="PCM_16")
                recs.append({"id": track_id(name), "path": str(tdir.relative_to(output_root) / "mixture.wav"), "sampling_rate": fs,
                             "num_samples": b - a, "num_channels": int(mix.shape[0]),
                             "duration": (b - a) / fs, "track": name, "split": split,
                             "origin": "real", "source_track": f"fixtures/{track}",
                             "source_start": a, "source_stop": b,
                             "note": "segment of a real MUSDB18 sample track (AAC-decoded stand-in for "
                                     "MUSDB18-HQ, see fixtures README); stems and mixture cut alike"})
                i += 1
        valid = [r["track"] for r in recs if r["split"] == "valid"]
        (output_root / "valid_tracks.txt").write_text("".join(v + "\n" for v in valid))
