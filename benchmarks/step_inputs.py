"""What the step benchmarks feed the trainer: a synthetic batch and VGG-Face with random weights
(the released weights cannot be downloaded here; the cost is the same)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.attention import au_centres
from lac_gan.data.au_table import NUM_AUS
from lac_gan.nets import config as config_lib, vggface


def synthetic_batch(size: int, batch: int) -> dict[str, tf.Tensor]:
    rng = np.random.default_rng(0)
    maps = np.zeros((batch, size, size, NUM_AUS), np.float32)
    side = max(2, size // 7)
    for i in range(NUM_AUS):
        top, left = rng.integers(0, size - side, 2)
        maps[:, top:top + side, left:left + side, i] = 1.0
    return {"image": tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)), tf.float32),
            "attention_maps": tf.constant(maps),
            "labels": tf.constant(rng.integers(0, 2, (batch, NUM_AUS)), tf.int32),
            "known_mask": tf.ones([batch, NUM_AUS], tf.bool),
            "face_landmarks": tf.constant(np.repeat(canonical_landmarks49(size)[None], batch, 0), tf.float32),
            "au_centres": tf.constant(np.repeat(au_centres(canonical_landmarks49(size))[None], batch, 0), tf.float32)}


def random_vggface(size: int, directory: str) -> vggface.VggFaceFeatures:
    rng = np.random.default_rng(1)
    weights = {n: [rng.normal(0, np.sqrt(1 / np.prod(k[:3])), k).astype(np.float32), np.zeros(b, np.float32)]
               for n, (k, b) in vggface.conv_layer_shapes().items()}
    path = Path(directory) / vggface.WEIGHTS_FILE_NAME
    vggface.write_weights(path, weights)
    return vggface.VggFaceFeatures(path, size, config_lib.PAPER_IDENTITY_LAYERS)
