"""Synthesis API for evaluation and editing: a trained CARG set applied through Eq. 1-2.

    synthesizer = load_synthesizer("runs/fold1")          # a logdir or LOGDIR/ckpt-N
    edited = synthesizer(images, attention_maps, target_labels)

images [B, S, S, 3] float32 in [-1, 1], attention_maps [B, S, S, 12] float32 in [0, 1],
target_labels [B, 12] in {0, 1} -> edited images [B, S, S, 3] float32 in [-1, 1]; S is
`synthesizer.config.image_size`. Pixels outside every AU region are returned bit-identical.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from lac_gan.data import attention
from lac_gan.data.au_table import NUM_AUS
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.nets.cargs import CARGs
from lac_gan.nets.config import LacGanConfig
from lac_gan.nets.restore import load_checkpointed


def synthesis_labels(target_labels: np.ndarray, source_labels: np.ndarray) -> np.ndarray:
    """The 0/1 labels to edit a source towards another frame's labels (0/1/9): the target's label;
    where that is 9 the source keeps its own (0 when unknown too). Unknown labels are never scored,
    so keeping the source's state there only avoids gratuitous edits."""
    kept = np.where(source_labels == UNKNOWN_LABEL, 0, source_labels)
    return np.where(target_labels == UNKNOWN_LABEL, kept, target_labels).astype(np.int32)


def composed_maps(config: LacGanConfig, attention_maps: tf.Tensor) -> tf.Tensor:
    """The maps Eq. 2 composes with: an untrained AU's map (config.untrained_aus) is zeroed, so its
    region keeps the source pixels instead of an untrained CARG's output."""
    if not config.untrained_aus:
        return attention_maps
    return attention_maps * tf.constant(config.active_au_mask, attention_maps.dtype)


def edit_faces(generator: CARGs, images, attention_maps, target_labels) -> tf.Tensor:
    """Eq. 1 (regions), the 12 CARGs with the target labels, Eq. 2 (composition) -> X^t [B, S, S, 3]."""
    regions = attention.au_regions(images, attention_maps)
    generated = generator.decode(generator.encode(regions), target_labels)
    return attention.compose(images, tf.cast(generated, images.dtype),
                             composed_maps(generator.config, attention_maps))


class Synthesizer:
    """Edits faces with a trained generator; `config` is the model's LacGanConfig."""

    def __init__(self, config: LacGanConfig, generator: CARGs):
        self.config = config
        self.generator = generator
        s = config.image_size
        self._edit = tf.function(self._edit_impl, input_signature=[
            tf.TensorSpec([None, s, s, 3], tf.float32), tf.TensorSpec([None, s, s, NUM_AUS], tf.float32),
            tf.TensorSpec([None, NUM_AUS], tf.float32)])

    @classmethod
    def from_models(cls, config: LacGanConfig, generator: CARGs) -> "Synthesizer":
        """In-process use (tests, training previews): wrap an existing generator."""
        return cls(config, generator)

    def _edit_impl(self, images, attention_maps, target_labels):
        return edit_faces(self.generator, images, attention_maps, tf.cast(target_labels, tf.int32))

    def __call__(self, images, attention_maps, target_labels) -> tf.Tensor:
        return self._edit(tf.convert_to_tensor(images, tf.float32),
                          tf.convert_to_tensor(attention_maps, tf.float32),
                          tf.cast(target_labels, tf.float32))


def load_synthesizer(checkpoint: str) -> Synthesizer:
    """A Synthesizer from a training logdir (latest checkpoint) or a checkpoint path."""
    config, objects, _ = load_checkpointed(checkpoint, LacGanConfig, _untrained_generator)
    return Synthesizer(config, objects["generator"])


def _untrained_generator(config: LacGanConfig) -> dict[str, CARGs]:
    generator = CARGs(config, name="cargs")
    generator.create_weights()
    return {"generator": generator}
