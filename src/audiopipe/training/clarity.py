"""Lightning training of Conv-TasNet on cached Clarity crops (uPIT over negative SI-SDR).

The data are the HDF5 shards written by ``audiopipe.recipes.clarity.cache_crops``: ``mixture``
``(n, 2, samples)`` and ``sources`` ``(n, 2, 2, samples)`` (target, interferer; left/right), with
``is_val`` marking crops of the validation scenes.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from audiopipe.metrics.sisdr import pit_si_sdr_loss
from audiopipe.models.conv_tasnet import ConvTasNet
from audiopipe.training import engine

#: gradient-norm clip of Luo & Mesgarani's training setup
CLIP_GRAD_NORM = 5.0


class CropDataset(Dataset):
    """Crops from several HDF5 shards, opened lazily (one handle per worker process).

    Parameters
    ----------
    shards : list of Path
    validation : bool
        Take the crops with ``is_val`` true (else false).
    """

    def __init__(self, shards: list[Path], validation: bool) -> None:
        self.shards = [Path(s) for s in shards]
        self.index: list[tuple[int, int]] = []
        for k, s in enumerate(self.shards):
            with h5py.File(s, "r") as f:
                for key in ("mixture", "sources", "is_val"):
                    if key not in f:
                        raise KeyError(f"{s}: shard lacks dataset {key!r}")
                is_val = f["is_val"][:]
            self.index += [(k, int(i)) for i in np.flatnonzero(is_val == validation)]
        self._files: dict[int, h5py.File] = {}

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        k, j = self.index[i]
        if k not in self._files:
            self._files[k] = h5py.File(self.shards[k], "r")
        f = self._files[k]
        return torch.from_numpy(f["mixture"][j]), torch.from_numpy(f["sources"][j])


class SeparationModule(L.LightningModule):
    """Conv-TasNet trained with utterance-level PIT over negative SI-SDR.

    Parameters
    ----------
    model : dict
        ``ConvTasNet`` keyword arguments (N, L, B, H, P, X, R, norm, causal).
    lr : float
        Adam learning rate.
    clip_grad_norm : float
        Gradient-norm clip (5 in Luo & Mesgarani's training setup), applied by the Trainer.
    """

    def __init__(self, model: dict, lr: float = 1e-3, clip_grad_norm: float = CLIP_GRAD_NORM) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = ConvTasNet(n_src=2, in_channels=2, out_channels=2, **model)
        # which output slot the PIT assignment gave the target, counted on validation crops
        self.register_buffer("slot_counts", torch.zeros(2, dtype=torch.long))

    def forward(self, mixture: torch.Tensor) -> torch.Tensor:
        return self.net(mixture)

    def training_step(self, batch, batch_idx):
        mix, src = batch
        loss, _ = pit_si_sdr_loss(self(mix), src)
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, batch_size=mix.shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._epoch_slots = torch.zeros(2, dtype=torch.long, device=self.device)

    def validation_step(self, batch, batch_idx):
        mix, src = batch
        loss, perm = pit_si_sdr_loss(self(mix), src)
        self._epoch_slots += torch.bincount(perm[:, 0], minlength=2)
        self.log("val_loss", loss, prog_bar=True, on_epoch=True, batch_size=mix.shape[0])
        return loss

    def on_validation_epoch_end(self) -> None:
        self.slot_counts.copy_(self._epoch_slots)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def train_separator(
    shards: list[Path],
    work_dir: Path,
    model: dict,
    lr: float,
    batch_size: int,
    max_epochs: int,
    seed: int,
    num_workers: int = 0,
    limit_train_batches: float = 1.0,
    fingerprint: str | None = None,
) -> tuple[SeparationModule, engine.FitResult]:
    """Train (or resume) a separator with :func:`audiopipe.training.engine.fit`.

    Checkpoints go to ``work_dir/checkpoints`` every epoch (``last.ckpt``, ``best.ckpt`` by
    validation loss), CSV logs to ``work_dir/logs``. When ``last.ckpt`` exists, training resumes
    from it exactly, so a rerun of an interrupted job continues instead of restarting; a checkpoint
    of another ``fingerprint`` (changed code, params or data) is not resumed.

    Returns
    -------
    module : SeparationModule
        The module of the best validation epoch (on CPU, in eval mode).
    result : FitResult
        The engine's result (history, resume count, checkpoint paths).

    Raises
    ------
    ValueError
        If the shards hold no training or no validation crops.
    """
    train_ds, val_ds = CropDataset(shards, False), CropDataset(shards, True)
    if not len(train_ds) or not len(val_ds):
        raise ValueError(f"shards {shards} hold {len(train_ds)} training and {len(val_ds)} validation crops; need both")
    res = engine.fit(
        lambda: SeparationModule(model, lr, CLIP_GRAD_NORM),
        DataLoader(train_ds, batch_size=batch_size, shuffle=True, num_workers=num_workers, drop_last=False),
        DataLoader(val_ds, batch_size=batch_size, num_workers=num_workers),
        checkpoint_dir=Path(work_dir) / "checkpoints", max_epochs=max_epochs, seed=seed, monitor="val_loss",
        gradient_clip_val=CLIP_GRAD_NORM, limit_train_batches=limit_train_batches, log_every_n_steps=5,
        fingerprint=fingerprint,
    )
    module = res.module
    if res.best_checkpoint is not None:
        module = SeparationModule.load_from_checkpoint(res.best_checkpoint, map_location="cpu")
    return module.cpu().eval(), res
