"""JAA-Net's AU detection metrics (`util.py` there): per-AU F1 of the positive class and accuracy.

Per AU, frames whose label is 9 (not coded) are dropped, and so are frames the detector failed on
(a failure is never read as "AU absent"). Predictions are occurrence probabilities or 0/1 values,
thresholded at 0.5 like JAA-Net.

Zero division: when an AU has no positive label and no positive prediction among its kept frames,
F1 is 0, as in JAA-Net (scikit-learn's `f1_score` default, which JAA-Net calls). The per-AU counts
are reported beside every score so such cases are visible. When an AU keeps no frame at all, both
scores are undefined (NaN) and the table shows '-'.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lac_gan.au_table import AU_NAMES, NUM_AUS
from lac_gan.bp4d import UNKNOWN_LABEL

THRESHOLD = 0.5


@dataclass(frozen=True)
class AUScore:
    """F1 and accuracy in % of one AU, with the counts they come from."""
    f1: float
    accuracy: float
    frames: int
    true_positives: int
    false_positives: int
    false_negatives: int
    positives: int

    def to_dict(self) -> dict:
        """For JSON: undefined scores (NaN) become None."""
        return {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in asdict(self).items()}


def binary_scores(labels: np.ndarray, predicted: np.ndarray) -> AUScore:
    """F1 (positive class) and accuracy in % of 0/1 `predicted` against 0/1 `labels` (1-D)."""
    labels = np.asarray(labels).astype(bool)
    predicted = np.asarray(predicted).astype(bool)
    tp = int(np.sum(labels & predicted))
    fp = int(np.sum(~labels & predicted))
    fn = int(np.sum(labels & ~predicted))
    frames = int(labels.size)
    if frames == 0:
        return AUScore(float("nan"), float("nan"), 0, 0, 0, 0, 0)
    f1 = 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
    accuracy = float(np.mean(labels == predicted))
    return AUScore(100.0 * f1, 100.0 * accuracy, frames, tp, fp, fn, int(labels.sum()))


def au_scores(labels: np.ndarray, occurrence: np.ndarray, failed: np.ndarray,
              covered: np.ndarray) -> list[AUScore | None]:
    """Per-AU scores of one set: None for the AUs the detector does not output.

    labels int [N, 12] in {0, 1, 9}; occurrence float [N, 12] (NaN where there is no output);
    failed bool [N], the frames the detector could not analyse; covered bool [12].
    """
    labels = np.asarray(labels)
    occurrence = np.asarray(occurrence, dtype=np.float64)
    if labels.shape != occurrence.shape or labels.shape[1:] != (NUM_AUS,):
        raise ValueError(f"labels {labels.shape} and occurrence {occurrence.shape} must both be [N, {NUM_AUS}]")
    analysed = ~np.asarray(failed, dtype=bool)
    scores: list[AUScore | None] = []
    for j in range(NUM_AUS):
        if not covered[j]:
            scores.append(None)
            continue
        keep = analysed & (labels[:, j] != UNKNOWN_LABEL)
        scores.append(binary_scores(labels[keep, j] == 1, occurrence[keep, j] >= THRESHOLD))
    return scores


def scores_by_name(scores: list[AUScore | None]) -> dict[str, dict | None]:
    """{"AU1": {...}, ...} for JSON output."""
    return {name: None if s is None else s.to_dict() for name, s in zip(AU_NAMES, scores)}
