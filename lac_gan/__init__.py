"""LAC-GAN (Liu, Liu & Wu, "Region Based Adversarial Synthesis of Facial Action Units") in
TensorFlow 2 / Keras 3. The package is in layers; each imports only the layers below it, which
`lint-imports` checks (the contract is pyproject.toml's [tool.importlinter], run by tests/test_layers.py):

    cli.py       `lacgan <command>`: picks the command's module and runs it
    commands/    each command's flags and entry point
    product/     editing photos, the SavedModel export, the demo      } siblings that know
    evaluation/  the paper's Table 1 protocol, AU detectors          } nothing of each other
    jaanet/      JAA-Net, the paper's second AU detector: its net and its trainer
    training/    LAC-GAN's train step, losses, loop, checkpoints, held-out validation
    nets/        per-AU layers, CARGs and discriminators, VGG-Face, synthesis, figures, restoring
    data/        BP4D facts, faces, landmarks, alignment, attention maps, records, metrics
    common/      errors, atomic JSON files, locks, progress, provenance, saved configurations

tfrecords_tools/ (beside this package) is the data tools' command line; it imports lac_gan, never
the reverse. The README's Python examples keep working as written: `lac_gan.synthesis` and
`lac_gan.dataset` are lac_gan.nets.synthesis and lac_gan.data.dataset.
"""
import importlib

_README_MODULES = {"synthesis": "lac_gan.nets.synthesis", "dataset": "lac_gan.data.dataset"}


def __getattr__(name: str):
    if name in _README_MODULES:
        return importlib.import_module(_README_MODULES[name])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
