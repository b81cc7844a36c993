"""lacgan convert-jaanet: PyTorch-JAANet v1's .pth state dicts (the authors' trained detector) ->
a JAA-Net checkpoint for `evaluate --detector jaanet --detector_checkpoint OUT_DIR`.
Needs PyTorch (`pip install torch`), an optional extra used only here (lac_gan/jaanet/official_weights.py)."""
from absl import flags, logging

from lac_gan.jaanet.official_weights import MODULE_FILES, convert_official_weights

FLAGS = flags.FLAGS
flags.DEFINE_string("pth_dir", None, f"Folder with {', '.join(f'{m}_<epoch>.pth' for m in MODULE_FILES)}.")
flags.DEFINE_integer("epoch", None, "The epoch number in those file names.")
flags.DEFINE_string("out_dir", None, "New folder for jaanet_config.json and the checkpoint.")
flags.mark_flags_as_required(["pth_dir", "epoch", "out_dir"])


def main(argv):
    del argv
    path = convert_official_weights(FLAGS.pth_dir, FLAGS.epoch, FLAGS.out_dir)
    logging.info("wrote %s (use: evaluate --detector jaanet --detector_checkpoint %s)", path, FLAGS.out_dir)
