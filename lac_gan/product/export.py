"""SavedModel export: an editor (any family, lac_gan/nets/synthesis.py) as a self-contained serving
function.

Signature `serving_default`: image uint8 [N, S, S, 3] (a face aligned like the training data, e.g. by
`lacgan edit`'s alignment or the converter) and target_labels float32 [N, 12] in [0, 1] (AU order of
`lac_gan.data.au_table`) -> {"image": uint8 [N, S, S, 3]}. The AU attention maps and the 49 landmarks
are the canonical face's (`attention.canonical_attention_maps`, `alignment.canonical_landmarks49`),
baked in as constants, so the caller needs no landmarks; the editors that move landmarks move the
canonical face's, which an aligned face's lie near. Every AU is edited towards its target.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import tensorflow as tf

from lac_gan.common.errors import UsageError, UserError, check_output_dir, fault_message
from lac_gan.data import alignment, attention
from lac_gan.data.au_table import NUM_AUS
from lac_gan.data.image_range import to_model_range, to_uint8
from lac_gan.nets.movement import Editor


class EditingModule(tf.Module):
    """The editor (its networks tracked) plus the canonical face's maps and landmarks, with one
    serving function."""

    def __init__(self, editor: Editor):
        super().__init__(name="lacgan_editor")
        size = editor.image_size
        self.editor = editor
        self.networks = list(editor.networks)
        self.attention_maps = tf.constant(attention.canonical_attention_maps(size))
        self.landmarks = tf.constant(alignment.canonical_landmarks49(size), tf.float32)
        self.serve = tf.function(self._serve, input_signature=[
            tf.TensorSpec([None, size, size, 3], tf.uint8, name="image"),
            tf.TensorSpec([None, NUM_AUS], tf.float32, name="target_labels")])

    def _serve(self, image, target_labels):
        batch = tf.shape(image)[:1]
        maps = tf.broadcast_to(self.attention_maps, tf.concat([batch, tf.shape(self.attention_maps)], 0))
        landmarks = tf.broadcast_to(self.landmarks, tf.concat([batch, tf.shape(self.landmarks)], 0))
        edited = self.editor(to_model_range(image), maps, target_labels, landmarks=landmarks)
        return {"image": to_uint8(edited)}


def check_export_dir(out_dir: str | Path) -> Path:
    """`out_dir` must not exist yet (nothing is overwritten) and must be creatable."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        raise UsageError(f"--out {out_dir}: already exists; choose a new --out directory")
    return check_output_dir("--out", out_dir)


def export_saved_model(synthesizer: Editor, out_dir: str | Path) -> Path:
    """Write the SavedModel to `out_dir` (see check_export_dir). It is written beside it and renamed
    when complete, so a failed write (disk full, no permission) leaves no half SavedModel there to
    block the re-run; the failure is a UserError naming `out_dir`."""
    out_dir = check_export_dir(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.with_name(f".{out_dir.name}.{os.getpid()}.partial")
    module = EditingModule(synthesizer)
    try:
        tf.saved_model.save(module, str(partial), signatures={"serving_default": module.serve})
        partial.rename(out_dir)
    except (OSError, tf.errors.OpError) as error:
        raise UserError(f"--out {out_dir}: SavedModel not written ({fault_message(error)})") from error
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return out_dir
