"""Lightning modules of the learnable-STRF recipe: speech activity detection and urban sound
classification with an STRF (or plain conv) front end on log-Mel."""

from __future__ import annotations

import torch

from audiopipe.models.strf import SpeechActivityNet, UrbanSTRFNet
from audiopipe.training.common import BCEClassifierTraining


class SADModule(BCEClassifierTraining):
    """Frame-level speech activity: batches ``(log-Mel (b, 64, frames), labels (b, frames))``, BCE."""

    def __init__(self, frontend: str, channels: int, kernel: list[int], hidden: int, grid: str,
                 lr: float = 3e-3, seed: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.net = SpeechActivityNet(frontend, 64, channels, tuple(kernel), hidden, grid, seed)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel)


class UrbanModule(BCEClassifierTraining):
    """Clip classification: batches ``(log-Mel (b, 64, frames), targets (b, classes))``, multi-label BCE."""

    def __init__(self, frontend: str, classes: int, channels: int, kernel: list[int], width: int,
                 blocks: int, grid: str, lr: float = 3e-3, seed: int = 0):
        super().__init__()
        self.save_hyperparameters()
        self.net = UrbanSTRFNet(frontend, classes, channels, tuple(kernel), width, blocks, grid, seed)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.net(mel)
