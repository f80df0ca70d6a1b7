"""Training of SFI / plain Conv-TasNet on MUSDB18-HQ HDF5 shards (PyTorch Lightning).

Loss: negative SI-SDR averaged over the 4 sources and the channels, sources in a fixed order (no
permutation: the outputs are named stems), as in the paper and
the reference ``configs/model/*.yaml`` (``loss_criterion: sisdr``). Training examples are random
segments of the training shard (segment ``i`` of an epoch drawn from ``(seed, i)``: the same seed
gives the same batches, and every epoch sees the same segments); validation uses fixed segments of
the validation shard.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from audiopipe.io import atomic_path
from audiopipe.metrics.sisdr import si_sdr
from audiopipe.models.sfi_convtasnet import build_model
from audiopipe.training import engine


def _load_shard(path: Path) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    with h5py.File(path, "r") as h5:
        fs = int(h5.attrs["sampling_rate"])
        tracks = [(h5[k]["mixture"][()], h5[k]["sources"][()]) for k in sorted(h5.keys())]
    if not tracks:
        raise ValueError(f"{path}: shard holds no tracks")
    return tracks, fs


class RandomSegments(Dataset):
    """``n`` random segments of ``seg`` samples: item -> (mixture (C, T), sources (4, C, T)).

    Segment ``i`` is drawn with ``numpy.random.default_rng((seed, i))``: deterministic and
    independent of worker scheduling. Tracks shorter than ``seg`` are zero-padded.
    """

    def __init__(self, tracks, seg: int, n: int, seed: int) -> None:
        self.tracks, self.seg, self.n, self.seed = tracks, int(seg), int(n), int(seed)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        rng = np.random.default_rng((self.seed, int(i)))
        mix, src = self.tracks[int(rng.integers(len(self.tracks)))]
        n = mix.shape[-1]
        a = int(rng.integers(0, max(1, n - self.seg + 1)))
        m, s = mix[:, a:a + self.seg], src[..., a:a + self.seg]
        if m.shape[-1] < self.seg:
            pad = self.seg - m.shape[-1]
            m, s = np.pad(m, ((0, 0), (0, pad))), np.pad(s, ((0, 0), (0, 0), (0, pad)))
        return torch.from_numpy(np.ascontiguousarray(m)), torch.from_numpy(np.ascontiguousarray(s))


class SeparationModule(L.LightningModule):
    """Lightning wrapper: ``model(mixture, fs)`` trained with negative SI-SDR.

    Parameters
    ----------
    kind : {"sfi", "plain"}
    model_config : dict
        Keyword arguments of the model class.
    sampling_rate : int
        Training rate (Hz).
    lr : float
        Adam learning rate.
    weight_decay : float
        Adam weight decay (reference: 5e-4).
    """

    def __init__(self, kind: str, model_config: dict, sampling_rate: int, lr: float = 1e-3,
                 weight_decay: float = 0.0) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.model = build_model(kind, model_config)
        self.fs = int(sampling_rate)

    def _loss(self, batch) -> torch.Tensor:
        mix, src = batch
        est = self.model(mix, self.fs)
        return -si_sdr(est, src).mean()

    def training_step(self, batch, batch_idx):
        loss = self._loss(batch)
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, on_step=False)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("valid_loss", self._loss(batch), prog_bar=True, on_epoch=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr,
                                weight_decay=self.hparams.weight_decay)


def train_separator(train_shard: Path, valid_shard: Path, out_dir: Path, kind: str,
                    model_config: dict, segment_seconds: float, batch_size: int, epochs: int,
                    steps_per_epoch: int, valid_segments: int, lr: float, weight_decay: float,
                    grad_clip: float, seed: int, fingerprint: str | None = None) -> Path:
    """Train one model with :func:`audiopipe.training.engine.fit`; write ``out_dir/model.pt``.

    ``model.pt`` holds the state dict, the configuration, the epochs trained and ``resumed`` (how
    often training resumed from a checkpoint). Checkpoints go to ``out_dir/checkpoints`` every
    epoch (``epoch<NNN>.ckpt`` and ``last.ckpt``), CSV logs to ``out_dir/logs``; a rerun resumes
    exactly from ``last.ckpt`` (unless it has another ``fingerprint``: changed code, params or data).

    Returns
    -------
    Path
        ``out_dir/model.pt``.

    Raises
    ------
    ValueError
        If the two shards have different rates or a shard is empty.
    """
    out_dir = Path(out_dir)
    tr, fs = _load_shard(train_shard)
    va, fs_v = _load_shard(valid_shard)
    if fs != fs_v:
        raise ValueError(f"{train_shard} is at {fs} Hz but {valid_shard} at {fs_v} Hz")
    seg = int(round(segment_seconds * fs))
    train_dl = DataLoader(RandomSegments(tr, seg, steps_per_epoch * batch_size, seed),
                          batch_size=batch_size, shuffle=False)
    valid_dl = DataLoader(RandomSegments(va, seg, valid_segments, seed + 1), batch_size=batch_size)
    res = engine.fit(
        lambda: SeparationModule(kind, model_config, fs, lr=lr, weight_decay=weight_decay), train_dl, valid_dl,
        checkpoint_dir=out_dir / "checkpoints", max_epochs=epochs, seed=seed, keep_epoch_checkpoints=True,
        gradient_clip_val=grad_clip or None, log_every_n_steps=1, fingerprint=fingerprint,
    )
    out = out_dir / "model.pt"
    with atomic_path(out) as tmp:
        torch.save({"kind": kind, "config": model_config, "sampling_rate": fs,
                    "state_dict": res.module.model.state_dict(),
                    "epochs": res.epochs, "resumed": res.resumed}, tmp)
    return out
