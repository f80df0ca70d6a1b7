"""Speech activity detection error rate, through ``pyannote.metrics``.

``DetectionErrorRate = (false alarm + missed detection) / total reference speech`` (pyannote.metrics
``detection.DetectionErrorRate``, collar 0, overlap not skipped), as the learnable-STRF paper
(Riad et al., JASA 2021, Sec. IV) scores speech activity detection.
"""

from __future__ import annotations

import numpy as np
from pyannote.core import Annotation, Segment, Timeline
from pyannote.metrics.detection import DetectionErrorRate


def frames_to_regions(active: np.ndarray, hop_s: float, offset_s: float = 0.0) -> list[tuple[float, float]]:
    """Runs of true frames -> ``(start s, end s)`` regions (frame ``i`` covers ``[i, i+1) * hop``)."""
    a = np.concatenate([[0], np.asarray(active, dtype=np.int8), [0]])
    d = np.diff(a)
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return [(float(offset_s + s * hop_s), float(offset_s + e * hop_s)) for s, e in zip(starts, ends)]


def regions_to_frames(regions: list, n_frames: int, hop_s: float) -> np.ndarray:
    """Speech regions ``[(start, end), ...]`` in s -> 0/1 labels of frames centred at ``(i + 0.5) hop``."""
    centres = (np.arange(n_frames) + 0.5) * hop_s
    y = np.zeros(n_frames, dtype=np.float32)
    for s, e in regions:
        y[(centres >= s) & (centres < e)] = 1.0
    return y


def _annotation(regions: list, uri: str) -> Annotation:
    ann = Annotation(uri=uri)
    for s, e in regions:
        if e > s:
            ann[Segment(float(s), float(e))] = "speech"
    return ann


def detection_error_rate(reference: list, hypothesis: list, annotated: list | None = None,
                         uri: str = "file") -> dict[str, float]:
    """Detection error rate of hypothesis speech regions against reference regions (s).

    Returns
    -------
    dict
        ``der``, ``false_alarm`` and ``miss`` (both in s), ``total`` reference speech (s).
    """
    metric = DetectionErrorRate(collar=0.0, skip_overlap=False)
    uem = Timeline([Segment(float(s), float(e)) for s, e in annotated], uri=uri) if annotated else None
    comp = metric(_annotation(reference, uri), _annotation(hypothesis, uri), uem=uem, detailed=True)
    return {"der": float(comp["detection error rate"]), "false_alarm": float(comp["false alarm"]),
            "miss": float(comp["miss"]), "total": float(comp["total"])}
