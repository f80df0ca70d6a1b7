"""Demo corpora in the TAU Urban Acoustic Scenes 2020 Mobile and UrbanSound8K layouts.

Cut from the real fixture recordings: the TAU 2020 clip ``street_pedestrian-paris-152-4607-a``
and the UrbanSound8K slice ``fold5/100032-3-0-0`` (dog bark) with its metadata.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from audiopipe.demo._sources import staging
from audiopipe.io import audio_info, read_audio, write_audio

#: fixture clip the TAU demo is cut from (relative to the fixtures root)
TAU_SOURCE = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"
#: fixture UrbanSound8K tree
US8K_SOURCE = "urban/UrbanSound8K"


def build_tau_urban(root: Path, fixtures: Path | None, downloads: Path, segment_s: float = 1.0,
                    n_train: int = 7) -> None:
    """Build a demo TAU 2020 layout from the real fixture clip, cut into ``segment_s`` pieces.

    Segment ``k`` is written as ``audio/street_pedestrian-paris-152-4607s<k>-a.wav`` (the
    ``s<k>`` suffix marks a cut of the real segment 4607); the first ``n_train`` go to
    ``evaluation_setup/fold1_train.csv``, the rest to ``fold1_evaluate.csv``. ``DEMO.json``
    records each file's source and offsets. Deterministic: same fixture, same bytes.

    Raises
    ------
    FileNotFoundError
        Without the fixtures (no registry package ships urban street scenes).
    ValueError
        If the clip gives no more than ``n_train`` segments.
    """
    if fixtures is None:
        raise FileNotFoundError("the TAU demo is cut from ../shared/fixtures (no registry package ships urban scenes)")
    src = Path(fixtures) / TAU_SOURCE
    x, sr = read_audio(src)
    seg = int(round(segment_s * sr))
    n = x.shape[1] // seg
    if n <= n_train:
        raise ValueError(f"{src}: {n} segments of {segment_s} s, need more than n_train={n_train}")
    summary = {"corpus": "tau_urban", "origin": "fixtures", "licence": "not stated (see fixtures README)",
               "files": []}
    with staging(root, summary) as tmp:
        lists = {"train": [], "evaluate": []}
        for k in range(n):
            name = f"audio/street_pedestrian-paris-152-4607s{k}-a.wav"
            write_audio(tmp / name, x[:, k * seg:(k + 1) * seg], sr, subtype="PCM_24")
            split = "train" if k < n_train else "evaluate"
            lists[split].append(f"{name}\tstreet_pedestrian")
            summary["files"].append({"path": name, **audio_info(tmp / name), "split": split,
                                     "source": f"fixtures/{TAU_SOURCE}", "source_start": k * seg / sr,
                                     "source_end": (k + 1) * seg / sr})
        for split, rows in lists.items():
            p = tmp / "evaluation_setup" / f"fold1_{split}.csv"
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text("filename\tscene_label\n" + "".join(r + "\n" for r in rows))


def build_urbansound8k(root: Path, fixtures: Path | None, downloads: Path) -> None:
    """Build a demo UrbanSound8K layout holding the real fixture slice ``fold5/100032-3-0-0.wav``
    and the real metadata file (copied byte for byte).

    Raises
    ------
    FileNotFoundError
        Without the fixtures.
    """
    if fixtures is None:
        raise FileNotFoundError("the UrbanSound8K demo is cut from ../shared/fixtures")
    src = Path(fixtures) / US8K_SOURCE
    rel = "audio/fold5/100032-3-0-0.wav"
    summary = {"corpus": "urbansound8k", "origin": "fixtures", "licence": "CC BY-NC 3.0 (UrbanSound8K)",
               "files": []}
    with staging(root, summary) as tmp:
        (tmp / "audio" / "fold5").mkdir(parents=True)
        (tmp / "metadata").mkdir(parents=True)
        shutil.copyfile(src / rel, tmp / rel)
        shutil.copyfile(src / "metadata" / "UrbanSound8K.csv", tmp / "metadata" / "UrbanSound8K.csv")
        summary["files"].append({"path": rel, **audio_info(tmp / rel), "source": f"fixtures/{US8K_SOURCE}/{rel}"})
