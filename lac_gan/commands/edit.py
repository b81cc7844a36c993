"""lacgan edit --checkpoint CKPT --image in.jpg --set AU12=1,AU6=1 [--unset AU4] --out out.jpg

Also a folder in, a folder out. See lac_gan/editing.py for what happens to each face.
"""
from absl import flags, logging

from lac_gan.checkpoints import CheckpointNotFoundError
from lac_gan.editing import FaceEditor, NoFaceError, parse_au_targets, photo_pairs
from lac_gan.image_io import ImageReadError, read_rgb, write_rgb
from lac_gan.progress import Progress
from lac_gan.synthesis import load_synthesizer

flags.DEFINE_string("checkpoint", None, "Training logdir (its latest checkpoint) or a checkpoint path.")
flags.DEFINE_string("image", None, "A photo, or a folder of photos.")
flags.DEFINE_string("out", None, "Output photo (for one photo) or folder (for a folder).")
flags.DEFINE_string("set", None, "AUs to make present or absent: AU12=1,AU6=1 (AU12 alone means =1).")
flags.DEFINE_string("unset", None, "AUs to make absent: AU4,AU15.")
flags.DEFINE_bool("all_faces", False, "Edit every face found, not only the largest.")
flags.mark_flags_as_required(["checkpoint", "image", "out"])

FLAGS = flags.FLAGS


def main(argv):
    del argv
    try:
        targets = parse_au_targets(FLAGS.set, FLAGS.unset)
        pairs = photo_pairs(FLAGS.image, FLAGS.out)
        editor = FaceEditor(load_synthesizer(FLAGS.checkpoint))
    except (ValueError, FileNotFoundError, CheckpointNotFoundError) as error:
        logging.error("%s", error)
        raise SystemExit(1) from error
    failures = 0
    progress = Progress("edited photos", len(pairs))
    for source, target in pairs:
        try:
            write_rgb(editor.edit(read_rgb(source), targets, FLAGS.all_faces, source=str(source)), target)
            logging.info("%s -> %s", source, target)
        except (ImageReadError, NoFaceError) as error:
            failures += 1
            logging.error("%s", error)
        progress.update(1)
    if failures:
        logging.error("%d of %d photos could not be edited (see above)", failures, len(pairs))
        raise SystemExit(1)
