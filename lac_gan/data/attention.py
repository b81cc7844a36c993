"""AU ROI localisation: AU centres, attention maps, and the paper's Eq. 1 and Eq. 2.

This is the one module that knows the centre rules' geometry and the attention-map formula. The
converter precomputes maps with it, the model composes with it, the face editor builds maps for a
new photo with it.

Maps follow JAA-Net's `generate_map` (`../shared/spec/au_centres.md`): around each of an AU's two
centres, inside a square of half side round((S - 1) / 2 * r), the value is
1 - (|drow| + |dcol|) * c / (S * r) (a Manhattan-distance diamond peaking at 1), the two blobs are
merged by maximum, and everything outside the squares is 0.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.au_table import ACTION_UNITS, NUM_AUS, RULER_LANDMARKS

# JAA-Net's constants: fraction of the map covered by one AU square, and how fast the value falls.
SPATIAL_RATIO = 0.14
FILL_COEFFICIENT = 0.56


def au_centres(landmarks49: np.ndarray) -> np.ndarray:
    """AU centres [12, 2 centres, (x, y)] from 49 landmarks [49, (x, y)] by the JAA-Net rules."""
    points = np.asarray(landmarks49, dtype=np.float64)
    if points.shape != (49, 2):
        raise ValueError(f"expected 49 landmarks of shape (49, 2), got {points.shape}")
    ruler = abs(points[RULER_LANDMARKS[0], 0] - points[RULER_LANDMARKS[1], 0])
    centres = np.empty((NUM_AUS, 2, 2), dtype=np.float32)
    for i, au in enumerate(ACTION_UNITS):
        for j, rule in enumerate(au.centres):
            x, y = points[rule.landmark]
            centres[i, j] = (x, y + rule.dy_rulers * ruler)
    return centres


def au_attention_maps(centres: np.ndarray, size: int, spatial_ratio: float = SPATIAL_RATIO,
                      fill_coefficient: float = FILL_COEFFICIENT) -> np.ndarray:
    """Attention maps A_i in [0, 1], shape [size, size, 12] (channels last, like the images).

    `centres` are in pixel coordinates of the size x size image ([12, 2, (x, y)]). Like JAA-Net,
    a centre is rounded to the nearest pixel and its square is clipped to the image.
    """
    centres = np.asarray(centres, dtype=np.float64)
    half = int(round((size - 1) / 2.0 * spatial_ratio))
    rows = np.arange(size)[:, None]
    cols = np.arange(size)[None, :]
    maps = np.zeros((size, size, centres.shape[0]), dtype=np.float32)
    for i, au_centres_i in enumerate(centres):
        for cx, cy in au_centres_i:
            cx, cy = round(cx), round(cy)
            row_lo, row_hi = np.clip([cy - half, cy + half], 0, size - 1)
            col_lo, col_hi = np.clip([cx - half, cx + half], 0, size - 1)
            inside = (rows >= row_lo) & (rows <= row_hi) & (cols >= col_lo) & (cols <= col_hi)
            value = 1.0 - (np.abs(rows - cy) + np.abs(cols - cx)) * fill_coefficient / (size * spatial_ratio)
            maps[:, :, i] = np.maximum(maps[:, :, i], np.where(inside, value, 0.0))
    return maps


def canonical_attention_maps(size: int, spatial_ratio: float = SPATIAL_RATIO,
                             fill_coefficient: float = FILL_COEFFICIENT) -> np.ndarray:
    """The maps [size, size, 12] of the canonical face: what a frame aligned from 5 points gets."""
    return au_attention_maps(au_centres(canonical_landmarks49(size)), size, spatial_ratio, fill_coefficient)


def normalise_overlaps(attention_maps: tf.Tensor) -> tf.Tensor:
    """Scale the maps [..., 12] so that their per-pixel sum never exceeds 1 (Eq. 2 needs it).

    Where the sum is <= 1 the maps are returned unchanged (bit for bit), so pixels outside every AU
    region keep weight exactly 0 and the source pixel weight exactly 1.
    """
    total = tf.reduce_sum(attention_maps, axis=-1, keepdims=True)
    return attention_maps / tf.maximum(total, 1.0)


def au_major(attention_maps: tf.Tensor) -> tf.Tensor:
    """Maps [B, H, W, 12] -> [12, B, H, W, 1]: AU i's map first, ready to weight AU i's image."""
    return tf.transpose(attention_maps, [3, 0, 1, 2])[..., None]


def au_regions(source: tf.Tensor, attention_maps: tf.Tensor) -> tf.Tensor:
    """Eq. 1, X^{AU_i} = A_i x X^s, for every AU at once.

    source [B, H, W, 3], attention_maps [B, H, W, 12] -> regions [12, B, H, W, 3] (AU-major, so
    that region i is the input of CARG i).
    """
    return au_major(attention_maps) * source[None]


def compose(source: tf.Tensor, generated_regions: tf.Tensor, attention_maps: tf.Tensor) -> tf.Tensor:
    """Eq. 2: X^t = sum_i A_i * G_i(X^{AU_i}, l_i) + (1 - sum_i A_i) * X^s.

    source [B, H, W, 3], generated_regions [12, B, H, W, 3] (the CARG outputs), attention_maps
    [B, H, W, 12] as stored (they are normalised here, see `normalise_overlaps`). Pixels outside all
    regions are the source pixels, bit-identical.
    """
    weights = au_major(normalise_overlaps(attention_maps))
    weighted = tf.reduce_sum(weights * generated_regions, axis=0)
    return weighted + (1.0 - tf.reduce_sum(weights, axis=0)) * source
