"""JAA-Net's losses (ECCV 2018 Eq. 1-4, as PyTorch-JAANet's `train_JAAv1.py` computes them), each a
pure function of tensors, with BP4D's unknown labels (9) masked.

- AU detection: weighted multi-label softmax (per AU, the mean negative log-likelihood of its
  label) + weighted Dice (per AU, 1 - (2 sum p*y + s) / (sum p^2 + sum y^2 + s) over the batch);
  each AU's term is multiplied by its weight w_i and the 12 terms are averaged.
- Face alignment: per frame sum of squared landmark errors / (2 d^2), d = distance between the
  two eye centres of the true landmarks; averaged over the frames that have landmarks.
- Attention refinement: per AU, binary cross-entropy between the refined map and the initial map
  (nearest-neighbour resized to the refined map's size), averaged over pixels and frames, summed
  over AUs.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from lac_gan.data.alignment import EYE_IMAGE_LEFT_49, EYE_IMAGE_RIGHT_49

# PyTorch's BCELoss clamps each log at -100.
LOG_FLOOR = -100.0


def _masked_mean(values: tf.Tensor, mask: tf.Tensor, axis: int) -> tf.Tensor:
    """Mean of `values` where `mask` (0/1 float) along `axis`; 0 where the mask is all zero."""
    return tf.reduce_sum(values * mask, axis=axis) / tf.maximum(tf.reduce_sum(mask, axis=axis), 1.0)


def au_softmax_loss(au_log_probs: tf.Tensor, labels: tf.Tensor, known: tf.Tensor, au_weights: tf.Tensor) -> tf.Tensor:
    """au_log_probs [B, 2, 12], labels int [B, 12] (0/1/9), known bool [B, 12], au_weights [12] -> scalar."""
    present = tf.cast(tf.equal(labels, 1), au_log_probs.dtype)
    log_likelihood = present * au_log_probs[:, 1, :] + (1.0 - present) * au_log_probs[:, 0, :]
    per_au = _masked_mean(-log_likelihood, tf.cast(known, au_log_probs.dtype), axis=0)
    return tf.reduce_mean(per_au * au_weights)


def au_dice_loss(au_log_probs: tf.Tensor, labels: tf.Tensor, known: tf.Tensor, au_weights: tf.Tensor,
                 smooth: float = 1.0) -> tf.Tensor:
    """Weighted soft Dice of the 'present' probabilities over the batch's known labels -> scalar.

    An AU with no known label in the batch contributes 0 (the ratio is smooth / smooth)."""
    mask = tf.cast(known, au_log_probs.dtype)
    probability = tf.exp(au_log_probs[:, 1, :]) * mask
    target = tf.cast(tf.equal(labels, 1), au_log_probs.dtype) * mask
    intersection = tf.reduce_sum(probability * target, axis=0)
    ratio = (2.0 * intersection + smooth) / (tf.reduce_sum(probability ** 2, axis=0)
                                             + tf.reduce_sum(target ** 2, axis=0) + smooth)
    return tf.reduce_mean((1.0 - ratio) * au_weights)


def interocular_squared(landmarks: tf.Tensor) -> tf.Tensor:
    """[B, 98] -> [B]: squared distance between the means of the two eyes' 6 points."""
    points = tf.reshape(landmarks, [-1, 49, 2])
    left = tf.reduce_mean(points[:, EYE_IMAGE_LEFT_49], axis=1)
    right = tf.reduce_mean(points[:, EYE_IMAGE_RIGHT_49], axis=1)
    return tf.reduce_sum((left - right) ** 2, axis=-1)


def landmark_loss(predicted: tf.Tensor, target: tf.Tensor, has_landmarks: tf.Tensor) -> tf.Tensor:
    """predicted, target [B, 98]; has_landmarks bool [B] -> scalar (0 when no frame has landmarks).

    Frames without landmarks (their stored points are zeros) are left out, never trained on."""
    mask = tf.cast(has_landmarks, predicted.dtype)
    scale = tf.where(has_landmarks, 2.0 * interocular_squared(target), 1.0)
    per_frame = tf.reduce_sum((predicted - target) ** 2, axis=-1) / scale
    return _masked_mean(per_frame, mask, axis=0)


def nearest_resize(maps: tf.Tensor, size: int) -> tf.Tensor:
    """[B, H, W, C] -> [B, size, size, C], source index floor(i * H / size) (PyTorch's 'nearest')."""
    rows = np.floor(np.arange(size) * maps.shape[1] / size).astype(np.int32)
    cols = np.floor(np.arange(size) * maps.shape[2] / size).astype(np.int32)
    return tf.gather(tf.gather(maps, rows, axis=1), cols, axis=2)


def attention_refine_loss(refined: tf.Tensor, initial: tf.Tensor) -> tf.Tensor:
    """refined [B, S, S, 12] in (0, 1), initial [B, S', S', 12] in [0, 1] -> scalar."""
    target = nearest_resize(initial, refined.shape[1])
    log_p = tf.maximum(tf.math.log(refined), LOG_FLOOR)
    log_not_p = tf.maximum(tf.math.log(1.0 - refined), LOG_FLOOR)
    cross_entropy = -(target * log_p + (1.0 - target) * log_not_p)
    return tf.reduce_sum(tf.reduce_mean(cross_entropy, axis=[0, 1, 2]))


def au_weights_from_counts(positives: np.ndarray, known: np.ndarray) -> np.ndarray:
    """JAA-Net's w_i from the training set: w_i proportional to 1 / (AU i's occurrence rate), scaled
    so that they sum to the number of AUs that have labels.

    An AU with no known label gets weight 0 (nothing to learn from); one that is never present
    counts as if one frame were (rate 1 / known), so that its weight stays finite."""
    positives = np.asarray(positives, dtype=np.float64)
    known = np.asarray(known, dtype=np.float64)
    labelled = known > 0
    rate = np.where(labelled, np.maximum(positives, 1.0) / np.maximum(known, 1.0), np.inf)
    inverse = np.where(labelled, 1.0 / rate, 0.0)
    if not labelled.any():
        return inverse
    return inverse / inverse.sum() * labelled.sum()
