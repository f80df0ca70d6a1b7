"""UrbanSound8K (Salamon, Jacoby & Bello, ACM MM 2014) -> lhotse-style manifest.

Layout::

    <root>/audio/fold<1..10>/<fsID>-<classID>-<occurrenceID>-<sliceID>.wav
    <root>/metadata/UrbanSound8K.csv
        slice_file_name, fsID, start, end, salience, fold, classID, class

The official protocol is 10-fold cross-validation over the predefined folds
(:func:`cross_validation_folds`); never reshuffle slices across folds.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audiopipe.corpora._base import write_manifest
from audiopipe.io import audio_info

COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
CLASSES = ["air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling",
           "gun_shot", "jackhammer", "siren", "street_music"]


def read_metadata(path: Path) -> pd.DataFrame:
    """Read and check ``UrbanSound8K.csv``.

    ``classID`` 0-9 are the official classes (:data:`CLASSES`). IDs from 10 on name classes
    beyond the official ten (the registry demo corpus of :mod:`audiopipe.demo.urban` labels real
    animal recordings that way); each such ID must carry one name, never an official one.

    Raises
    ------
    ValueError
        If a column is missing, a fold is outside 1..10, ``classID`` and ``class`` disagree with the
        official class list, or an ID from 10 on carries an official name or several names.
    """
    df = pd.read_csv(path)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing}")
    bad = df[~df["fold"].between(1, 10)]
    if len(bad):
        raise ValueError(f"{path}: fold outside 1..10 for {bad['slice_file_name'].iloc[0]}")
    official = df["classID"].between(0, len(CLASSES) - 1)
    wrong = df[pd.Series([(name != CLASSES[i]) if known else (i < 0 or name in CLASSES)
                          for i, name, known in zip(df["classID"], df["class"], official)],
                         index=df.index, dtype=bool)]
    if len(wrong):
        raise ValueError(f"{path}: classID/class mismatch for {wrong['slice_file_name'].iloc[0]}")
    extra = df[~official].drop_duplicates(["classID", "class"])
    for col in ("classID", "class"):
        dup = extra[extra[col].duplicated()]
        if len(dup):
            raise ValueError(f"{path}: classID/class mismatch: {col} {dup[col].tolist()[0]!r} has several "
                             f"{'names' if col == 'classID' else 'IDs'}")
    return df


def cross_validation_folds(df: pd.DataFrame) -> list[tuple[list[int], int]]:
    """The 10 official (train folds, test fold) pairs present in ``df``."""
    folds = sorted(int(f) for f in df["fold"].unique())
    return [([f for f in folds if f != k], k) for k in folds]


def prepare_urbansound8k(root: Path, output_dir: Path) -> Path:
    """Write ``urbansound8k_recordings.jsonl.gz`` (one record per slice, with fold and class).

    Parameters
    ----------
    root : Path
        Corpus root (holds ``audio/`` and ``metadata/``).
    output_dir : Path
        Where the manifest goes.

    Raises
    ------
    ValueError
        See :func:`read_metadata`; :class:`audiopipe.io.AudioFileError` if a listed slice is
        missing or unreadable.
    """
    root = Path(root)
    df = read_metadata(root / "metadata" / "UrbanSound8K.csv")
    recs = []
    for row in df.to_dict("records"):
        path = root / "audio" / f"fold{row['fold']}" / row["slice_file_name"]
        recs.append({"id": Path(row["slice_file_name"]).stem, "path": str(path.resolve()), **audio_info(path),
                     "fold": int(row["fold"]), "class_id": int(row["classID"]), "label": row["class"],
                     "fs_id": int(row["fsID"]), "start": float(row["start"]), "end": float(row["end"]),
                     "salience": int(row["salience"])})
    out = write_manifest(recs, output_dir, "urbansound8k")
    return out

