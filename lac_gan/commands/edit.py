"""lacgan edit --checkpoint CKPT --image in.jpg --set AU12=1,AU6=0.5 [--unset AU4] --out out.jpg
lacgan edit --editor warp --image in.jpg --set AU12=1 --out out.jpg

`--editor warp` needs no checkpoint: a fixed geometric warp of each AU's own landmarks (not a trained
model; lac_gan/nets/warp_editor.py).

Also a folder in, a folder out, and with --figures DIR the paper's Fig. 3 / Fig. 5 grids of the
photos' (largest) faces. See lac_gan/product/editing.py for what happens to each face.
"""
from pathlib import Path

from absl import flags, logging

from lac_gan.commands.editor_flags import define_editor_flags
from lac_gan.common.errors import UserError, check_output_dir
from lac_gan.common.progress import Progress
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.image_io import ImageReadError, photo_extras, read_rgb, write_rgb
from lac_gan.nets.figures import write_figures
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.editing import FaceEditor, NoFaceError, parse_au_targets, photo_pairs

define_editor_flags()
flags.DEFINE_string("image", None, "A photo, or a folder of photos.")
flags.DEFINE_string("out", None, "Output photo (for one photo) or folder (for a folder).")
flags.DEFINE_string("set", None, "AUs to make present or absent: AU12=1,AU6=1 (AU12 alone means =1); a value "
                    "between 0 and 1 is an intensity (AU12=0.5; README, \"Intensities\").")
flags.DEFINE_string("unset", None, "AUs to make absent: AU4,AU15.")
flags.DEFINE_bool("all_faces", False, "Edit every face found, not only the largest.")
flags.DEFINE_string("figures", None, "Also write Fig. 3 (each AU absent / present) and Fig. 5 (AU combinations) "
                    "of each photo's largest face, aligned as the generator sees it, to this folder.")
flags.mark_flags_as_required(["image", "out"])

FLAGS = flags.FLAGS


def main(argv):
    del argv
    targets = parse_au_targets(FLAGS.set, FLAGS.unset)
    pairs = photo_pairs(FLAGS.image, FLAGS.out)
    if FLAGS.figures:
        check_output_dir("--figures", Path(FLAGS.figures))
    synthesizer = load_synthesizer(FLAGS.checkpoint, FLAGS.editor)
    untrained = [AU_NAMES[i] for i in targets if AU_NAMES[i] in synthesizer.untrained_aus]
    if untrained:
        logging.warning("%s: untrained in this model (its training data never showed the AU both present and "
                        "absent; see the training log): the region keeps the photo's pixels",
                        ", ".join(untrained))
    editor = FaceEditor(synthesizer)
    failures, figure_faces = 0, []
    progress = Progress("edited photos", len(pairs))
    for source, target in pairs:
        try:
            photo = read_rgb(source)
            alpha, icc_profile = photo_extras(source)
            alignments = editor.alignments(photo, FLAGS.all_faces)  # the largest face first
            write_rgb(editor.edit(photo, targets, source=str(source), alignments=alignments), target,
                      alpha=alpha, icc_profile=icc_profile)
            if FLAGS.figures:
                figure_faces.append(editor.aligned_face(photo, alignments[0], source.name))
            logging.info("%s -> %s", source, target)
        except (ImageReadError, NoFaceError) as error:
            failures += 1
            logging.error("%s", error)
        except OSError as error:  # this photo's output (disk full, no permission): the others go on
            failures += 1
            logging.error("%s: not written (%s)", target, error)
        progress.update(1)
    for path in write_figures(figure_faces, synthesizer, Path(FLAGS.figures)) if FLAGS.figures else ():
        logging.info("wrote %s", path)
    if failures:
        written = "none was written" if failures == len(pairs) else "the others were written"
        raise UserError(f"{failures} of {len(pairs)} photos could not be edited (each is named above); {written}")
