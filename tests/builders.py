"""Things several test modules build: tiny untrained checkpoints and aligned test faces."""
from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from lac_gan.au_table import NUM_AUS
from lac_gan.config import LacGanConfig, tiny


def write_untrained_checkpoint(logdir: Path, config: LacGanConfig | None = None, seed: int = 0) -> Path:
    """A training logdir (config.json, checkpoint index, ckpt-1) holding an untrained generator."""
    from lac_gan.models import CARGs
    config = config or tiny()
    keras.utils.set_random_seed(seed)
    config.save(logdir)
    generator = CARGs(config, name="cargs")
    size = config.image_size
    generator.decode(generator.encode(tf.zeros([NUM_AUS, 1, size, size, 3])), tf.zeros([1, NUM_AUS], tf.int32))
    tf.train.CheckpointManager(tf.train.Checkpoint(generator=generator), str(logdir), 1).save(checkpoint_number=1)
    return logdir


def face_crops(photo: np.ndarray, size: int, count: int) -> np.ndarray:
    """`count` slightly shifted square crops of a face photo, resized to size: uint8 [count, S, S, 3]."""
    crops = [photo[20 + 3 * k: 220 + 3 * k, 150 + 4 * k: 350 + 4 * k] for k in range(count)]
    return np.stack([np.asarray(Image.fromarray(c).resize((size, size), Image.BILINEAR)) for c in crops])
