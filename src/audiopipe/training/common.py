"""Training pieces shared by several recipes."""

from __future__ import annotations

import lightning as L
import torch


class BCEClassifierTraining(L.LightningModule):
    """Training loop of a multi-label / frame-wise classifier: binary cross-entropy on logits, Adam.

    Subclasses build the network in ``__init__`` (after ``save_hyperparameters()`` with an ``lr``)
    and define ``forward``; batches are ``(features, targets)`` with targets in [0, 1] of the
    logits' shape.
    """

    def training_step(self, batch, _):
        x, y = batch
        loss = torch.nn.functional.binary_cross_entropy_with_logits(self(x), y)
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, batch_size=x.shape[0])
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)
