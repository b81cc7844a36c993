"""lacgan export --checkpoint CKPT --out DIR: the generator as a SavedModel (see lac_gan/export.py)."""
from absl import flags, logging

from lac_gan.checkpoints import CheckpointNotFoundError
from lac_gan.export import export_saved_model
from lac_gan.synthesis import load_synthesizer

flags.DEFINE_string("checkpoint", None, "Training logdir (its latest checkpoint) or a checkpoint path.")
flags.DEFINE_string("out", None, "Folder to write the SavedModel to (must not exist).")
flags.mark_flags_as_required(["checkpoint", "out"])

FLAGS = flags.FLAGS


def main(argv):
    del argv
    try:
        out = export_saved_model(load_synthesizer(FLAGS.checkpoint), FLAGS.out)
    except (CheckpointNotFoundError, FileNotFoundError, FileExistsError) as error:
        logging.error("%s", error)
        raise SystemExit(1) from error
    print(f"SavedModel written to {out} (signature serving_default: image uint8 [N, S, S, 3], "
          "target_labels float32 [N, 12] -> image)")
