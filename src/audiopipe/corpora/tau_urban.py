"""TAU Urban Acoustic Scenes 2020 Mobile (development set) -> lhotse-style manifests.

Layout (DCASE 2020 Task 1a, Heittola et al. 2020)::

    <root>/audio/<scene>-<city>-<location>-<segment>-<device>.wav
    <root>/evaluation_setup/fold1_train.csv      tab-separated: filename, scene_label
    <root>/evaluation_setup/fold1_evaluate.csv   tab-separated: filename, scene_label

``filename`` is relative to ``<root>`` (``audio/....wav``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audiopipe.io import audio_info, write_jsonl

SPLITS = ("train", "evaluate")


def parse_filename(name: str) -> dict:
    """Split ``scene-city-location-segment-device.wav`` into its fields.

    Raises
    ------
    ValueError
        If the name does not have five ``-``-separated fields.
    """
    parts = Path(name).stem.split("-")
    if len(parts) != 5:
        raise ValueError(f"{name}: not a TAU 2020 file name (scene-city-location-segment-device.wav)")
    return dict(zip(("scene_label", "city", "location", "segment", "device"), parts))


def prepare_tau_urban(root: Path, output_dir: Path, fold: int = 1) -> dict[str, Path]:
    """Write ``tau_urban_<split>.jsonl`` for the train and evaluate lists of ``fold``.

    Parameters
    ----------
    root : Path
        Corpus root (holds ``audio/`` and ``evaluation_setup/``).
    output_dir : Path
        Where the manifests go.
    fold : int
        Evaluation-setup fold (the dataset ships fold 1).

    Returns
    -------
    dict
        split -> manifest path.

    Raises
    ------
    FileNotFoundError
        If a list file is missing; :class:`audiopipe.io.AudioFileError` if a listed file is
        missing or unreadable; ValueError if a list lacks the ``filename`` column or a label
        disagrees with the file name.
    """
    root, output_dir = Path(root), Path(output_dir)
    out = {}
    for split in SPLITS:
        lst = root / "evaluation_setup" / f"fold{fold}_{split}.csv"
        if not lst.is_file():
            raise FileNotFoundError(f"{lst}: TAU evaluation-setup list is missing")
        df = pd.read_csv(lst, sep="\t")
        if "filename" not in df.columns:
            raise ValueError(f"{lst}: no 'filename' column (columns: {list(df.columns)})")
        recs = []
        for row in df.itertuples(index=False):
            fields = parse_filename(row.filename)
            label = getattr(row, "scene_label", fields["scene_label"])
            if label != fields["scene_label"]:
                raise ValueError(f"{lst}: {row.filename} listed as {label!r}, file name says {fields['scene_label']!r}")
            path = root / row.filename
            recs.append({"id": Path(row.filename).stem, "path": str(path.resolve()), **audio_info(path),
                         **fields, "split": split, "fold": fold})
        out[split] = output_dir / f"tau_urban_{split}.jsonl"
        write_jsonl(out[split], sorted(recs, key=lambda r: r["id"]))
    return out


#: fixture clip used by the demo corpus (relative to the fixtures root)
DEMO_SOURCE = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"


def build_demo(fixtures: Path, root: Path, segment_s: float = 1.0, n_train: int = 7) -> Path:
    """Build a demo TAU 2020 layout from the real fixture clip, cut into ``segment_s`` pieces.

    Segment ``k`` is written as ``audio/street_pedestrian-paris-152-4607s<k>-a.wav`` (the
    ``s<k>`` suffix marks a cut of the real segment 4607); the first ``n_train`` go to
    ``fold1_train.csv``, the rest to ``fold1_evaluate.csv``. ``demo_manifest.jsonl`` records each
    file's source and offsets. Deterministic: same fixture, same bytes.

    Returns
    -------
    Path
        The demo manifest.
    """
    from audiopipe.io import read_audio, write_audio

    src = Path(fixtures) / DEMO_SOURCE
    x, sr = read_audio(src)
    seg = int(round(segment_s * sr))
    n = x.shape[1] // seg
    if n <= n_train:
        raise ValueError(f"{src}: {n} segments of {segment_s} s, need more than n_train={n_train}")
    root = Path(root)
    recs, lists = [], {"train": [], "evaluate": []}
    for k in range(n):
        name = f"audio/street_pedestrian-paris-152-4607s{k}-a.wav"
        write_audio(root / name, x[:, k * seg:(k + 1) * seg], sr, subtype="PCM_24")
        split = "train" if k < n_train else "evaluate"
        lists[split].append(f"{name}\tstreet_pedestrian")
        recs.append({"id": Path(name).stem, "path": name, **audio_info(root / name), "split": split,
                     "source": DEMO_SOURCE, "source_start": k * seg / sr, "source_end": (k + 1) * seg / sr})
    for split, rows in lists.items():
        p = root / "evaluation_setup" / f"fold1_{split}.csv"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("filename\tscene_label\n" + "".join(r + "\n" for r in rows))
    out = root / "demo_manifest.jsonl"
    write_jsonl(out, recs)
    return out
