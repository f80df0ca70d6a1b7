"""A small regression task on a real recording, for the engine's own tests.

Input: 32-sample frames of a CMU ARCTIC utterance (16 kHz, shared fixtures); target: the log
energy of the next frame. The module has dropout (draws from the global torch generator), an
Adam optimizer and a per-epoch learning-rate schedule, so an inexact resume shows in its weights.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from audiopipe.io import read_audio

SPEECH = "speech/cmu_arctic/cmu_arctic_us_aew_a0001.wav"


def toy_arrays(fixtures: Path, n: int = 128, frame: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """``(n, frame)`` frames of real speech and ``(n, 1)`` log energies of the following frames."""
    x, _ = read_audio(Path(fixtures) / SPEECH, sampling_rate=16000)
    x = x[0].astype(np.float32)
    start = int(np.argmax(np.abs(x) > 0.05 * np.abs(x).max()))  # skip the leading silence
    frames = x[start:start + (n + 1) * frame].reshape(n + 1, frame)
    energy = np.log((frames.astype(np.float64) ** 2).mean(1) + 1e-8).astype(np.float32)
    return frames[:n] / np.abs(frames).max(), energy[1:, None]


def toy_loaders(fixtures: Path, batch_size: int = 16, generator: bool = False) -> tuple[DataLoader, DataLoader]:
    """Train loader (shuffled: from the global torch generator, or its own when ``generator``)
    and validation loader (the last quarter of the frames)."""
    x, y = (torch.from_numpy(a) for a in toy_arrays(fixtures))
    k = 3 * len(x) // 4
    g = torch.Generator().manual_seed(7) if generator else None
    train = DataLoader(TensorDataset(x[:k], y[:k]), batch_size=batch_size, shuffle=True, generator=g)
    return train, DataLoader(TensorDataset(x[k:], y[k:]), batch_size=batch_size)


class ToyModule(L.LightningModule):
    """Linear - ReLU - dropout - linear; MSE; Adam with a learning rate halved every epoch."""

    def __init__(self, frame: int = 32, hidden: int = 16, lr: float = 1e-2):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(frame, hidden), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                       torch.nn.Linear(hidden, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5 ** e)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "epoch"}}
