"""SFI recipe stages: training with resume, separation methods, and the Snakemake sub-DAG."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

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
    recipe.demo(fixtures_dir / TRACK, d / "musdb", 1.1, {"train": 3, "valid": 1, "test": 2})
    recipe.prepare(d / "musdb", d / "man", d / "musdb/valid_tracks.txt")
    for split, fs in (("train", 32000), ("valid", 32000), ("test", 8000)):
        recipe.resample_split(d / f"man/musdb_{split}.jsonl", d / f"{split}_{fs}.h5", fs)
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
    recipe.evaluate(out, shards / "test_8000.h5", "music_delta_80s_rock_part4", "sfi", res)
    r = json.loads(res.read_text())
    assert r["sampling_rate"] == 8000 and r["train_sampling_rate"] == 32000
    assert all(np.isfinite(r["SDR"][s]) for s in ("vocals", "drums", "bass", "other"))
    with pytest.raises(ValueError, match="cannot be evaluated"):
        recipe.evaluate(out, shards / "test_8000.h5", "music_delta_80s_rock_part4", "plain", res)


@pytest.mark.slow
def test_snakemake_subdag(fixtures_dir, tmp_path):
    """The sfi rules, driven by the sfi section of params.yaml with a 2×2 plan and one test track, produce the
    SDR table and plot."""
    params = {"sfi": yaml.safe_load((REPO / "params.yaml").read_text())["sfi"]}
    s = params["sfi"]
    s["demo"]["splits"] = {"train": 2, "valid": 1, "test": 1}
    s["model"] = TINY
    s["training"].update(epochs=1, steps_per_epoch=1, batch_size=2, valid_segments=2,
                         segment_seconds=0.5)
    s["plans"]["rates"]["factors"] = {"method": ["sfi", "resampling"], "sampling_rate": [8000, 16000]}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    # the project's common.smk (AUDIOPIPE, GPU_RUN, json_arg, plan selection) + the sfi rules
    (tmp_path / "Snakefile").write_text(
        "configfile: 'params.yaml'\n"
        f"include: '{REPO / 'workflow/rules/common.smk'}'\n"
        f"include: '{REPO / 'workflow/rules/sfi.smk'}'\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "AUDIOPIPE_FIXTURES": str(fixtures_dir)}
    snakemake = shutil.which("snakemake") or str(Path(sys.executable).parent / "snakemake")
    run = subprocess.run([snakemake, "sfi_all", "--cores", "2", "--resources", "gpu=1"],
                         cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    table = (tmp_path / "results/sfi/sdr_table.csv").read_text().splitlines()
    assert len(table) == 1 + 4 * 4  # header + 4 settings x 4 sources
    assert (tmp_path / "results/sfi/sdr_vs_rate.png").stat().st_size > 1000
    m = json.loads((tmp_path / "results/sfi/rates/method=resampling+sampling_rate=8000/metrics.json")
                   .read_text())
    assert m["n_tracks"] == 1 and m["method"] == "resampling" and m["sampling_rate"] == 8000
