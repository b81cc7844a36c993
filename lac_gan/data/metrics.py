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

from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.data.bp4d import UNKNOWN_LABEL

THRESHOLD = 0.5


def json_safe(scores) -> dict:
    """A score dataclass as a dict for JSON: undefined scores (NaN) become None."""
    return {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in asdict(scores).items()}


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
        return json_safe(self)


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


def constant_answer_scores(labels: np.ndarray) -> dict[str, list[AUScore]]:
    """Per-AU scores of two answers that ignore the face, on the frames of `labels` (int [N, 12] in
    {0, 1, 9}; 9s dropped as in `au_scores`): the floor a detector scored on the same frames must clear.

    "always_present": every frame present; F1 = 2p / (1 + p) for a positive rate p, the best F1 of
    any constant answer. "majority": per AU, the label more frequent among these frames ("absent" on a
    tie); accuracy = max(p, 1 - p), the best accuracy of any constant answer (it knows the test
    labels' rates: a bound, not a detector).
    """
    labels = np.asarray(labels)
    known = labels != UNKNOWN_LABEL
    positive_rate = (labels == 1).sum(axis=0) / np.maximum(known.sum(axis=0), 1)
    majority = np.broadcast_to((positive_rate > 0.5).astype(np.float64), labels.shape)
    none_failed, all_covered = np.zeros(len(labels), bool), np.ones(NUM_AUS, bool)
    return {"always_present": au_scores(labels, np.ones(labels.shape), none_failed, all_covered),
            "majority": au_scores(labels, majority, none_failed, all_covered)}


def scores_by_name(scores: list[AUScore | None]) -> dict[str, dict | None]:
    """{"AU1": {...}, ...} for JSON output."""
    return {name: None if s is None else s.to_dict() for name, s in zip(AU_NAMES, scores)}


def changed_labels(target_labels: np.ndarray, source_labels: np.ndarray) -> np.ndarray:
    """Where an edit changes a label: source and target both known (not 9) and different (any shape)."""
    target_labels, source_labels = np.asarray(target_labels), np.asarray(source_labels)
    return (target_labels != UNKNOWN_LABEL) & (source_labels != UNKNOWN_LABEL) & (target_labels != source_labels)


def balanced_accuracy(labels: np.ndarray, predicted: np.ndarray) -> float | None:
    """The mean of the rates on positive and on negative labels (0/1, 1-D), so that a constant answer
    scores 0.5 whatever the AU's rate; None when the labels hold no positive or no negative, where
    it is undefined (a constant answer would score 0 or 1, not 0.5)."""
    labels, predicted = np.asarray(labels).astype(bool), np.asarray(predicted).astype(bool)
    if labels.all() or not labels.any():
        return None
    return float((np.mean(predicted[labels]) + np.mean(~predicted[~labels])) / 2)


@dataclass(frozen=True)
class EditSuccess:
    """One AU's edit success (Table 1's control), over the pairs whose source and target labels are
    both known and differ in that AU and whose synthetic face the detector analysed.

    rate: % of those pairs where the detector's output on the synthetic face matches the target
    label; to_present / to_absent: the same, split by the target state; source_rate: % where the
    detector's output on the unedited source already matches the target (over those pairs whose
    source it analysed): what an identity generator would score. NaN where there is no pair.
    """
    rate: float
    pairs: int
    successes: int
    to_present_rate: float
    to_present_pairs: int
    to_absent_rate: float
    to_absent_pairs: int
    source_rate: float
    source_pairs: int

    def to_dict(self) -> dict:
        return json_safe(self)


def _percent(hits: np.ndarray) -> float:
    return 100.0 * float(np.mean(hits)) if hits.size else float("nan")


def edit_success(target_labels: np.ndarray, source_labels: np.ndarray, synthetic_occurrence: np.ndarray,
                 synthetic_failed: np.ndarray, covered: np.ndarray,
                 source_occurrence: np.ndarray | None = None,
                 source_failed: np.ndarray | None = None) -> list[EditSuccess | None]:
    """Per-AU edit success of N pairs: None for the AUs the detector does not output.

    target_labels, source_labels int [N, 12] in {0, 1, 9} (the real frame's and the source frame's);
    synthetic_occurrence float [N, 12] and synthetic_failed bool [N]: the detector on the synthetic
    faces; source_occurrence / source_failed: the same on the unedited sources (for `source_rate`).
    """
    target_labels, source_labels = np.asarray(target_labels), np.asarray(source_labels)
    synthetic_occurrence = np.asarray(synthetic_occurrence, dtype=np.float64)
    if not (target_labels.shape == source_labels.shape == synthetic_occurrence.shape) \
            or target_labels.shape[1:] != (NUM_AUS,):
        raise ValueError(f"labels {target_labels.shape}, {source_labels.shape} and occurrence "
                         f"{synthetic_occurrence.shape} must all be [N, {NUM_AUS}]")
    analysed = ~np.asarray(synthetic_failed, dtype=bool)
    results: list[EditSuccess | None] = []
    for j in range(NUM_AUS):
        if not covered[j]:
            results.append(None)
            continue
        target = target_labels[:, j]
        differ = changed_labels(target, source_labels[:, j])
        keep = differ & analysed
        hit = (synthetic_occurrence[:, j] >= THRESHOLD) == (target == 1)
        present, absent = keep & (target == 1), keep & (target == 0)
        if source_occurrence is None:
            source_hits = np.empty(0, bool)
        else:
            source_keep = differ & ~np.asarray(source_failed, dtype=bool)
            source_hits = ((np.asarray(source_occurrence, np.float64)[:, j] >= THRESHOLD)
                           == (target == 1))[source_keep]
        results.append(EditSuccess(_percent(hit[keep]), int(keep.sum()), int(hit[keep].sum()),
                                   _percent(hit[present]), int(present.sum()),
                                   _percent(hit[absent]), int(absent.sum()),
                                   _percent(source_hits), int(source_hits.size)))
    return results


def edit_success_by_name(values: list[EditSuccess | None]) -> dict[str, dict | None]:
    """{"AU1": {...}, ...} for JSON output."""
    return {name: None if v is None else v.to_dict() for name, v in zip(AU_NAMES, values)}
