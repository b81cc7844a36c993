"""lacgan export --checkpoint CKPT --out DIR: the generator as a SavedModel (see lac_gan/product/export.py)."""
from absl import flags

from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.export import check_export_dir, export_saved_model

flags.DEFINE_string("checkpoint", None, "Training logdir (its latest checkpoint) or a checkpoint path.")
flags.DEFINE_string("out", None, "Folder to write the SavedModel to (must not exist).")
flags.mark_flags_as_required(["checkpoint", "out"])

FLAGS = flags.FLAGS


def main(argv):
    del argv
    check_export_dir(FLAGS.out)  # before the model is loaded
    out = export_saved_model(load_synthesizer(FLAGS.checkpoint), FLAGS.out)
    print(f"SavedModel written to {out} (signature serving_default: image uint8 [N, S, S, 3], "
          "target_labels float32 [N, 12] -> image)")
