"""Writing checkpoints and keeping a trainer's logdir (both trainers': `lacgan train` and
`lacgan train-detector`): one training per logdir (a lock), --resume and --steps checked against what
is there, the configuration saved beside the checkpoints. Reading them: lac_gan/nets/restore.py.
"""
from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import tensorflow as tf

from lac_gan.common.errors import UsageError, UserError, check_output_dir, fault_message
from lac_gan.common.locks import lock_directory
from lac_gan.common.saved_config import TRAINER_LOGDIRS
from lac_gan.nets.restore import CHECKPOINT_PREFIX, checkpoint_step, newest_readable_checkpoint

TRAINING_LOCK_NAME = ".train.lock"


def save_checkpoint(manager: tf.train.CheckpointManager, step: int) -> str:
    """`manager.save` at `step`; a write that fails (disk full, no permission) is a UserError naming
    the checkpoint, with what it had written removed: a `ckpt-N_temp/` folder left behind would
    stand in the way of the run resumed at the last good checkpoint."""
    prefix = Path(manager.directory) / f"{CHECKPOINT_PREFIX}-{step}"
    try:
        return manager.save(checkpoint_number=step)
    except tf.errors.OpError as error:
        shutil.rmtree(f"{prefix}_temp", ignore_errors=True)
        for written in Path(manager.directory).glob(f"{prefix.name}.*"):  # never recorded in `checkpoint`
            written.unlink(missing_ok=True)
        kept = manager.latest_checkpoint
        then = (f"the last good checkpoint is kept ({kept}): make room, then continue from it with --resume" if kept
                else "make room, then run the command again")
        raise UserError(f"{prefix}: checkpoint not written ({fault_message(error)}); {then}") from error


@contextlib.contextmanager
def prepare_logdir(config, logdir: str, resume: bool, steps: int) -> Iterator[str | None]:
    """A trainer's logdir, locked against a second training there for the `with` block, checked
    against --resume and --steps, then `config` (a SavedConfig: LacGanConfig or JaanetConfig) saved
    in it; yields the checkpoint to resume from (the newest readable one), None for a new run. A
    saved configuration must equal this run's; the other trainer's logdir is refused untouched."""
    logdir = check_output_dir("--logdir", logdir)
    for file_name, kind in TRAINER_LOGDIRS.items():
        if file_name != config.FILE_NAME and (logdir / file_name).is_file():
            raise UsageError(f"--logdir {logdir} holds {file_name}: it is {kind}, not "
                             f"{type(config).LOGDIR_KIND}; use another --logdir")
    if resume and not logdir.is_dir():
        raise UsageError(f"--resume: {logdir} holds no checkpoint to resume from (no such folder); leave out "
                         "--resume to start a new run there")
    logdir.mkdir(parents=True, exist_ok=True)
    with lock_directory(logdir, TRAINING_LOCK_NAME, "--logdir", "training",
                        "wait for it to finish, or use another --logdir"):
        yield _checked_resume(config, logdir, resume, steps)


def _checked_resume(config, logdir: Path, resume: bool, steps: int) -> str | None:
    config_path = logdir / config.FILE_NAME
    has_checkpoint = tf.train.get_checkpoint_state(str(logdir)) is not None
    if has_checkpoint and not resume:
        raise UsageError(f"--logdir {logdir} already holds checkpoints: pass --resume to continue, or use a new "
                         "--logdir")
    resume_from = None
    if resume:
        resume_from = newest_readable_checkpoint(logdir) if has_checkpoint else None
        if resume_from is None:
            raise UsageError(f"--resume: {logdir} holds no checkpoint to resume from; leave out --resume to start "
                             "a new run there")
        step = checkpoint_step(resume_from)
        if step is not None and step >= steps:
            raise UsageError(f"--steps {steps}: {resume_from} is already at step {step}; pass a larger "
                             "--steps (the global step to stop at) to train further")
        if config_path.is_file() and type(config).load(logdir) != config:
            raise UsageError(f"{config_path} differs from this run's configuration; resume with "
                             "the same preset and flags")
    config.save(logdir)
    return resume_from
