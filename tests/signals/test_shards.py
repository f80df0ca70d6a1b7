"""Shard contract, determinism independent of sharding, and the sar_ssl data stages."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

from audiopipe.acoustics.rooms import RoomConfig
from audiopipe.cli import main
from audiopipe.io import read_jsonl
from audiopipe.signals.examples import SimulationConfig, shard_range, simulate_shard
from audiopipe.signals.shards import LABELS, read_shard, write_shard

REPO = Path(__file__).resolve().parents[2]


def _fake(n=3):
    rng = np.random.default_rng(0)
    sig = rng.uniform(-1, 1, (n, 2, 100)).astype(np.float32)
    labels = {k: rng.standard_normal(n) for k in LABELS}
    return sig, labels, np.arange(n), [{"i": i, "text": "é"} for i in range(n)]


@pytest.mark.parametrize("dtype", ["float32", "int16"])
def test_shard_roundtrip(tmp_path, dtype):
    sig, labels, rid, prov = _fake()
    p = tmp_path / "s.h5"
    write_shard(p, sig, labels, rid, prov, sampling_rate=16000, seed=7, set_name="pretrain", backend="ism", dtype=dtype)
    with h5py.File(p) as f:
        assert f["signals"].dtype == np.dtype(dtype)
        assert ("scale" in f["signals"].attrs) == (dtype == "int16")
        assert all(f[f"labels/{k}"].dtype == np.float32 and f[f"labels/{k}"].shape == (3,) for k in LABELS)
        assert f["room_id"].dtype == np.int64
        assert dict(f.attrs) == {"sampling_rate": 16000, "seed": 7, "set": "pretrain", "backend": "ism"}
        assert f["signals"].compression is None and f["signals"].chunks is None
    s = read_shard(p)
    assert np.allclose(s["signals"], sig, atol=2 / 32767 if dtype == "int16" else 0)
    assert s["provenance"] == prov


def test_shard_errors(tmp_path):
    sig, labels, rid, prov = _fake()
    del labels["c50_db"]
    with pytest.raises(ValueError, match="c50_db"):
        write_shard(tmp_path / "x.h5", sig, labels, rid, prov, sampling_rate=16000, seed=0, set_name="a", backend="ism")
    assert not (tmp_path / "x.h5").exists()


def test_shard_range_partitions():
    got = [list(shard_range(10, 3, k)) for k in range(3)]
    assert got == [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    with pytest.raises(ValueError, match="out of range"):
        shard_range(10, 3, 3)


def test_examples_do_not_depend_on_sharding(speech_manifest):
    recs = read_jsonl(speech_manifest)
    kw = dict(seed=3, set_name="val", n_rooms=2, examples_per_room=2, duration_s=0.5,
              room_cfg=RoomConfig(t60_range=[0.2, 0.5]), cfg=SimulationConfig())
    whole = simulate_shard(recs, n_shards=1, shard=0, **kw)
    parts = [simulate_shard(recs, n_shards=2, shard=k, **kw) for k in range(2)]
    assert np.array_equal(whole[0], np.concatenate([p[0] for p in parts]))
    assert whole[3] == parts[0][3] + parts[1][3]
    assert list(whole[2]) == [0, 0, 1, 1]
    # labels are consistent with the provenance
    for i, prov in enumerate(whole[3]):
        assert abs(whole[1]["t60_s"][i] - prov["t60_target_s"]) < 0.05
        assert np.isclose(np.max(np.abs(whole[0][i])), 1.0)


def test_params_validate_against_schema():
    import jsonschema

    from audiopipe.config import load_schema

    params = yaml.safe_load((REPO / "params.yaml").read_text())["sar_ssl"]
    schema = load_schema(REPO / "workflow/schemas/sar_ssl.schema.yaml")
    jsonschema.validate(params, schema)
    bad = json.loads(json.dumps(params))
    bad["data"]["room"]["t60"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_simulate_and_summarize_stages(speech_manifest, tmp_path):
    data = yaml.safe_load((REPO / "params.yaml").read_text())["sar_ssl"]["data"]
    data["sets"] = {"pretrain": {"rooms": 2, "examples_per_room": 2, "shards": 2, "duration_s": 1.0}}
    data["downstream"].update(room_counts=[2], trials=1, examples_per_room=1, duration_s=1.04)
    data["dtype"] = "int16"
    outs = []
    for name, shard in [("pretrain", 0), ("pretrain", 1), ("downstream-rooms2-trial0", 0)]:
        out = tmp_path / name / f"shard-{shard:04d}.h5"
        assert main(["sar_ssl", "simulate", "--speech_manifest", str(speech_manifest), "--output", str(out),
                     "--set_name", name, "--shard", str(shard), "--params", json.dumps(data)]) == 0
        outs.append(out)
    s = read_shard(outs[2])
    assert s["signals"].shape == (2, 2, 16640) and s["attrs"]["set"] == "downstream-rooms2-trial0"
    p = s["provenance"][0]
    assert {"room", "t60_target_s", "backend", "noise", "speech", "seed"} <= set(p)
    assert Path(p["speech"]["paths"][0]).is_file() and 15 <= p["noise"]["snr_db"] <= 30
    summary = tmp_path / "summary.json"
    assert main(["sar_ssl", "summarize", "--shards", json.dumps(list(map(str, outs))), "--output", str(summary)]) == 0
    js = json.loads(summary.read_text())
    assert js["pretrain"]["examples"] == 4 and js["pretrain"]["rooms"] == 2
    bad = dict(data, ism_decay=12)
    with pytest.raises(KeyError, match="ism_decay"):
        main(["sar_ssl", "simulate", "--speech_manifest", str(speech_manifest), "--output", str(tmp_path / "x.h5"),
              "--set_name", "pretrain", "--shard", "0", "--params", json.dumps(bad)])
    with pytest.raises(KeyError, match="unknown SAR-SSL set"):
        main(["sar_ssl", "simulate", "--speech_manifest", str(speech_manifest), "--output", str(tmp_path / "x.h5"),
              "--set_name", "downstream-rooms3-trial0", "--shard", "0", "--params", json.dumps(data)])
