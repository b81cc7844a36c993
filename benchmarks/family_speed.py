"""Training and editing speed of the generator families side by side, in one process.

    python benchmarks/family_speed.py [--presets small,region] [--seconds 20] [--repeats 3] [--photo PATH]

Training: each preset's trainer (training/loop.py:TRAINERS) on a synthetic batch of its batch size
(benchmarks/step_inputs.py; random faces, the canonical landmarks), no identity loss, windows of
`--seconds` alternating between the presets `--repeats` times (so that load on the machine hits
both alike); examples per second, min / median / max, and each preset's ratio to the first.
Editing: `lacgan edit`'s work per photo (FaceEditor.edit: face detection, landmark fit, plan,
drawing at the photo's resolution), after one warm-up edit, for the warp and for each preset's
editor with untrained weights (the speed does not depend on them), median of 5.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from benchmarks.machine import cpu_description, onednn_description  # noqa: E402
from benchmarks.step_inputs import synthetic_batch  # noqa: E402
from lac_gan.data.au_table import AU_NAMES  # noqa: E402
from lac_gan.data.image_io import read_rgb  # noqa: E402
from lac_gan.nets import config as config_lib  # noqa: E402
from lac_gan.nets.synthesis import editor_of, load_synthesizer, untrained_generator  # noqa: E402
from lac_gan.product.editing import FaceEditor  # noqa: E402
from lac_gan.training.loop import TRAINERS  # noqa: E402


def step_runner(preset: str):
    config = config_lib.preset(preset)
    keras.utils.set_random_seed(0)
    trainer = TRAINERS[config.generator](config, tf.distribute.get_strategy(), seed=0)
    batch = synthetic_batch(config.image_size, config.batch_size)
    trainer.train_step(batch)  # trace
    return config, lambda: trainer.train_step(batch)["total_g"].numpy()


def examples_per_second(config, run, seconds: float) -> float:
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run()
        steps += 1
    return steps * config.batch_size / (time.perf_counter() - start)


def edit_seconds(editor, photo: np.ndarray, repeats: int = 5) -> float:
    face_editor = FaceEditor(editor)
    targets = {AU_NAMES.index("AU12"): 1, AU_NAMES.index("AU6"): 1}
    face_editor.edit(photo, targets)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        face_editor.edit(photo, targets)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="small,region")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photo", default=None, help="a photo to edit (default: scikit-image's astronaut)")
    args = parser.parse_args()
    print(cpu_description())
    print(onednn_description())
    presets = args.presets.split(",")
    runners = {p: step_runner(p) for p in presets}
    rates = {p: [] for p in presets}
    for _ in range(args.repeats):
        for preset, (config, run) in runners.items():
            rates[preset].append(examples_per_second(config, run, args.seconds))
    first = np.median(rates[presets[0]])
    for preset in presets:
        values = rates[preset]
        print(f"train {preset:8s} batch {runners[preset][0].batch_size:3d}: examples/s min {min(values):.2f} "
              f"median {np.median(values):.2f} max {max(values):.2f}; x{np.median(values) / first:.2f} "
              f"of {presets[0]}")
    if args.photo:
        photo = read_rgb(args.photo)
    else:
        from skimage import data
        photo = data.astronaut()
    print(f"edit (photo {photo.shape[1]}x{photo.shape[0]}, AU12+AU6): warp {edit_seconds(load_synthesizer(editor='warp'), photo):.3f} s")
    for preset in presets:
        config = config_lib.preset(preset)
        editor = editor_of(config, untrained_generator(config)["generator"])
        print(f"edit (photo {photo.shape[1]}x{photo.shape[0]}, AU12+AU6): {preset} {edit_seconds(editor, photo):.3f} s")


if __name__ == "__main__":
    main()
