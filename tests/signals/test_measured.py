"""Measured-RIR signal shards on the REAL dEchorate fixture (12 calibrated capsules, 48 kHz)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from audiopipe.corpora import prepare_dechorate
from audiopipe.io import read_jsonl
from audiopipe.recipes.sar_ssl import simulate_measured, summarize
from audiopipe.signals.examples import SimulationConfig
from audiopipe.signals.measured import load_pair, measured_labels, measured_shard, pair_pool
from audiopipe.signals.shards import LABELS, read_shard

FS = 16000


@pytest.fixture
def dechorate_manifest(fixtures_dir, tmp_path):
    return prepare_dechorate(fixtures_dir / "rir/dechorate", tmp_path / "corpora")


@pytest.fixture
def data_params():
    return {
        "seed": 7, "sampling_rate": FS, "backend": "ism", "room": {},
        "noise": {"type": "diffuse_white", "field": "spherical", "nfft": 256, "snr_range": [15.0, 30.0]},
        "sets": {}, "downstream": {"room_counts": [], "trials": 0, "examples_per_room": 1, "shards": 1, "duration_s": 1.0},
        "measured": {"dechorate": {"corpus": "dechorate", "examples": 6,
                                   "shards": 1, "duration_s": 1.04, "mic_dist_range": [0.03, 0.20],
                                   "room_size": [6.0, 6.0, 2.4]}},
    }


def test_pool_pairs_and_labels_on_real_rirs(dechorate_manifest):
    recs = read_jsonl(dechorate_manifest)
    rooms, entries = pair_pool(recs, (0.03, 0.20), str(dechorate_manifest))
    assert rooms == ["dechorate/011111"]
    pairs = [e.pair for e in entries[0]]
    assert len(pairs) == 6  # one 4-cm pair per linear array (2 capsules of each of the 6 arrays)
    for e in entries[0]:
        rir, info = load_pair(e, FS)
        assert rir.shape == (2, math.ceil(19556 / 3)) and info["rir_fs"] == 48000
        mic, src, c = info["mic_positions"], info["source_position"], info["sound_speed"]
        assert c == pytest.approx(345.844)
        d = np.linalg.norm(mic[0] - mic[1])
        assert 0.03 <= d <= 0.20
        lab = measured_labels(rir, FS, mic_pos=mic, src_pos=src, room_size=[6, 6, 2.4], sound_speed=c)
        assert lab["tdoa_method"] == "geometry"
        assert abs(lab["tdoa_s"]) <= d / c + 1e-12
        assert lab["tdoa_samples"] == pytest.approx(lab["tdoa_s"] * FS)
        # the arrival peaks argmax|h| agree with the corpus' annotated direct-path times; the
        # direct-path samples (SAR-SSL's signed maximum) lie on them or, for the inverted-polarity
        # capsules 0, 1 and 4, on the positive lobe 0.26-0.42 ms later (within the +-2.5-ms window)
        t_dir = np.asarray(info["annotated"]["direct_path_times_s"])
        assert np.all(np.abs(np.asarray(lab["arrival_index"]) / FS - t_dir) < 0.25e-3)
        late = np.asarray(lab["direct_index"]) / FS - t_dir
        assert np.all((late > -0.25e-3) & (late < 0.5e-3))
        inverted = [rir[k, lab["arrival_index"][k]] < 0 for k in range(2)]
        assert all(lab["direct_index"][k] == lab["arrival_index"][k] for k in range(2) if not inverted[k])
        # ... and the TDOA from those whole-sample peaks is within 2 samples of the geometry (measured
        # on this fixture: up to 1.8 samples, pair (4, 10), whose second peak is 2.4 samples late at 48 kHz)
        peaks = measured_labels(rir, FS, room_size=[6, 6, 2.4])
        assert peaks["tdoa_method"] == "peaks" and float(peaks["tdoa_samples"]).is_integer()
        assert abs(peaks["tdoa_samples"] - lab["tdoa_samples"]) <= 2.0
        assert math.isfinite(lab["drr_db"]) and -15 < lab["drr_db"] < 15
        assert math.isfinite(lab["c50_db"])
        assert 0.1 < lab["t60_s"] < 2.0 and abs(lab["t60_fit_r"]) > 0.9
        assert 0 < lab["absorption"] < 1


def test_labels_analytic_two_impulses():
    fs = 16000
    h = np.zeros((2, 4000))
    h[0, 100], h[0, 1000] = 1.0, 0.5  # direct path 1, one echo 0.5 outside the 2.5-ms window
    h[1, 103], h[1, 1003] = 1.0, 0.5
    lab = measured_labels(h, fs)
    assert lab["drr_db"] == pytest.approx(10 * np.log10(1 / 0.25), abs=1e-6)
    assert lab["c50_db"] == pytest.approx(10 * np.log10(1 / 0.25), abs=1e-6)  # echo 56.25 ms after: late
    assert lab["tdoa_method"] == "peaks" and lab["tdoa_samples"] == 3 and lab["tdoa_s"] == pytest.approx(3 / fs)
    assert math.isnan(lab["absorption"])  # no room size
    with pytest.raises(ValueError, match="all zeros"):
        measured_labels(np.zeros((2, 10)), fs)
    with pytest.raises(ValueError, match=r"\(2, samples\)"):
        measured_labels(np.ones((3, 10)), fs)


def test_shard_contract_provenance_determinism(dechorate_manifest, speech_manifest, data_params, tmp_path):
    out = tmp_path / "sim/dechorate/shard-0000.h5"
    simulate_measured(dechorate_manifest, speech_manifest, out, "dechorate", 0, data_params)
    s = read_shard(out)
    n = 6
    assert s["signals"].shape == (n, 2, round(1.04 * FS)) and s["signals"].dtype == np.float32
    assert np.max(np.abs(s["signals"])) == pytest.approx(1.0)
    assert set(s["labels"]) == set(LABELS) and all(np.all(np.isfinite(v)) for v in s["labels"].values())
    assert s["room_id"].tolist() == [0] * n
    assert s["attrs"]["backend"] == "measured:dechorate" and s["attrs"]["set"] == "dechorate"
    pairs = {tuple(e.pair) for e in pair_pool(read_jsonl(dechorate_manifest))[1][0]}
    for i, p in enumerate(s["provenance"]):
        assert p["example"] == i and p["room_name"] == "dechorate/011111" and p["tdoa_method"] == "geometry"
        assert p["rir"]["path"].endswith("dechorate_room011111_src1_12mics_rirs.mat")
        assert tuple(p["rir"]["channels"]) in pairs and p["rir"]["resampled"] and p["rir"]["rir_fs"] == 48000
        assert p["speech"]["ids"] and p["speech"]["paths"]
        assert 15 <= p["noise"]["snr_db"] <= 30 and p["noise"]["type"] == "diffuse_white"
        mic = np.asarray(p["rir"]["mic_positions"])
        assert abs(s["labels"]["tdoa_s"][i]) <= np.linalg.norm(mic[0] - mic[1]) / p["rir"]["sound_speed"] + 1e-7
    summarize([out], tmp_path / "summary.json")
    summ = json.loads((tmp_path / "summary.json").read_text())["dechorate"]
    assert summ["examples"] == n and summ["rooms"] == 1
    # same inputs -> same examples; an example does not depend on the sharding
    again = tmp_path / "again.h5"
    simulate_measured(dechorate_manifest, speech_manifest, again, "dechorate", 0, data_params)
    assert np.array_equal(read_shard(again)["signals"], s["signals"])
    data_params["measured"]["dechorate"]["shards"] = 2
    half = tmp_path / "half.h5"
    simulate_measured(dechorate_manifest, speech_manifest, half, "dechorate", 1, data_params)
    h = read_shard(half)
    assert np.array_equal(h["signals"], s["signals"][3:])
    assert [p["example"] for p in h["provenance"]] == [3, 4, 5]
    assert json.dumps(h["provenance"][0], sort_keys=True) == json.dumps(s["provenance"][3], sort_keys=True)


def test_errors_name_the_fault(dechorate_manifest, speech_manifest, data_params, tmp_path):
    recs = read_jsonl(dechorate_manifest)
    with pytest.raises(ValueError, match="no mic_positions"):
        pair_pool([dict(recs[0], mic_positions=None)], source="m.jsonl")
    with pytest.raises(ValueError, match="no microphone pair"):
        pair_pool(recs, (0.001, 0.002), source="m.jsonl")
    with pytest.raises(ValueError, match="no kind='rir'"):
        pair_pool([dict(recs[0], kind="speech")], source="m.jsonl")
    cfg = SimulationConfig()
    with pytest.raises(ValueError, match="room_size"):
        measured_shard(recs, read_jsonl(speech_manifest), seed=1, set_name="x", n_examples=1, n_shards=1, shard=0,
                       duration_s=0.5, cfg=cfg)
    with pytest.raises(KeyError, match="unknown SAR-SSL measured-RIR set"):
        simulate_measured(dechorate_manifest, speech_manifest, tmp_path / "x.h5", "nope", 0, data_params)


def test_room_id_indexes_corpus_rooms_hdf5_layout(fixtures_dir, speech_manifest, tmp_path):
    """Two rooms in the dEchorate HDF5 release layout (built from the real RIRs by the corpus test)."""
    from tests.corpora.test_dechorate import _h5_tree

    _h5_tree(fixtures_dir, tmp_path / "dechorate")
    recs = read_jsonl(prepare_dechorate(tmp_path / "dechorate", tmp_path / "out"))
    rooms, entries = pair_pool(recs)
    assert rooms == ["dechorate/000000", "dechorate/011111"]
    # 30 capsules in 6 arrays: every in-range pair lies within one array
    assert all(e.record["mic_array"][e.pair[0]] == e.record["mic_array"][e.pair[1]] for e in entries[0])
    sig, lab, rid, prov, names = measured_shard(
        recs, read_jsonl(speech_manifest), seed=3, set_name="two-rooms", n_examples=10, n_shards=1, shard=0,
        duration_s=0.5, cfg=SimulationConfig(), room_size=[6.0, 6.0, 2.4])
    assert names == rooms and set(rid.tolist()) == {0, 1}
    for r, p in zip(rid, prov, strict=True):
        assert p["room_id"] == r and p["room_name"] == rooms[r] and f"dechorate/{p['rir']['room']}" == rooms[r]
        assert p["rir"]["format"] == "hdf5" and p["rir"]["key"].startswith(f"rir/{p['rir']['room']}/")
    assert sig.shape == (10, 2, 8000) and all(np.all(np.isfinite(v)) for v in lab.values())


def test_tdoa_from_peaks_without_source_position(dechorate_manifest, speech_manifest):
    recs = [dict(r, source_position=None) for r in read_jsonl(dechorate_manifest)]
    _, lab, _, prov, _ = measured_shard(recs, read_jsonl(speech_manifest), seed=1, set_name="nosrc", n_examples=3,
                                        n_shards=1, shard=0, duration_s=0.5, cfg=SimulationConfig(), room_size=[6, 6, 2.4])
    for i, p in enumerate(prov):
        assert p["tdoa_method"] == "peaks" and p["rir"]["source_position"] is None
        assert lab["tdoa_samples"][i] == p["arrival_index"][1] - p["arrival_index"][0]
        assert abs(lab["tdoa_samples"][i]) <= 3  # 4-cm pairs: |TDOA| <= 1.85 samples, peaks within 2 samples
