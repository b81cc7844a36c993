"""`python train.py --demo`: the whole path on a fresh machine with no dataset.

1. A small BP4D-layout tree (`<Subject>/<Task>/<frame>.jpg` + `AU_OCC/<Subject>_<Task>.csv`) made
   from one bundled public-domain photo, `skimage.data.astronaut()`, with random rotations, scales,
   shifts, mirroring and lighting to get several samples, and random (seeded) AU labels.
2. The real converter on it (MTCNN, alignment, attention maps, TFRecords, manifest).
3. The tiny preset trained for a few hundred steps (TensorBoard logs and checkpoints).
4. Fig. 3 / Fig. 5 edit grids of the held-out test faces from the trained checkpoint.

It proves the machinery runs end to end; its labels are random, so the edits mean nothing about
the paper's results (those need BP4D and a GPU).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

from lac_gan.data.au_table import AU_NUMBERS
from lac_gan.data.bp4d import JAANET_PARTS
from lac_gan.data.dataset import fold_files, make_dataset
from lac_gan.nets import config as config_lib
from lac_gan.nets.figures import Face, write_figures
from lac_gan.nets.restore import checkpoint_step, newest_readable_checkpoint
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.training.loop import TrainingOptions, run_training

DEMO_STEPS = 300
# The tiny preset's 32 px leaves each AU region a few pixels wide; 64 px makes the edits visible
# and still trains in about a minute on 2 CPU cores.
DEMO_IMAGE_SIZE = 64
FRAMES_PER_VIDEO = 8
# Two subjects of each JAA-Net part, so fold 1 trains on four and tests on two.
SUBJECTS = tuple(subjects[k] for subjects in JAANET_PARTS.values() for k in (0, 1))
TASK = "T1"
FIGURE_FACES = 3


@dataclass(frozen=True)
class DemoOutputs:
    bp4d_images: Path
    bp4d_labels: Path
    tfrecords: Path
    logdir: Path
    figures: list[Path]


def augmented_photo(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo turned, scaled, shifted, maybe mirrored, with other lighting (uint8 RGB, same size)."""
    image = Image.fromarray(photo)
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    scale = rng.uniform(0.9, 1.1)
    image = image.rotate(rng.uniform(-10, 10), resample=Image.Resampling.BILINEAR,
                         translate=tuple(rng.uniform(-15, 15, 2)), fillcolor=(128, 128, 128))
    size = image.size
    image = image.resize((round(size[0] * scale), round(size[1] * scale)), Image.Resampling.BILINEAR)
    image = ImageEnhance.Brightness(image).enhance(rng.uniform(0.8, 1.2))
    return np.asarray(ImageEnhance.Contrast(image).enhance(rng.uniform(0.8, 1.2)))


def write_bp4d_tree(root: Path, photo: np.ndarray, seed: int) -> tuple[Path, Path]:
    """Frames and AU_OCC CSVs in BP4D's layout (header of AU numbers, first column `0` = frame)."""
    rng = np.random.default_rng(seed)
    images, labels = root / "images", root / "AU_OCC"
    labels.mkdir(parents=True, exist_ok=True)
    for subject in SUBJECTS:
        video = images / subject / TASK
        video.mkdir(parents=True, exist_ok=True)
        rows = [",".join(["0", *map(str, AU_NUMBERS)])]
        for frame in range(1000, 1000 + FRAMES_PER_VIDEO):
            Image.fromarray(augmented_photo(photo, rng)).save(video / f"{frame}.jpg", quality=95)
            coding = rng.choice([0, 1, 9], size=len(AU_NUMBERS), p=[0.55, 0.4, 0.05])
            rows.append(",".join([str(frame), *map(str, coding)]))
        (labels / f"{subject}_{TASK}.csv").write_text("\n".join(rows) + "\n")
    return images, labels


def held_out_faces(data_dir: Path, image_size: int, count: int) -> list[Face]:
    """The first `count` faces of fold 1's test part, for the figures."""
    batch = next(iter(make_dataset(fold_files(data_dir, 1, "test"), image_size, count, shuffle=False,
                                   repeat=False, drop_remainder=False)))
    return [Face(image=batch["image"][k].numpy(), attention_maps=batch["attention_maps"][k].numpy(),
                 labels=batch["labels"][k].numpy(),
                 caption=f"{batch['subject'][k].numpy().decode()} {int(batch['frame'][k])}")
            for k in range(len(batch["image"]))]


def run_demo(out_dir: str | Path, steps: int = DEMO_STEPS, seed: int = 0) -> DemoOutputs:
    """Everything above, under `out_dir`; re-running reuses the converted data and resumes training."""
    from skimage import data as skimage_data  # the bundled public-domain face
    from lac_gan.data.conversion import convert
    from lac_gan.data.frame_pipeline import Settings

    out_dir = Path(out_dir)
    config = config_lib.tiny().replace(image_size=DEMO_IMAGE_SIZE)
    started = time.monotonic()
    images, labels = write_bp4d_tree(out_dir / "bp4d", skimage_data.astronaut(), seed)
    tfrecords = out_dir / "tfrecords"
    print(f"[demo] converting {len(SUBJECTS) * FRAMES_PER_VIDEO} frames -> {tfrecords}", flush=True)
    manifest = convert(str(images), str(labels), str(tfrecords), settings=Settings(image_size=config.image_size),
                       command="lac_gan.product.demo")
    written = manifest["frames"]["written"]
    print(f"[demo] {written} examples written; training the tiny preset for {steps} steps", flush=True)
    logdir = out_dir / "run"
    previous = newest_readable_checkpoint(logdir)
    if previous is not None and checkpoint_step(previous) >= steps:
        print(f"[demo] {previous} is already at step {checkpoint_step(previous)}: figures only", flush=True)
    else:
        run_training(config, TrainingOptions(data_dir=str(tfrecords), logdir=str(logdir), steps=steps, seed=seed,
                                             resume=previous is not None, image_every=max(1, steps // 3),
                                             checkpoint_every=steps))
    figures = write_figures(held_out_faces(tfrecords, config.image_size, FIGURE_FACES),
                            load_synthesizer(str(logdir)), out_dir / "figures")
    print(f"[demo] done in {time.monotonic() - started:.0f} s", flush=True)
    return DemoOutputs(images, labels, tfrecords, logdir, figures)
