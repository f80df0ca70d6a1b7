"""SAR-SSL learning stages: feature cache, pre-training, downstream settings (the ``sar_ssl`` recipe).

Reproduces the learning part of Yang & Li, "Self-supervised learning of spatial acoustic
representation with cross-channel signal reconstruction and multi-channel Conformer"
(arXiv 2312.00476; reference code ``Audio-WestlakeU/SAR-SSL``, ``code/run_pretrain.py`` and
``code/run_downstream.py``). The signal shards come from the acoustics stages (shard contract:
``signals`` (n, 2, samples), ``labels/{tdoa_s,tdoa_samples,drr_db,t60_s,c50_db,absorption}``,
``room_id``, ``provenance``; attribute ``sampling_rate`` 16000).

Plans are doce-style (:mod:`audiopipe.pipeline.plans`). Three kinds of plan:

* ``n_rooms`` and ``trial`` factors: the paper's simulated grid (rooms drawn per trial);
* a ``fold`` factor: leave-one-room-out on measured-RIR shards (ACE; SAR-SSL
  ``cross_validation_datadir``: the fold's room tests, a random other room validates);
* its own ``sets`` (``train``/``val``/``test`` shard sets) and only ``task``/``mode`` (and
  optionally ``trial``, a seed) factors: trained on the whole train set, e.g. the real-data TDOA
  task on LOCATA (SAR-SSL runs one trial there).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from audiopipe.io import atomic_path, write_json

log = logging.getLogger("audiopipe.sar_ssl")

#: the factors a simulated-room plan must define
PLAN_FACTORS = ("mode", "n_rooms", "task", "trial")
#: the factors a leave-one-room-out plan (measured RIRs, e.g. ACE) must define
LORO_FACTORS = ("fold", "mode", "task")
#: the factors a fixed-sets plan (its own ``sets``, e.g. LOCATA's TDOA) must define
SETS_FACTORS = ("mode", "task")


# --------------------------------------------------------------------------- plans

def plan_kind(plan) -> str:
    """``"loro"`` (a ``fold`` factor), ``"sets"`` (its own ``sets``) or ``"rooms"``.

    ``plan`` is a :class:`audiopipe.pipeline.plans.Plan` (its ``sets`` are in ``plan.extra``).
    """
    return "loro" if "fold" in plan.factors else "sets" if "sets" in plan.extra else "rooms"


def plan_sets(plan, downstream_sets: dict) -> dict[str, dict]:
    """Shard sets (``{set, shards}``) a plan's settings read, by role.

    Parameters
    ----------
    plan : audiopipe.pipeline.plans.Plan
        The plan.
    downstream_sets : dict
        ``sar_ssl.downstream.sets`` (``train``, ``val``, ``test``, ``real``).

    Returns
    -------
    dict
        ``{"train": real}`` for a leave-one-room-out plan (the measured-RIR pool), the plan's
        own ``sets`` for a fixed-sets plan, else the simulated ``train``/``val``/``test``.

    Raises
    ------
    KeyError
        If a needed set is not defined.
    """
    kind = plan_kind(plan)
    if kind == "loro":
        return {"train": downstream_sets["real"]}
    if kind == "sets":
        return dict(plan.extra["sets"])
    return {k: downstream_sets[k] for k in ("train", "val", "test")}


def check_plan(plan) -> None:
    """The factors (and ``sets``) each kind of SAR-SSL plan needs.

    Raises
    ------
    ValueError
        Naming what a plan lacks or has that it may not.
    """
    bad = sorted(set(plan.extra) - {"sets"})
    if bad:
        raise ValueError(f"unknown key(s) {bad} (a plan has factors, default and, optionally, sets)")
    kind = plan_kind(plan)
    need = {"loro": LORO_FACTORS, "sets": SETS_FACTORS, "rooms": PLAN_FACTORS}[kind]
    if kind == "sets":
        missing = [k for k in ("train", "val", "test") if k not in plan.extra["sets"]]
        if missing:
            raise ValueError(f"sets lack {missing}")
    missing = [f for f in need if f not in plan.factors]
    if missing:
        raise ValueError(f"a {kind} plan needs factor(s) {missing}")
    missing = [f for f in plan.factors if f not in plan.default]
    if missing:
        raise ValueError(f"default lacks factor(s) {missing}")


# --------------------------------------------------------------------------- stages

def features(shard: Path, output: Path) -> None:
    """Cache SAR-SSL STFT features of one signal shard.

    512-point Hann STFT, hop 256, no centring, DC bin dropped (256 bins), both channels divided
    by channel 0's mean magnitude; labels and room identifiers copied.

    Parameters
    ----------
    shard : Path
        Signal shard (acoustics shard contract, 2 channels, 16 kHz).
    output : Path
        Feature shard (HDF5, ``features`` (n, 2, 256, frames, 2)).
    """
    from audiopipe.features.stft import cache_features

    info = cache_features(shard, output)
    log.info("%s: %d examples, %d frames -> %s", shard, info["n"], info["frames"], output)


def pretrain(train: list[Path], val: list[Path], output_dir: Path, config: dict) -> None:
    """Pre-train the MC-Conformer by cross-channel signal reconstruction.

    Resumes from ``output_dir/checkpoints/last.ckpt`` when rerun.

    Parameters
    ----------
    train : list of Path
        Feature shards for training (labels unused).
    val : list of Path
        Feature shards for validation (best epoch by masked-reconstruction MSE).
    output_dir : Path
        Receives ``model.pt`` (``{"model": config, "state_dict": ...}`` of the best epoch),
        ``metrics.json`` (results), ``timing.json``, ``checkpoints/`` and ``logs/``.
    config : dict
        ``sar_ssl.pretrain`` parameters: ``model`` (MCConformer sizes), ``batch_size``, ``lr``,
        ``epochs``, ``seed``.
    """
    import torch

    from audiopipe.training.sar_ssl import run_pretraining

    output_dir = Path(output_dir)
    t0 = time.time()
    from audiopipe.pipeline.provenance import run_fingerprint

    fingerprint = run_fingerprint(pretrain, config, [*train, *val])
    res = run_pretraining(train, val, output_dir, model=config["model"],
                          batch_size=int(config["batch_size"]), lr=float(config["lr"]),
                          epochs=int(config["epochs"]), seed=int(config["seed"]), fingerprint=fingerprint)
    with atomic_path(output_dir / "model.pt") as tmp:
        torch.save({"model": config["model"], "state_dict": res.pop("state"), "resumed": res.pop("resumed")}, tmp)
    timing = {"seconds": round(time.time() - t0, 3), "examples_per_s": res.pop("examples_per_s", None)}
    write_json(output_dir / "metrics.json", res)
    write_json(output_dir / "timing.json", timing)


def downstream(setting: str, levels: dict, kind: str, train: list[Path], pretrained: Path, output: Path,
               config: dict, val: list[Path] | None = None,
               test: list[Path] | None = None) -> None:
    """Train and test one downstream setting (task x mode x rooms x trial, or x fold).

    Resumes from ``<output dir>/train/checkpoints/last.ckpt`` when rerun.

    Parameters
    ----------
    setting : str
        Setting identifier of the plan (``mode=scratch+n_rooms=2``; ``default``).
    levels : dict
        The setting's factor levels: ``task``, ``mode`` and ``n_rooms``/``trial`` or ``fold``.
    kind : str
        The plan's kind (:func:`plan_kind`). ``rooms``: ``n_rooms`` rooms of the training shards
        are drawn per trial. ``loro``: leave-one-room-out on the ``train`` shards (measured RIRs,
        e.g. ACE): test on the fold-th room, validate on a random other room, train on the rest.
        ``sets`` (e.g. LOCATA's TDOA): every example of ``train``, validated on ``val`` and tested
        on ``test``; ``trial`` (optional) only changes the seed.
    train : list of Path
        Training feature shards (the whole pool for a leave-one-room-out plan).
    pretrained : Path
        ``model.pt`` of the pre-training stage (its model sizes are used in every mode; its
        weights in ``finetune`` and ``lineareval``).
    output : Path
        ``metrics.json`` of the setting (``mae``, ``mse``, ``mae_train_mean``: the MAE of the
        mean training label; training details go to ``details.json``, timings to ``timing.json``
        beside it).
    config : dict
        ``sar_ssl.downstream`` parameters: ``batch_size``, ``lr``, ``max_epochs``, ``patience``,
        ``smooth_alpha``, ``n_lr_decays``, ``n_average``, ``examples_per_room``, ``seed``.
    val : list of Path, optional
        Validation feature shards (stopping rule, best-epoch averaging); not for a
        leave-one-room-out plan.
    test : list of Path, optional
        Test feature shards (the reported MAE); not for a leave-one-room-out plan.
    """
    import torch

    from audiopipe.pipeline.provenance import run_fingerprint
    from audiopipe.training.sar_ssl import (
        TASKS,
        leave_one_room_out,
        run_downstream,
        select_rooms,
        shard_room_ids,
    )

    s = levels
    if kind not in ("rooms", "loro", "sets"):
        raise ValueError(f"unknown plan kind {kind!r}; expected rooms, loro or sets")
    task, mode = s["task"], s["mode"]
    if task not in TASKS:
        raise ValueError(f"setting {setting!r}: unknown task {task!r}")
    pre = torch.load(pretrained, map_location="cpu", weights_only=False)
    for key in ("model", "state_dict"):
        if key not in pre:
            raise KeyError(f"{pretrained}: no {key!r} entry (not a pre-training model.pt)")
    train = [Path(p) for p in train]
    seed = int(config["seed"])
    if kind == "loro":
        rows, rooms = leave_one_room_out(shard_room_ids(train), int(s["fold"]), seed)
        data = dict(train_rows=rows["train"], train=train, val=train, test=train,
                    val_rows=rows["val"], test_rows=rows["test"])
        seed += int(s["fold"])
    elif kind == "sets":
        if not val or not test:
            raise ValueError(f"setting {setting!r}: a fixed-sets plan needs --val and --test shards")
        data = dict(train_rows=None, train=train, val=[Path(p) for p in val], test=[Path(p) for p in test])
        rooms = {"train_sets": [str(p) for p in train]}
        seed += int(s.get("trial", 0))
    else:
        if not val or not test:
            raise ValueError(f"setting {setting!r}: a rooms plan needs --val and --test shards")
        rows, chosen = select_rooms(shard_room_ids(train), int(s["n_rooms"]), int(s["trial"]),
                                    int(config["examples_per_room"]), seed)
        data = dict(train_rows=rows, train=train, val=[Path(p) for p in val],
                    test=[Path(p) for p in test])
        rooms = {"train_rooms": chosen}
        seed += int(s["trial"])
    t0 = time.time()
    res = run_downstream(
        out_dir=Path(output).parent / "train", model=pre["model"], task=task, mode=mode,
        pretrained=pre["state_dict"] if mode != "scratch" else None,
        batch_size=int(config["batch_size"]), lr=float(config["lr"]),
        max_epochs=int(config["max_epochs"]), patience=int(config["patience"]),
        smooth_alpha=float(config["smooth_alpha"]), n_decays=int(config["n_lr_decays"]),
        n_average=int(config["n_average"]), seed=seed, **data,
        fingerprint=run_fingerprint(downstream, {"levels": s, "kind": kind, "config": config},
                                    [*train, *(val or []), *(test or []), pretrained]))
    timing = {"seconds": round(time.time() - t0, 3), "examples_per_s": res.pop("examples_per_s", None)}
    out_dir = Path(output).parent
    write_json(output, {k: res[k] for k in ("mae", "mse", "mae_train_mean")} | {"n": res["n_test"]})
    write_json(out_dir / "details.json", {**s, "setting": setting, "unit": res["unit"], **rooms,
                                          **{k: v for k, v in res.items() if k not in ("mae", "mse", "mae_train_mean")}})
    write_json(out_dir / "timing.json", timing)
