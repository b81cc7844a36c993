"""How hard each generator term pulls on the CARG decoders: gradient norms per term, one batch.

    python benchmarks/label_balance.py --data_dir DATA --preset small [--checkpoint LOGDIR] \
        [--config_override lambda_au_label=100]

For the weighted terms of the generator's objective (Eq. 5 reconstruction, Eq. 7 adversarial and
label terms, Eq. 3 image adversarial, TV), the norm of the gradient of their batch mean with respect
to the decoder variables, and each norm's ratio to the label term's. A reconstruction gradient many
times the label term's means the decoder is mostly taught to copy its input, not to follow l^t.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from lac_gan.data import dataset  # noqa: E402
from lac_gan.nets import config as config_lib  # noqa: E402
from lac_gan.training.loop import TrainingOptions, training_files, untrained_aus  # noqa: E402
from lac_gan.training.step import LacGanTrainer  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "Converted TFRecords.", required=True)
flags.DEFINE_enum("preset", "small", sorted(config_lib.PRESETS), "Model configuration.")
flags.DEFINE_string("config_override", None, "As for train.py.")
flags.DEFINE_string("checkpoint", None, "A training logdir to measure a trained model (default: initial weights).")
flags.DEFINE_integer("fold", 1, "Fold whose training part gives the batch.")
flags.DEFINE_integer("batches", 4, "Batches to average the norms over.")


def main(argv):
    del argv
    config = config_lib.preset(FLAGS.preset)
    if FLAGS.config_override:
        config = config.with_overrides(FLAGS.config_override)
    config = config.replace(untrained_aus=tuple(untrained_aus(FLAGS.data_dir, FLAGS.fold)))
    keras.utils.set_random_seed(0)
    trainer = LacGanTrainer(config, tf.distribute.get_strategy(), seed=0)
    if FLAGS.checkpoint:
        tf.train.Checkpoint(generator=trainer.models.generator).restore(
            tf.train.latest_checkpoint(FLAGS.checkpoint)).expect_partial()
    files = training_files(config, TrainingOptions(data_dir=FLAGS.data_dir, logdir="", fold=FLAGS.fold))
    decoder = [v for v in trainer.models.generator_variables if "dec_" in v.path]
    c = config
    beta = tf.constant(c.active_au_mask)
    weighted = {  # each generator term as it enters Eq. 10, summed over AUs with beta_i
        "pixel (Eq. 5)": lambda t: tf.reduce_sum(t["pixel"] * beta, -1),
        "label (Eq. 8, x l2 l_AU)": lambda t: c.lambda_au_adv * c.lambda_au_label * tf.reduce_sum(t["label"] * beta, -1),
        "adv_au (Eq. 7, x l2)": lambda t: c.lambda_au_adv * tf.reduce_sum(t["adv_au"] * beta, -1),
        "adv_img (Eq. 3)": lambda t: c.lambda_image_adv * t["adv_img"],
        "tv (x l4)": lambda t: c.lambda_tv * t["tv"],
    }
    totals = {name: 0.0 for name in weighted}
    batches = dataset.make_dataset(files, config.image_size, config.batch_size, seed=0)
    for batch, _ in zip(batches, range(FLAGS.batches)):
        targets, target_known, prior = trainer._sample(batch["labels"], batch["known_mask"])
        with tf.GradientTape(persistent=True) as tape:
            terms = trainer._forward(batch, targets, target_known, prior)
            values = {name: tf.reduce_mean(f(terms)) for name, f in weighted.items()}
        for name, value in values.items():
            grads = [g for g in tape.gradient(value, decoder) if g is not None]
            totals[name] += float(tf.linalg.global_norm(grads)) / FLAGS.batches if grads else 0.0
        del tape
    label = totals["label (Eq. 8, x l2 l_AU)"]
    print(f"preset {FLAGS.preset}, override {FLAGS.config_override or '-'}, "
          f"{'checkpoint ' + FLAGS.checkpoint if FLAGS.checkpoint else 'initial weights'}, {FLAGS.batches} batches")
    for name, norm in totals.items():
        print(f"  {name:26s} |grad| on decoders {norm:12.4f}   x label term {norm / label if label else float('nan'):9.2f}")


if __name__ == "__main__":
    app.run(main)
