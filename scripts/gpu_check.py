#!/usr/bin/env python
"""GPU check: every GPU path of audiopipe in one short run, one table (issue 14, item 3).

Rows (each one runs even when an earlier one failed; a failed row shows its error):

* ``training``: each recipe's training through the project's own engine
  (:func:`audiopipe.training.engine.fit`, the recipes' LightningModules and callbacks, their
  gradient clipping and validation) for a few steps on the device, on tensors of the real
  shapes (random values: the cost does not depend on them). One step = forward, backward and
  optimizer update of one batch. Reports examples/s over the steps after the warm-up and the
  peak GPU memory (``torch.cuda.max_memory_allocated``; ``n/a`` on the CPU). Sizes: the
  ``params.yaml`` demo sizes, and the papers' sizes (``params.yaml`` comments) unless
  ``--quick`` or ``--sizes demo``. A CUDA out-of-memory error halves the batch and retries
  (the row says so). The engine trains with ``deterministic=True``, as the pipeline does, so an
  operation without a deterministic CUDA kernel fails its row here as it would fail the job.
* ``rir``: the ``ism`` backend's RIRs per second for SAR-SSL's room distribution (rooms drawn
  with :mod:`audiopipe.acoustics.rooms` from ``sar_ssl.data.room``, the data stage's simulation
  settings, batched through :func:`audiopipe.acoustics.rir.ism_rirs`) on the CPU (one thread,
  as a Snakemake data job; and all threads) and on CUDA (a sweep of batch sizes, the best one
  reported), the CUDA RIRs checked against the CPU ones of the same rooms and tail seed (error
  energy below -40 dB); then the goal: at least 1,000 RIRs/s on one GPU (status ``miss`` when not met: shown,
  but not a failure).
* ``gpu-run``: a throwaway Snakefile whose jobs each declare ``resources: gpu=1`` and run
  ``python -m audiopipe gpu-run --gpus 1 -- <recorder>``, under ``snakemake --resources gpu=N``.
  Jobs that overlapped in time must hold distinct ids, every id < N, at most N at once. The
  ``fake`` row fakes N devices with ``AUDIOPIPE_GPU_COUNT`` (the CPU fallback); the ``real``
  row (needs ``nvidia-smi``) counts the GPUs with ``nvidia-smi``, runs a CUDA workload in each
  job (it must see exactly one device) and checks the ``--gpu-log`` files.
* ``gpurir``: the gpuRIR backend's RIRs/s where gpuRIR is installed (else ``skip``, with the
  command that installs it).

Usage (a GPU machine; meant to stay well under 10 minutes on one GPU; ``--quick`` takes about
one)::

    python scripts/gpu_check.py --device cuda --output benchmarks/out/gpu_check/
    python scripts/gpu_check.py --device cpu --quick --output /tmp/gc   # the CPU path
    python scripts/gpu_check.py --device cpu --quick --batch 1 --steps 1  # what CI runs
    python scripts/gpu_check.py --only sar_ssl,rir                      # some rows only

Writes ``gpu_check.json`` and ``gpu_check.md`` to ``--output``. Exit code 0 when no row
failed, 1 otherwise (``skip`` and ``miss`` are not failures).
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))

#: the goal of issue 14 for the ism backend on one GPU
ISM_GOAL_RIRS_PER_S = 1000.0
#: CUDA RIRs must match the CPU ones (same rooms, same tail seed) within this error energy (dB)
RIR_AGREEMENT_DB = -40.0
GPURIR_INSTALL = ("pip install https://github.com/DavidDiazGuerra/gpuRIR/zipball/master "
                  "(builds CUDA code: needs nvcc and cmake on a CUDA machine)")

#: paper sizes (params.yaml comments)
PAPER = {
    "clarity_model": {"N": 128, "L": 40, "B": 128, "H": 256, "P": 3, "X": 7, "R": 2},
    "sfi_model": {"N": 440, "L": 160, "B": 160, "H": 160, "P": 3, "X": 6, "R": 2},
    "sfi_stride": 80, "sfi_segment_s": 4.0, "sfi_batch": 12,
    "sar_ssl_model": {},  # MCConformer defaults: 256/512/3/1/64/4/4/31/3 (17.5 M parameters)
    "sar_ssl_pretrain_batch": 128, "sar_ssl_downstream_batch": 8,
    "transcoder_cnn": {"n_layers": 5, "channels": 64, "kernel": [5, 3]},
    "PANN": {"classes": 527, "width": 64}, "YAMNet": {"classes": 521, "width": 1.0},
}


@dataclass
class Row:
    """One line of the table."""

    section: str
    check: str
    config: str = ""
    device: str = ""
    value: float | None = None
    unit: str = ""
    peak_mem: str = ""
    status: str = "ok"  # ok | FAIL | skip | miss
    detail: str = ""
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def value_text(self) -> str:
        if self.value is None or not math.isfinite(self.value):
            return "-"
        v = self.value
        return f"{v:,.0f} {self.unit}" if v >= 100 else f"{v:,.2f} {self.unit}"


def _err(e: BaseException) -> str:
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg[:400]}"


def _sync(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB"


# ------------------------------------------------------------------------------------------------
# training
# ------------------------------------------------------------------------------------------------

@dataclass
class Case:
    """One recipe training to time: how to build its module and one example."""

    recipe: str
    name: str
    config: str
    batch: int
    module: Callable  # (work_dir) -> (module factory, callbacks)
    example: Callable  # () -> tensor or tuple of tensors, one example (no batch dimension)
    validate: bool = False
    monitor: str | None = None
    grad_clip: float | None = None
    note: str = ""


class _Pool:
    """``n`` items drawn from a pool of ``pool`` random examples (a ``Dataset``)."""

    def __init__(self, make: Callable, n: int, pool: int):
        self.items = [make() for _ in range(max(1, pool))]
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.items[i % len(self.items)]


def training_cases(params: dict, sizes: set[str]) -> list[Case]:
    """The training rows: demo sizes from ``params``, paper sizes from :data:`PAPER`."""
    import torch

    from audiopipe.features.mel import get_config
    from audiopipe.features.stft import N_FFT, n_frames
    from audiopipe.features.third_octave import third_octave_levels
    from audiopipe.models.classifiers import build_classifier
    from audiopipe.models.mc_conformer import MCConformer
    from audiopipe.recipes.sfi import model_config as sfi_model_config
    from audiopipe.training import clarity as tr_clarity
    from audiopipe.training import sar_ssl as tr_sar
    from audiopipe.training import sfi as tr_sfi
    from audiopipe.training.strf import SADModule, UrbanModule
    from audiopipe.training.transcoder import ClassifierModule, TranscoderModule

    cases: list[Case] = []
    want_demo, want_paper = "demo" in sizes, "paper" in sizes

    # -- Clarity: Conv-TasNet + uPIT on 2-channel crops (params: the ICASSP 2023 entry's sizes)
    c = params["clarity"]
    t = int(round(c["cache"]["sampling_rate"] * c["cache"]["crop_s"]))
    demo_model = dict(c["model"])
    same = all(demo_model.get(k) == v for k, v in PAPER["clarity_model"].items())
    variants = []
    if want_demo:
        variants.append(("demo=paper" if same else "demo", demo_model))
    if want_paper and not same:
        variants.append(("paper", {**demo_model, **PAPER["clarity_model"]}))
    for label, model in variants:
        size = "/".join(str(model[k]) for k in "NLBHPXR")
        cases.append(Case(
            "clarity", "Conv-TasNet uPIT (stereo)", f"{label} {size}, {t / c['cache']['sampling_rate']:g} s", c["train"]["batch_size"],
            module=lambda d, m=model: (lambda: tr_clarity.SeparationModule(m, c["train"]["lr"], tr_clarity.CLIP_GRAD_NORM), []),
            example=lambda t=t: (torch.randn(2, t), torch.randn(2, 2, t)),
            validate=True, monitor="val_loss", grad_clip=tr_clarity.CLIP_GRAD_NORM))

    # -- SFI Conv-TasNet (and the plain Conv-TasNet of the plain/resampling methods) at 32 kHz
    s = params["sfi"]
    tr = s["training"]
    fs = int(tr["sampling_rate"])
    variants = []
    if want_demo:
        variants.append(("demo", s["model"], tr["segment_seconds"], tr["batch_size"]))
    if want_paper:
        model = {**s["model"], **PAPER["sfi_model"], "sfi": {**s["model"].get("sfi", {}), "stride": PAPER["sfi_stride"]}}
        variants.append(("paper", model, PAPER["sfi_segment_s"], PAPER["sfi_batch"]))
    for label, model, seg_s, batch in variants:
        n = int(round(seg_s * fs))
        for kind in ("sfi", "plain"):
            cfg = sfi_model_config(kind, model)
            size = "/".join(str(model[k]) for k in "NLBHPXR")
            cases.append(Case(
                "sfi", f"{'SFI' if kind == 'sfi' else 'plain'} Conv-TasNet", f"{label} {size}, {fs // 1000} kHz {seg_s:g} s",
                batch,
                module=lambda d, kind=kind, cfg=cfg: (lambda: tr_sfi.SeparationModule(
                    kind, cfg, fs, lr=tr["lr"], weight_decay=tr["weight_decay"]), []),
                example=lambda n=n: (torch.randn(2, n), torch.randn(4, 2, n)),
                validate=True, grad_clip=tr["grad_clip"] or None))

    # -- SAR-SSL: MC-Conformer pre-training (reconstruction) and downstream regression (TDOA)
    sar = params["sar_ssl"]
    frames = n_frames(int(round(sar["data"]["sets"]["pretrain"]["duration_s"] * sar["data"]["sampling_rate"])))
    bins = N_FFT // 2
    ds = sar["downstream"]
    variants = []
    if want_demo:
        variants.append(("demo", sar["pretrain"]["model"], sar["pretrain"]["batch_size"], ds["batch_size"]))
    if want_paper:
        variants.append(("paper", PAPER["sar_ssl_model"], PAPER["sar_ssl_pretrain_batch"], PAPER["sar_ssl_downstream_batch"]))
    for label, model, b_pre, b_down in variants:
        n_par = sum(p.numel() for p in MCConformer(**model).parameters())
        cfg_text = f"{label} {n_par / 1e6:.2f} M params, {frames} frames"
        cases.append(Case(
            "sar_ssl", "MC-Conformer pre-training", cfg_text, b_pre,
            module=lambda d, m=model: (lambda: tr_sar.PretrainModule(
                m, lr=sar["pretrain"]["lr"], epochs=sar["pretrain"]["epochs"], seed=0), []),
            example=lambda: torch.randn(2, bins, frames, 2), validate=True, monitor="val_loss"))

        def downstream(d, m=model):
            state = MCConformer(**m).state_dict()  # stands in for the pre-trained weights
            stopper = tr_sar.SmoothedEarlyStopping(Path(d) / "weights", ds["smooth_alpha"], ds["patience"],
                                                   ds["n_lr_decays"], ds["n_average"])
            return (lambda: tr_sar.DownstreamModule(m, "TDOA", "finetune", lr=ds["lr"], pretrained=state),
                    [stopper])
        cases.append(Case(
            "sar_ssl", "downstream TDOA finetune", cfg_text, b_down, module=downstream,
            example=lambda: (torch.randn(2, bins, frames, 2), torch.randn(())), validate=True))

    # -- Spectral Transcoder: PANN / YAMNet classifiers (teachers) and the CNN transcoder
    tc = params["transcoder"]
    n_classes_demo = len(tc["classes"])
    tho_frames = int(third_octave_levels(torch.zeros(int(round(32000 * tc["clip_s"])))).shape[-1])
    clf_variants = []
    if want_demo:
        clf_variants += [("demo", k, n_classes_demo, tc["classifiers"][k]["width"], tc["classifiers"][k]["batch_size"],
                          tc["classifiers"][k]["lr"]) for k in ("PANN", "YAMNet")]
    if want_paper:
        clf_variants += [("paper", k, PAPER[k]["classes"], PAPER[k]["width"], tc["classifiers"][k]["batch_size"],
                          tc["classifiers"][k]["lr"]) for k in ("PANN", "YAMNet")]
    for label, kind, classes, width, batch, lr in clf_variants:
        mel = get_config(kind)
        cases.append(Case(
            "transcoder", f"{'PANN Cnn14' if kind == 'PANN' else 'YAMNet'} classifier",
            f"{label} width {width:g}, {classes} classes, {mel.n_mels}x{mel.frames}", batch,
            module=lambda d, kind=kind, classes=classes, width=width, lr=lr: (
                lambda: ClassifierModule(kind, classes, width, lr), []),
            example=lambda mel=mel, classes=classes: (torch.randn(mel.n_mels, mel.frames),
                                                      (torch.rand(classes) > 0.5).float())))
    tr_variants = []
    pann = tc["classifiers"]["PANN"]
    if want_demo:
        tr_variants.append(("demo", tc["cnn"], n_classes_demo, pann["width"]))
    if want_paper:
        tr_variants.append(("paper", PAPER["transcoder_cnn"], PAPER["PANN"]["classes"], PAPER["PANN"]["width"]))
    pann_mel = get_config("PANN")
    for label, cnn, classes, width in tr_variants:
        for target in ("mel", "logits"):
            def build(d, cnn=cnn, target=target, classes=classes, width=width):
                teacher = build_classifier("PANN", classes, width) if target == "logits" else None
                return (lambda: TranscoderModule("cnn_pinv", "PANN", target, cnn, tc["training"]["lr"], teacher=teacher), [])
            cases.append(Case(
                "transcoder", f"CNN transcoder -> PANN ({target})",
                f"{label} {cnn['n_layers']}x{cnn['channels']}ch" + (f", teacher width {width:g}" if target == "logits" else ""),
                tc["training"]["batch_size"], module=build,
                example=lambda: (40.0 + 10.0 * torch.randn(29, tho_frames), torch.randn(pann_mel.n_mels, pann_mel.frames))))

    # -- learnable STRF: speech activity (frame-level) and urban sound (clip-level); demo sizes
    st = params["strf"]
    if want_demo:
        fe, sad, urb = st["frontend"], st["sad"], st["urban"]
        sad_cfg = get_config("SAD")
        sad_frames = int(round(sad["chunk_s"] * sad_cfg.sampling_rate / sad_cfg.hop))
        cases.append(Case(
            "strf", "STRF speech activity", f"demo {fe['channels']}ch {fe['kernel'][0]}x{fe['kernel'][1]}, {sad_frames} frames",
            sad["batch_size"],
            module=lambda d: (lambda: SADModule("strf", fe["channels"], fe["kernel"], sad["hidden"], fe["grid"], sad["lr"], 0), []),
            example=lambda: (torch.randn(64, sad_frames), (torch.rand(sad_frames) > 0.5).float()),
            note="params.yaml gives no paper sizes for STRF"))
        n_cls = len(st["classes"])
        cases.append(Case(
            "strf", "STRF urban sound", f"demo {fe['channels']}ch, width {urb['width']} x {urb['blocks']} blocks",
            urb["batch_size"],
            module=lambda d: (lambda: UrbanModule("strf", n_cls, fe["channels"], fe["kernel"], urb["width"], urb["blocks"],
                                                  fe["grid"], urb["lr"], 0), []),
            example=lambda: (torch.randn(64, pann_mel.frames), (torch.rand(n_cls) > 0.5).float()),
            note="params.yaml gives no paper sizes for STRF"))
    return cases


def run_training(case: Case, device: str, steps: int, warmup: int, work: Path) -> Row:
    """Time ``steps`` training steps after ``warmup`` ones through the engine; halve the batch on OOM."""
    import torch

    row = Row("training", f"{case.recipe}: {case.name}", case.config, device, unit="examples/s")
    batch, notes = case.batch, []
    while True:
        failure = None
        try:
            rate, peak, extra = _fit_once(case, batch, device, steps, warmup, work / f"b{batch}")
        except Exception as e:
            oom = isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower()
            failure = (oom, _err(e), traceback.format_exc(limit=8))
        if failure is None:
            break
        # out of the except clause: the traceback's frames (module, optimizer, activations) are gone
        gc.collect()
        if device == "cuda" and torch.cuda.is_available():
            torch.cuda.empty_cache()
        oom, msg, tb = failure
        if oom and device == "cuda" and batch > 1:
            notes.append(f"batch {batch}: out of memory")
            batch //= 2
            continue
        row.status, row.detail = "FAIL", "; ".join([*notes, msg])
        row.extra = {"batch": batch, "traceback": tb}
        return row
    row.value, row.extra = rate, {"batch": batch, **extra}
    row.peak_mem = _mib(peak) if peak is not None else "n/a"
    row.detail = "; ".join([f"batch {batch}, {steps} step{'s' if steps > 1 else ''} after {warmup} warm-up",
                            f"{extra['params'] / 1e6:.2f} M params", *notes] + ([case.note] if case.note else []))
    return row


def _fit_once(case: Case, batch: int, device: str, steps: int, warmup: int, work: Path):
    import lightning as L
    import torch
    from torch.utils.data import DataLoader

    from audiopipe.training import engine

    class Timer(L.Callback):
        def __init__(self):
            self.t0 = self.t1 = None
            self.peak = None
            self.devices: set[str] = set()
            self.losses: list = []

        def on_train_batch_start(self, trainer, pl_module, batch_, batch_idx):
            self.devices.add(pl_module.device.type)
            if batch_idx == warmup:
                _sync(pl_module.device)
                self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, pl_module, outputs, batch_, batch_idx):
            loss = outputs["loss"] if isinstance(outputs, dict) else outputs
            if batch_idx == warmup + steps - 1:
                _sync(pl_module.device)
                self.t1 = time.perf_counter()
                if pl_module.device.type == "cuda":
                    self.peak = torch.cuda.max_memory_allocated(pl_module.device)
            self.losses.append(loss.detach())  # read after training: no device sync per step

    work.mkdir(parents=True, exist_ok=True)
    factory, callbacks = case.module(work)
    n_train = (warmup + steps) * batch
    train = DataLoader(_Pool(case.example, n_train, batch), batch_size=batch, shuffle=False)
    val = DataLoader(_Pool(case.example, batch, batch), batch_size=batch) if case.validate else None
    timer = Timer()
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    res = engine.fit(factory, train, val, checkpoint_dir=work / "checkpoints", max_epochs=1, seed=0,
                     monitor=case.monitor, callbacks=[*callbacks, timer], gradient_clip_val=case.grad_clip,
                     log_every_n_steps=1)
    n_params = sum(p.numel() for p in res.module.parameters())
    del res, factory, callbacks, train, val
    gc.collect()
    losses = [float(v) for v in timer.losses]
    if timer.t0 is None or timer.t1 is None:
        raise RuntimeError(f"the timed steps did not run (losses: {losses})")
    if timer.devices != {device}:
        raise RuntimeError(f"trained on {sorted(timer.devices)}, expected {device} (Lightning accelerator='auto')")
    if not all(math.isfinite(v) for v in losses):
        raise RuntimeError(f"non-finite training loss: {losses}")
    rate = batch * steps / (timer.t1 - timer.t0)
    return rate, timer.peak, {"params": n_params, "s_per_step": (timer.t1 - timer.t0) / steps,
                              "last_loss": losses[-1]}


# ------------------------------------------------------------------------------------------------
# RIRs: ism (CPU, CUDA) and gpuRIR
# ------------------------------------------------------------------------------------------------

def sar_ssl_rooms(params: dict, n: int, seed: int = 0) -> list:
    """``n`` rooms of SAR-SSL's distribution (``sar_ssl.data.room``), as the data stage draws them."""
    import numpy as np

    from audiopipe.acoustics.rooms import (
        RoomConfig,
        RoomSamplingError,
        place_array_and_source,
        sample_room_acoustics,
    )

    cfg = RoomConfig.from_dict(params["sar_ssl"]["data"].get("room"))
    rng = np.random.default_rng(seed)
    rooms = []
    while len(rooms) < n:
        acoustics = sample_room_acoustics(rng, cfg)
        try:
            rooms.append(place_array_and_source(rng, cfg, *acoustics))
        except RoomSamplingError:  # the data stage redraws the array/source too
            continue
    return rooms


def ism_kwargs(params: dict) -> dict:
    """The SAR-SSL data stage's ism settings (``sar_ssl.data``)."""
    d = params["sar_ssl"]["data"]
    return dict(ism_decay_db=d["ism_decay_db"], max_decay_db=d["max_decay_db"], tail_decay=d["tail_decay"],
                fit_decay_db=d["fit_decay_db"], sabine_window_ms=d["sabine_window_ms"])


def ism_rate(rooms: list, fs: int, kw: dict, device: str, batch: int, min_s: float) -> tuple[float, int]:
    """RIRs/s of batched ``ism_rirs`` after one warm-up batch: batches until ``min_s`` elapsed or rooms run out."""
    from audiopipe.acoustics.rir import ism_rirs

    ism_rirs(rooms[:batch], fs, device=device, seed=1, **kw)  # warm-up (kernels, allocator, FFT plans)
    _sync(device)
    done, t0 = 0, time.perf_counter()
    while done + batch <= len(rooms):
        ism_rirs(rooms[done:done + batch], fs, device=device, seed=done, **kw)
        done += batch
        _sync(device)
        if time.perf_counter() - t0 >= min_s:
            break
    return done / (time.perf_counter() - t0), done


def rir_error_db(ref: list, got: list) -> float:
    """Worst ``10 log10(sum (got - ref)^2 / sum ref^2)`` over RIR pairs, on their common length.

    Energies rather than sample maxima: float rounding may keep or drop an image source lying
    exactly on the summation radius on one device and not on the other, a tiny change of energy.
    """
    import numpy as np

    worst = -math.inf
    for a, b in zip(ref, got):
        n = min(a.shape[-1], b.shape[-1])
        a, b = np.asarray(a[..., :n], np.float64), np.asarray(b[..., :n], np.float64)
        err = float(np.sum((b - a) ** 2)) / max(float(np.sum(a ** 2)), 1e-300)
        worst = max(worst, 10 * math.log10(err) if err > 0 else -math.inf)
    return worst


def run_ism(params: dict, device: str, quick: bool) -> list[Row]:
    import torch

    from audiopipe.acoustics.rir import ism_rirs

    fs = int(params["sar_ssl"]["data"]["sampling_rate"])
    kw = ism_kwargs(params)
    setting = (f"SAR-SSL rooms, {fs // 1000} kHz, tail {kw['tail_decay']}, "
               f"{kw['ism_decay_db']:g}/{kw['max_decay_db']:g} dB")
    rows = []
    t = time.perf_counter()
    try:
        rooms = sar_ssl_rooms(params, 2048 if device == "cuda" else 64)
    except Exception as e:
        return [Row("rir", "ism", setting, "cpu", status="FAIL", detail=_err(e))]
    torch.use_deterministic_algorithms(False)  # the data stage runs outside Lightning
    cpu_batch = 4 if quick else 16
    threads = torch.get_num_threads()
    for n_threads in ([1] if quick else sorted({1, threads})):
        t = time.perf_counter()
        row = Row("rir", f"ism CPU {n_threads} thread{'s' if n_threads > 1 else ''}", setting, "cpu", unit="RIRs/s",
                  peak_mem="n/a")
        try:
            torch.set_num_threads(n_threads)
            row.value, n = ism_rate(rooms[: cpu_batch * (2 if quick else 4) + cpu_batch], fs, kw, "cpu", cpu_batch,
                                    1.0 if quick else 4.0)
            row.detail = f"{n} rooms, batch {cpu_batch}" + (" (a Snakemake data job: threads 1)" if n_threads == 1 else "")
        except Exception as e:
            row.status, row.detail = "FAIL", _err(e)
        finally:
            torch.set_num_threads(threads)
        row.seconds = time.perf_counter() - t
        rows.append(row)
    cpu1 = rows[0].value
    t = time.perf_counter()
    cuda = Row("rir", "ism CUDA", setting, "cuda", unit="RIRs/s")
    goal = Row("rir", f"ism goal >= {ISM_GOAL_RIRS_PER_S:,.0f} RIRs/s on one GPU", setting, "cuda")
    if device != "cuda":
        cuda.status, cuda.detail = "skip", "no CUDA device (--device cpu or none present)"
        goal.status, goal.detail = "skip", "not measured: needs a CUDA device"
        return rows + [cuda, goal]
    if not torch.cuda.is_available():
        cuda.status, cuda.detail = "FAIL", "--device cuda but torch sees no CUDA device"
        goal.status, goal.detail = "FAIL", "not measured: no CUDA device"
        return rows + [cuda, goal]
    try:
        # the same rooms and tail seed on both devices: the tail noise comes from a CPU generator
        ref = ism_rirs(rooms[:4], fs, device="cpu", seed=7, **kw)
        got = ism_rirs(rooms[:4], fs, device="cuda", seed=7, **kw)
        diff = rir_error_db(ref, got)
        best, tried = None, []
        torch.cuda.reset_peak_memory_stats()
        for batch in (16, 64, 256) if quick else (16, 64, 256, 1024):
            try:
                r, n = ism_rate(rooms, fs, kw, "cuda", batch, 1.0 if quick else 3.0)
            except Exception as e:
                if not (isinstance(e, torch.cuda.OutOfMemoryError) or "out of memory" in str(e).lower()):
                    raise
                tried.append(f"{batch}: out of memory")
                r = None
            if r is None:  # larger batches would run out of memory too
                gc.collect()
                torch.cuda.empty_cache()
                break
            tried.append(f"{batch}: {r:,.0f}")
            if best is None or r > best[0]:
                best = (r, batch, n)
        if best is None:
            raise RuntimeError(f"no batch size ran ({', '.join(tried)})")
        cuda.value = best[0]
        cuda.peak_mem = _mib(torch.cuda.max_memory_allocated())
        speedup = f"x{best[0] / cpu1:.1f} vs CPU 1 thread; " if cpu1 else ""
        cuda.detail = (f"best batch {best[1]} ({best[2]} rooms; RIRs/s by batch {', '.join(tried)}); "
                       f"{speedup}CUDA vs CPU RIRs: error energy {diff:.0f} dB")
        cuda.extra = {"by_batch": tried, "error_db_vs_cpu": diff}
        if not diff < RIR_AGREEMENT_DB:
            cuda.status = "FAIL"
            cuda.detail += " (CUDA RIRs differ from the CPU ones)"
        met = best[0] >= ISM_GOAL_RIRS_PER_S
        goal.value, goal.unit = best[0], "RIRs/s"
        goal.status = "ok" if met else "miss"
        goal.detail = ("met" if met else "NOT met") + f": {best[0]:,.0f} RIRs/s at batch {best[1]}"
    except Exception as e:
        cuda.status, cuda.detail = "FAIL", _err(e)
        goal.status, goal.detail = "FAIL", "not measured: the CUDA row failed"
    cuda.seconds = time.perf_counter() - t
    return rows + [cuda, goal]


def run_gpurir(params: dict, device: str, quick: bool) -> Row:
    row = Row("rir", "gpuRIR backend", "SAR-SSL rooms, as the data stage calls it (one room per call)", device,
              unit="RIRs/s")
    try:
        import gpuRIR
    except ImportError as e:
        row.status, row.detail = "skip", f"not installed ({_err(e)}); install: {GPURIR_INSTALL}"
        return row
    import torch

    from audiopipe.acoustics.rir import simulate_rir

    if device != "cuda" or not torch.cuda.is_available():
        row.status, row.detail = "skip", "gpuRIR is installed but needs a CUDA device"
        return row
    d = params["sar_ssl"]["data"]
    fs = int(d["sampling_rate"])
    try:
        rooms = sar_ssl_rooms(params, 16 if quick else 128, seed=1)
        simulate_rir(rooms[0], fs, "gpurir", ism_decay_db=d["ism_decay_db"], max_decay_db=d["max_decay_db"])
        t = time.perf_counter()
        for room in rooms[1:]:
            simulate_rir(room, fs, "gpurir", ism_decay_db=d["ism_decay_db"], max_decay_db=d["max_decay_db"])
        row.value = (len(rooms) - 1) / (time.perf_counter() - t)
        row.detail = f"{len(rooms) - 1} rooms, gpuRIR {getattr(gpuRIR, '__version__', '?')}"
    except Exception as e:
        row.status, row.detail = "FAIL", _err(e)
    return row


# ------------------------------------------------------------------------------------------------
# gpu-run under snakemake --resources gpu=N
# ------------------------------------------------------------------------------------------------

RECORDER = '''\
import json, os, sys, time
out, seconds, use_cuda = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "1"
rec = {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "t0": time.time(), "pid": os.getpid()}
if use_cuda:
    import torch
    rec["torch_device_count"] = torch.cuda.device_count()
    rec["device_name"] = torch.cuda.get_device_name(0)
    x = torch.randn(2048, 2048, device="cuda")
    end = time.time() + seconds
    while time.time() < end:
        x = torch.tanh(x @ x)
        torch.cuda.synchronize()
else:
    time.sleep(seconds)
rec["t1"] = time.time()
with open(out + ".tmp", "w") as f:
    json.dump(rec, f)
os.replace(out + ".tmp", out)
'''

SNAKEFILE = '''\
import sys
PY = sys.executable
JOBS = int(config["jobs"])
GPU_LOG = bool(config.get("gpu_log", False))

rule all:
    input: expand("job{i}.json", i=range(JOBS))

rule job:
    output: "job{i}.json"
    resources: gpu=1
    params: log=lambda wc: f"--gpu-log job{wc.i}.gpu.tsv" if GPU_LOG else ""
    shell: "{PY} -m audiopipe gpu-run --gpus {resources.gpu} {params.log} -- {PY} record.py {output} " + str(config["seconds"]) + " " + str(config["cuda"])
'''


def overlaps(jobs: list[dict]) -> list[tuple[int, int]]:
    """Pairs (i, j), i < j, of jobs whose [t0, t1] intervals overlap."""
    return [(i, j) for i in range(len(jobs)) for j in range(i + 1, len(jobs))
            if jobs[i]["t0"] < jobs[j]["t1"] and jobs[j]["t0"] < jobs[i]["t1"]]


def max_concurrent(jobs: list[dict]) -> int:
    events = sorted([(j["t0"], 1) for j in jobs] + [(j["t1"], -1) for j in jobs], key=lambda e: (e[0], e[1]))
    now = best = 0
    for _, d in events:
        now += d
        best = max(best, now)
    return best


def check_gpu_run(jobs: list[dict], n_devices: int, expect_overlap: bool) -> list[str]:
    """Problems with the recorded jobs (empty when every check passes)."""
    bad = []
    for k, j in enumerate(jobs):
        dev = j.get("cuda_visible_devices")
        if dev is None or not dev.isdigit():
            bad.append(f"job{k}: CUDA_VISIBLE_DEVICES={dev!r} is not one device id")
        elif int(dev) >= n_devices:
            bad.append(f"job{k}: device id {dev} >= N={n_devices}")
        if "torch_device_count" in j and j["torch_device_count"] != 1:
            bad.append(f"job{k}: torch saw {j['torch_device_count']} devices, expected 1")
    for a, b in overlaps(jobs):
        if jobs[a].get("cuda_visible_devices") == jobs[b].get("cuda_visible_devices"):
            bad.append(f"job{a} and job{b} ran at the same time on device {jobs[a]['cuda_visible_devices']}")
    if max_concurrent(jobs) > n_devices:
        bad.append(f"{max_concurrent(jobs)} jobs ran at once with --resources gpu={n_devices}")
    if expect_overlap and not overlaps(jobs):
        bad.append("no two jobs overlapped in time: distinct ids were not tested")
    return bad


def run_gpu_run(kind: str, device: str, env0: dict) -> Row:
    """``kind`` ``fake`` (AUDIOPIPE_GPU_COUNT=3) or ``real`` (nvidia-smi)."""
    from audiopipe.pipeline import gpu

    row = Row("gpu-run", f"gpu-run under snakemake --resources gpu=N ({kind})", device="" if kind == "fake" else "cuda")
    env = {k: v for k, v in env0.items() if k not in ("SLURM_JOB_ID", "CUDA_VISIBLE_DEVICES")}
    env["PYTHONPATH"] = os.pathsep.join([str(SRC)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if kind == "fake":
        n, n_jobs, seconds, use_cuda = 3, 6, 1.5, 0
        env["AUDIOPIPE_GPU_COUNT"] = str(n)
        row.config, row.device = f"AUDIOPIPE_GPU_COUNT={n} (fake devices), {n_jobs} jobs", "none"
    else:
        env.pop("AUDIOPIPE_GPU_COUNT", None)
        if device != "cuda":
            row.status, row.detail = "skip", "needs --device cuda"
            return row
        if shutil.which("nvidia-smi", path=env.get("PATH")) is None:
            row.status, row.detail = "skip", "no nvidia-smi on PATH"
            return row
        old = os.environ.pop("AUDIOPIPE_GPU_COUNT", None)
        try:
            n = gpu.device_count()
        finally:
            if old is not None:
                os.environ["AUDIOPIPE_GPU_COUNT"] = old
        if n == 0:
            row.status, row.detail = "FAIL", "nvidia-smi -L lists no GPU"
            return row
        n_jobs, seconds, use_cuda = max(2, n + 1), 2.0, 1
        row.config = f"nvidia-smi: N={n}, {n_jobs} jobs, CUDA workload + --gpu-log"
    with tempfile.TemporaryDirectory(prefix="gpu_check_gpurun_") as tmp:
        tmp = Path(tmp)
        (tmp / "Snakefile").write_text(SNAKEFILE)
        (tmp / "record.py").write_text(RECORDER)
        cmd = [sys.executable, "-m", "snakemake", "-s", str(tmp / "Snakefile"), "-d", str(tmp), "--cores", str(n_jobs),
               "--config", f"jobs={n_jobs}", f"seconds={seconds}", f"cuda={use_cuda}", f"gpu_log={bool(use_cuda)}",
               "--resources", f"gpu={n}"]
        try:
            res = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True, timeout=300, check=False)
        except subprocess.TimeoutExpired:
            row.status, row.detail = "FAIL", "snakemake did not finish in 300 s"
            return row
        if res.returncode != 0:
            tail = " | ".join(line for line in (res.stderr or res.stdout).splitlines()[-12:] if line.strip())
            row.status, row.detail = "FAIL", f"snakemake exited {res.returncode}: {tail[-600:]}"
            return row
        jobs = [json.loads((tmp / f"job{i}.json").read_text()) for i in range(n_jobs)]
        bad = check_gpu_run(jobs, n, expect_overlap=n >= 2)
        logs = []
        if use_cuda:
            for i, j in enumerate(jobs):
                p = tmp / f"job{i}.gpu.tsv"
                if not p.is_file():
                    bad.append(f"job{i}: no --gpu-log file")
                    continue
                head, line = p.read_text().splitlines()[:2]
                rec = dict(zip(head.split("\t"), line.split("\t")))
                logs.append(rec)
                if rec["devices"] != j["cuda_visible_devices"]:
                    bad.append(f"job{i}: gpu-log devices {rec['devices']} != CUDA_VISIBLE_DEVICES {j['cuda_visible_devices']}")
                if int(rec["samples"]) < 1 or not float(rec["max_memory_mib"]) > 0:
                    bad.append(f"job{i}: gpu-log has no memory samples ({rec})")
    ids = sorted({j["cuda_visible_devices"] for j in jobs})
    pairs = overlaps(jobs)
    row.value, row.unit = float(len(ids)), "distinct ids"
    row.extra = {"jobs": jobs, "n_devices": n, "gpu_logs": logs}
    row.detail = (f"ids {{{','.join(ids)}}} (all < N={n}); {len(pairs)} overlapping pair(s), all on distinct ids; "
                  f"max {max_concurrent(jobs)} at once")
    if use_cuda:
        row.detail += f"; each job saw 1 device ({jobs[0].get('device_name')}), gpu-log peak " \
                      f"{max(float(r['max_memory_mib']) for r in logs) if logs else float('nan'):.0f} MiB"
    if bad:
        row.status, row.detail = "FAIL", "; ".join(bad[:6])
    return row


# ------------------------------------------------------------------------------------------------
# table
# ------------------------------------------------------------------------------------------------

COLUMNS = ("section", "check", "config", "device", "value", "peak mem", "status", "s", "detail")


def _cells(r: Row) -> list[str]:
    return [r.section, r.check, r.config, r.device, r.value_text(), r.peak_mem or "-", r.status,
            f"{r.seconds:.1f}", r.detail]


def text_table(rows: list[Row]) -> str:
    cells = [list(COLUMNS)] + [_cells(r) for r in rows]
    widths = [max(len(c[k]) for c in cells) for k in range(len(COLUMNS) - 1)]
    out = []
    for i, c in enumerate(cells):
        out.append("  ".join(c[k].ljust(widths[k]) for k in range(len(widths))) + "  " + c[-1])
        if i == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    return "\n".join(out)


def markdown_table(rows: list[Row]) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(esc(c) for c in _cells(r)) + " |" for r in rows]
    return "\n".join(lines)


def environment(device: str) -> dict:
    import lightning
    import torch

    env = {"python": platform.python_version(), "torch": torch.__version__, "lightning": lightning.__version__,
           "device": device, "cpu_threads": torch.get_num_threads(), "machine": platform.machine()}
    try:
        env["commit"] = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, check=False,
                                       text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        env["commit"] = ""
    if device == "cuda":
        p = torch.cuda.get_device_properties(0)
        env.update(gpu=p.name, gpu_memory_gib=round(p.total_memory / 2**30, 1), cuda=torch.version.cuda,
                   gpus_visible=torch.cuda.device_count())
    return env


def summary(rows: list[Row], seconds: float) -> str:
    count = {s: sum(r.status == s for r in rows) for s in ("ok", "FAIL", "skip", "miss")}
    return (f"{len(rows)} rows: {count['ok']} ok, {count['FAIL']} failed, {count['skip']} skipped, "
            f"{count['miss']} goal(s) missed; {seconds:.0f} s in all")


# ------------------------------------------------------------------------------------------------

def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", choices=["auto", "cuda", "cpu"], default="auto",
                    help="auto: cuda when torch sees a GPU, else cpu; cpu hides the GPUs from torch (CUDA_VISIBLE_DEVICES='')")
    ap.add_argument("--steps", type=int, default=None, help="timed training steps per row (default 10; --quick 2)")
    ap.add_argument("--warmup", type=int, default=None, help="untimed training steps first (default 2; --quick 1)")
    ap.add_argument("--quick", action="store_true", help="tiny step counts and RIR runs, demo sizes only (CI)")
    ap.add_argument("--batch", type=int, default=0,
                    help="override every training batch size (0: the recipes' own; CI on 2 cores: 1)")
    ap.add_argument("--sizes", default=None, help="comma list of demo,paper (default demo,paper; --quick or cpu: demo)")
    ap.add_argument("--only", default="", help="comma list of substrings: run the rows whose section or check holds one")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--params", type=Path, default=REPO / "params.yaml")
    ap.add_argument("--output", type=Path, default=None, help="folder for gpu_check.json and gpu_check.md")
    a = ap.parse_args(argv)
    if a.steps is not None and a.steps < 1 or a.warmup is not None and a.warmup < 0 or a.batch < 0:
        ap.error("--steps must be >= 1, --warmup and --batch >= 0")
    return a


def main(argv=None) -> int:
    a = parse_args(argv)
    env0 = dict(os.environ)
    if a.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch is imported: Lightning's accelerator="auto" picks the CPU
    warnings.filterwarnings("ignore")
    t_start = time.perf_counter()
    import lightning  # noqa: F401  (imported before the loggers below are quieted)
    import torch
    import yaml

    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)

    if a.threads:
        torch.set_num_threads(a.threads)
    device = a.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    sizes = set((a.sizes or ("demo" if a.quick or device == "cpu" else "demo,paper")).split(","))
    if not sizes <= {"demo", "paper"}:
        print(f"--sizes: unknown {sorted(sizes - {'demo', 'paper'})}", file=sys.stderr)
        return 2
    steps = a.steps or (2 if a.quick else 10)
    warmup = a.warmup if a.warmup is not None else (1 if a.quick else 2)
    only = [s.strip().lower() for s in a.only.split(",") if s.strip()]
    params = yaml.safe_load(a.params.read_text())
    env = {**(environment(device) if device != "cuda" or torch.cuda.is_available() else {"device": device}),
           "steps": steps, "warmup": warmup, "sizes": sorted(sizes), "quick": a.quick,
           **({"batch": a.batch} if a.batch else {})}
    print("audiopipe GPU check: " + ", ".join(f"{k}={v}" for k, v in env.items()), flush=True)

    def wanted(section: str, check: str) -> bool:
        return not only or any(s in section.lower() or s in check.lower() for s in only)

    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)
        print(f"  [{row.status:4s}] {row.section}: {row.check} {row.config} -> {row.value_text()} "
              f"{row.peak_mem} {row.detail[:160]}", flush=True)

    cuda_missing = device == "cuda" and not torch.cuda.is_available()
    # 1. RIRs first (outside Lightning, whose deterministic mode is process-wide)
    if wanted("rir", "ism"):
        for r in run_ism(params, device, a.quick):
            add(r)
    if wanted("rir", "gpurir"):
        t = time.perf_counter()
        r = run_gpurir(params, device, a.quick)
        r.seconds = time.perf_counter() - t
        add(r)
    # 2. gpu-run
    for kind in ("fake", "real"):
        if wanted("gpu-run", f"gpu-run {kind}"):
            t = time.perf_counter()
            try:
                r = run_gpu_run(kind, device, env0)
            except Exception as e:
                r = Row("gpu-run", f"gpu-run under snakemake --resources gpu=N ({kind})", status="FAIL", detail=_err(e))
            r.seconds = time.perf_counter() - t
            add(r)
    # 3. training
    try:
        cases = training_cases(params, sizes)
        for case in cases if a.batch else []:
            case.batch = a.batch
    except Exception as e:
        cases = []
        add(Row("training", "building the training rows", status="FAIL", detail=_err(e)))
    with tempfile.TemporaryDirectory(prefix="gpu_check_train_") as tmp:
        for k, case in enumerate(cases):
            check = f"{case.recipe}: {case.name}"
            if not wanted("training", check):
                continue
            t = time.perf_counter()
            if cuda_missing:
                r = Row("training", check, case.config, device, status="FAIL", detail="torch sees no CUDA device")
            else:
                r = run_training(case, device, steps, warmup, Path(tmp) / f"case{k}")
            r.seconds = time.perf_counter() - t
            add(r)
    total = time.perf_counter() - t_start
    table = text_table(rows)
    print()
    print(table)
    print(summary(rows, total))
    if a.output:
        a.output.mkdir(parents=True, exist_ok=True)
        (a.output / "gpu_check.json").write_text(json.dumps(
            {"environment": env, "seconds": total, "failed": any(r.status == "FAIL" for r in rows),
             "rows": [asdict(r) for r in rows]}, indent=1, default=str))
        (a.output / "gpu_check.md").write_text(
            "# audiopipe GPU check\n\n" + ", ".join(f"{k}: {v}" for k, v in env.items()) + "\n\n"
            + markdown_table(rows) + "\n\n" + summary(rows, total) + "\n")
        print(f"wrote {a.output / 'gpu_check.json'} and {a.output / 'gpu_check.md'}")
    return 1 if any(r.status == "FAIL" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
