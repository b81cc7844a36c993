"""LAC-GAN training: the loop around the train step (lac_gan/training/step.py), with its checkpoints
(training/checkpoints.py), summaries (training/summaries.py) and held-out validation
(training/regressor_validation.py).

`run_training(config, options)` is what `train.py` (and `lacgan train`) calls.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import keras
import tensorflow as tf
from absl import logging

from lac_gan.common.errors import UsageError, UserError, check_seed
from lac_gan.common.progress import Progress
from lac_gan.data import dataset
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.bp4d import JAANET_FOLD_TEST_PART, fold_parts
from lac_gan.nets import vggface
from lac_gan.nets.config import LacGanConfig
from lac_gan.nets.restore import CHECKPOINT_PREFIX, checkpoint_logdir, checkpoint_step, resolve_checkpoint
from lac_gan.nets.vggface import VggFaceFeatures
from lac_gan.training import regressor_validation
from lac_gan.training.checkpoints import prepare_logdir, save_checkpoint
from lac_gan.training.region_step import RegionTrainer
from lac_gan.training.step import PRECISIONS, LacGanTrainer, loss_scalars, make_strategy

# config.generator -> its trainer (the same surface: train_step, held_out_readings, preview_images,
# checkpoint); the editor of a trained one: lac_gan/nets/synthesis.py:GENERATOR_FAMILIES.
TRAINERS = {"cargs": LacGanTrainer, "region": RegionTrainer}
from lac_gan.training.summaries import ValidationLog, write_images, write_scalars


@dataclasses.dataclass
class TrainingOptions:
    data_dir: str
    logdir: str
    fold: int = 1
    steps: int = 1000  # the global step to stop at (a resumed run continues up to it)
    identity_weights: str | None = None  # VGG-Face .h5, or None: identity loss off
    precision: str = "float32"  # float32 | fp16 | bf16 (mixed precision)
    xla: bool = False
    strategy: str = "default"  # default | mirrored | multi_worker
    resume: bool = False
    seed: int = 0
    log_every: int = 10
    image_every: int = 100
    checkpoint_every: int = 500
    max_checkpoints: int = 5
    skip_bad_records: bool = False  # go on without unreadable records (counted), else stop naming them
    eval_every: int = 0  # R^i on held-out people every K steps and at the last one (regressor_validation); 0: never
    eval_examples: int = 256  # how many of the fold's test frames it scores (the same ones every time)


class NonFiniteLossError(UserError):
    """Training diverged (a non-finite loss): a result to report in one line, not a bug of ours."""


def check_finite(scalars: dict[str, float], step: int, last_checkpoint: str | None) -> None:
    bad = [name for name, value in scalars.items() if not math.isfinite(value)]
    if bad:
        kept = last_checkpoint or "none written yet"
        raise NonFiniteLossError(f"non-finite loss at step {step}: {', '.join(f'{n} = {scalars[n]}' for n in bad)}; "
                                 f"stopped without saving this state (last good checkpoint: {kept})")


def training_files(config: LacGanConfig, options: TrainingOptions) -> list[str]:
    """The fold's training shards, every record checked (see dataset.readable_shards); records of any
    size are resized to the config's by the reader."""
    manifest_size = dataset.read_manifest(options.data_dir)["image_size"]
    if manifest_size != config.image_size:
        logging.info("%s holds %dpx faces: resized to the config's %dpx as they are read",
                     options.data_dir, manifest_size, config.image_size)
    files = dataset.fold_files(options.data_dir, options.fold, "train")
    files, _, examples = dataset.readable_shards(files, options.skip_bad_records, Path(options.logdir))
    if config.batch_size > examples:  # a batch larger than the data would read it over and over
        raise UsageError(f"--batch_size {config.batch_size}: the training parts of fold {options.fold} hold "
                         f"{examples} readable examples; choose at most that")
    return files


def untrained_aus(data_dir: str, fold: int) -> dict[str, str]:
    """{AU: why} for the AUs the fold's training parts cannot teach: no frame with the AU present,
    or none with it absent (e.g. AU24 on OpenFace-labelled data, all 9), from the manifest's counts."""
    manifest = dataset.read_manifest(data_dir)
    train_parts, _ = fold_parts(fold, manifest["parts"])
    counts = manifest["au_positive_rate"]["per_part"]
    untrained = {}
    for au in AU_NAMES:
        positive = sum(counts[part][au]["positive"] for part in train_parts)
        known = sum(counts[part][au]["known"] for part in train_parts)
        if known == 0:
            untrained[au] = f"no known label in the training parts {', '.join(train_parts)}"
        elif positive in (0, known):
            state = "absent" if positive == 0 else "present"
            untrained[au] = f"{state} in all {known} labelled training frames ({', '.join(train_parts)})"
    return untrained


def training_batches(files: list[str], config: LacGanConfig, seed: int, start_step: int) -> tf.data.Dataset:
    """Seeded batches, skipping (undecoded) the `start_step` batches a resumed run already used.

    Iterate it once only: tf.data reshuffles for every new iterator of a dataset object, so a second
    iterator would see another order (previews therefore read their own dataset).
    """
    return dataset.make_dataset(files, config.image_size, config.batch_size, seed=seed,
                                skip_examples=start_step * config.batch_size)


def preview_batch(files: list[str], config: LacGanConfig) -> dict[str, tf.Tensor]:
    """The same first examples at every image summary, so progress is visible on fixed faces."""
    data = dataset.make_dataset(files, config.image_size, min(config.batch_size, 4), shuffle=False, repeat=False)
    return next(iter(data))


def _check_options(config: LacGanConfig, options: TrainingOptions) -> None:
    """Options that cannot work, refused before anything is read or built."""
    if options.fold not in JAANET_FOLD_TEST_PART:
        raise UsageError(f"--fold {options.fold}: expected one of {sorted(JAANET_FOLD_TEST_PART)}")
    for name in ("steps", "log_every", "image_every", "checkpoint_every"):
        if getattr(options, name) < 1:
            raise UsageError(f"--{name} {getattr(options, name)}: expected a whole number of steps, at least 1")
    if options.eval_every < 0:
        raise UsageError(f"--eval_every {options.eval_every}: expected a whole number of steps, or 0 for never")
    if options.eval_examples < 1:
        raise UsageError(f"--eval_examples {options.eval_examples}: expected at least 1")
    if config.batch_size < 1:
        raise UsageError(f"--batch_size {config.batch_size}: expected at least 1")
    check_seed(options.seed)
    if options.identity_weights is not None:
        vggface.read_weights(options.identity_weights)  # a missing or wrong file, before the models are built


def _set_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; choose one of {sorted(PRECISIONS)}")
    keras.config.set_dtype_policy(PRECISIONS[precision])


def build_trainer(config: LacGanConfig, options: TrainingOptions):
    keras.utils.set_random_seed(options.seed)
    _set_precision(options.precision)
    strategy = make_strategy(options.strategy)
    identity = None
    if options.identity_weights is None:
        logging.warning("identity loss (Eq. 4) is OFF: --identity_weights=none")
    else:
        with strategy.scope():
            identity = VggFaceFeatures(options.identity_weights, config.image_size, config.identity_layers)
    return TRAINERS[config.generator](config, strategy, seed=options.seed, identity_features=identity,
                                      precision=options.precision, xla=options.xla)


def run_training(config: LacGanConfig, options: TrainingOptions) -> list[dict[str, float]]:
    """Train up to global step `options.steps`; returns the loss scalars of every step run here.

    Raises NonFiniteLossError (naming the term and step) without saving the bad state, and, before
    any model is built, UsageError for options that cannot work and DataError for unreadable data.
    """
    _check_options(config, options)
    untrained = untrained_aus(options.data_dir, options.fold)
    for au, reason in untrained.items():
        logging.warning("%s is untrained: %s; its region keeps the source pixels in every edit", au, reason)
    config = config.replace(untrained_aus=tuple(untrained))
    with prepare_logdir(config, options.logdir, options.resume, options.steps) as resume_from:
        return _train(config, options, resume_from)


def _train(config: LacGanConfig, options: TrainingOptions, resume_from: str | None) -> list[dict[str, float]]:
    """run_training's work, in its locked logdir."""
    files = training_files(config, options)
    held_out = (regressor_validation.held_out_set(dataset.fold_files(options.data_dir, options.fold, "test"),
                                                  options.eval_examples) if options.eval_every else None)
    trainer = build_trainer(config, options)
    manager = tf.train.CheckpointManager(trainer.checkpoint, options.logdir, options.max_checkpoints,
                                         checkpoint_name=CHECKPOINT_PREFIX)
    if resume_from is not None:
        trainer.checkpoint.restore(resume_from).assert_consumed()
        logging.info("resumed from %s at step %d", resume_from, int(trainer.step.numpy()))
    start = int(trainer.step.numpy())
    validation = ValidationLog(options.logdir, start) if options.eval_every else None
    preview = preview_batch(files, config)
    batches = iter(trainer.strategy.experimental_distribute_dataset(
        training_batches(files, config, options.seed, start)))
    writer = tf.summary.create_file_writer(str(Path(options.logdir) / "train"))
    history = []
    step = start
    progress = Progress("training steps", options.steps - start)
    while step < options.steps:
        scalars = loss_scalars(trainer.train_step(next(batches)))
        step = int(trainer.step.numpy())
        check_finite(scalars, step, manager.latest_checkpoint)
        history.append(scalars)
        progress.advance_to(step - start)
        if step % options.log_every == 0:
            write_scalars(writer, {**scalars, "learning_rate": trainer.config.learning_rate}, step)
            logging.info("step %d: total_g %.4f total_d %.4f", step, scalars["loss/total_g"], scalars["loss/total_d"])
        if step % options.image_every == 0:
            write_images(writer, trainer, preview, step)
        if step % options.checkpoint_every == 0 or step == options.steps:
            save_checkpoint(manager, step)
        if validation is not None and (step % options.eval_every == 0 or step == options.steps):
            figures = regressor_validation.regressor_validation(trainer, held_out)
            write_scalars(writer, regressor_validation.validation_scalars(figures), step)
            logging.info("step %d: %s", step, regressor_validation.summary_line(figures))
            validation.add({"step": step, "fold": options.fold, **figures})
    writer.flush()
    return history


def validate_checkpoint(checkpoint: str, data_dir: str, fold: int, examples: int) -> dict:
    """The held-out R^i figures of a checkpoint (a logdir: its newest), as training's validation.json
    entry for its step would hold them."""
    path = resolve_checkpoint(checkpoint)
    config = LacGanConfig.load(checkpoint_logdir(path))
    trainer = TRAINERS[config.generator](config, tf.distribute.get_strategy(), seed=0)
    trainer.checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
    held_out = regressor_validation.held_out_set(dataset.fold_files(data_dir, fold, "test"), examples)
    return {"step": checkpoint_step(path), "fold": fold,
            **regressor_validation.regressor_validation(trainer, held_out)}
