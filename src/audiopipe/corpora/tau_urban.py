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

from audiopipe.corpora._base import write_manifest
from audiopipe.io import audio_info

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
    """Write ``tau_urban_recordings_<split>.jsonl.gz`` for the train and evaluate lists of ``fold``.

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
        out[split] = write_manifest(recs, output_dir, "tau_urban", split, allow_empty=True)
    return out

