"""The model that ships inside the package (lac_gan/resources/bundled_model/), used when no
`--checkpoint` (and no `--editor warp`) is given: a trained generator's weights only, its
config.json, and manifest.json saying what made it (command, data, commit, held-out scores) and
every file's size and sha256, so that a missing, truncated or changed file is a one-line error
naming it instead of a wrong model.

    write_bundled_model("runs/region", "lac_gan/resources/bundled_model", about={...})
    editor = load_bundled_model()
"""
from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path

import tensorflow as tf

from lac_gan.common.errors import DataError, UsageError, fault_message
from lac_gan.common.json_files import write_json_atomic
from lac_gan.nets.config import LacGanConfig
from lac_gan.nets.restore import (checkpoint_logdir, checkpoint_step, resolve_checkpoint,
                                  silence_unrestored_value_warnings)

MANIFEST_NAME = "manifest.json"
WEIGHTS_PREFIX = "generator"  # generator.index, generator.data-00000-of-00001


def bundled_model_dir() -> Path:
    return Path(str(resources.files("lac_gan") / "resources" / "bundled_model"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bundled_model(checkpoint: str, out_dir: str | Path, about: dict) -> Path:
    """The generator of a training `checkpoint` (a logdir: its newest) as a bundled model in
    `out_dir`: config.json, the generator's weights alone, manifest.json with `about` and each file's
    size and sha256."""
    from lac_gan.nets.synthesis import untrained_generator  # the families, only when writing
    path = resolve_checkpoint(checkpoint)
    config = LacGanConfig.load(checkpoint_logdir(path))
    generator = untrained_generator(config)["generator"]
    tf.train.Checkpoint(generator=generator).restore(path).expect_partial().assert_existing_objects_matched()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config.save(out_dir)
    tf.train.Checkpoint(generator=generator).write(str(out_dir / WEIGHTS_PREFIX))
    files = sorted(p.name for p in out_dir.iterdir() if p.name != MANIFEST_NAME)
    manifest = {**about, "generator": config.generator, "step": checkpoint_step(path), "checkpoint": path,
                "files": {name: {"bytes": (out_dir / name).stat().st_size, "sha256": _sha256(out_dir / name)}
                          for name in files}}
    return write_json_atomic(out_dir / MANIFEST_NAME, manifest)


def read_manifest(directory: Path) -> dict:
    path = directory / MANIFEST_NAME
    if not path.is_file():
        raise UsageError(f"{path}: no bundled model in this installation; pass --checkpoint (a trained model) or "
                         "--editor warp")
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError, TypeError) as error:
        raise DataError(f"{path}: not a bundled model's manifest ({error}); reinstall lacgan") from error
    for name, expected in files.items():
        file = directory / name
        if not file.is_file():
            raise DataError(f"{file}: missing (listed in {path}); reinstall lacgan")
        size = file.stat().st_size
        if size != expected["bytes"] or _sha256(file) != expected["sha256"]:
            state = "truncated" if size < expected["bytes"] else "changed"
            raise DataError(f"{file}: {state} ({size} bytes, the manifest says {expected['bytes']} and another "
                            "sha256); reinstall lacgan")
    return manifest


def load_bundled_model(directory: str | Path | None = None):
    """The bundled model's editor (lac_gan/nets/synthesis.py:editor_of), every file checked against
    the manifest first; a config.json that does not fit the weights is a DataError naming both."""
    from lac_gan.nets.synthesis import editor_of, untrained_generator
    directory = Path(directory) if directory is not None else bundled_model_dir()
    read_manifest(directory)
    config = LacGanConfig.load(directory)
    try:
        generator = untrained_generator(config)["generator"]
        tf.train.Checkpoint(generator=generator).read(str(directory / WEIGHTS_PREFIX)).assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as error:
        silence_unrestored_value_warnings()
        raise DataError(f"{directory / WEIGHTS_PREFIX}: does not fit {directory / LacGanConfig.FILE_NAME} "
                        f"({fault_message(error)}); reinstall lacgan") from error
    return editor_of(config, generator)
