"""SONYC Urban Sound Tagging v2 (Cartwright et al., DCASE 2019/2020) -> lhotse-style manifest.

Layout::

    <root>/annotations.csv
        split, sensor_id, audio_filename, annotator_id, ..., <fine>_presence ...,
        <k>_<coarse>_presence for k = 1..8
    <root>/audio/<audio_filename>

Each audio file has several annotation rows. Labels are aggregated as the SONYC-UST baseline
does: the SONYC team's verified consensus (``annotator_id == 0``) when present (validate/test),
otherwise a majority vote of the crowd annotators (``annotator_id > 0``, mean presence > 0.5).
Rows with ``annotator_id < 0`` (individual SONYC team members) are not used for voting.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audiopipe.corpora._base import write_manifest
from audiopipe.io import audio_info

COARSE = ["1_engine", "2_machinery-impact", "3_non-machinery-impact", "4_powered-saw", "5_alert-signal",
          "6_music", "7_human-voice", "8_dog"]


def aggregate_labels(df: pd.DataFrame, source: str = "annotations.csv") -> pd.DataFrame:
    """One row per ``audio_filename``: ``split`` and the 8 coarse 0/1 labels.

    Raises
    ------
    ValueError
        If a required column is missing or a file has no usable annotation.
    """
    cols = [f"{c}_presence" for c in COARSE]
    missing = [c for c in ["split", "audio_filename", "annotator_id"] + cols if c not in df.columns]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}")
    rows = []
    for name, g in df.groupby("audio_filename", sort=True):
        verified = g[g["annotator_id"] == 0]
        crowd = g[g["annotator_id"] > 0]
        use = verified if len(verified) else crowd
        if not len(use):
            raise ValueError(f"{source}: {name} has no verified or crowd annotation")
        votes = use[cols].clip(lower=0).mean()
        rows.append({"audio_filename": name, "split": g["split"].iloc[0],
                     **{c: int(votes[f"{c}_presence"] > 0.5) for c in COARSE},
                     "label_source": "verified" if len(verified) else "crowd_majority"})
    return pd.DataFrame(rows)


def prepare_sonyc_ust(root: Path, output_dir: Path) -> Path:
    """Write ``sonyc_ust_recordings.jsonl.gz``: one record per clip with ``split`` and ``labels`` (8 coarse 0/1).

    Parameters
    ----------
    root : Path
        Corpus root (holds ``annotations.csv`` and ``audio/``).
    output_dir : Path
        Where the manifest goes.

    Raises
    ------
    ValueError
        See :func:`aggregate_labels`; :class:`audiopipe.io.AudioFileError` for a missing clip.
    """
    root = Path(root)
    src = root / "annotations.csv"
    agg = aggregate_labels(pd.read_csv(src), str(src))
    recs = []
    for row in agg.to_dict("records"):
        path = root / "audio" / row["audio_filename"]
        recs.append({"id": Path(row["audio_filename"]).stem, "path": str(path.resolve()), **audio_info(path),
                     "split": row["split"], "labels": [row[c] for c in COARSE], "label_names": COARSE,
                     "label_source": row["label_source"]})
    return write_manifest(recs, output_dir, "sonyc_ust")
