"""Lightning modules of the Spectral Transcoder recipe, and the shared fit helper.

* :class:`ClassifierModule`: multi-label classifier on true log-Mel (BCE). Used to train the demo
  *teacher* when no pretrained PANN / YAMNet weights are given.
* :class:`TranscoderModule`: CNN transcoder trained on Mel MSE (``target="mel"``) or on the frozen
  classifier's outputs (``target="logits"``: BCE between the classifier's sigmoid outputs on the
  transcoded and on the true Mel, the paper's teacher-student training).
* :func:`fit`: training without validation through the engine (:mod:`audiopipe.training.engine`):
  a checkpoint every epoch, exact resume from ``last.ckpt`` when rerun, CSV logs, epoch log lines.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from audiopipe.features.mel import get_config
from audiopipe.models.classifiers import adapt_state_dict, build_classifier
from audiopipe.models.transcoder import build_transcoder
from audiopipe.training import engine
from audiopipe.training.common import BCEClassifierTraining


class ClassifierModule(BCEClassifierTraining):
    """Multi-label log-Mel classifier: batches ``(mel (b, mels, frames), targets (b, classes))``."""

    def __init__(self, kind: str, classes: int, width: float, lr: float = 1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.classifier = build_classifier(kind, classes, width)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.classifier(mel)


class TranscoderModule(L.LightningModule):
    """Transcoder training: batches ``(third_octave (b, 29, t), true log-Mel (b, mels, frames))``.

    Parameters
    ----------
    kind : str
        ``"cnn_pinv"`` (``"pinv"`` has nothing to train).
    classifier : str
        ``"PANN"`` or ``"YAMNet"`` (selects the Mel target).
    target : str
        ``"mel"`` (MSE) or ``"logits"`` (teacher-student BCE; needs ``teacher``).
    teacher : torch.nn.Module, optional
        Frozen classifier for ``target="logits"``.
    """

    def __init__(self, kind: str, classifier: str, target: str, cnn: dict, lr: float = 1e-3,
                 teacher: torch.nn.Module | None = None):
        super().__init__()
        if target not in ("mel", "logits"):
            raise ValueError(f"target must be 'mel' or 'logits', got {target!r}")
        if target == "logits" and teacher is None:
            raise ValueError("target='logits' needs the classifier (teacher)")
        self.save_hyperparameters(ignore=["teacher"])
        cfg = get_config(classifier)
        self.transcoder = build_transcoder(kind, cfg, **({k: (tuple(v) if isinstance(v, list) else v)
                                                         for k, v in cnn.items()} if kind == "cnn_pinv" else {}))
        self.teacher = teacher
        if teacher is not None:
            teacher.eval()
            for p in teacher.parameters():
                p.requires_grad_(False)

    def forward(self, tho: torch.Tensor) -> torch.Tensor:
        return self.transcoder(tho)

    def training_step(self, batch, _):
        tho, mel = batch
        est = self(tho)
        if self.hparams.target == "mel":
            loss = torch.nn.functional.mse_loss(est, mel)
        else:
            self.teacher.eval()
            with torch.no_grad():
                ref = torch.sigmoid(self.teacher(mel))
            loss = torch.nn.functional.binary_cross_entropy_with_logits(self.teacher(est), ref)
        self.log("train_loss", loss, prog_bar=True, on_epoch=True, batch_size=tho.shape[0])
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.transcoder.parameters(), lr=self.hparams.lr)


def seed_all(seed: int) -> None:
    """Seed Python, numpy and torch before a model is built (its initialisation draws from torch)."""
    L.seed_everything(seed, workers=True, verbose=False)


def loader(*arrays, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """In-memory ``DataLoader`` over float32 tensors, with a seeded shuffle."""
    ds = TensorDataset(*(torch.as_tensor(a, dtype=torch.float32) for a in arrays))
    return DataLoader(ds, batch_size=batch_size, shuffle=shuffle, generator=torch.Generator().manual_seed(seed))


def fit(module: L.LightningModule, train: DataLoader, output_dir: Path, epochs: int, seed: int,
        fingerprint: str | None = None) -> engine.FitResult:
    """Train ``module`` for ``epochs`` with :func:`audiopipe.training.engine.fit` (no validation).

    Checkpoints go to ``output_dir/last.ckpt`` every epoch, CSV logs to ``output_dir/../logs``;
    a rerun resumes exactly from ``last.ckpt`` (a finished run returns at once), unless it has
    another ``fingerprint`` (changed code, params or data). Seed and build
    the module first (:func:`seed_all`): the engine seeds again with ``seed`` before training.

    Returns
    -------
    FitResult
        ``module`` is the trained ``module``; ``resumed`` counts the resumes.
    """
    return engine.fit(module, train, checkpoint_dir=Path(output_dir), max_epochs=epochs, seed=seed,
                      log_every_n_steps=1, fingerprint=fingerprint)


def load_pretrained_classifier(kind: str, weights: Path, classes: int, width: float) -> torch.nn.Module:
    """Build a classifier and load user-given pretrained weights (PANN ``.pth``, state dict, or
    Lightning checkpoint).

    Raises
    ------
    FileNotFoundError
        If ``weights`` does not exist; RuntimeError (from ``load_state_dict``, message prefixed with
        the file name) if the tensors do not fit the architecture.
    """
    weights = Path(weights)
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: classifier weights not found")
    model = build_classifier(kind, classes, width)
    try:
        model.load_state_dict(adapt_state_dict(torch.load(weights, map_location="cpu", weights_only=False)))
    except RuntimeError as e:
        raise RuntimeError(f"{weights}: does not fit {kind}(classes={classes}, width={width}): {e}") from e
    return model.eval()
