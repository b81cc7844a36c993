"""lacgan train-detector: train JAA-Net v1, the paper's second AU detector, on converted TFRecords
(the work: lac_gan/jaanet/training.py). The result is what `evaluate --detector jaanet
--detector_checkpoint LOGDIR` reads."""
from absl import flags

from lac_gan.common.errors import UsageError
from lac_gan.data.bp4d import JAANET_FOLD_TEST_PART
from lac_gan.jaanet import config as config_lib
from lac_gan.jaanet.training import DetectorTrainingOptions, run_detector_training

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Converted TFRecords (with manifest.json) holding 49-point landmarks.")
flags.DEFINE_string("logdir", None, "Checkpoints, jaanet_config.json, validation.json and TensorBoard events go here.")
flags.DEFINE_enum("preset", "paper", sorted(config_lib.PRESETS),
                  "paper: PyTorch-JAANet v1 (unit_dim 8); cpu: unit_dim 2, short schedule; people: unit_dim 2 "
                  "on 112 px faces (96 crops), for ~8,000 training faces on a CPU; tiny: tests.")
flags.DEFINE_integer("fold", 1, "JAA-Net fold (1-3): trains on the two other parts, validates on this one's test part.")
flags.DEFINE_integer("steps", 1000, "Global step to stop at (a resumed run continues up to it).")
flags.DEFINE_integer("batch_size", None, "Batch size (default: the preset's).")
flags.DEFINE_integer("unit_dim", None, "Network width unit (default: the preset's; the paper's is 8).")
flags.DEFINE_float("learning_rate", None, "Initial SGD learning rate (default: the preset's).")
flags.DEFINE_integer("lr_decay_steps", None, "Multiply the learning rate by 0.3 every this many steps "
                     "(default: the preset's).")
flags.DEFINE_bool("resume", False, "Continue from the latest checkpoint in --logdir.")
flags.DEFINE_integer("seed", 0, "Seed of initialisation, data order and crops/mirroring.")
flags.DEFINE_integer("log_every", 10, "Write loss scalars every K steps.")
flags.DEFINE_integer("eval_every", 500, "Score the fold's test part every K steps and at the end (0: never).")
flags.DEFINE_integer("checkpoint_every", 500, "Save a checkpoint every K steps (and at the end).")
flags.mark_flags_as_required(["data_dir", "logdir"])

OVERRIDES = ("batch_size", "unit_dim", "learning_rate", "lr_decay_steps")


def main(argv):
    del argv
    if FLAGS.fold not in JAANET_FOLD_TEST_PART:
        raise UsageError(f"--fold {FLAGS.fold}: expected one of {sorted(JAANET_FOLD_TEST_PART)}")
    try:
        config = config_lib.preset(FLAGS.preset).replace(
            **{name: FLAGS[name].value for name in OVERRIDES if FLAGS[name].value is not None})
    except ValueError as error:  # a value the network or its training cannot take; the fields are the flags' names
        flag = "--" if str(error).startswith(OVERRIDES) else ""
        raise UsageError(f"{flag}{error}") from error
    options = DetectorTrainingOptions(
        data_dir=FLAGS.data_dir, logdir=FLAGS.logdir, fold=FLAGS.fold, steps=FLAGS.steps, resume=FLAGS.resume,
        seed=FLAGS.seed, log_every=FLAGS.log_every, eval_every=FLAGS.eval_every,
        checkpoint_every=FLAGS.checkpoint_every)
    run_detector_training(config, options)
