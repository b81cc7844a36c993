"""What a trainer writes beside its checkpoints as it goes: TensorBoard scalars and image grids
(written with core `tf.summary.write`, so TensorBoard itself is not needed), and LOGDIR/validation.json
(both trainers: `lacgan train` and `lacgan train-detector`).
"""
from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from lac_gan.common.errors import DataError
from lac_gan.common.json_files import write_json_atomic


def _summary_metadata(plugin: str) -> bytes:
    """TensorBoard's plugin tag; written with core `tf.summary.write`, so TensorBoard itself is not needed."""
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin)).SerializeToString()


SCALAR_METADATA = _summary_metadata("scalars")
IMAGE_METADATA = _summary_metadata("images")


def write_scalars(writer, scalars: dict[str, float], step: int) -> None:
    with writer.as_default(step=step):
        for name, value in scalars.items():
            tf.summary.write(name, tf.constant(value, tf.float32), metadata=SCALAR_METADATA)


VALIDATION_FILE_NAME = "validation.json"


class ValidationLog:
    """LOGDIR/validation.json of a trainer (`lacgan train`, `lacgan train-detector`): the list of its
    held-out scores by step, rewritten atomically after each evaluation. A resumed run keeps the
    entries up to the step it resumes from (later ones were made by the run it replaces); a new run
    starts a new list."""

    def __init__(self, logdir: str | Path, start_step: int):
        self.path = Path(logdir) / VALIDATION_FILE_NAME
        self.entries = self._read_until(start_step) if start_step and self.path.is_file() else []

    def _read_until(self, step: int) -> list[dict]:
        try:
            entries = json.loads(self.path.read_text())
            # A detector's file written before the list: its one (latest) entry.
            entries = [entries] if isinstance(entries, dict) else entries
            return [entry for entry in entries if entry["step"] <= step]
        except (ValueError, TypeError, KeyError) as error:
            raise DataError(f"{self.path}: unreadable validation entries ({error!r}); move it away to resume "
                            "(a new one is started)") from error

    def add(self, entry: dict) -> None:
        self.entries.append(entry)
        write_json_atomic(self.path, self.entries)


def _image_summary_tensor(images: tf.Tensor, max_outputs: int = 4) -> tf.Tensor:
    """TensorBoard's image format: [width, height, PNG, PNG, ...] as strings; images in [0, 1]."""
    images = tf.image.convert_image_dtype(tf.clip_by_value(images[:max_outputs], 0.0, 1.0), tf.uint8, saturate=True)
    pngs = tf.map_fn(tf.image.encode_png, images, fn_output_signature=tf.string)
    size = tf.strings.as_string(tf.shape(images)[2:0:-1])
    return tf.concat([size, pngs], axis=0)


def write_images(writer, trainer, batch, step: int) -> None:
    """The trainer's preview grids of `batch` (LacGanTrainer.preview_images) at `step`."""
    with writer.as_default(step=step):
        for name, images in trainer.preview_images(batch).items():
            tf.summary.write(name, _image_summary_tensor(images), metadata=IMAGE_METADATA)
