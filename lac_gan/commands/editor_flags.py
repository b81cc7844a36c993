"""The flags that choose an editor, shared by `edit`, `export` and `evaluate`: --checkpoint (a trained
model of either generator family) or --editor warp (no weights), at most one of them; with neither,
the model bundled in the package (lac_gan/nets/bundled.py)."""
from absl import flags

from lac_gan.nets.synthesis import EDITORS_WITHOUT_WEIGHTS


def define_editor_flags() -> None:
    flags.DEFINE_string("checkpoint", None, "Training logdir (its latest checkpoint) or a checkpoint path, of either "
                        "generator family (the paper's CARGs or the region editor). Default: the model bundled "
                        "in the package.")
    flags.DEFINE_enum("editor", None, sorted(EDITORS_WITHOUT_WEIGHTS),
                      "Instead of --checkpoint: 'warp', a fixed geometric warp of each AU's own landmarks by a "
                      "measured table (lac_gan/data/au_movements.py), not a trained model: it moves the face and "
                      "draws the table's creases (a frown's furrows, dimples, the chin's fold) as shadows.")
    flags.register_multi_flags_validator(
        ["checkpoint", "editor"], lambda values: values["checkpoint"] is None or values["editor"] is None,
        message="give --checkpoint (a trained model) or --editor warp, not both")
