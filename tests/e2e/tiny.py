"""Tiny params for end-to-end runs of the whole main job: every recipe, every kind of stage,
seconds of training on the demo corpora (cut from real recordings)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import REPO


def tiny_params(fixtures: Path | str | None) -> dict:
    """The default params.yaml shrunk to a few minutes on 2 cores; ``fixtures`` None or "" builds
    the demos from the registry packages of data/downloads (a machine without shared/)."""
    p = yaml.safe_load((REPO / "params.yaml").read_text())
    p["fixtures"] = str(fixtures or "")
    c = p["corpora"]
    c["clarity"]["demo"].update(n_train_scenes=4, n_dev_scenes=2, listeners_per_scene=1, max_order=3)
    c["musdb18hq"]["demo"]["splits"] = {"train": 2, "valid": 1, "test": 1}
    cl = p["clarity"]
    cl["cache"].update(crop_s=0.5, crops_per_scene=2, n_shards=1, val_fraction=0.25)
    cl["model"].update(N=16, L=8, B=16, H=32, X=2, R=1)
    cl["train"].update(max_epochs=2, batch_size=2)
    cl["evaluate"]["n_chunks"] = 1
    sar = p["sar_ssl"]
    d = sar["data"]
    for name in ("pretrain", "val", "test", "train"):
        d["sets"][name].update(rooms=2, examples_per_room=3, shards=1, duration_s=1.04)
    d["sets"]["train"]["rooms"] = 3
    d["downstream"].update(room_counts=[2], trials=1, examples_per_room=2, duration_s=1.04)
    d["measured"]["dechorate"].update(examples=4, duration_s=1.04)
    d["locata"]["examples"] = {"train": 8, "val": 4, "test": 4}
    sar["pretrain"]["sets"]["train"]["shards"] = 1
    sar["pretrain"].update(epochs=1, batch_size=4, model=dict(d_spatial=16, d_spectral=16, n_spatial_layers=1,
                                                              n_spectral_layers=1, cnn_channels=4, conv_kernel=5,
                                                              decoder_factor=1, n_heads=2))
    sar["downstream"].update(max_epochs=2, examples_per_room=2, batch_size=4)
    sar["plans"]["demo"]["factors"].update(task=["TDOA", "T60"], mode=["finetune", "scratch"], n_rooms=[2])
    sar["plans"]["demo"]["default"]["n_rooms"] = 2
    sar["plans"]["locata_demo"]["factors"]["mode"] = ["finetune"]
    tc = p["transcoder"]
    tc["training"]["epochs"] = 1
    tc["cnn"] = {"n_layers": 2, "channels": 2, "kernel": [5, 3]}
    for clf in tc["classifiers"].values():
        clf["epochs"] = 1
    tc["select"] = "paper/classifier=PANN+target=mel:downstream/classifier=PANN+input=mel,cnn"
    st = p["strf"]
    st["frontend"]["channels"] = 2
    st["sad"]["epochs"] = 1
    st["urban"]["epochs"] = 1
    sf = p["sfi"]
    sf["model"].update(N=16, B=8, H=8, X=2, R=1)
    sf["training"].update(epochs=1, steps_per_epoch=1, batch_size=2, valid_segments=2, segment_seconds=0.5)
    sf["plans"]["rates"]["factors"] = {"method": ["sfi", "resampling"], "sampling_rate": [8000, 32000]}
    return p


def write_tiny_params(work: Path, fixtures) -> Path:
    work.mkdir(parents=True, exist_ok=True)
    (work / "params.yaml").write_text(yaml.safe_dump(tiny_params(fixtures), sort_keys=False))
    return work / "params.yaml"
