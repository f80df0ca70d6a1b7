"""SAR-SSL real-data TDOA path: LOCATA segments (audiopipe.signals.locata) on the LOCATA-layout
demo corpus, which records REAL speech (CMU ARCTIC, pyannote sample) through the 12 MEASURED
dEchorate RIRs of shared/fixtures, with dEchorate's calibrated positions as LOCATA positions.
The labels are checked against dEchorate's own annotated direct-path arrival times."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from audiopipe import demo as D
from audiopipe.corpora import registry as corpora
from audiopipe.corpora.locata import prepare_locata, read_mic_trajectory, read_required_times
from audiopipe.io import read_jsonl
from audiopipe.recipes import sar_ssl as R
from audiopipe.signals import locata as L
from audiopipe.signals.shards import read_shard
from tests.corpora._corpora_real import dechorate


@pytest.fixture(scope="module")
def locata_demo(fixtures_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("locata") / "locata"
    D.build("locata", root, fixtures_dir)
    return root


def _records(root, tmp_path):
    return read_jsonl(prepare_locata(root, tmp_path / "man"))


def test_demo_layout_is_read_by_the_adapter(locata_demo, tmp_path, fixtures_dir):
    recs = {r["id"]: r for r in _records(locata_demo, tmp_path)}
    assert sorted(recs) == ["locata_dev_task1_recording1_benchmark2", "locata_eval_task1_recording1_benchmark2",
                            "locata_eval_task1_recording2_benchmark2"]
    d = dechorate(fixtures_dir)
    r = recs["locata_eval_task1_recording1_benchmark2"]
    assert r["num_channels"] == 12 and r["sampling_rate"] == 48000
    np.testing.assert_allclose(r["mic_positions"], d["mics"], atol=1e-6)
    assert r["sources"][0]["static"] and np.allclose(r["sources"][0]["source_position"], d["src"], atol=1e-6)
    t = read_required_times(r["required_time_path"])
    assert t[0] == 36000.0 and np.allclose(np.diff(t), 0.1)
    ta, mics = read_mic_trajectory(locata_demo / "eval/task1/recording1/benchmark2/position_array_benchmark2.txt", 12)
    assert mics.shape == (len(ta), 12, 3)
    # the leading 0.5 s of silence is found in the recording (first direct-path arrival after it)
    sil = L.leading_silence_s(r["path"])
    assert 0.5 + d["t_direct"].min() - 0.01 < sil < 1.5


def test_segments_follow_the_splits_and_match_the_annotated_direct_path(locata_demo, tmp_path, fixtures_dir):
    recs = _records(locata_demo, tmp_path)
    d = dechorate(fixtures_dir)
    for split, part in [("train", "eval"), ("val", "eval"), ("test", "dev")]:
        sig, lab, rid, prov = L.locata_shard(recs, seed=3, set_name=f"locata-{split}", split=split, n_examples=12,
                                             n_shards=1, shard=0)
        assert sig.shape == (12, 2, 16640) and sig.dtype == np.float32
        np.testing.assert_allclose(np.abs(sig).max(axis=(1, 2)), 1.0, rtol=1e-5)
        assert (rid == 0).all()
        for k in ("drr_db", "t60_s", "c50_db", "absorption"):
            assert np.isnan(lab[k]).all()
        np.testing.assert_allclose(lab["tdoa_samples"], lab["tdoa_s"] * 16000, rtol=1e-5)
        for p, tau in zip(prov, lab["tdoa_samples"]):
            assert f"locata_{part}_" in p["recording"]
            i, j = p["mic_pair"]
            assert 0.03 <= p["mic_spacing_m"] <= 0.20
            # dEchorate's annotated direct-path times give the same TDOA as the geometry
            assert tau == pytest.approx((d["t_direct"][j] - d["t_direct"][i]) * 16000, abs=0.15)
            # the segment lies in the split's share of the recording after its silence
            rec = next(r for r in recs if r["id"] == p["recording"])
            usable = rec["num_samples"] / 48000 - p["silence_s"]
            lo, hi = L.SPLITS[split][1]
            assert p["silence_s"] + lo * usable - 1e-3 <= p["start_s"] <= p["silence_s"] + hi * usable - 1.04 + 1e-3
    # an example does not depend on the sharding
    one = L.locata_shard(recs, seed=3, set_name="locata-train", split="train", n_examples=6, n_shards=1, shard=0)
    two = [L.locata_shard(recs, seed=3, set_name="locata-train", split="train", n_examples=6, n_shards=2, shard=k)
           for k in (0, 1)]
    np.testing.assert_array_equal(one[0], np.concatenate([two[0][0], two[1][0]]))


def test_tdoa_follows_a_moving_source(locata_demo, tmp_path):
    root = tmp_path / "locata"
    shutil.copytree(locata_demo, root)
    shutil.rmtree(root / "eval/task1/recording2")
    adir = root / "eval/task1/recording1/benchmark2"
    f = adir / "position_source_talker1.txt"
    lines = f.read_text().splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    speed = 0.3  # m/s along x, over the 12-s recording
    for k, r in enumerate(rows):
        r[6] = f"{float(r[6]) + speed * 0.1 * k:.6f}"
    f.write_text("\n".join([lines[0]] + ["\t".join(r) for r in rows]) + "\n")
    recs = _records(root, tmp_path)
    assert not next(r for r in recs if r["id"].startswith("locata_eval"))["sources"][0]["static"]
    sig, lab, _, prov = L.locata_shard(recs, seed=0, set_name="locata-train", split="train", n_examples=4,
                                       n_shards=1, shard=0)
    mics = np.asarray(next(r for r in recs if r["id"].startswith("locata_eval"))["mic_positions"])
    src0 = np.array([float(v) for v in rows[0][6:9]])
    for p, tau in zip(prov, lab["tdoa_s"]):
        t = p["start_s"] + np.arange(16640) / 16000
        s = src0[None, :] + np.outer(t, [speed, 0, 0])
        i, j = p["mic_pair"]
        exact = (np.linalg.norm(s - mics[j], axis=1) - np.linalg.norm(s - mics[i], axis=1)) / 343.0
        assert tau == pytest.approx(exact.mean(), abs=1e-7)
        assert p["tdoa_s_max"] - p["tdoa_s_min"] > 1e-7


def test_bad_pools_raise_with_the_record_named(locata_demo, tmp_path):
    recs = _records(locata_demo, tmp_path)
    with pytest.raises(KeyError, match="unknown LOCATA split"):
        L.locata_pool(recs, "dev")
    with pytest.raises(ValueError, match="no LOCATA eval recording"):
        L.locata_pool(recs, "train", arrays=("dicit",))
    with pytest.raises(ValueError, match="no LOCATA dev recording"):
        L.locata_pool(recs, "test", duration_s=20.0)
    two = [dict(r, sources=r["sources"] * 2) for r in recs]
    with pytest.raises(ValueError, match="locata_dev_task1_recording1_benchmark2.*2 sources"):
        L.locata_pool(two, "test")


def test_segment_window_rules():
    fs = 1000
    # >= 10 s: train gets the first 80 %, val the last 20 %
    assert L.segment_window(20 * fs, fs, 1.0, (0.0, 0.8), 1.0) == (1000, round(19 * fs * 0.8 + fs) - fs)
    assert L.segment_window(20 * fs, fs, 1.0, (0.8, 1.0), 1.0)[0] == round(19 * fs * 0.8 + fs)
    # < 10 s: halves
    assert L.segment_window(6 * fs, fs, 0.0, (0.8, 1.0), 1.0) == (3000, 5000)
    assert L.segment_window(6 * fs, fs, 0.0, (0.0, 0.8), 1.0) == (0, 2000)
    # shorter than 2 x 1.1 s after the silence: unusable
    assert L.segment_window(3 * fs, fs, 1.0, (0.0, 1.0), 1.0) is None


def test_locata_sets_and_stage(locata_demo, tmp_path):
    data = {"seed": 5, "sampling_rate": 16000, "room": {"sound_speed": 343.0},
            "locata": {"examples": {"train": 4, "test": 3}, "shards": 1, "arrays": ["benchmark2"]}}
    assert R.locata_sets(data) == {"locata-train": {"split": "train", "examples": 4, "shards": 1},
                                   "locata-test": {"split": "test", "examples": 3, "shards": 1}}
    with pytest.raises(KeyError, match="unknown split"):
        R.locata_sets({"locata": {**data["locata"], "examples": {"dev": 1}}})
    with pytest.raises(KeyError, match="key"):
        R.locata_sets({"locata": {**data["locata"], "window": 1}})
    (man,) = corpora.prepare("locata", locata_demo, tmp_path / "man")
    assert man.name == "locata_recordings.jsonl.gz"
    R.locata_segments(man, tmp_path / "s.h5", "locata-test", 0, data)
    s = read_shard(tmp_path / "s.h5")
    assert s["signals"].shape == (3, 2, 16640) and s["attrs"]["set"] == "locata-test"
    assert s["attrs"]["backend"] == "recorded:locata"
    with pytest.raises(KeyError, match="locata-val"):
        R.locata_segments(man, tmp_path / "v.h5", "locata-val", 0, data)
    assert not (tmp_path / "v.h5").exists()
    with pytest.raises(KeyError, match="unknown option.*arrays"):
        corpora.prepare("locata", locata_demo, tmp_path / "man2", {"arrays": ["benchmark2"]})


def test_recipe_locata_splits_are_the_segment_splits():
    assert set(R.LOCATA_SPLITS) == set(L.SPLITS)


def test_demo_needs_the_fixtures(tmp_path):
    with pytest.raises(FileNotFoundError, match="fixtures"):
        D.build("locata", tmp_path / "x", None)
    assert D.unavailable("locata", None) is not None and D.unavailable("wsj0", None) is None
