"""The one training engine: a Lightning ``fit`` with checkpoints, exact resume, seeding and logs.

Every recipe trains through :func:`fit`. It sets up the Lightning ``Trainer`` the same way for
all of them:

* seeding: ``seed_everything(seed, workers=True)`` before the module is built (when a module
  factory is given) or before training (when a built module is given); ``deterministic=True``;
* a checkpoint at the end of every epoch: ``<checkpoint_dir>/last.ckpt``, ``best.ckpt`` when a
  ``monitor`` is given (strictly better than every earlier epoch), and ``epoch<NNN>.ckpt`` for
  every epoch with ``keep_epoch_checkpoints``; each file is written to a temporary sibling and
  renamed over the old one (:class:`AtomicCheckpointIO`), so a process killed while writing
  leaves the previous complete checkpoint in place;
* exact resume: when ``last.ckpt`` exists, training continues from it. Besides what Lightning
  stores (weights, optimizer and scheduler states, loop progress, callback states), the
  checkpoint holds the random-number states captured when it was written: Python ``random``,
  the numpy global generator, the torch CPU generator, every CUDA generator when CUDA is
  initialised, and the ``torch.Generator`` objects of the data loaders (shuffling and worker
  seeds). They are restored when the checkpoint is loaded, before the data loaders of the next
  epoch are iterated, so a run killed at any point and rerun gives the same weights, bit for
  bit, as an uninterrupted one (on the same hardware and software). The number of resumes is
  counted in the checkpoint;
* a CSV logger (``<log_dir>/version_<n>/metrics.csv``, one version per (re)run),
  ``accelerator="auto"``, ``num_sanity_val_steps=0``, the progress bar only when stderr is a
  terminal, and one line per epoch through the ``logging`` logger ``audiopipe.train``::

      epoch 3/5: train_loss=0.4213 val_loss=0.5172 (4.2 s)

Kill points and exactness: a checkpoint is written at the end of an epoch, after validation, so
a run killed before it is written repeats that whole epoch from the previous checkpoint, with
the same random states, and reproduces it. Callback states (``state_dict``/``load_state_dict``,
e.g. SAR-SSL's smoothed early stopping) are checkpointed by Lightning; files a callback writes
during an epoch must be written atomically and must not be needed to repeat that epoch.
"""

from __future__ import annotations

import logging
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from audiopipe.io import atomic_path

log = logging.getLogger("audiopipe.train")

LAST = "last.ckpt"
BEST = "best.ckpt"


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write a checkpoint to a temporary sibling, flush it to disk, then rename it into place.

    A process killed during the write leaves the previous complete file (or none), never a
    truncated one. Local paths only.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())


@dataclass
class FitResult:
    """What :func:`fit` returns.

    Attributes
    ----------
    module : lightning.LightningModule
        The trained module, with the weights of the last epoch.
    last_checkpoint : Path
        ``<checkpoint_dir>/last.ckpt``.
    best_checkpoint : Path or None
        ``<checkpoint_dir>/best.ckpt`` when a ``monitor`` was given and an epoch had a finite value.
    best_score : float or None
        The monitored value of the best epoch.
    best_epoch : int or None
        The best epoch (0-based).
    epochs : int
        Epochs completed in total, over every (re)run.
    epochs_run : int
        Epochs trained by this call (0 when the checkpoint had already finished).
    history : list of dict
        One record per completed epoch, over every (re)run: ``epoch`` (0-based) and the epoch's
        logged metrics (floats).
    epoch_seconds : list of float
        Wall-clock duration of the epochs trained by this call (s).
    resumed : int
        How many times training resumed from a checkpoint and went on training, this call
        included (0 for a run never interrupted).
    stopped_early : bool
        Whether a callback stopped training before ``max_epochs``.
    """

    module: L.LightningModule
    last_checkpoint: Path
    best_checkpoint: Path | None
    best_score: float | None
    best_epoch: int | None
    epochs: int
    epochs_run: int
    history: list[dict] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    resumed: int = 0
    stopped_early: bool = False


def loader_generators(loaders: Sequence) -> list[torch.Generator]:
    """The distinct ``torch.Generator`` objects of data loaders and their samplers, in order."""
    out: list[torch.Generator] = []
    for dl in loaders:
        if dl is None:
            continue
        batch_sampler = getattr(dl, "batch_sampler", None)
        for g in (getattr(dl, "generator", None), getattr(getattr(dl, "sampler", None), "generator", None),
                  getattr(getattr(batch_sampler, "sampler", None), "generator", None)):
            if isinstance(g, torch.Generator) and all(g is not h for h in out):
                out.append(g)
    return out


def rng_state(generators: Sequence[torch.Generator] = ()) -> dict:
    """Every random-number state a training run draws from, as plain types and tensors.

    Returns
    -------
    dict
        ``python`` (``random.getstate()``), ``numpy`` (the legacy global generator, as a dict of
        plain values), ``torch`` (CPU), ``cuda`` (one state per device, when CUDA is
        initialised) and ``generators`` (the given ``torch.Generator`` states, in order).
    """
    name, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"name": name, "keys": keys.tolist(), "pos": int(pos), "has_gauss": int(has_gauss),
                  "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
        "generators": [g.get_state() for g in generators],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict, generators: Sequence[torch.Generator] = ()) -> None:
    """Restore what :func:`rng_state` captured.

    Raises
    ------
    ValueError
        If the number of generators differs from the captured one (the data loaders changed).
    """
    random.setstate(tuple(tuple(x) if isinstance(x, list) else x for x in state["python"]))
    n = state["numpy"]
    np.random.set_state((n["name"], np.asarray(n["keys"], dtype=np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if len(state["generators"]) != len(generators):
        raise ValueError(f"checkpoint holds {len(state['generators'])} data-loader generator states, "
                         f"the data loaders have {len(generators)}: they differ from the run that wrote it "
                         "(delete the checkpoint folder to train from scratch)")
    for g, s in zip(generators, state["generators"]):
        g.set_state(s)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _scalar_metrics(metrics: dict) -> dict[str, float]:
    """Epoch-level scalar metrics: no ``<name>_step``, and ``<name>_epoch`` only without ``<name>``."""
    out = {}
    for k, v in sorted(metrics.items()):
        if k.endswith("_step") or (k.endswith("_epoch") and k[: -len("_epoch")] in metrics):
            continue
        if isinstance(v, torch.Tensor):
            if v.numel() != 1:
                continue
            v = v.item()
        if isinstance(v, (int, float)):
            out[k] = float(v)
    return out


def _format_epoch(epoch: int, max_epochs: int, metrics: dict[str, float], seconds: float) -> str:
    values = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
    return f"epoch {epoch + 1}/{max_epochs}: {values} ({seconds:.1f} s)"


#: key of the run fingerprint in a checkpoint (see :func:`fit`)
FINGERPRINT_KEY = "audiopipe_fingerprint"


class EngineCheckpoint(Checkpoint):
    """Per-epoch checkpoints, RNG capture/restore, resume count, epoch history and log lines.

    A :class:`~lightning.pytorch.callbacks.Checkpoint` subclass, so Lightning runs its
    ``on_train_epoch_end`` after the module's and after every other callback's: the checkpoint
    holds the whole epoch (validation included) and the states of the other callbacks.
    """

    def __init__(self, checkpoint_dir: Path, max_epochs: int, monitor: str | None = None, mode: str = "min",
                 keep_epoch_checkpoints: bool = False, generators: Sequence[torch.Generator] = ()):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.dir = Path(checkpoint_dir)
        self.max_epochs = int(max_epochs)
        self.monitor, self.mode = monitor, mode
        self.keep_epoch_checkpoints = keep_epoch_checkpoints
        self.generators = list(generators)
        self.history: list[dict] = []
        self.resumes = 0
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.epoch_seconds: list[float] = []
        self._loaded = False
        self._loaded_rng: dict | None = None
        self._counted = False
        self._t0 = 0.0

    # -- state carried by the checkpoint --------------------------------------------------------
    fingerprint: str | None = None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[FINGERPRINT_KEY] = self.fingerprint

    def state_dict(self) -> dict:
        # called while the checkpoint is written: the random states of that moment
        return {"history": self.history, "resumes": self.resumes, "best_score": self.best_score,
                "best_epoch": self.best_epoch, "rng": rng_state(self.generators)}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history = list(state_dict["history"])
        self.resumes = int(state_dict["resumes"])
        self.best_score, self.best_epoch = state_dict["best_score"], state_dict["best_epoch"]
        # restored now, before Lightning iterates the data loaders of the next epoch
        set_rng_state(state_dict["rng"], self.generators)
        self._loaded_rng = state_dict["rng"]
        self._loaded = True

    # -- hooks ----------------------------------------------------------------------------------
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self._loaded and not self._counted:
            self.resumes += 1
            self._counted = True
            log.info("resumed at epoch %d/%d (resume %d)", trainer.current_epoch + 1, self.max_epochs,
                     self.resumes)
        self._t0 = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        epoch = trainer.current_epoch
        metrics = _scalar_metrics(trainer.callback_metrics)
        seconds = time.perf_counter() - self._t0
        self.history = [h for h in self.history if h["epoch"] < epoch] + [{"epoch": epoch, **metrics}]
        self.epoch_seconds.append(seconds)
        log.info("%s", _format_epoch(epoch, self.max_epochs, metrics, seconds))
        if self.monitor is not None:
            if self.monitor not in metrics:
                raise KeyError(f"monitored metric {self.monitor!r} was not logged; logged: {sorted(metrics)}")
            value = metrics[self.monitor]
            better = math.isfinite(value) and (
                self.best_score is None or (value < self.best_score if self.mode == "min" else value > self.best_score))
            if better:
                self.best_score, self.best_epoch = value, epoch
                trainer.save_checkpoint(self.dir / BEST, weights_only=False)  # before last.ckpt, which records it as best
        if self.keep_epoch_checkpoints:
            trainer.save_checkpoint(self.dir / f"epoch{epoch:03d}.ckpt", weights_only=False)
        trainer.save_checkpoint(self.dir / LAST, weights_only=False)


def _stderr_is_tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def fit(
    module: L.LightningModule | Callable[[], L.LightningModule],
    train_dataloaders,
    val_dataloaders=None,
    *,
    checkpoint_dir: str | os.PathLike,
    max_epochs: int,
    seed: int,
    monitor: str | None = None,
    mode: str = "min",
    log_dir: str | os.PathLike | None = None,
    callbacks: Sequence[L.Callback] = (),
    keep_epoch_checkpoints: bool = False,
    gradient_clip_val: float | None = None,
    limit_train_batches: float = 1.0,
    log_every_n_steps: int = 50,
    fingerprint: str | None = None,
) -> FitResult:
    """Train ``module`` (or resume it from ``<checkpoint_dir>/last.ckpt``); see the module docstring.

    Parameters
    ----------
    module : LightningModule or callable
        The module, or a function building it. A function is called after seeding, so the
        initial weights are seeded too; a built module is trained after seeding (seed before
        building it).
    train_dataloaders, val_dataloaders
        As for ``Trainer.fit``. Shuffle either from the global torch generator or from a
        ``torch.Generator`` passed to the loader: both are checkpointed.
    checkpoint_dir : path-like
        Receives ``last.ckpt`` every epoch, ``best.ckpt`` with a ``monitor``, and
        ``epoch<NNN>.ckpt`` with ``keep_epoch_checkpoints``.
    max_epochs : int
        Epochs in total (a resumed run trains the remaining ones; a larger value than the
        checkpoint's trains on).
    seed : int
        ``seed_everything(seed, workers=True)``.
    monitor : str, optional
        Logged epoch metric that selects ``best.ckpt``; ``mode`` ``"min"`` or ``"max"``.
    log_dir : path-like, optional
        CSV logs; default ``<checkpoint_dir>/../logs``.
    callbacks : sequence of Callback
        Recipe callbacks; their ``state_dict`` is checkpointed.
    keep_epoch_checkpoints : bool
        Keep one checkpoint per epoch beside ``last.ckpt``.
    gradient_clip_val : float, optional
        Gradient-norm clip (``None`` or 0: none).
    limit_train_batches : int or float
        As for the ``Trainer``.
    log_every_n_steps : int
        Step-metric logging interval of the CSV logger.
    fingerprint : str, optional
        What this training depends on (its code, parameters and inputs; the recipes compute it
        with :func:`audiopipe.pipeline.provenance.run_fingerprint`). It is written into every
        checkpoint; a checkpoint with another fingerprint comes from an earlier run of changed
        code, params or data, so it and its logs are removed and training starts afresh rather
        than resuming it.

    Returns
    -------
    FitResult

    Raises
    ------
    ValueError
        If ``max_epochs`` < 1, ``mode`` is unknown, or the data loaders do not match the
        checkpoint's (a different number of ``torch.Generator`` objects).
    KeyError
        If ``monitor`` is given but not logged.
    """
    if int(max_epochs) < 1:
        raise ValueError(f"max_epochs must be >= 1, got {max_epochs}")
    ckpt_dir = Path(checkpoint_dir)
    log_dir = Path(log_dir) if log_dir is not None else ckpt_dir.parent / "logs"
    L.seed_everything(seed, workers=True, verbose=False)
    if not isinstance(module, L.LightningModule):
        module = module()
    vals = val_dataloaders if isinstance(val_dataloaders, (list, tuple)) else [val_dataloaders]
    trains = train_dataloaders if isinstance(train_dataloaders, (list, tuple)) else [train_dataloaders]
    engine = EngineCheckpoint(ckpt_dir, max_epochs, monitor, mode, keep_epoch_checkpoints,
                              loader_generators([*trains, *vals]))
    trainer = L.Trainer(
        max_epochs=int(max_epochs), accelerator="auto", devices=1, deterministic=True,
        callbacks=[*callbacks, engine], plugins=[AtomicCheckpointIO()],
        logger=L.pytorch.loggers.CSVLogger(str(log_dir.parent), name=log_dir.name),
        default_root_dir=str(ckpt_dir.parent), num_sanity_val_steps=0,
        enable_progress_bar=_stderr_is_tty(), enable_model_summary=False,
        gradient_clip_val=gradient_clip_val or None, log_every_n_steps=log_every_n_steps,
        **({} if limit_train_batches == 1.0 else {"limit_train_batches": limit_train_batches}),
    )
    last = ckpt_dir / LAST
    if fingerprint is not None and last.is_file():
        old = torch.load(last, map_location="cpu", weights_only=False).get(FINGERPRINT_KEY)
        if old != fingerprint:
            log.warning("%s was written by a run of other code, params or data (fingerprint %s, now %s): "
                        "training afresh", last, old, fingerprint)
            shutil.rmtree(ckpt_dir)
            shutil.rmtree(log_dir, ignore_errors=True)
    engine.fingerprint = fingerprint
    resume = str(last) if last.is_file() else None
    if resume:
        log.info("resuming from %s", resume)
    trainer.fit(module, train_dataloaders, val_dataloaders, ckpt_path=resume)
    if engine._loaded_rng is not None and not engine.epoch_seconds:
        # a finished checkpoint: Lightning still iterated the training loader once; leave the
        # random states where the uninterrupted run left them, for the caller's code after fit
        set_rng_state(engine._loaded_rng, engine.generators)
    best = ckpt_dir / BEST
    return FitResult(
        module=module, last_checkpoint=last,
        best_checkpoint=best if monitor is not None and engine.best_epoch is not None and best.is_file() else None,
        best_score=engine.best_score, best_epoch=engine.best_epoch,
        epochs=int(trainer.current_epoch), epochs_run=len(engine.epoch_seconds),
        history=[dict(h) for h in engine.history], epoch_seconds=list(engine.epoch_seconds),
        resumed=engine.resumes, stopped_early=bool(trainer.should_stop) and trainer.current_epoch < max_epochs,
    )

