"""Synthesis API for evaluation and editing: one place that turns a `--checkpoint` (or the `warp`
editor) into an editor, whatever family it holds, and the paper's CARGs applied through Eq. 1-2.

    editor = load_synthesizer("runs/fold1")          # a logdir or LOGDIR/ckpt-N; or editor="warp"
    edited = editor(images, attention_maps, target_labels, landmarks=landmarks)

images [B, S, S, 3] float32 in [-1, 1], attention_maps [B, S, S, 12] float32 in [0, 1],
target_labels [B, 12] in [0, 1], landmarks [B, 49, 2] (the faces' own points in the crop; the CARGs
do not need them) -> edited images [B, S, S, 3] float32 in [-1, 1]; S is `editor.image_size`. Pixels
outside the chosen AUs' regions are returned bit-identical. Every editor is a
lac_gan.nets.movement.Editor; which family a checkpoint holds is its config.json's `generator`.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from lac_gan.common.errors import UsageError
from lac_gan.data import attention
from lac_gan.data.au_table import NUM_AUS
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.nets import movement
from lac_gan.nets.bundled import load_bundled_model
from lac_gan.nets.cargs import CARGs
from lac_gan.nets.config import LacGanConfig
from lac_gan.nets.region_editor import RegionEditorNet, RegionSynthesizer
from lac_gan.nets.restore import load_checkpointed
from lac_gan.nets.warp_editor import WarpEditor


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


class Synthesizer(movement.Editor):
    """The paper's 12 CARGs as an editor: the chosen AUs' regions redrawn (targets read as 0/1) and
    composed by Eq. 2; no movement, so its plan is the composed face over the chosen AUs' maps."""
    family = "cargs"
    needs_landmarks = False

    def __init__(self, config: LacGanConfig, generator: CARGs):
        self.config = config
        self.generator = generator
        self.networks = (generator,)
        self.image_size = config.image_size
        self.untrained_aus = config.untrained_aus
        s = config.image_size
        self._edit = tf.function(self._edit_impl, input_signature=[
            tf.TensorSpec([None, s, s, 3], tf.float32), tf.TensorSpec([None, s, s, NUM_AUS], tf.float32),
            tf.TensorSpec([None, NUM_AUS], tf.float32), tf.TensorSpec([None, NUM_AUS], tf.float32)])

    @classmethod
    def from_models(cls, config: LacGanConfig, generator: CARGs) -> "Synthesizer":
        """In-process use (tests, training previews): wrap an existing generator."""
        return cls(config, generator)

    def _edit_impl(self, images, attention_maps, target_labels, chosen):
        maps = attention_maps * chosen[:, None, None, :]
        return edit_faces(self.generator, images, maps, tf.cast(target_labels, tf.int32))

    def __call__(self, images, attention_maps, targets, *, landmarks=None, chosen=None, source_labels=None):
        images, maps, _, targets, chosen, _ = self.inputs(images, attention_maps, targets, landmarks, chosen,
                                                          source_labels)
        return self._edit(images, maps, targets, chosen)

    def plan(self, images, attention_maps, landmarks, targets, chosen, source_labels) -> movement.EditPlan:
        edited = self._edit(images, attention_maps, targets, chosen)
        weight = tf.reduce_sum(attention.normalise_overlaps(attention_maps * chosen[:, None, None, :]), axis=-1)
        batch = tf.shape(images)[0]
        return movement.EditPlan(points=tf.zeros([batch, 0, 2]), moves=tf.zeros([batch, 0, 2]),
                                 radii=tf.zeros([batch, 0]), owner_one_hot=tf.zeros([0, NUM_AUS]),
                                 colour=edited, colour_weight=weight)


def _untrained_cargs(config: LacGanConfig) -> dict:
    generator = CARGs(config, name="cargs")
    generator.create_weights()
    return {"generator": generator}


def _untrained_region_editor(config: LacGanConfig) -> dict:
    generator = RegionEditorNet(config, name="region_editor")
    generator.create_weights()
    return {"generator": generator}


# config.generator -> (its networks, built untrained for a checkpoint to restore into; the editor
# around them). A new family: its module beside cargs.py / region_editor.py and a line here.
GENERATOR_FAMILIES = {
    "cargs": (_untrained_cargs, Synthesizer),
    "region": (_untrained_region_editor, RegionSynthesizer),
}
EDITORS_WITHOUT_WEIGHTS = {"warp": WarpEditor}


def untrained_generator(config: LacGanConfig) -> dict:
    """{"generator": the config's family's networks}, weights created (what a checkpoint restores)."""
    return GENERATOR_FAMILIES[config.generator][0](config)


def editor_of(config: LacGanConfig, generator) -> movement.Editor:
    """The editor of a config's family around its (trained) networks."""
    return GENERATOR_FAMILIES[config.generator][1](config, generator)


def load_synthesizer(checkpoint: str | None = None, editor: str | None = None) -> movement.Editor:
    """The editor of a training logdir (latest checkpoint) or a checkpoint path, of whichever family
    it holds; with `editor="warp"`, the fixed warp (no checkpoint); with neither, the model bundled
    in the package (lac_gan/nets/bundled.py)."""
    if editor is not None:
        if editor not in EDITORS_WITHOUT_WEIGHTS:
            raise UsageError(f"--editor {editor}: expected one of {', '.join(EDITORS_WITHOUT_WEIGHTS)}")
        if checkpoint is not None:
            raise UsageError(f"--editor {editor} has no weights: leave out --checkpoint")
        return EDITORS_WITHOUT_WEIGHTS[editor]()
    if checkpoint is None:
        return load_bundled_model()
    config, objects, _ = load_checkpointed(checkpoint, LacGanConfig, untrained_generator)
    return editor_of(config, objects["generator"])
