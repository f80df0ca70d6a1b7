"""SAR-SSL learning stages: feature cache, pre-training, downstream grid, result table and plot.

Reproduces the learning part of Yang & Li, "Self-supervised learning of spatial acoustic
representation with cross-channel signal reconstruction and multi-channel Conformer"
(arXiv 2312.00476; reference code ``Audio-WestlakeU/SAR-SSL``, ``code/run_pretrain.py`` and
``code/run_downstream.py``). The signal shards come from the acoustics stages (shard contract:
``signals`` (n, 2, samples), ``labels/{tdoa_s,tdoa_samples,drr_db,t60_s,c50_db,absorption}``,
``room_id``, ``provenance``; attribute ``sampling_rate`` 16000).

Plans are doce-style: ``{factors: {factor: [levels]}, default: {factor: level}}``; a setting's
identifier is ``factor=value`` pairs sorted by factor and joined by ``+``, default levels
omitted (``default`` when every factor is at its default). Three kinds of plan:

* ``n_rooms`` and ``trial`` factors: the paper's simulated grid (rooms drawn per trial);
* a ``fold`` factor: leave-one-room-out on measured-RIR shards (ACE; SAR-SSL
  ``cross_validation_datadir``: the fold's room tests, a random other room validates);
* its own ``sets`` (``train``/``val``/``test`` shard sets) and only ``task``/``mode`` (and
  optionally ``trial``, a seed) factors: trained on the whole train set, e.g. the real-data TDOA
  task on LOCATA (SAR-SSL runs one trial there).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from audiopipe.plans import Plan, Setting

import numpy as np
import torch

from audiopipe.features.stft import cache_features
from audiopipe.io import atomic_path, write_json

log = logging.getLogger("audiopipe.sar_ssl")

#: the factors a simulated-room plan must define
PLAN_FACTORS = ("mode", "n_rooms", "task", "trial")
#: the factors a leave-one-room-out plan (measured RIRs, e.g. ACE) must define
LORO_FACTORS = ("fold", "mode", "task")
#: the factors a fixed-sets plan (its own ``sets``, e.g. LOCATA's TDOA) must define
SETS_FACTORS = ("mode", "task")


# --------------------------------------------------------------------------- plans

def setting_id(setting: dict, default: dict) -> str:
    """doce identifier (:class:`audiopipe.plans.Setting`): non-default ``factor=value`` sorted by
    factor, ``+``-joined, ``default`` when all factors are at their default."""
    return Setting("", dict(setting), dict(default)).id


def plan_kind(plan: dict) -> str:
    """``"loro"`` (a ``fold`` factor), ``"sets"`` (its own ``sets``) or ``"rooms"``."""
    return "loro" if "fold" in plan["factors"] else "sets" if "sets" in plan else "rooms"


def plan_sets(plan: dict, downstream_sets: dict) -> dict[str, dict]:
    """Shard sets (``{set, shards}``) a plan's settings read, by role.

    Parameters
    ----------
    plan : dict
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
        return dict(plan["sets"])
    return {k: downstream_sets[k] for k in ("train", "val", "test")}


def _check_plan(plan: dict) -> None:
    if not isinstance(plan, dict) or "factors" not in plan or "default" not in plan:
        raise ValueError(f"a plan needs 'factors' and 'default', got keys {sorted(plan or {})}")
    kind = plan_kind(plan)
    need = {"loro": LORO_FACTORS, "sets": SETS_FACTORS, "rooms": PLAN_FACTORS}[kind]
    if kind == "sets":
        missing = [k for k in ("train", "val", "test") if k not in plan["sets"]]
        if missing:
            raise ValueError(f"plan sets lack {missing}")
    missing = [f for f in need if f not in plan["factors"]]
    if missing:
        raise ValueError(f"plan lacks factor(s) {missing}")
    for f, lev in plan["default"].items():
        if f not in plan["factors"]:
            raise ValueError(f"plan default names unknown factor {f!r}")


def plan_settings(plan: dict) -> list[str]:
    """Identifiers of every setting of a plan (full factorial grid), in grid order.

    Raises
    ------
    ValueError
        If the plan lacks ``factors``/``default`` or one of :data:`PLAN_FACTORS`.
    """
    _check_plan(plan)
    factors = {k: plan["factors"][k] for k in sorted(plan["factors"])}  # grid order: sorted factors
    return [st.id for st in Plan("plan", factors, dict(plan["default"])).settings()]


def parse_setting(sid: str, plan: dict) -> dict:
    """Factor values of a setting identifier (defaults filled in, levels typed as in the plan).

    Raises
    ------
    ValueError
        If a factor is unknown, a value is not one of its levels, or a factor lacks a default.
    """
    _check_plan(plan)
    out = dict(plan["default"])
    if sid != "default":
        for part in sid.split("+"):
            name, _, text = part.partition("=")
            if name not in plan["factors"]:
                raise ValueError(f"setting {sid!r}: unknown factor {name!r}")
            levels = {str(v): v for v in plan["factors"][name]}
            if text not in levels:
                raise ValueError(f"setting {sid!r}: {name}={text} is not a level of the plan")
            out[name] = levels[text]
    missing = [f for f in plan["factors"] if f not in out]
    if missing:
        raise ValueError(f"setting {sid!r}: no value nor default for {missing}")
    return out


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
        ``metrics.json``, ``checkpoints/`` and ``logs/``.
    config : dict
        ``sar_ssl.pretrain`` parameters: ``model`` (MCConformer sizes), ``batch_size``, ``lr``,
        ``epochs``, ``seed``.
    """
    from audiopipe.training.sar_ssl import run_pretraining

    output_dir = Path(output_dir)
    t0 = time.time()
    res = run_pretraining(train, val, output_dir, model=config["model"],
                          batch_size=int(config["batch_size"]), lr=float(config["lr"]),
                          epochs=int(config["epochs"]), seed=int(config["seed"]))
    with atomic_path(output_dir / "model.pt") as tmp:
        torch.save({"model": config["model"], "state_dict": res.pop("state"), "resumed": res.pop("resumed")}, tmp)
    res["seconds"] = time.time() - t0
    write_json(output_dir / "metrics.json", res)


def downstream(setting: str, plan: dict, train: list[Path], pretrained: Path, output: Path,
               config: dict, val: list[Path] | None = None,
               test: list[Path] | None = None) -> None:
    """Train and test one downstream setting (task x mode x rooms x trial, or x fold).

    Resumes from ``<output dir>/train/checkpoints/last.ckpt`` when rerun.

    Parameters
    ----------
    setting : str
        Setting identifier of the plan (``mode=scratch+n_rooms=2``; ``default``).
    plan : dict
        The plan (``factors``, ``default``) the identifier belongs to. With ``n_rooms`` and
        ``trial``: ``n_rooms`` rooms of the training shards are drawn per trial. With ``fold``:
        leave-one-room-out on the ``train`` shards (measured RIRs, e.g. ACE): test on the
        fold-th room, validate on a random other room, train on the rest. Otherwise (a plan
        with its own ``sets``, e.g. LOCATA's TDOA): every example of ``train``, validated on
        ``val`` and tested on ``test``; ``trial`` (optional) only changes the seed.
    train : list of Path
        Training feature shards (the whole pool for a leave-one-room-out plan).
    pretrained : Path
        ``model.pt`` of the pre-training stage (its model sizes are used in every mode; its
        weights in ``finetune`` and ``lineareval``).
    output : Path
        ``metrics.json`` of the setting.
    config : dict
        ``sar_ssl.downstream`` parameters: ``batch_size``, ``lr``, ``max_epochs``, ``patience``,
        ``smooth_alpha``, ``n_lr_decays``, ``n_average``, ``examples_per_room``, ``seed``.
    val : list of Path, optional
        Validation feature shards (stopping rule, best-epoch averaging); not for a
        leave-one-room-out plan.
    test : list of Path, optional
        Test feature shards (the reported MAE); not for a leave-one-room-out plan.
    """
    from audiopipe.training.sar_ssl import (
        TASKS,
        leave_one_room_out,
        run_downstream,
        select_rooms,
        shard_room_ids,
    )

    s = parse_setting(setting, plan)
    kind = plan_kind(plan)
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
        n_average=int(config["n_average"]), seed=seed, **data)
    write_json(output, {**s, "setting": setting, **rooms, "seconds": time.time() - t0, **res})


def table(plan_dir: Path, plan: dict, output: Path, markdown: Path, plot: Path) -> None:
    """Table of MAE (mean +- std over trials or folds) per task, mode (and rooms); plot.

    Parameters
    ----------
    plan_dir : Path
        ``results/sar_ssl/<plan>`` holding ``<setting>/metrics.json`` for every setting.
    plan : dict
        The plan (``factors``, ``default``).
    output : Path
        CSV table: task, unit, mode, n_rooms (rooms plans), mae_mean, mae_std, n_trials
        (trials or folds).
    markdown : Path
        The same table in Markdown, ``mean ± std`` per cell, one row per task x rooms.
    plot : Path
        PNG: one panel per task, MAE vs number of rooms (log scale), one line per mode; for a
        leave-one-room-out or fixed-sets plan one bar per mode.

    Raises
    ------
    FileNotFoundError
        If a setting's ``metrics.json`` is missing (named in the message).
    """
    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _check_plan(plan)
    by_rooms = ["n_rooms"] if plan_kind(plan) == "rooms" else []
    rows = []
    for sid in plan_settings(plan):
        f = Path(plan_dir) / sid / "metrics.json"
        if not f.is_file():
            raise FileNotFoundError(f"{f}: missing result of setting {sid!r}")
        m = json.loads(f.read_text())
        rows.append({k: m[k] for k in ("task", "mode", "mae", "unit", *by_rooms)})
    df = pd.DataFrame(rows)
    keys = ["task", "unit", "mode", *by_rooms]
    g = (df.groupby(keys)["mae"]
         .agg(mae_mean="mean", mae_std=lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
              n_trials="count").reset_index())
    with atomic_path(output) as tmp:
        g.to_csv(tmp, index=False, float_format="%.6g")

    modes = [m for m in ("finetune", "lineareval", "scratch") if m in set(g["mode"])]
    modes += sorted(set(g["mode"]) - set(modes))
    row_keys = ["task", "unit", *by_rooms]
    lines = ["| " + " | ".join(k.replace("n_rooms", "rooms") for k in row_keys) + " | "
             + " | ".join(modes) + " |", "|---" * (len(row_keys) + len(modes)) + "|"]
    for key, sub in g.groupby(row_keys):
        cells = []
        for mode in modes:
            r = sub[sub["mode"] == mode]
            cells.append(f"{r.mae_mean.iloc[0]:.3g} ± {r.mae_std.iloc[0]:.2g}" if len(r) else "–")
        lines.append("| " + " | ".join(str(k) for k in key) + " | " + " | ".join(cells) + " |")
    with atomic_path(markdown) as tmp:
        tmp.write_text("\n".join(lines) + "\n")

    tasks = list(dict.fromkeys(g["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.6 * len(tasks), 3.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = g[g["task"] == task]
        for i, mode in enumerate(modes):
            r = sub[sub["mode"] == mode]
            if by_rooms:
                r = r.sort_values("n_rooms")
                ax.errorbar(r["n_rooms"], r["mae_mean"], yerr=r["mae_std"], marker="o",
                            capsize=3, label=mode)
            else:
                ax.bar([i], r["mae_mean"], yerr=r["mae_std"], capsize=3, label=mode)
        if by_rooms:
            ax.set_xscale("log", base=2)
            ax.set_xlabel("number of training rooms")
        else:
            ax.set_xticks(range(len(modes)), modes)
            ax.set_xlabel("leave-one-room-out" if plan_kind(plan) == "loro" else "trained on the plan's sets")
        ax.set_ylabel(f"MAE ({sub['unit'].iloc[0]})")
        ax.set_title(task)
        ax.grid(alpha=0.3)
    axes[0][0].legend()
    fig.tight_layout()
    with atomic_path(plot) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


STAGES = {
    "features": features,
    "pretrain": pretrain,
    "downstream": downstream,
    "table": table,
}
