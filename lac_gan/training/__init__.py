"""Training LAC-GAN: one train step (`step`: LacGanTrainer, Eq. 3-10), the losses (`losses`: one pure
function per equation), the loop around the step (`loop`: run_training, TrainingOptions), what it
writes as it goes (`summaries`: TensorBoard, validation.json), checkpoints and the trainer's logdir
(`checkpoints`, also JAA-Net's trainer's) and R^i on held-out people (`regressor_validation`). A new
loss goes in `losses`; a trainer for another generator goes beside `loop`.

May import: lac_gan.nets, lac_gan.data, lac_gan.common.
"""


def __getattr__(name: str):
    # README's `lac_gan.training.validate_checkpoint(...)`, without loading the trainer for every
    # `import lac_gan.training.<module>`.
    if name == "validate_checkpoint":
        from lac_gan.training.loop import validate_checkpoint
        return validate_checkpoint
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
