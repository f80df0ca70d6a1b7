"""Scale-invariant SDR and utterance-level permutation-invariant training (uPIT).

Pure functions on torch tensors; no I/O.

References
----------
Le Roux, Wisdom, Erdogan, Hershey, "SDR – half-baked or well done?", ICASSP 2019 (SI-SDR, Eq. 4).
Kolbæk, Yu, Tan, Jensen, "Multitalker speech separation with utterance-level permutation
invariant training of deep recurrent neural networks", TASLP 2017 (uPIT).
"""

from __future__ import annotations

import itertools

import torch

EPS = 1e-8


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor, zero_mean: bool = True) -> torch.Tensor:
    """Scale-invariant signal-to-distortion ratio in dB.

    SI-SDR = 10 log10(||α s||² / ||α s − ŝ||²) with α = <ŝ, s> / ||s||² (Le Roux et al. 2019,
    Eq. 4), computed over the last axis.

    Parameters
    ----------
    estimate, reference : torch.Tensor
        Same shape ``(..., samples)``.
    zero_mean : bool
        Remove each signal's mean first, as in the paper.

    Returns
    -------
    torch.Tensor
        Shape ``(...)``, dB.

    Raises
    ------
    ValueError
        If the shapes differ.
    """
    if estimate.shape != reference.shape:
        raise ValueError(f"si_sdr: shapes differ: {tuple(estimate.shape)} vs {tuple(reference.shape)}")
    if zero_mean:
        estimate = estimate - estimate.mean(-1, keepdim=True)
        reference = reference - reference.mean(-1, keepdim=True)
    alpha = (estimate * reference).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + EPS)
    target = alpha * reference
    noise = target - estimate
    return 10 * torch.log10((target.pow(2).sum(-1) + EPS) / (noise.pow(2).sum(-1) + EPS))


def pit_si_sdr_loss(
    estimates: torch.Tensor, references: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Utterance-level PIT over negative SI-SDR.

    For every example the permutation of estimated sources that maximises the mean SI-SDR
    (averaged over sources and channels) over the whole utterance is chosen (uPIT); the loss is
    the batch mean of the negative SI-SDR under that permutation.

    Parameters
    ----------
    estimates, references : torch.Tensor
        ``(batch, sources, channels, samples)`` or ``(batch, sources, samples)``.

    Returns
    -------
    loss : torch.Tensor
        Scalar, dB (negative SI-SDR, lower is better).
    perm : torch.Tensor
        ``(batch, sources)`` int64: ``perm[b, j]`` is the estimate assigned to reference ``j``.
    """
    if estimates.shape != references.shape:
        raise ValueError(
            f"pit_si_sdr_loss: shapes differ: {tuple(estimates.shape)} vs {tuple(references.shape)}"
        )
    n_src = estimates.shape[1]
    # pairwise SI-SDR: (batch, est, ref)
    est, ref = torch.broadcast_tensors(estimates.unsqueeze(2), references.unsqueeze(1))
    pair = si_sdr(est, ref)
    if pair.ndim == 4:  # channels axis
        pair = pair.mean(-1)
    perms = torch.tensor(list(itertools.permutations(range(n_src))), device=estimates.device)
    # score of each permutation: mean over refs j of pair[b, perm[j], j]
    idx_ref = torch.arange(n_src, device=estimates.device)
    scores = pair[:, perms, idx_ref].mean(-1)  # (batch, n_perm)
    best = scores.argmax(-1)
    return -scores.gather(1, best[:, None]).mean(), perms[best]
