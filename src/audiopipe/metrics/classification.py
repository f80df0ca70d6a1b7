"""Classification and transcoding metrics (pure: arrays in, numbers out).

Sources: Tailleur et al., DCASE 2023, Sec. 3.3 (Mel MSE, teacher-student BCE on the
classifier's outputs, top-class agreement "PTOPAFC": proportion of clips whose top predicted
class on transcoded Mel equals the top class on the true Mel); Salamon et al. 2014 (UrbanSound8K
accuracy); Cartwright et al. 2019 (SONYC-UST macro-AUPRC, via scikit-learn's average precision).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import average_precision_score


def mel_mse(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean squared error between log-Mel spectrograms of equal shape (dB^2 or log-units^2)."""
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: {tuple(pred.shape)} vs {tuple(target.shape)}")
    return float(torch.mean((pred.double() - target.double()) ** 2))


def logit_bce(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> float:
    """Binary cross-entropy of the student's sigmoid outputs against the teacher's sigmoid outputs."""
    return float(torch.nn.functional.binary_cross_entropy_with_logits(
        student_logits.double(), torch.sigmoid(teacher_logits.double())))


def kl_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> float:
    """Mean over clips of ``KL(softmax(teacher) || softmax(student))`` in nats."""
    lt = torch.log_softmax(teacher_logits.double(), -1)
    ls = torch.log_softmax(student_logits.double(), -1)
    return float(torch.sum(lt.exp() * (lt - ls), -1).mean())


def top_class_agreement(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> float:
    """PTOPAFC: fraction of clips with the same top-1 class for student and teacher."""
    return float((student_logits.argmax(-1) == teacher_logits.argmax(-1)).double().mean())


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy of ``(clips, classes)`` scores against integer labels ``(clips,)``."""
    return float(np.mean(np.asarray(logits).argmax(-1) == np.asarray(labels)))


def macro_auprc(scores: np.ndarray, targets: np.ndarray) -> float:
    """Macro-averaged area under the precision-recall curve (average precision) over the classes
    that have at least one positive clip.

    Raises
    ------
    ValueError
        If no class has a positive clip.
    """
    scores, targets = np.asarray(scores), np.asarray(targets)
    keep = targets.sum(0) > 0
    if not keep.any():
        raise ValueError("macro-AUPRC undefined: no class has a positive clip")
    return float(average_precision_score(targets[:, keep], scores[:, keep], average="macro"))
