"""Reading checkpoints: a training logdir holds its configuration (`config.json`), the
CheckpointManager's `checkpoint` index and `ckpt-<step>.*` files; `--checkpoint` anywhere in the
project accepts the logdir (its newest readable checkpoint) or one checkpoint path, and
`load_checkpointed` restores a net from it. Writing them is the trainers' (training/checkpoints.py).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import tensorflow as tf

from lac_gan.common.errors import DataError, UsageError, fault_message

CHECKPOINT_PREFIX = "ckpt"
STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"  # the trainer's `step` variable in its checkpoints


class CheckpointNotFoundError(UsageError, FileNotFoundError):
    pass


def unreadable_reason(checkpoint: str) -> str | None:
    """Why a checkpoint cannot be restored (a truncated or missing file...), or None when every
    tensor in it reads back."""
    try:
        reader = tf.train.load_checkpoint(checkpoint)
        for name in reader.get_variable_to_shape_map():
            reader.get_tensor(name)
    # The reader raises IndexError for a truncated data file, OpErrors for others.
    except (tf.errors.OpError, ValueError, IndexError, OSError, RuntimeError) as error:
        return fault_message(error)
    return None


def newest_readable_checkpoint(logdir: str | Path) -> str | None:
    """The newest checkpoint of a logdir that reads back, saying which newer ones it passed over and
    why (e.g. a kill while one was written); None when the logdir has none. A DataError when it
    has checkpoints but none is readable."""
    state = tf.train.get_checkpoint_state(str(logdir))
    candidates = list(reversed(state.all_model_checkpoint_paths)) if state else []
    passed_over = []
    for checkpoint in candidates:
        reason = unreadable_reason(checkpoint)
        if reason is None:
            if passed_over:
                logging.warning("using %s: the newer %s", checkpoint,
                                "; ".join(f"{c} is unreadable ({r})" for c, r in passed_over))
            return checkpoint
        passed_over.append((checkpoint, reason))
    if passed_over:
        raise DataError(f"{logdir}: no readable checkpoint; " +
                        "; ".join(f"{c}: {r}" for c, r in passed_over))
    return None


def checkpoint_step(checkpoint: str) -> int | None:
    """The training step a checkpoint was saved at, read without building any model (None when the
    checkpoint has no step, e.g. a generator-only one)."""
    reader = tf.train.load_checkpoint(checkpoint)
    return int(reader.get_tensor(STEP_KEY)) if reader.has_tensor(STEP_KEY) else None


def resolve_checkpoint(path: str | Path) -> str:
    """A logdir -> its newest readable checkpoint; a checkpoint path (`.../ckpt-100`, with or without
    `.index`) -> itself. A clear error when nothing (readable) is there."""
    path = Path(path)
    if path.is_dir():
        latest = newest_readable_checkpoint(path)
        if latest is None:
            raise CheckpointNotFoundError(f"{path}: no checkpoint in this directory (no `checkpoint` "
                                          f"index with {CHECKPOINT_PREFIX}-N files); pass a training "
                                          "--logdir or a checkpoint path like LOGDIR/ckpt-1000")
        return latest
    prefix = str(path)[:-len(".index")] if str(path).endswith(".index") else str(path)
    if Path(prefix + ".index").is_file():
        reason = unreadable_reason(prefix)
        if reason is not None:
            raise DataError(f"{prefix}: unreadable checkpoint ({reason}); pass its logdir to use the newest "
                            "readable one")
        return prefix
    raise CheckpointNotFoundError(f"{path}: neither a directory with checkpoints nor a checkpoint "
                                  f"(no {prefix}.index); pass a training --logdir or LOGDIR/ckpt-N")


def checkpoint_logdir(checkpoint_path: str) -> Path:
    """The logdir (where config.json is) of a resolved checkpoint path."""
    return Path(checkpoint_path).parent


def silence_unrestored_value_warnings() -> None:
    """A checkpoint that failed half-way, kept alive by the error's traceback, logs a WARNING for
    every value it did not restore when it is deleted at exit (hundreds of lines after the one
    that says what is wrong): TensorFlow's Python logger shows errors only from here on."""
    logging.getLogger("tensorflow").setLevel(logging.ERROR)


def load_checkpointed(checkpoint: str | Path, config_class, build: Callable) -> tuple[object, dict, str]:
    """(config, objects, checkpoint path) for a `--checkpoint` (a logdir or a checkpoint path): the
    logdir's configuration read (config_class.load: a DataError naming the file when it is not one),
    `build(config)` -> {name: model} restored from the checkpoint. A configuration that does not
    fit the checkpoint's variables (edited, or another run's) is a DataError naming both files."""
    path = resolve_checkpoint(checkpoint)
    config = config_class.load(checkpoint_logdir(path))
    try:
        objects = build(config)
        tf.train.Checkpoint(**objects).restore(path).expect_partial().assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as error:
        silence_unrestored_value_warnings()
        raise DataError(f"{path} does not fit {checkpoint_logdir(path) / config_class.FILE_NAME} "
                        f"({fault_message(error)}); was the configuration edited, or copied from another "
                        "run?") from error
    return config, objects, path
