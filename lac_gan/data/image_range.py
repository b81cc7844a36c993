"""The pixel range the nets work in: uint8 [0, 255] <-> float32 [-1, 1] (images, editing, export,
evaluation and the figures all convert through here)."""
from __future__ import annotations

import tensorflow as tf


def to_model_range(images_uint8) -> tf.Tensor:
    """uint8 images [0, 255] -> float32 [-1, 1], the range the model works in."""
    return tf.cast(images_uint8, tf.float32) / 127.5 - 1.0


def to_uint8(images) -> tf.Tensor:
    """Images in [-1, 1] -> uint8 [0, 255], rounded."""
    return tf.cast(tf.round(tf.clip_by_value((images + 1.0) * 127.5, 0.0, 255.0)), tf.uint8)
