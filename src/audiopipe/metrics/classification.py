"""Classification and transcoding metrics (pure: arrays in, numbers out).

Sources: Tailleur et al., DCASE 2023, Sec. 3.3, and its reference code
``modantailleur/paperSpectralTranscoder`` ``exp_train_model/experiment_manager.py``
(``compute_metrics``), whose definitions are followed where the paper leaves details open:

* the classifier outputs compared are its *sigmoid* outputs (PANN's ``clipwise_output``); the
  functions here take logits and apply the sigmoid themselves;
* the metrics are computed per audio *file* (10-s TAU recordings of ten 1-s chunks) and averaged
  over files: Mel MSE and logit BCE average over the file's chunks; KL and PTOPAFC first average
  the sigmoid outputs over the file's chunks. ``groups`` gives the file of each clip; without it
  every clip is its own file (what the transcoder recipe scores);
* ``KL`` is ``torch.nn.KLDivLoss(reduction="batchmean", log_target=True)`` applied to one file's
  output vector, i.e. ``sum_c p_t,c (log(p_t,c + 1e-10) - log(p_s,c + 1e-10)) / C`` with the
  chunk-averaged sigmoid outputs ``p`` (not distributions: it can be negative);
* PTOPAFC is the proportion of files whose top class (argmax of the chunk-averaged outputs) is
  the same for the transcoded and the true Mel.

Also Salamon et al. 2014 (UrbanSound8K accuracy); Cartwright et al. 2019 (SONYC-UST
macro-AUPRC, via scikit-learn's average precision).
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import average_precision_score

#: added inside the logarithms of the reference KL (``epsilon`` of ``compute_metrics``)
KL_EPS = 1e-10


def _group_index(groups, n: int) -> tuple[torch.Tensor, int]:
    """Map clip-wise group labels to 0..G-1 in order of first appearance."""
    if groups is None:
        return torch.arange(n), n
    labels = list(groups)
    if len(labels) != n:
        raise ValueError(f"groups has {len(labels)} entries for {n} clips")
    first: dict = {}
    idx = [first.setdefault(g, len(first)) for g in labels]
    return torch.tensor(idx), len(first)


def _group_mean(x: torch.Tensor, groups) -> torch.Tensor:
    """Mean over the clips of each group along axis 0: ``(clips, ...)`` -> ``(groups, ...)``."""
    idx, g = _group_index(groups, x.shape[0])
    out = torch.zeros((g, *x.shape[1:]), dtype=x.dtype).index_add_(0, idx, x)
    count = torch.zeros(g, dtype=x.dtype).index_add_(0, idx, torch.ones(x.shape[0], dtype=x.dtype))
    return out / count.reshape(-1, *([1] * (x.dim() - 1)))


def mel_mse(pred: torch.Tensor, target: torch.Tensor, groups=None) -> float:
    """Mean squared error between log-Mel spectrograms ``(clips, mels, frames)`` of equal shape.

    Per file (``groups``; default: per clip) the mean over its clips, Mel bands and frames, then
    the mean over files (dB^2 or log-units^2), as ``MSELoss(reduction="none")...mean(dim=(1, 2, 3))``.

    Raises
    ------
    ValueError
        If the shapes differ or ``groups`` does not have one entry per clip.
    """
    if pred.shape != target.shape:
        raise ValueError(f"shape mismatch: {tuple(pred.shape)} vs {tuple(target.shape)}")
    per_clip = ((pred.double() - target.double()) ** 2).reshape(pred.shape[0], -1).mean(-1)
    return float(_group_mean(per_clip, groups).mean())


def logit_bce(student_logits: torch.Tensor, teacher_logits: torch.Tensor, groups=None) -> float:
    """Binary cross-entropy of the student's sigmoid outputs against the teacher's sigmoid outputs.

    ``(clips, classes)`` logits; mean over classes and the clips of a file, then over files. Computed
    from the logits (``binary_cross_entropy_with_logits``), which equals the reference's
    ``BCELoss`` on sigmoid outputs except where a float32 sigmoid saturates to 0 or 1 (there the
    reference clamps ``log`` at -100).
    """
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        student_logits.double(), torch.sigmoid(teacher_logits.double()), reduction="none").mean(-1)
    return float(_group_mean(bce, groups).mean())


def kl_divergence(student_logits: torch.Tensor, teacher_logits: torch.Tensor, groups=None,
                  kind: str = "reference") -> float:
    """Kullback-Leibler divergence of the teacher's outputs from the student's, mean over files.

    Parameters
    ----------
    student_logits, teacher_logits : torch.Tensor
        ``(clips, classes)`` logits.
    groups : sequence, optional
        File of each clip (default: each clip its own file).
    kind : str
        ``"reference"`` (default): the reference code's ``KLDivLoss(reduction="batchmean",
        log_target=True)`` on one file's chunk-averaged *sigmoid* outputs, ``sum_c p_t
        (log(p_t + 1e-10) - log(p_s + 1e-10)) / classes`` (nats per class; may be negative, the
        sigmoid outputs not being distributions). ``"softmax"``: ``KL(softmax(teacher) ||
        softmax(student))`` in nats on the file's mean logits, a true divergence between class
        distributions, which the paper's numbers do not use.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    """
    if kind == "reference":
        ps = _group_mean(torch.sigmoid(student_logits.double()), groups)
        pt = _group_mean(torch.sigmoid(teacher_logits.double()), groups)
        lt, ls = torch.log(pt + KL_EPS), torch.log(ps + KL_EPS)
        return float((torch.sum(lt.exp() * (lt - ls), -1) / pt.shape[-1]).mean())
    if kind == "softmax":
        lt = torch.log_softmax(_group_mean(teacher_logits.double(), groups), -1)
        ls = torch.log_softmax(_group_mean(student_logits.double(), groups), -1)
        return float(torch.sum(lt.exp() * (lt - ls), -1).mean())
    raise ValueError(f"kind must be 'reference' or 'softmax', got {kind!r}")


def top_class_agreement(student_logits: torch.Tensor, teacher_logits: torch.Tensor, groups=None) -> float:
    """PTOPAFC: fraction of files with the same top-1 class for student and teacher.

    The top class of a file is the argmax of its chunk-averaged sigmoid outputs (with one clip per
    file, the argmax of the logits).
    """
    ps = _group_mean(torch.sigmoid(student_logits.double()), groups)
    pt = _group_mean(torch.sigmoid(teacher_logits.double()), groups)
    return float((ps.argmax(-1) == pt.argmax(-1)).double().mean())


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
