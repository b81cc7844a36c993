"""Things several test modules build: converted datasets, tiny untrained checkpoints, test faces."""
from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

from lac_gan.data import attention, record_schema
from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.au_table import NUM_AUS
from lac_gan.data.bp4d import JAANET_PARTS
from lac_gan.data.conversion import au_rates
from lac_gan.evaluation.openface import MIN_FACE_SIZE
from lac_gan.nets.config import LacGanConfig, tiny


def write_converted_dataset(directory: Path, size: int, examples_by_part: dict[str, list[dict]]) -> Path:
    """What the converter writes, from ready aligned faces: `<directory>/<part>/shard.tfrecord` and a
    manifest.json. Each example is `record_schema.encode_example` keywords (image, labels, subject,
    task, frame, ...); the canonical face's AU centres and attention maps fill in what is not given."""
    defaults = {"landmarks5": np.zeros((5, 2)), "au_centres": attention.au_centres(canonical_landmarks49(size)),
                "attention_maps": attention.canonical_attention_maps(size)}
    for part, examples in examples_by_part.items():
        (directory / part).mkdir(parents=True, exist_ok=True)
        with tf.io.TFRecordWriter(str(directory / part / "shard-00000.tfrecord")) as writer:
            for example in examples:
                writer.write(record_schema.encode_example(**{**defaults, **example}))
    # The converter's per-part AU counts, from the same per-frame counts its sidecars hold.
    counts = {part: au_rates([{"au_positives": np.asarray(e["labels"]) == 1, "au_known": np.asarray(e["labels"]) != 9}
                              for e in examples_by_part.get(part, [])]) for part in JAANET_PARTS}
    manifest = {"schema_version": record_schema.SCHEMA_VERSION, "image_size": size, "parts": list(JAANET_PARTS),
                "au_positive_rate": {"per_part": counts}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def write_untrained_checkpoint(logdir: Path, config: LacGanConfig | None = None, seed: int = 0) -> Path:
    """A training logdir (config.json, checkpoint index, ckpt-1) holding an untrained generator of the
    config's family (default: the tiny CARGs)."""
    from lac_gan.nets.synthesis import untrained_generator
    config = config or tiny()
    keras.utils.set_random_seed(seed)
    config.save(logdir)
    generator = untrained_generator(config)["generator"]
    tf.train.CheckpointManager(tf.train.Checkpoint(generator=generator), str(logdir), 1).save(checkpoint_number=1)
    return logdir


def face_crops(photo: np.ndarray, size: int, count: int) -> np.ndarray:
    """`count` slightly shifted square crops of a face photo, resized to size: uint8 [count, S, S, 3]."""
    crops = [photo[20 + 3 * k: 220 + 3 * k, 150 + 4 * k: 350 + 4 * k] for k in range(count)]
    return np.stack([np.asarray(Image.fromarray(c).resize((size, size), Image.BILINEAR)) for c in crops])


def write_images(folder: Path, count: int) -> list[Path]:
    """`count` flat-grey PNGs 000000.png ... in a new folder (inputs for a fake detector), of the
    size the OpenFace detector gives OpenFace as they are."""
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        paths.append(folder / f"{i:06d}.png")
        Image.fromarray(np.full((MIN_FACE_SIZE, MIN_FACE_SIZE, 3), 15 * i, np.uint8)).save(paths[-1])
    return paths


# The astronaut's face in skimage's 512 x 512 photo (rows, cols), a square around it.
FACE_BOX = (30, 130, 230, 330)


def face_variants(photo: np.ndarray, size: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`count` uint8 faces: the astronaut's face crop with random shifts and flips, resized."""
    top, left, bottom, right = FACE_BOX
    faces = []
    for _ in range(count):
        dy, dx = rng.integers(-12, 13, size=2)
        crop = photo[top + dy:bottom + dy, left + dx:right + dx]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        resized = tf.image.resize(crop[None].astype(np.float32), [size, size], antialias=True)[0]
        faces.append(np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8))
    return faces


def write_face_records(directory: Path, photo: np.ndarray, size: int, per_part: int = 6) -> Path:
    """A tiny converted dataset: part1..3 of real faces with random 0/1/9 labels."""
    rng = np.random.default_rng(0)
    landmarks = canonical_landmarks49(size)
    examples = {}
    for p, part in enumerate(JAANET_PARTS):
        faces = face_variants(photo, size, per_part, rng)
        examples[part] = [{"image": face, "labels": rng.choice([0, 1, 9], size=NUM_AUS, p=[0.45, 0.45, 0.1]),
                           "subject": f"F00{p + 1}", "task": "T1", "frame": frame, "landmarks49": landmarks}
                          for frame, face in enumerate(faces)]
    return write_converted_dataset(directory, size, examples)
