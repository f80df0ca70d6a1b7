"""SFI recipe stages: training with resume, separation methods, and the recipe in the DAG."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from audiopipe import demo as D
from audiopipe.corpora import registry as corpora
from audiopipe.models.sfi_convtasnet import MonoConvTasNet, SFIConvTasNet
from audiopipe.recipes import sfi as recipe

REPO = Path(__file__).resolve().parents[2]
TRACK = "music/musdb18hq_sample/train/Music Delta - 80s Rock"
TINY = {"N": 16, "L": 160, "B": 8, "H": 8, "P": 3, "X": 2, "R": 1, "norm": "gLN",
        "mask_act": "softmax", "sfi": {"stride": 80, "fs_ref": 32000, "filters": "mgf",
                                       "design": "fd", "n_freqs": 640, "weight_scale": "paper",
                                       "filter_params": {"freq_range": [50.0, 16000.0]}}}


@pytest.fixture(scope="module")
def shards(fixtures_dir, tmp_path_factory):
    d = tmp_path_factory.mktemp("sfi")
    D.build("musdb18hq", d / "musdb", fixtures_dir, options={"segment_seconds": 1.1,
                                                            "splits": {"train": 3, "valid": 1, "test": 2}})
    corpora.prepare("musdb18hq", d / "musdb", d / "man", {"valid_list": "valid_tracks.txt"})
    for split, fs in (("train", 32000), ("valid", 32000), ("test", 8000)):
        recipe.resample_split(d / f"man/musdb18hq_recordings_{split}.jsonl.gz", d / f"{split}_{fs}.h5", fs)
    return d


def test_separate_methods(shards):
    """Shapes for every method; softmax masks sum to one, so the SFI estimates sum to the
    decoded (unmasked) encoder output; ``resampling`` = resample, separate at 32 kHz, resample."""
    from audiopipe.corpora.musdb import read_shard_track, resample

    mix, _, fs = read_shard_track(shards / "test_8000.h5", "music_delta_80s_rock_part4")
    torch.manual_seed(0)
    nets = {"sfi": SFIConvTasNet(**recipe.model_config("sfi", TINY)).eval(),
            "plain": MonoConvTasNet(**recipe.model_config("plain", TINY)).eval()}
    for method in recipe.METHODS:
        net = nets["sfi" if method == "sfi" else "plain"]
        est = recipe.separate(net, mix, fs, method, 32000, chunk_seconds=0.5)
        assert est.shape == (4,) + mix.shape and np.isfinite(est).all()
    net = nets["sfi"]
    est = recipe.separate(net, mix, fs, "sfi", 32000)
    with torch.no_grad():
        x = torch.from_numpy(mix)[:, None, :]  # channels as batch
        k, st = net.encoder.sizes(fs)
        x = torch.nn.functional.pad(x, (0, -(x.shape[-1] - k) % st))
        recon = net.decoder(torch.relu(net.encoder(x, fs)), fs)[:, 0, : mix.shape[-1]].numpy()
    np.testing.assert_allclose(est.sum(0), recon, atol=1e-5 * np.abs(recon).max())
    with torch.no_grad():
        ref = nets["plain"](torch.from_numpy(resample(mix, fs, 32000))[None], 32000)[0].numpy()
    np.testing.assert_allclose(recipe.separate(nets["plain"], mix, fs, "resampling", 32000),
                               resample(ref, 32000, fs)[..., : mix.shape[-1]], atol=1e-6)
    with pytest.raises(ValueError, match="unknown method"):
        recipe.separate(nets["sfi"], mix, fs, "oracle", 32000)


@pytest.mark.slow
def test_train_resumes_and_evaluate_writes_scores(shards):
    tr = {"segment_seconds": 0.5, "batch_size": 2, "epochs": 1, "steps_per_epoch": 1,
          "valid_segments": 2, "lr": 1e-3, "weight_decay": 0.0, "grad_clip": 5.0, "seed": 0}
    out = shards / "models/sfi/model.pt"
    recipe.train(shards / "train_32000.h5", shards / "valid_32000.h5", out, "sfi", TINY, tr)
    ck = out.parent / "checkpoints"
    assert (ck / "last.ckpt").is_file() and (ck / "epoch000.ckpt").is_file()
    recipe.train(shards / "train_32000.h5", shards / "valid_32000.h5", out, "sfi", TINY,
                 {**tr, "epochs": 2})
    assert (ck / "epoch001.ckpt").is_file()
    assert torch.load(out, weights_only=False)["epochs"] == 2
    res = shards / "eval.json"
    recipe.evaluate(out, shards / "test_8000.h5", "sfi", res, chunk=1, n_chunks=2)
    (track, r), = json.loads(res.read_text()).items()
    assert track == "music_delta_80s_rock_part5"  # chunk 1 of 2 of the sorted test tracks
    assert r["sampling_rate"] == 8000 and r["train_sampling_rate"] == 32000
    assert all(np.isfinite(r["SDR"][s]) for s in ("vocals", "drums", "bass", "other"))
    assert set(json.loads(res.with_suffix(".timing.json").read_text())[track]) >= {"seconds_separation"}
    recipe.summarize([res], shards / "scores.csv", shards / "metrics.json")
    m = json.loads((shards / "metrics.json").read_text())
    assert m["n"] == 1 and m["SDR_vocals"] == pytest.approx(r["SDR"]["vocals"])
    with pytest.raises(ValueError, match="cannot be evaluated"):
        recipe.evaluate(out, shards / "test_8000.h5", "plain", res)


@pytest.mark.slow
def test_recipe_in_the_dag(fixtures_dir, tmp_path):
    """The full Snakefile with recipes [sfi], a 2x2 plan and one test track: the plan table with
    SDR vs rate; a rerun does nothing."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params.update(recipes=["sfi"], fixtures=str(fixtures_dir))
    params["corpora"]["musdb18hq"]["demo"]["splits"] = {"train": 2, "valid": 1, "test": 1}
    s = params["sfi"]
    s["model"] = {**TINY, "sfi": {**s["model"]["sfi"], "n_freqs": 640}}
    s["training"].update(epochs=1, steps_per_epoch=1, batch_size=2, valid_segments=2, segment_seconds=0.5)
    s["plans"]["rates"]["factors"] = {"method": ["sfi", "resampling"], "sampling_rate": [8000, 16000]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "2", "--resources", "gpu=1"]
    run = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    table = json.loads((tmp_path / "results/sfi/rates/table.json").read_text())
    assert sorted(table) == ["method=resampling+sampling_rate=16000", "method=resampling+sampling_rate=8000",
                             "sampling_rate=16000", "sampling_rate=8000"]
    assert all(table[k]["SDR_avg_n"] == 1 for k in table)  # one test track
    assert (tmp_path / "results/sfi/rates/table.png").stat().st_size > 1000
    m = json.loads((tmp_path / "results/sfi/rates/method=resampling+sampling_rate=8000/metrics.json").read_text())
    assert m["n"] == 1 and set(m) == {"SDR_vocals", "SDR_drums", "SDR_bass", "SDR_other", "SDR_avg", "n"}
    again = subprocess.run(cmd + ["-n"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "Nothing to be done" in again.stdout + again.stderr
