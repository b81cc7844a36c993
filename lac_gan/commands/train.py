"""lacgan train / python train.py: flags of the training program (the work: lac_gan/training/loop.py)."""
from absl import flags

from lac_gan.common.errors import UsageError
from lac_gan.nets import config as config_lib
from lac_gan.training.loop import TrainingOptions, run_training

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Converted TFRecords (the converter's --out_dir, with manifest.json).")
flags.DEFINE_string("logdir", None, "Checkpoints, config.json and TensorBoard events go here.")
flags.DEFINE_enum("preset", "paper", sorted(config_lib.PRESETS), "Model/training configuration.")
flags.DEFINE_integer("fold", 1, "JAA-Net fold (1-3): trains on the two other parts.")
flags.DEFINE_integer("steps", 1000, "Global step to stop at (a resumed run continues up to it).")
flags.DEFINE_integer("batch_size", None, "Global batch size (default: the preset's).")
flags.DEFINE_string("config_override", None, "Config fields to change from the preset, e.g. "
                    "'lambda_au_label=100' (fields: lac_gan/nets/config.py:LacGanConfig; tuples as a:b:c).")
flags.DEFINE_string("identity_weights", None,
                    "keras-vggface rcmalli_vggface_tf_notop_vgg16.h5 for the identity loss (Eq. 4), "
                    "or 'none' to train without it.")
flags.DEFINE_bool("mixed_precision", False, "Mixed precision: float16 on GPU (with loss scaling), bfloat16 on CPU.")
flags.DEFINE_bool("xla", False, "Compile the forward/backward pass with XLA (jit_compile).")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"], "tf.distribute strategy.")
flags.DEFINE_bool("resume", False, "Continue from the newest readable checkpoint in --logdir.")
flags.DEFINE_bool("skip_bad_records", False, "Train without the unreadable records of damaged shards (counted in "
                  "LOGDIR/skipped_records.json) instead of stopping with their shard and offset.")
flags.DEFINE_integer("seed", 0, "Seed of initialisation, data order and sampled target labels.")
flags.DEFINE_integer("log_every", 10, "Write loss scalars every K steps.")
flags.DEFINE_integer("image_every", 500, "Write image grids every K steps.")
flags.DEFINE_integer("checkpoint_every", 1000, "Save a checkpoint every K steps (and at the end).")
flags.DEFINE_integer("eval_every", 500, "Every K steps (and at the end), score R^i, the label critic, on held-out "
                     "people (the fold's test part): TensorBoard val/... and LOGDIR/validation.json; 0: never.")
flags.DEFINE_integer("eval_examples", 256, "How many test-part frames that scores (the same ones every time).")
flags.DEFINE_bool("demo", False, "Run the whole path with no dataset: a BP4D-layout tree from a bundled face, "
                  "conversion, the tiny preset for a few hundred steps, edit figures (see lac_gan/product/demo.py). "
                  "--logdir (default ./lacgan_demo), --steps and --seed apply.")


@flags.multi_flags_validator(["demo", "data_dir", "logdir", "identity_weights"],
                             message="--data_dir, --logdir and --identity_weights (a VGG-Face .h5 or 'none') "
                                     "are required, unless --demo")
def _required_unless_demo(values):
    return values["demo"] or all(values[name] is not None for name in ("data_dir", "logdir", "identity_weights"))


def _precision() -> str:
    if not FLAGS.mixed_precision:
        return "float32"
    import tensorflow as tf
    return "fp16" if tf.config.list_physical_devices("GPU") else "bf16"


def run_demo_command() -> None:
    from lac_gan.product.demo import DEMO_STEPS, run_demo
    outputs = run_demo(FLAGS.logdir or "lacgan_demo", FLAGS.steps if FLAGS["steps"].present else DEMO_STEPS,
                       FLAGS.seed)
    print(f"""
Demo finished. What it made:
  BP4D-layout input   {outputs.bp4d_images}  (labels: {outputs.bp4d_labels})
  TFRecords           {outputs.tfrecords}  (manifest.json inside)
  checkpoints + logs  {outputs.logdir}  (tensorboard --logdir {outputs.logdir})
  edit figures        {'  '.join(str(p) for p in outputs.figures)}
The labels are random: this proves the machinery, not the paper's results (those need BP4D and a GPU).""")


def main(argv):
    del argv
    if FLAGS.demo:
        run_demo_command()
        return
    config = config_lib.preset(FLAGS.preset)
    if FLAGS.batch_size is not None:  # 0 is refused by run_training, not read as "the preset's"
        config = config.replace(batch_size=FLAGS.batch_size)
    if FLAGS.config_override:
        try:
            config = config.with_overrides(FLAGS.config_override)
        except ValueError as error:
            raise UsageError(f"--config_override {error}") from error
    weights = None if FLAGS.identity_weights.lower() == "none" else FLAGS.identity_weights
    options = TrainingOptions(
        data_dir=FLAGS.data_dir, logdir=FLAGS.logdir, fold=FLAGS.fold, steps=FLAGS.steps,
        identity_weights=weights, precision=_precision(), xla=FLAGS.xla, strategy=FLAGS.strategy,
        resume=FLAGS.resume, seed=FLAGS.seed, log_every=FLAGS.log_every, image_every=FLAGS.image_every,
        checkpoint_every=FLAGS.checkpoint_every, skip_bad_records=FLAGS.skip_bad_records,
        eval_every=FLAGS.eval_every, eval_examples=FLAGS.eval_examples)
    run_training(config, options)

