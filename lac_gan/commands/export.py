"""lacgan export --checkpoint CKPT (or --editor warp) --out DIR: the editor as a SavedModel (see lac_gan/product/export.py)."""
from absl import flags

from lac_gan.commands.editor_flags import define_editor_flags
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.export import check_export_dir, export_saved_model

define_editor_flags()
flags.DEFINE_string("out", None, "Folder to write the SavedModel to (must not exist).")
flags.mark_flags_as_required(["out"])

FLAGS = flags.FLAGS


def main(argv):
    del argv
    check_export_dir(FLAGS.out)  # before the model is loaded
    out = export_saved_model(load_synthesizer(FLAGS.checkpoint, FLAGS.editor), FLAGS.out)
    print(f"SavedModel written to {out} (signature serving_default: image uint8 [N, S, S, 3], "
          "target_labels float32 [N, 12] -> image)")
