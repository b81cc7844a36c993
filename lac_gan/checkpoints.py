"""Where checkpoints live: a training logdir holds `config.json`, the CheckpointManager's `checkpoint`
index and `ckpt-<step>.*` files; `--checkpoint` anywhere in the project accepts the logdir (its latest
checkpoint) or one checkpoint path.
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf

CHECKPOINT_PREFIX = "ckpt"


class CheckpointNotFoundError(FileNotFoundError):
    pass


def resolve_checkpoint(path: str | Path) -> str:
    """A logdir -> its latest checkpoint; a checkpoint path (`.../ckpt-100`, with or without
    `.index`) -> itself. A clear error when nothing is there."""
    path = Path(path)
    if path.is_dir():
        latest = tf.train.latest_checkpoint(str(path))
        if latest is None:
            raise CheckpointNotFoundError(f"{path}: no checkpoint in this directory (no `checkpoint` "
                                          f"index with {CHECKPOINT_PREFIX}-N files); pass a training "
                                          "--logdir or a checkpoint path like LOGDIR/ckpt-1000")
        return latest
    prefix = str(path)[:-len(".index")] if str(path).endswith(".index") else str(path)
    if Path(prefix + ".index").is_file():
        return prefix
    raise CheckpointNotFoundError(f"{path}: neither a directory with checkpoints nor a checkpoint "
                                  f"(no {prefix}.index); pass a training --logdir or LOGDIR/ckpt-N")


def checkpoint_logdir(checkpoint_path: str) -> Path:
    """The logdir (where config.json is) of a resolved checkpoint path."""
    return Path(checkpoint_path).parent
