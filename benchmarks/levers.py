"""Train-step levers, each timed against what it replaced, side by side in one process.

    PYTHONPATH=. python benchmarks/levers.py [--presets small,paper] [--config_override image_size=128]
        [--batch_size 2] [--seconds 10] [--repeats 3]

1. Decoder passes. The training step decodes the same z twice (Eq. 5's reconstruction with the
   source labels, the edit with the targets): two calls of B examples, or one call of 2B. Timed:
   the 12 CARG decoders alone, forward and the gradient of both decodings' sum with respect to the
   decoder weights and z (what the generator's tape needs). The CARGs have no batch norm, so both
   give the same outputs (checked: the largest difference relative to the tensor's largest value
   is printed).
2. Adam. Keras's Adam (about 12 elementwise ops per variable) against `lac_gan.training.loop.FusedAdam`
   (one ResourceApplyAdam kernel per variable): one `apply_gradients` over all the generator's
   weights with fixed random gradients.

Variants alternate window by window: median [min, max] ms over `--repeats` windows of `--seconds`.
Prints the CPU, oneDNN state and the per-AU path first.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from benchmarks.machine import cpu_description, onednn_description  # noqa: E402
from lac_gan.data.au_table import NUM_AUS  # noqa: E402
from lac_gan.nets import config as config_lib, per_au_layers  # noqa: E402
from lac_gan.nets.cargs import CARGs  # noqa: E402
from lac_gan.training.step import FusedAdam  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["small", "paper"], "Presets to time.")
flags.DEFINE_string("config_override", "", "Fields changed in every preset (train.py --config_override).")
flags.DEFINE_integer("batch_size", 2, "B: examples per pass (the joint pass decodes 2B).")
flags.DEFINE_float("seconds", 10.0, "Length of one timing window.")
flags.DEFINE_integer("repeats", 3, "Windows per variant.")


def step_functions(generator: CARGs):
    variables = [v for v in generator.trainable_variables if "dec_" in v.path]

    @tf.function
    def two_passes(z, source_labels, targets):
        with tf.GradientTape() as tape:
            tape.watch(z)
            reconstructed, edited = generator.decode(z, source_labels), generator.decode(z, targets)
            loss = tf.reduce_sum(reconstructed) + tf.reduce_sum(edited)
        return reconstructed, edited, tape.gradient(loss, [z] + variables)

    @tf.function
    def one_pass(z, source_labels, targets):
        with tf.GradientTape() as tape:
            tape.watch(z)
            decoded = generator.decode(tf.concat([z, z], axis=0), tf.concat([source_labels, targets], axis=0))
            reconstructed, edited = tf.split(decoded, 2, axis=1)
            loss = tf.reduce_sum(reconstructed) + tf.reduce_sum(edited)
        return reconstructed, edited, tape.gradient(loss, [z] + variables)
    return {"two passes of B": two_passes, "one pass of 2B": one_pass}


def optimizer_steps(generator: CARGs):
    """One apply_gradients over the generator's weights, Keras's Adam and FusedAdam (fresh copies)."""
    variables = generator.trainable_variables
    rng = np.random.default_rng(1)
    gradients = [tf.constant(rng.normal(0, 1e-3, v.shape), tf.float32) for v in variables]
    steps = {}
    for name, optimizer_class in (("keras Adam", keras.optimizers.Adam), ("FusedAdam", FusedAdam)):
        optimizer = optimizer_class(2e-4, beta_1=0.5, beta_2=0.999)
        steps[name] = tf.function(lambda optimizer=optimizer: optimizer.apply_gradients(zip(gradients, variables)))
    return steps


def window(function, inputs, seconds: float) -> float:
    """ms per call over a window of about `seconds`."""
    calls, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        outputs = function(*inputs)
        calls += 1
    float(tf.reduce_sum(tf.nest.flatten(outputs)[0]))  # waits for the last call
    return 1000 * (time.perf_counter() - started) / calls


def compare(title: str, functions: dict, inputs: tuple) -> None:
    """Alternating windows of each function; medians and the ratio of the second to the first."""
    times = {name: [] for name in functions}
    for _ in range(FLAGS.repeats):
        for name, function in functions.items():
            times[name].append(window(function, inputs, FLAGS.seconds))
    print(f"  {title}")
    for name, values in times.items():
        print(f"    {name}: {np.median(values):.1f} [{min(values):.1f}, {max(values):.1f}] ms")
    (old_name, old), (new_name, new) = ((n, np.array(v)) for n, v in times.items())
    print(f"    {new_name} / {old_name} (per window pair): median {np.median(new / old):.3f} "
          f"[{min(new / old):.3f}, {max(new / old):.3f}]")


def benchmark(preset: str) -> None:
    config = config_lib.preset(preset).with_overrides(FLAGS.config_override)
    generator = CARGs(config)
    rng = np.random.default_rng(0)
    b = FLAGS.batch_size
    inputs = (tf.constant(rng.uniform(-1, 1, (b, NUM_AUS, config.z_dim)), tf.float32),
              tf.constant(rng.integers(0, 2, (b, NUM_AUS)), tf.int32),
              tf.constant(rng.integers(0, 2, (b, NUM_AUS)), tf.int32))
    decoders = step_functions(generator)
    results = {name: f(*inputs) for name, f in decoders.items()}  # traces, and the equality check
    (r2, e2, g2), (r1, e1, g1) = results.values()
    difference = max(float(tf.reduce_max(tf.abs(a - c)) / tf.reduce_max(tf.abs(a)))
                     for a, c in [(r2, r1), (e2, e1)] + list(zip(g2, g1)))
    parameters = sum(int(np.prod(v.shape)) for v in generator.trainable_variables)
    label = f"{preset} ({FLAGS.config_override})" if FLAGS.config_override else preset
    print(f"{label}: {config.image_size} px, B = {b}, per-AU path {per_au_layers.formulation(tf.float32)}, "
          f"generator {parameters / 1e6:.1f} M weights")
    compare(f"decoder passes (largest |two - one| / max |two| over outputs and gradients {difference:.1e})",
            decoders, inputs)
    optimizers = optimizer_steps(generator)
    for step in optimizers.values():
        step()  # traces, and creates the slot variables
    compare("Adam update of the generator's weights", optimizers, ())


def main(argv):
    del argv
    print(f"CPU {cpu_description()}, {os.cpu_count()} cores; {onednn_description()}; TF {tf.__version__}")
    for preset in FLAGS.presets:
        benchmark(preset)


if __name__ == "__main__":
    app.run(main)
