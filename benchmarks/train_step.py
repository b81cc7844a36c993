"""Train-step throughput of LAC-GAN on this machine, against a dense-matmul "physical limit".

    python benchmarks/train_step.py --presets tiny,paper --batch_sizes 4 --paper_batch_sizes 1,2 [--xla]

For each preset and batch size: examples/s of the full train step (forward, both gradients, both
Adam updates, identity loss on with random VGG-Face weights), FLOPs per example counted by
tf.compat.v1.profiler over the traced graph of the step (forward + backward, every op with a
registered FLOP count: convolutions incl. their gradients, matmuls, elementwise ops), and the
achieved FLOP/s as a fraction of a large float32 tf.matmul measured in the same run.
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402

from lac_gan import config as config_lib, vggface  # noqa: E402
from lac_gan.au_table import NUM_AUS  # noqa: E402
from lac_gan.training import PRECISIONS, LacGanTrainer  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["tiny", "paper"], "Presets to time.")
flags.DEFINE_list("batch_sizes", ["4"], "Batch sizes for the tiny preset.")
flags.DEFINE_list("paper_batch_sizes", ["1", "2"], "Batch sizes for the paper preset.")
flags.DEFINE_integer("warmup", 2, "Untimed steps (tracing, first-call allocations).")
flags.DEFINE_float("seconds", 20.0, "Time each configuration for at least this long.")
flags.DEFINE_bool("xla", False, "jit_compile the forward/backward pass.")
flags.DEFINE_enum("precision", "float32", ["float32", "bf16"], "bf16 = mixed_bfloat16 (float32 variables and losses).")
flags.DEFINE_bool("identity", True, "Include the VGG-Face identity loss (random weights).")
flags.DEFINE_integer("matmul_size", 4096, "Side of the square matrices of the reference matmul.")


def matmul_flops_per_second(n: int, seconds: float = 5.0) -> float:
    a = tf.random.normal([n, n])
    b = tf.random.normal([n, n])
    matmul = tf.function(lambda: tf.reduce_sum(tf.matmul(a, b)))
    matmul().numpy()
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        matmul().numpy()
        count += 1
    return 2.0 * n ** 3 * count / (time.perf_counter() - start)


def synthetic_batch(size: int, batch: int) -> dict[str, tf.Tensor]:
    rng = np.random.default_rng(0)
    maps = np.zeros((batch, size, size, NUM_AUS), np.float32)
    side = max(2, size // 7)
    for i in range(NUM_AUS):
        top, left = rng.integers(0, size - side, 2)
        maps[:, top:top + side, left:left + side, i] = 1.0
    return {"image": tf.constant(rng.uniform(-1, 1, (batch, size, size, 3)), tf.float32),
            "attention_maps": tf.constant(maps),
            "labels": tf.constant(rng.integers(0, 2, (batch, NUM_AUS)), tf.int32),
            "known_mask": tf.ones([batch, NUM_AUS], tf.bool)}


def random_vggface(size: int, directory: str) -> vggface.VggFaceFeatures:
    rng = np.random.default_rng(1)
    weights = {n: [rng.normal(0, np.sqrt(1 / np.prod(k[:3])), k).astype(np.float32), np.zeros(b, np.float32)]
               for n, (k, b) in vggface.conv_layer_shapes().items()}
    path = Path(directory) / vggface.WEIGHTS_FILE_NAME
    vggface.write_weights(path, weights)
    return vggface.VggFaceFeatures(path, size, config_lib.PAPER_IDENTITY_LAYERS)


def step_flops(trainer: LacGanTrainer, batch: dict) -> float:
    """FLOPs of one forward + backward pass (the optimizer updates are negligible), by the profiler."""
    b = batch["image"].shape[0]
    targets = tf.zeros([b, NUM_AUS], tf.int32)
    prior = tf.zeros([b, NUM_AUS, trainer.config.z_dim])
    graph = tf.function(trainer._losses_and_gradients_impl).get_concrete_function(batch, targets, prior).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return float(tf.compat.v1.profiler.profile(graph, options=options).total_float_ops)


def time_steps(trainer: LacGanTrainer, batch: dict, warmup: int, seconds: float) -> float:
    """Seconds per train step (median of the timed steps)."""
    for _ in range(warmup):
        trainer.train_step(batch)["total_g"].numpy()
    durations, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds or len(durations) < 3:
        t0 = time.perf_counter()
        trainer.train_step(batch)["total_g"].numpy()
        durations.append(time.perf_counter() - t0)
    return float(np.median(durations))


def benchmark(preset: str, batch_size: int, directory: str) -> None:
    config = config_lib.preset(preset).replace(batch_size=batch_size)
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(PRECISIONS[FLAGS.precision])
    identity = random_vggface(config.image_size, directory) if FLAGS.identity else None
    trainer = LacGanTrainer(config, tf.distribute.get_strategy(), seed=0, identity_features=identity,
                            precision=FLAGS.precision, xla=FLAGS.xla)
    batch = synthetic_batch(config.image_size, batch_size)
    flops = step_flops(trainer, batch) / batch_size
    # The machine may be shared: the matmul reference is measured right before and after the steps.
    matmul_before = matmul_flops_per_second(FLAGS.matmul_size)
    seconds = time_steps(trainer, batch, FLAGS.warmup, FLAGS.seconds)
    matmul_rate = (matmul_before + matmul_flops_per_second(FLAGS.matmul_size)) / 2
    rate = batch_size / seconds
    achieved = flops * rate
    print(f"{preset:6s} batch {batch_size:2d} xla={FLAGS.xla!s:5s} {FLAGS.precision:7s}: {seconds * 1000:9.1f} ms/step, "
          f"{rate:8.2f} examples/s, {flops / 1e9:8.2f} GFLOP/example, {achieved / 1e9:7.1f} GFLOP/s = "
          f"{100 * achieved / matmul_rate:5.1f}% of float32 matmul ({matmul_rate / 1e9:.0f} GFLOP/s)", flush=True)


def main(argv):
    del argv
    print(f"{os.cpu_count()} CPUs, TF {tf.__version__}, reference: float32 matmul {FLAGS.matmul_size}^2", flush=True)
    with tempfile.TemporaryDirectory() as directory:
        for preset in FLAGS.presets:
            sizes = FLAGS.paper_batch_sizes if preset == "paper" else FLAGS.batch_sizes
            for batch_size in sizes:
                benchmark(preset, int(batch_size), directory)


if __name__ == "__main__":
    app.run(main)
