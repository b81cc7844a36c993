"""Where the train step's time goes: op time by op type, and the largest transposes, from the
TensorFlow profiler.

    PYTHONPATH=. python benchmarks/profile_step.py [--preset paper] [--config_override image_size=128]
        [--batch_size 2] [--steps 3]

Builds the step of `benchmarks/train_step.py` (synthetic batch, identity loss with random VGG-Face
weights), runs 3 untimed steps, profiles `--steps` steps and sums the duration of every op event on
TensorFlow's executor threads (`tf_Compute/*` lines of the trace; ops on the two threads overlap, so
the total exceeds the wall time). Prints op types by share, then the 15 largest transpose ops by name.
"""
from __future__ import annotations

import collections
import glob
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tensorflow as tf  # noqa: E402
from absl import app, flags  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from benchmarks.machine import cpu_description, onednn_description  # noqa: E402
from benchmarks.step_inputs import random_vggface, synthetic_batch  # noqa: E402
from lac_gan.nets import config as config_lib  # noqa: E402
from lac_gan.training.step import LacGanTrainer  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("preset", "paper", "Preset to profile.")
flags.DEFINE_string("config_override", "", "Fields changed in the preset (train.py --config_override).")
flags.DEFINE_integer("batch_size", 2, "Batch size.")
flags.DEFINE_integer("steps", 3, "Profiled steps.")
# Events that wrap other ops (their time is the ops' time again).
WRAPPERS = ("ExecutorState::Process",)


def op_times(trace_dir: str) -> collections.Counter:
    """{op event name: picoseconds} over the executor threads of the trace."""
    space = xplane_pb2.XSpace()
    space.ParseFromString(Path(glob.glob(f"{trace_dir}/**/*.xplane.pb", recursive=True)[0]).read_bytes())
    times = collections.Counter()
    for plane in space.planes:
        names = {key: metadata.name for key, metadata in plane.event_metadata.items()}
        for line in plane.lines:
            if line.name.startswith("tf_Compute"):
                for event in line.events:
                    name = names.get(event.metadata_id, "?")
                    if name not in WRAPPERS:
                        times[name] += event.duration_ps
    return times


def main(argv):
    del argv
    config = config_lib.preset(FLAGS.preset).with_overrides(FLAGS.config_override).replace(batch_size=FLAGS.batch_size)
    print(f"CPU {cpu_description()}, {os.cpu_count()} cores; {onednn_description()}; TF {tf.__version__}")
    with tempfile.TemporaryDirectory() as directory:
        trainer = LacGanTrainer(config, tf.distribute.get_strategy(), seed=0,
                                identity_features=random_vggface(config.image_size, directory))
        batch = synthetic_batch(config.image_size, FLAGS.batch_size)
        for _ in range(3):
            trainer.train_step(batch)["total_g"].numpy()
        tf.profiler.experimental.start(f"{directory}/trace")
        for _ in range(FLAGS.steps):
            trainer.train_step(batch)["total_g"].numpy()
        tf.profiler.experimental.stop()
        times = op_times(f"{directory}/trace")
    total = sum(times.values())
    by_type = collections.Counter()
    for name, picoseconds in times.items():
        by_type[name.rsplit(":", 1)[-1]] += picoseconds
    per_step = lambda picoseconds: picoseconds / 1e9 / FLAGS.steps  # noqa: E731 - ms per step
    print(f"{FLAGS.preset} {FLAGS.config_override} batch {FLAGS.batch_size}: op time {per_step(total):.0f} ms per step")
    for op_type, picoseconds in by_type.most_common(15):
        print(f"  {op_type:40s} {100 * picoseconds / total:5.1f} %  {per_step(picoseconds):7.1f} ms")
    print("largest transposes:")
    for name, picoseconds in [(n, t) for n, t in times.most_common() if "Transpose" in n][:15]:
        print(f"  {per_step(picoseconds):7.1f} ms  {name}")


if __name__ == "__main__":
    app.run(main)
