"""JAA-Net's input handling on the project's records: random crop + mirror in training, centre crop at
test, the landmarks moved with the crop, and the training set's label and landmark counts."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from lac_gan.data import record_schema
from lac_gan.data.au_table import NUM_AUS
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.jaanet.config import JaanetConfig

# 49-point index of each point's mirror image (PyTorch-JAANet's `reflect_49.txt`, 0-based): brows
# 0-9 reversed, nose ridge 10-13 fixed, nostrils 14-18 reversed, the eyes 19-24 and 25-30 swapped
# (outer corner with outer corner), outer lip 31-42 and inner lip 43-48 mirrored about the middle.
MIRROR_49 = (9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 10, 11, 12, 13, 18, 17, 16, 15, 14, 28, 27, 26, 25, 30, 29,
             22, 21, 20, 19, 24, 23, 37, 36, 35, 34, 33, 32, 31, 42, 41, 40, 39, 38, 45, 44, 43, 48, 47, 46)


def random_crop_flip(images: tf.Tensor, landmarks: tf.Tensor, rng: tf.random.Generator,
                     config: JaanetConfig) -> tuple[tf.Tensor, tf.Tensor]:
    """Training augmentation of the port: a crop_size square at a uniform offset (0 .. image - crop,
    both ends included) and, with probability 1/2 when config.random_flip, a horizontal mirror.

    images [B, S, S, 3], landmarks [B, 98] in image pixels -> crops [B, C, C, 3], landmarks [B, 98]
    in crop pixels (mirrored: x -> C - 1 - x and the points renumbered by MIRROR_49).
    """
    batch = tf.shape(images)[0]
    crop = config.crop_size
    offsets = rng.uniform([batch, 2], 0, config.image_size - crop + 1, dtype=tf.int32)  # (x, y)
    flips = rng.uniform([batch], 0, 2, dtype=tf.int32) > 0
    if not config.random_flip:
        flips = tf.zeros_like(flips)
    steps = tf.range(crop)
    rows = offsets[:, 1:2] + steps[None]
    cols = tf.where(flips[:, None], offsets[:, 0:1] + crop - 1 - steps[None], offsets[:, 0:1] + steps[None])
    crops = tf.gather(tf.gather(images, rows, axis=1, batch_dims=1), cols, axis=2, batch_dims=1)
    points = tf.reshape(landmarks, [-1, 49, 2]) - tf.cast(offsets, landmarks.dtype)[:, None, :]
    mirrored = tf.gather(tf.stack([crop - 1 - points[..., 0], points[..., 1]], axis=-1), MIRROR_49, axis=1)
    points = tf.where(flips[:, None, None], mirrored, points)
    return crops, tf.reshape(points, [-1, 98])


def centre_crop(images: tf.Tensor, config: JaanetConfig) -> tf.Tensor:
    """[B, S, S, 3] -> [B, C, C, 3], the test-time crop."""
    start = config.centre_offset
    return images[:, start:start + config.crop_size, start:start + config.crop_size]


def centre_crop_landmarks(landmarks: tf.Tensor, config: JaanetConfig) -> tf.Tensor:
    """[B, 98] image pixels -> crop pixels of `centre_crop`."""
    return landmarks - float(config.centre_offset)


@dataclass(frozen=True)
class LabelStatistics:
    frames: int
    with_landmarks: int
    positives: np.ndarray  # [12] frames labelled 1
    known: np.ndarray  # [12] frames labelled 0 or 1


_STATISTICS_FEATURES = {k: record_schema.FEATURES[k] for k in ("labels", "has_landmarks49")}


def label_statistics(files: list[str]) -> LabelStatistics:
    """Counts over the records of `files`, reading only labels and the landmark flag."""
    dataset = tf.data.TFRecordDataset(files).batch(4096).map(
        lambda s: tf.io.parse_example(s, _STATISTICS_FEATURES))
    frames = with_landmarks = 0
    positives, known = np.zeros(NUM_AUS, np.int64), np.zeros(NUM_AUS, np.int64)
    for batch in dataset.as_numpy_iterator():
        labels = batch["labels"]
        frames += len(labels)
        with_landmarks += int(batch["has_landmarks49"].sum())
        positives += (labels == 1).sum(axis=0)
        known += (labels != UNKNOWN_LABEL).sum(axis=0)
    return LabelStatistics(frames, with_landmarks, positives, known)
