"""Peak memory of the full train step by batch size, and what it implies for larger batches.

    PYTHONPATH=. python benchmarks/memory.py [--preset paper] [--batch_sizes 1,2,4] [--steps 2]

Each batch size runs in a fresh process (so peaks do not mix): models, optimizers and the step of
`benchmarks/train_step.py` (synthetic batch, identity loss on with random VGG-Face weights), `--steps`
steps, then its peak resident set size (`ru_maxrss`) and its resident size after building the models
(before the first step: weights, no optimizer slots yet). A line peak = fixed + per_example x batch
is fitted to the measured peaks; printed: the fit, its estimate for batch 16 (the paper preset's
default) and the largest batch whose estimate fits 24 GB and 80 GB.

These are host-memory figures on CPU. A GPU run holds the same weights, optimizer slots and
activations, but its allocator, cuDNN workspaces and XLA buffers differ, so the GPU figures printed
are estimates from CPU measurements, not GPU measurements.
"""
from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", "paper", "Preset to measure.")
flags.DEFINE_list("batch_sizes", ["1", "2", "4"], "Batch sizes, each in its own process.")
flags.DEFINE_integer("steps", 2, "Train steps per process (the first one traces).")
flags.DEFINE_integer("child_batch", 0, "Internal: measure this batch size in this process and print JSON.")

GB = 1e9
DEVICE_MEMORY_GB = (24, 80)


def resident_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def measure(preset: str, batch_size: int, steps: int) -> dict:
    import tensorflow as tf

    from benchmarks.step_inputs import random_vggface, synthetic_batch
    from lac_gan.nets import config as config_lib, per_au_layers
    from lac_gan.training.step import LacGanTrainer
    config = config_lib.preset(preset).replace(batch_size=batch_size)
    with tempfile.TemporaryDirectory() as directory:
        identity = random_vggface(config.image_size, directory)
        trainer = LacGanTrainer(config, tf.distribute.get_strategy(), seed=0, identity_features=identity)
        built = resident_bytes()
        batch = synthetic_batch(config.image_size, batch_size)
        for _ in range(steps):
            trainer.train_step(batch)["total_g"].numpy()
    return {"batch": batch_size, "peak_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "after_build_bytes": built, "path": per_au_layers.formulation(tf.float32)}


def main(argv):
    del argv
    if FLAGS.child_batch:
        print(json.dumps(measure(FLAGS.preset, FLAGS.child_batch, FLAGS.steps)))
        return
    from benchmarks.machine import cpu_description, onednn_description
    print(f"CPU {cpu_description()}, {os.cpu_count()} cores; {onednn_description()}", flush=True)
    rows = []
    for batch in map(int, FLAGS.batch_sizes):
        result = subprocess.run([sys.executable, __file__, f"--preset={FLAGS.preset}", f"--child_batch={batch}",
                                 f"--steps={FLAGS.steps}"], capture_output=True, text=True, check=True)
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
        row = rows[-1]
        print(f"{FLAGS.preset} batch {batch:2d} ({row['path']}): peak {row['peak_bytes'] / GB:.2f} GB, "
              f"after building the models {row['after_build_bytes'] / GB:.2f} GB", flush=True)
    if len(rows) < 2:
        return
    batches = np.array([r["batch"] for r in rows], float)
    peaks = np.array([r["peak_bytes"] for r in rows], float) / GB
    per_example, fixed = np.polyfit(batches, peaks, 1)
    print(f"fit: peak = {fixed:.2f} GB + {per_example:.3f} GB x batch")
    print(f"estimate at batch 16: {fixed + 16 * per_example:.1f} GB")
    for memory in DEVICE_MEMORY_GB:
        print(f"largest batch whose estimate fits {memory} GB: {int((memory - fixed) // per_example)}")


if __name__ == "__main__":
    app.run(main)
