"""SAR-SSL training: self-supervised pre-training and downstream regression (PyTorch Lightning).

Source: Yang & Li, arXiv 2312.00476; reference implementation ``Audio-WestlakeU/SAR-SSL``:
``code/run_pretrain.py`` (Adam, batch 128, cosine learning-rate decay per epoch from 1e-3 with a
one-epoch warm-up, best epoch by validation loss), ``code/run_downstream.py`` and
``code/learner.py`` (downstream: Adam, batch 8, MSE loss, MAE metric, validation loss smoothed
exponentially with alpha 0.6, patience 10; at the first stop the learning rate is divided by 10
and training goes on, at the second it ends; the weights of the 5 epochs ending at the best
epoch are averaged; TDOA targets in samples at 16 kHz; ``opt.py``: training examples = 100 per
room, trials = max(1, round(32 / rooms)), learning rate searched in {1e-3, 5e-4, 1e-4, 5e-5}).

Simplifications (documented in the recipe parameters): one learning rate per run instead of the
four-value search; examples per room, epochs and patience are parameters whose demo defaults
are far below the paper's; ``lineareval`` keeps the frozen encoder in evaluation mode (the
reference sets ``requires_grad=False`` but leaves BatchNorm statistics and dropout in training
mode).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import h5py
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from audiopipe.io import atomic_path, stable_seed
from audiopipe.models.mc_conformer import (
    DownstreamRegressor,
    MCConformer,
    count_parameters,
    random_mask,
    reconstruction_loss,
)
from audiopipe.training import engine

log = logging.getLogger("audiopipe.sar_ssl")

#: downstream task -> (label dataset of the feature shard, unit of its MAE)
TASKS: dict[str, tuple[str, str]] = {
    "TDOA": ("tdoa_samples", "samples"),
    "DRR": ("drr_db", "dB"),
    "T60": ("t60_s", "s"),
    "C50": ("c50_db", "dB"),
    "ABS": ("absorption", "1"),
}
MODES = ("finetune", "lineareval", "scratch")


class FeatureShards(Dataset):
    """Examples of feature shards (``audiopipe.features.stft.cache_features``).

    Parameters
    ----------
    paths : list of Path
        Feature shards.
    task : str, optional
        A key of :data:`TASKS`; items are then ``(features, label)``, else ``features`` only.
    rows : list of (int, int), optional
        (shard index, row) pairs to use; all rows when omitted.

    Raises
    ------
    KeyError
        If a shard lacks ``features`` or the task's label (message names shard and key).
    ValueError
        If ``task`` is unknown.
    """

    def __init__(self, paths: list[Path], task: str | None = None,
                 rows: list[tuple[int, int]] | None = None):
        if task is not None and task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASKS)}")
        self.paths = [Path(p) for p in paths]
        self.task = task
        self.labels: list[np.ndarray] = []
        sizes = []
        for p in self.paths:
            with h5py.File(p, "r") as f:
                if "features" not in f:
                    raise KeyError(f"{p}: no 'features' dataset")
                sizes.append(f["features"].shape[0])
                if task is not None:
                    key = f"labels/{TASKS[task][0]}"
                    if key not in f:
                        raise KeyError(f"{p}: no {key!r} dataset")
                    self.labels.append(f[key][()].astype(np.float32))
        self.rows = rows if rows is not None else [(i, r) for i, n in enumerate(sizes)
                                                   for r in range(n)]
        self._files: dict[int, h5py.File] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        s, r = self.rows[i]
        if s not in self._files:
            self._files[s] = h5py.File(self.paths[s], "r")
        x = torch.from_numpy(self._files[s]["features"][r])
        if self.task is None:
            return x
        return x, torch.tensor(self.labels[s][r])

    def __getstate__(self):  # h5py handles do not pickle (DataLoader workers)
        d = self.__dict__.copy()
        d["_files"] = {}
        return d


def shard_room_ids(paths: list[Path]) -> list[tuple[int, int, int]]:
    """(shard index, row, room_id) of every example of the shards.

    Raises
    ------
    KeyError
        If a shard lacks ``room_id``.
    """
    out = []
    for i, p in enumerate(paths):
        with h5py.File(p, "r") as f:
            if "room_id" not in f:
                raise KeyError(f"{p}: no 'room_id' dataset")
            out += [(i, r, int(v)) for r, v in enumerate(f["room_id"][()])]
    return out


def select_rooms(examples: list[tuple[int, int, int]], n_rooms: int, trial: int,
                 examples_per_room: int, seed: int = 0) -> tuple[list[tuple[int, int]], list[int]]:
    """Pick the training examples of ``n_rooms`` rooms for one trial.

    The rooms are drawn without replacement with ``numpy.random.default_rng`` seeded from
    ``(seed, n_rooms, trial)``; within a room the first ``examples_per_room`` examples (in shard
    order) are kept. Paper: 100 examples per room, a different room set per trial.

    Parameters
    ----------
    examples : list of (shard, row, room_id)
    n_rooms, trial, examples_per_room, seed : int

    Returns
    -------
    rows : list of (shard, row)
    rooms : list of int
        Sorted room identifiers chosen.

    Raises
    ------
    ValueError
        If fewer than ``n_rooms`` rooms exist, or ``n_rooms`` / ``examples_per_room`` < 1.
    """
    if n_rooms < 1 or examples_per_room < 1:
        raise ValueError(f"n_rooms={n_rooms} and examples_per_room={examples_per_room} must be >= 1")
    rooms = sorted({e[2] for e in examples})
    if n_rooms > len(rooms):
        raise ValueError(f"n_rooms={n_rooms} but the training shards hold only {len(rooms)} rooms")
    rng = np.random.default_rng(stable_seed(seed, "rooms", n_rooms, trial))
    chosen = sorted(int(r) for r in rng.choice(rooms, size=n_rooms, replace=False))
    rows, count = [], {r: 0 for r in chosen}
    for s, r, room in examples:
        if room in count and count[room] < examples_per_room:
            rows.append((s, r))
            count[room] += 1
    return rows, chosen


def leave_one_room_out(examples: list[tuple[int, int, int]], fold: int,
                       seed: int = 0) -> tuple[dict[str, list[tuple[int, int]]], dict]:
    """Leave-one-room-out split of measured-RIR data (the paper's protocol on ACE).

    Fold ``k`` tests on the ``k``-th room (sorted identifiers), validates on one other room drawn
    with ``numpy.random.default_rng`` seeded from ``(seed, fold)`` and trains on the rest
    (reference: ``cross_validation_datadir`` in ``code/common/utils.py``).

    Returns
    -------
    rows : dict
        ``train``, ``val``, ``test`` -> list of (shard, row).
    rooms : dict
        ``train_rooms`` (list), ``val_room``, ``test_room``.

    Raises
    ------
    ValueError
        If fewer than 3 rooms exist or ``fold`` is not in ``[0, rooms)``.
    """
    rooms = sorted({e[2] for e in examples})
    if len(rooms) < 3:
        raise ValueError(f"leave-one-room-out needs >= 3 rooms, the shards hold {len(rooms)}")
    if not 0 <= fold < len(rooms):
        raise ValueError(f"fold={fold} but there are {len(rooms)} rooms (folds 0..{len(rooms) - 1})")
    test_room = rooms[fold]
    others = [r for r in rooms if r != test_room]
    val_room = int(np.random.default_rng(stable_seed(seed, "loro", fold)).choice(others))
    rows: dict[str, list[tuple[int, int]]] = {"train": [], "val": [], "test": []}
    for s, r, room in examples:
        key = "test" if room == test_room else "val" if room == val_room else "train"
        rows[key].append((s, r))
    return rows, {"train_rooms": [r for r in others if r != val_room], "val_room": val_room,
                  "test_room": test_room}


def cosine_factor(epoch: int, n_epochs: int) -> float:
    """Learning-rate factor of epoch ``epoch`` (0-based) of ``n_epochs``.

    ``0.5 (1 + cos(pi * epoch / (n_epochs - 1)))``: 1 at the first epoch, 0 at the last
    (``create_learning_rate_schedule(total_steps=nepoch, decay_type='cosine', warmup_steps=1)``
    of the reference, evaluated at epochs 1..nepoch).
    """
    if n_epochs <= 1:
        return 1.0
    return 0.5 * (1.0 + math.cos(math.pi * min(epoch, n_epochs - 1) / (n_epochs - 1)))


class PretrainModule(L.LightningModule):
    """Cross-channel signal reconstruction (the SAR-SSL pretext) of an :class:`MCConformer`."""

    def __init__(self, model: dict, lr: float = 1e-3, epochs: int = 30, seed: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.net = MCConformer(**model)
        self.seed = seed

    def _masks(self, x: torch.Tensor, *key):
        g = torch.Generator().manual_seed(stable_seed(self.seed, *key))
        fm, ch = random_mask(x.shape[0], x.shape[3], x.shape[1], generator=g)
        return fm.to(x.device), ch.to(x.device)

    def training_step(self, x, batch_idx):
        fm, ch = self._masks(x, "train", self.global_step)
        loss = reconstruction_loss(self.net(x, fm, ch), x, fm, ch)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=x.shape[0])
        return loss

    def validation_step(self, x, batch_idx):
        fm, ch = self._masks(x, "val", batch_idx)  # the same masks every epoch
        loss = reconstruction_loss(self.net(x, fm, ch), x, fm, ch)
        self.log("val_loss", loss, on_epoch=True, prog_bar=True, batch_size=x.shape[0])

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        n = self.hparams.epochs
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: cosine_factor(e, n))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}


class DownstreamModule(L.LightningModule):
    """Regression of one acoustic parameter from the spatial embedding.

    Parameters
    ----------
    model : dict
        :class:`MCConformer` keyword arguments (the pre-training configuration).
    task : str
        Key of :data:`TASKS`.
    mode : str
        ``finetune`` (pre-trained encoder, all trainable), ``lineareval`` (pre-trained encoder
        frozen, only LayerNorm + Linear trained) or ``scratch`` (random initialisation).
    lr : float
        Initial Adam learning rate.
    pretrained : dict, optional
        State dict of the pre-trained :class:`MCConformer` (needed unless ``scratch``).

    Raises
    ------
    ValueError
        If mode or task is unknown, or a pre-trained state is missing/incompatible.
    """

    def __init__(self, model: dict, task: str, mode: str, lr: float = 1e-3,
                 pretrained: dict | None = None):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}; expected one of {sorted(TASKS)}")
        self.save_hyperparameters(ignore=["pretrained"])
        base = MCConformer(**{**model, "decoder": False})
        if mode != "scratch":
            if pretrained is None:
                raise ValueError(f"mode {mode!r} needs pre-trained weights")
            sub = {k[len("spatial_encoder."):]: v for k, v in pretrained.items()
                   if k.startswith("spatial_encoder.")}
            if not sub:
                raise ValueError("pre-trained state has no 'spatial_encoder.*' weights")
            base.spatial_encoder.load_state_dict(sub)
        self.net = DownstreamRegressor(base.spatial_encoder, base.d_spatial)
        if mode == "lineareval":
            for p in self.net.spatial_encoder.parameters():
                p.requires_grad_(False)

    def on_train_epoch_start(self):
        if self.hparams.mode == "lineareval":
            self.net.spatial_encoder.eval()

    def _step(self, batch, name):
        x, y = batch
        pred = self.net(x)
        loss = torch.nn.functional.mse_loss(pred, y)
        mae = (pred - y).abs().mean()
        self.log(f"{name}_loss", loss, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=x.shape[0])
        self.log(f"{name}_mae", mae, on_step=False, on_epoch=True, batch_size=x.shape[0])
        return loss

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        return torch.optim.Adam([p for p in self.parameters() if p.requires_grad],
                                lr=self.hparams.lr)


class SmoothedEarlyStopping(L.Callback):
    """SAR-SSL's downstream stopping rule and best-epoch weight averaging.

    After each validation: ``s = alpha * s + (1 - alpha) * val_loss`` (``Learner.smooth_data``);
    an epoch with ``s`` <= the best so far is the best epoch, otherwise a counter grows; when it
    reaches ``patience`` the learning rate is divided by 10 and the counter reset, up to
    ``n_decays`` times, after which training stops (``run_downstream.py``, ``num_stop_th=1``).
    The weights of every epoch are saved to ``weights_dir/epoch=<n>.pt`` (those that can no
    longer enter an average are deleted) and the ``n_average`` epochs ending at the best epoch
    are averaged (``Learner.ensembling``). The counters are saved in Lightning checkpoints, so a
    resumed run continues the same rule.
    """

    def __init__(self, weights_dir: Path, alpha: float = 0.6, patience: int = 10,
                 n_decays: int = 1, n_average: int = 5, monitor: str = "val_loss"):
        self.weights_dir = Path(weights_dir)
        self.alpha, self.patience, self.n_decays = alpha, patience, n_decays
        self.n_average, self.monitor = n_average, monitor
        self.smooth: float | None = None
        self.best = math.inf
        self.counter = 0
        self.decays = 0
        self.best_epoch = -1
        self.history: list[float] = []
        self.stopped = False

    def _path(self, epoch: int) -> Path:
        return self.weights_dir / f"epoch={epoch}.pt"

    def best_window(self) -> list[int]:
        """Epochs whose weights are averaged: the ``n_average`` ending at the best epoch."""
        return list(range(max(0, self.best_epoch - self.n_average + 1), self.best_epoch + 1))

    def on_validation_epoch_end(self, trainer, pl_module):
        if trainer.sanity_checking:
            return
        val = float(trainer.callback_metrics[self.monitor])
        epoch = trainer.current_epoch
        self.history.append(val)
        self.smooth = val if self.smooth is None else self.alpha * self.smooth + (1 - self.alpha) * val
        self.weights_dir.mkdir(parents=True, exist_ok=True)
        with atomic_path(self._path(epoch)) as tmp:
            torch.save({k: v.detach().cpu() for k, v in pl_module.state_dict().items()}, tmp)
        if self.smooth <= self.best:
            self.best, self.counter, self.best_epoch = self.smooth, 0, epoch
        else:
            self.counter += 1
            if self.counter >= self.patience:
                if self.decays < self.n_decays:
                    self.decays += 1
                    self.counter = 0
                    for opt in trainer.optimizers:
                        for g in opt.param_groups:
                            g["lr"] /= 10.0
                    log.info("epoch %d: smoothed val loss stalled, learning rate / 10", epoch)
                else:
                    self.stopped = True
                    trainer.should_stop = True
        keep = set(self.best_window()) | set(range(epoch - self.n_average + 1, epoch + 1))
        for f in self.weights_dir.glob("epoch=*.pt"):
            if int(f.stem.split("=")[1]) not in keep:
                f.unlink()

    def on_train_start(self, trainer, pl_module):
        if self.stopped:  # a resumed run that had already met the stopping rule
            trainer.should_stop = True

    def averaged_state(self) -> dict:
        """Mean of the best-window weights (integer buffers: the latest value).

        Raises
        ------
        RuntimeError
            If no validation epoch has run.
        FileNotFoundError
            If a weight file of the window is missing.
        """
        if self.best_epoch < 0:
            raise RuntimeError("no validation epoch recorded; cannot average weights")
        states = []
        for e in self.best_window():
            if not self._path(e).is_file():
                raise FileNotFoundError(f"{self._path(e)}: weights of epoch {e} missing")
            states.append(torch.load(self._path(e), map_location="cpu", weights_only=True))
        return average_states(states)

    def state_dict(self) -> dict:
        return {k: getattr(self, k) for k in ("smooth", "best", "counter", "decays",
                                              "best_epoch", "history", "stopped")}

    def load_state_dict(self, state_dict: dict) -> None:
        for k, v in state_dict.items():
            setattr(self, k, v)


class _Throughput(L.Callback):
    """Training examples per second of each epoch (wall clock)."""

    def __init__(self):
        self.rates: list[float] = []
        self._t = 0.0
        self._n = 0

    def on_train_epoch_start(self, trainer, pl_module):
        self._t, self._n = time.perf_counter(), 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._n += (batch[0] if isinstance(batch, (list, tuple)) else batch).shape[0]

    def on_train_epoch_end(self, trainer, pl_module):
        dt = time.perf_counter() - self._t
        if self._n:
            self.rates.append(self._n / dt)


def _loader(ds: Dataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    g = torch.Generator().manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=g, num_workers=0)


def run_pretraining(train: list[Path], val: list[Path], out_dir: Path, *, model: dict,
                    batch_size: int = 128, lr: float = 1e-3, epochs: int = 30,
                    seed: int = 0, fingerprint: str | None = None) -> dict:
    """Pre-train an :class:`MCConformer` on feature shards (:func:`audiopipe.training.engine.fit`).

    Writes ``out_dir/checkpoints/{last,best}.ckpt`` (every epoch) and CSV logs
    (``out_dir/logs``); a rerun resumes exactly from ``last.ckpt``. Returns the best epoch's
    network state and a summary.

    Returns
    -------
    dict
        ``state`` (state dict of the best-validation epoch), ``best_val_loss``, ``best_epoch``,
        ``n_params``, ``examples_per_s`` (per epoch, this run), ``n_train``, ``n_val``,
        ``history`` (per epoch: ``epoch``, ``train_loss``, ``val_loss``), ``resumed`` (how often
        training resumed from a checkpoint).
    """
    tr, va = FeatureShards(train), FeatureShards(val)
    speed = _Throughput()
    res = engine.fit(lambda: PretrainModule(model, lr=lr, epochs=epochs, seed=seed),
                     _loader(tr, batch_size, True, seed), _loader(va, batch_size, False, seed),
                     checkpoint_dir=Path(out_dir) / "checkpoints", max_epochs=epochs, seed=seed,
                     monitor="val_loss", callbacks=[speed], fingerprint=fingerprint)
    best = torch.load(res.best_checkpoint or res.last_checkpoint, map_location="cpu", weights_only=True)
    state = {k[len("net."):]: v for k, v in best["state_dict"].items() if k.startswith("net.")}
    return {
        "state": state,
        "best_val_loss": res.best_score,
        "best_epoch": int(best["epoch"]),
        "n_params": count_parameters(res.module.net),
        "examples_per_s": speed.rates,
        "n_train": len(tr), "n_val": len(va),
        "history": res.history,
        "resumed": res.resumed,
    }


def run_downstream(train_rows: list[tuple[int, int]], train: list[Path], val: list[Path],
                   test: list[Path], out_dir: Path, *, model: dict, task: str, mode: str,
                   pretrained: dict | None, batch_size: int = 8, lr: float = 1e-3,
                   max_epochs: int = 200, patience: int = 10, smooth_alpha: float = 0.6,
                   n_decays: int = 1, n_average: int = 5, seed: int = 0,
                   val_rows: list[tuple[int, int]] | None = None,
                   test_rows: list[tuple[int, int]] | None = None, fingerprint: str | None = None) -> dict:
    """Train and test one downstream setting (:func:`audiopipe.training.engine.fit`).

    Checkpoints go to ``out_dir/checkpoints/last.ckpt`` every epoch (the stopping rule's state
    included), the per-epoch weights to ``out_dir/weights``; a rerun resumes exactly.

    ``train_rows`` (and ``val_rows``/``test_rows`` when given, else every row) select the
    examples of the ``train`` (``val``/``test``) shards.

    Returns
    -------
    dict
        ``mae`` and ``mse`` on the test shards with the averaged weights, ``mae_train_mean``
        (MAE of predicting the mean training label: the floor to beat), ``best_epoch``,
        ``averaged_epochs``, ``epochs_run``, ``val_history``, ``n_trainable``,
        ``examples_per_s``, sizes, ``resumed`` (how often training resumed from a checkpoint).
    """
    tr = FeatureShards(train, task, rows=train_rows)
    va, te = FeatureShards(val, task, rows=val_rows), FeatureShards(test, task, rows=test_rows)
    stopper = SmoothedEarlyStopping(Path(out_dir) / "weights", smooth_alpha, patience, n_decays, n_average)
    speed = _Throughput()
    res = engine.fit(lambda: DownstreamModule(model, task, mode, lr=lr, pretrained=pretrained),
                     _loader(tr, batch_size, True, seed), _loader(va, 64, False, seed),
                     checkpoint_dir=Path(out_dir) / "checkpoints", max_epochs=max_epochs, seed=seed,
                     callbacks=[stopper, speed], fingerprint=fingerprint)
    module = res.module
    module.load_state_dict(stopper.averaged_state())
    module.eval()
    err, sq, n = 0.0, 0.0, 0
    with torch.no_grad():
        for x, y in _loader(te, 64, False, seed):
            p = module.net(x.to(module.device)).cpu()
            err += float((p - y).abs().sum())
            sq += float(((p - y) ** 2).sum())
            n += len(y)
    # the floor a model must beat: predicting the mean training label for every test example
    y_tr = np.array([tr.labels[s][r] for s, r in tr.rows], np.float64)
    y_te = np.array([te.labels[s][r] for s, r in te.rows], np.float64)
    return {
        "mae": err / n, "mse": sq / n, "unit": TASKS[task][1],
        "mae_train_mean": float(np.abs(y_te - y_tr.mean()).mean()),
        "best_epoch": stopper.best_epoch,
        "averaged_epochs": stopper.best_window(),
        "epochs_run": len(stopper.history), "val_history": stopper.history,
        "lr_decays": stopper.decays,
        "n_trainable": sum(p.numel() for p in module.parameters() if p.requires_grad),
        "examples_per_s": speed.rates,
        "n_train": len(tr), "n_val": len(va), "n_test": len(te),
        "resumed": res.resumed,
    }


def average_states(states: list[dict]) -> dict:
    """Element-wise mean of state dicts (integer tensors: taken from the last)."""
    out = {}
    for k, v in states[-1].items():
        out[k] = sum(s[k] for s in states) / len(states) if v.is_floating_point() else v.clone()
    return out
