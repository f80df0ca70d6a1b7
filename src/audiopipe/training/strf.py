"""Lightning modules of the learnable-STRF recipe: speech activity detection and urban sound
classification with an STRF (or plain conv) front end on log-Mel."""

from __future__ import annotations

import lightning as L
import torch

from audiopipe.models.strf import SpeechActivityNet, UrbanSTRFNet


class SADModule(L.LightningModule):
    """Frame-level speech activity: batches ``(log-Mel (b, 64, frames), labels (b, frames))``, BCE."""

    def __init__(self, frontend: str, channels: int, kernel: list[int], hidden: int, grid: str,
                 lr: float = 3e-3, seed: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.net = SpeechActivityNet(frontend, 64, channels, tuple(kernel), hidden, grid, seed)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel)

    def training_step(self, batch, _):
        mel, y = batch
        loss = torch.nn.functional.binary_cross_entropy_with_logits(self(mel), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class UrbanModule(L.LightningModule):
    """Clip classification: batches ``(log-Mel (b, 64, frames), targets (b, classes))``, multi-label BCE."""

    def __init__(self, frontend: str, classes: int, channels: int, kernel: list[int], width: int,
                 blocks: int, grid: str, lr: float = 3e-3, seed: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.net = UrbanSTRFNet(frontend, classes, channels, tuple(kernel), width, blocks, grid, seed)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel)

    def training_step(self, batch, _):
        mel, y = batch
        loss = torch.nn.functional.binary_cross_entropy_with_logits(self(mel), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
