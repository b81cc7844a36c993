"""lacgan serve [--checkpoint CKPT | --editor warp] [--host 127.0.0.1] [--port 0]

A local web page to edit the AUs of a photo with sliders, on the editor `lacgan edit` would use (the
bundled model by default). It prints the URL to open; Ctrl-C stops it. Needs the serve extra:
pip install -e .[serve]. See lac_gan/product/serve.py for what it answers.
"""
from absl import flags, logging

from lac_gan.commands.editor_flags import define_editor_flags
from lac_gan.common.errors import UsageError
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product import serve
from lac_gan.product.editing import FaceEditor

define_editor_flags()
flags.DEFINE_string("host", "127.0.0.1", "Address to listen on; the default is this machine only. 0.0.0.0 lets any "
                    "machine that reaches this one use the page.")
flags.DEFINE_integer("port", 0, "Port to listen on; 0 (default) picks a free one, which the printed URL names.",
                     lower_bound=0, upper_bound=65535)

FLAGS = flags.FLAGS


def editor_description() -> str:
    """Which editor the page edits with, in the flags' words."""
    if FLAGS.editor:
        return f"--editor {FLAGS.editor}: a fixed geometric warp, not a trained model"
    if FLAGS.checkpoint:
        return f"the model of --checkpoint {FLAGS.checkpoint}"
    return "the bundled model (region editor trained on OpenFace's labels of LFW and video_au)"


def main(argv):
    del argv
    serve.require_web_packages()  # these and the address are checked before the model is loaded
    try:
        sock = serve.listening_socket(FLAGS.host, FLAGS.port)
    except OSError as error:
        raise UsageError(f"--host {FLAGS.host} --port {FLAGS.port}: cannot listen there "
                         f"({error.strerror or error})") from error
    if FLAGS.host not in ("127.0.0.1", "localhost", "::1"):
        logging.warning("--host %s: any machine that can reach this one on that address can use the page",
                        FLAGS.host)
    synthesizer = load_synthesizer(FLAGS.checkpoint, FLAGS.editor)
    serve.serve(serve.EditingSession(FaceEditor(synthesizer), editor_description()), sock)
