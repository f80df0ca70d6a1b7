"""TAU 2020, UrbanSound8K, SONYC-UST and AMI adapters on layouts built from the real fixtures."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from audiopipe.corpora.ami import prepare_ami, read_rttm, speech_regions
from audiopipe.corpora.sonyc_ust import COARSE, prepare_sonyc_ust
from audiopipe.corpora.tau_urban import prepare_tau_urban
from audiopipe.corpora.urbansound8k import cross_validation_folds, prepare_urbansound8k, read_metadata
from audiopipe.io import AudioFileError, read_jsonl

TAU = "urban/tau2020_mobile/street_pedestrian-paris-152-4607-a.wav"


def test_tau_urban(fixtures_dir, tmp_path):
    root = tmp_path / "TAU"
    (root / "audio").mkdir(parents=True)
    (root / "evaluation_setup").mkdir()
    (root / "audio" / "street_pedestrian-paris-152-4607-a.wav").symlink_to(fixtures_dir / TAU)
    (root / "evaluation_setup" / "fold1_train.csv").write_text(
        "filename\tscene_label\naudio/street_pedestrian-paris-152-4607-a.wav\tstreet_pedestrian\n")
    (root / "evaluation_setup" / "fold1_evaluate.csv").write_text("filename\tscene_label\n")
    out = prepare_tau_urban(root, tmp_path / "m")
    (rec,) = read_jsonl(out["train"])
    assert rec["scene_label"] == "street_pedestrian" and rec["city"] == "paris" and rec["device"] == "a"
    assert rec["sampling_rate"] == 44100 and rec["num_samples"] == 441000 and rec["duration"] == 10.0
    assert read_jsonl(out["evaluate"]) == []
    before = out["train"].read_bytes()
    prepare_tau_urban(root, tmp_path / "m")
    assert out["train"].read_bytes() == before  # idempotent, byte-identical
    (root / "evaluation_setup" / "fold1_train.csv").write_text(
        "filename\tscene_label\naudio/street_pedestrian-paris-152-4607-a.wav\tpark\n")
    with pytest.raises(ValueError, match="listed as 'park'"):
        prepare_tau_urban(root, tmp_path / "m")


def test_urbansound8k(fixtures_dir, tmp_path):
    src = fixtures_dir / "urban" / "UrbanSound8K"
    root = tmp_path / "UrbanSound8K"
    shutil.copytree(src / "metadata", root / "metadata")
    (root / "audio" / "fold5").mkdir(parents=True)
    (root / "audio" / "fold5" / "100032-3-0-0.wav").symlink_to(src / "audio" / "fold5" / "100032-3-0-0.wav")
    (rec,) = read_jsonl(prepare_urbansound8k(root, tmp_path / "m"))
    assert rec["label"] == "dog_bark" and rec["class_id"] == 3 and rec["fold"] == 5
    assert rec["num_channels"] == 2 and rec["num_samples"] == 14004
    # the real full metadata: 8732 slices, official fold sizes, 10 folds for cross-validation
    full = read_metadata(src / "metadata" / "UrbanSound8K.bkp.csv")
    assert len(full) == 8732
    assert full.groupby("fold").size().tolist() == [873, 888, 925, 990, 936, 823, 838, 806, 816, 837]
    cv = cross_validation_folds(full)
    assert len(cv) == 10 and cv[4] == ([1, 2, 3, 4, 6, 7, 8, 9, 10], 5)
    # a listed slice without audio is an error naming the file
    shutil.copy(src / "metadata" / "UrbanSound8K.bkp.csv", root / "metadata" / "UrbanSound8K.csv")
    with pytest.raises(AudioFileError, match="fold"):
        prepare_urbansound8k(root, tmp_path / "m")


def test_sonyc_ust_layout_from_real_audio(fixtures_dir, tmp_path):
    """No SONYC-UST audio is public in the fixtures: the layout uses the real TAU clip."""
    root = tmp_path / "sonyc"
    (root / "audio").mkdir(parents=True)
    (root / "audio" / "00_000066.wav").symlink_to(fixtures_dir / TAU)
    cols = {f"{c}_presence": 0 for c in COARSE}
    rows = [{"split": "train", "sensor_id": 0, "audio_filename": "00_000066.wav", "annotator_id": a,
             **cols, "7_human-voice_presence": v, "1_engine_presence": e}
            for a, v, e in [(1, 1, 1), (2, 1, 0), (3, 0, 0), (-1, 0, 1)]]
    pd.DataFrame(rows).to_csv(root / "annotations.csv", index=False)
    (rec,) = read_jsonl(prepare_sonyc_ust(root, tmp_path / "m"))
    assert rec["labels"][6] == 1 and rec["labels"][0] == 0 and rec["label_source"] == "crowd_majority"
    rows.append({**rows[0], "annotator_id": 0, "7_human-voice_presence": 0, "1_engine_presence": 1})
    pd.DataFrame(rows).to_csv(root / "annotations.csv", index=False)
    (rec,) = read_jsonl(prepare_sonyc_ust(root, tmp_path / "m"))
    assert rec["labels"][6] == 0 and rec["labels"][0] == 1 and rec["label_source"] == "verified"


def test_ami_rttm_real_annotations(fixtures_dir):
    turns = read_rttm(fixtures_dir / "speech" / "ami_annotations" / "ES2014c.ref.rttm")
    assert list(turns) == ["ES2014c"]
    spk = {s for _, _, s in turns["ES2014c"]}
    assert len(spk) == 4
    regions = speech_regions(turns["ES2014c"])
    assert all(a[1] < b[0] for a, b in zip(regions, regions[1:]))
    total_turns = sum(e - s for s, e, _ in turns["ES2014c"])
    speech = sum(e - s for s, e in regions)
    assert 0 < speech < total_turns  # overlapping speech is counted once


def test_ami_layout_with_real_conversation(fixtures_dir, tmp_path):
    root = tmp_path / "ami"
    (root / "amicorpus" / "sample" / "audio").mkdir(parents=True)
    (root / "amicorpus" / "sample" / "audio" / "sample.Mix-Headset.wav").symlink_to(
        fixtures_dir / "speech" / "pyannote_sample" / "sample.wav")
    (root / "lists").mkdir()
    (root / "lists" / "test.meetings.txt").write_text("sample\n")
    (root / "rttms" / "test").mkdir(parents=True)
    shutil.copy(fixtures_dir / "speech" / "pyannote_sample" / "sample.rttm", root / "rttms" / "test" / "sample.rttm")
    out = prepare_ami(root, tmp_path / "m")
    assert list(out) == ["test"]
    (rec,) = read_jsonl(out["test"])
    assert rec["duration"] == 30.0 and rec["annotated"] == [[0.0, 30.0]]
    assert rec["speech"][0][0] == pytest.approx(6.69)
    assert 5 < sum(e - s for s, e in rec["speech"]) < 30
    (root / "lists" / "test.meetings.txt").write_text("sample\nES2014c\n")
    with pytest.raises(FileNotFoundError, match="ES2014c.rttm"):
        prepare_ami(root, tmp_path / "m")
