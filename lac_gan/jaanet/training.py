"""`lacgan train-detector`: JAA-Net v1 trained on the project's TFRecords, with the conventions of
`lacgan train` (checkpoints in the logdir, exact resume, TensorBoard, progress lines).

One step (PyTorch-JAANet `train_JAAv1.py`): random crop + mirror (from the checkpointed generator),
the whole network, lambda_au (softmax + Dice) + lambda_land landmarks + lambda_refine / grad_enhance
attention refinement; SGD with Nesterov momentum, L2 weight decay added to every gradient, the
refinement branch's gradients multiplied by grad_enhance (the port's larger learning rate for it).
Every `eval_every` steps and at the last one, the fold's test part is scored (per-AU F1 of the positive
class, the mean landmark error): TensorBoard `val/...` and an entry of `<logdir>/validation.json`.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from lac_gan.common.errors import DataError, UsageError, check_seed
from lac_gan.common.progress import Progress
from lac_gan.data import dataset, metrics
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.jaanet import data, losses
from lac_gan.jaanet.config import JaanetConfig
from lac_gan.jaanet.model import build_model, present_probability
from lac_gan.nets.restore import CHECKPOINT_PREFIX
from lac_gan.training.checkpoints import prepare_logdir, save_checkpoint
from lac_gan.training.loop import check_finite
from lac_gan.training.summaries import ValidationLog, write_scalars

LOSS_NAMES = ("au_softmax", "au_dice", "landmark", "attention_refine", "total")


@dataclasses.dataclass
class DetectorTrainingOptions:
    data_dir: str
    logdir: str
    fold: int = 1
    steps: int = 1000  # the global step to stop at (a resumed run continues up to it)
    resume: bool = False
    seed: int = 0
    log_every: int = 10
    eval_every: int = 500  # and at the last step; 0: never
    checkpoint_every: int = 500
    max_checkpoints: int = 5


class JaanetTrainer:
    """The model, the optimiser, the step counter and the augmentation RNG (all checkpointed)."""

    def __init__(self, config: JaanetConfig, au_weights: np.ndarray, seed: int):
        keras.utils.set_random_seed(seed)
        self.config = config
        self.model = build_model(config)
        schedule = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, config.lr_decay_steps, config.lr_gamma, staircase=True)
        self.optimizer = keras.optimizers.SGD(schedule, momentum=config.momentum, nesterov=True)
        self.variables = self.model.trainable_variables
        self.optimizer.build(self.variables)
        refinement = {id(v) for v in self.model.refinement.trainable_variables}
        self.gradient_scales = [config.grad_enhance if id(v) in refinement else 1.0 for v in self.variables]
        self.au_weights = tf.constant(au_weights, tf.float32)
        self.rng = tf.random.Generator.from_seed(seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        self.checkpoint = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer, step=self.step,
                                              rng=self.rng)
        self.train_step = tf.function(self._train_step)
        self.predict = tf.function(self._predict)

    def loss_terms(self, outputs: dict, labels, known, landmarks, has_landmarks) -> dict[str, tf.Tensor]:
        c = self.config
        terms = {
            "au_softmax": losses.au_softmax_loss(outputs["au_log_probs"], labels, known, self.au_weights),
            "au_dice": losses.au_dice_loss(outputs["au_log_probs"], labels, known, self.au_weights, c.dice_smooth),
            "landmark": losses.landmark_loss(outputs["landmarks"], landmarks, has_landmarks),
            "attention_refine": losses.attention_refine_loss(outputs["refined_maps"], outputs["initial_maps"]),
        }
        terms["total"] = (c.lambda_au * (terms["au_softmax"] + terms["au_dice"]) + c.lambda_land * terms["landmark"]
                          + c.lambda_refine / c.grad_enhance * terms["attention_refine"])
        return terms

    def _train_step(self, batch):
        crops, landmarks = data.random_crop_flip(batch["image"], tf.reshape(batch["landmarks49"], [-1, 98]),
                                                 self.rng, self.config)
        with tf.GradientTape() as tape:
            outputs = self.model(crops, training=True)
            terms = self.loss_terms(outputs, batch["labels"], batch["known_mask"], landmarks,
                                    batch["has_landmarks49"])
        gradients = tape.gradient(terms["total"], self.variables)
        decay = self.config.weight_decay
        gradients = [(g + decay * v) * scale for g, v, scale in zip(gradients, self.variables, self.gradient_scales)]
        self.optimizer.apply_gradients(zip(gradients, self.variables))
        self.step.assign_add(1)
        return terms

    def _predict(self, images):
        """Test-time: centre crop -> (present probabilities [B, 12], landmarks [B, 98] in crop pixels)."""
        outputs = self.model(data.centre_crop(images, self.config), training=False)
        return present_probability(outputs["au_log_probs"]), outputs["landmarks"]


def training_statistics(files: list[str], fold: int) -> data.LabelStatistics:
    """Label and landmark counts of the training part(s); a clear error when no frame has landmarks."""
    stats = data.label_statistics(files)
    if stats.with_landmarks == 0:
        raise DataError(f"none of the {stats.frames} training frames of fold {fold} has 49-point landmarks "
                        "(has_landmarks49 = 0 in every record): JAA-Net's alignment branch needs them; convert the "
                        "data with --landmarks_root")
    if stats.with_landmarks < stats.frames:
        logging.warning("%d of %d training frames have no 49-point landmarks: their landmark loss is masked",
                        stats.frames - stats.with_landmarks, stats.frames)
    return stats


def validate(trainer: JaanetTrainer, files: list[str], batch_size: int) -> dict:
    """Per-AU scores (metrics.au_scores, JAA-Net's F1 and accuracy) and the mean landmark error
    (mean point distance / distance between the eye centres, over frames with landmarks)."""
    config = trainer.config
    labels, probabilities, errors = [], [], []
    for batch in dataset.make_dataset(files, config.image_size, batch_size, shuffle=False, repeat=False,
                                      drop_remainder=False):
        probability, landmarks = trainer.predict(batch["image"])
        target = data.centre_crop_landmarks(tf.reshape(batch["landmarks49"], [-1, 98]), config)
        distance = tf.norm(tf.reshape(landmarks - target, [-1, 49, 2]), axis=-1)
        normalised = tf.reduce_mean(distance, axis=-1) / tf.sqrt(losses.interocular_squared(target))
        errors.append(normalised.numpy()[batch["has_landmarks49"].numpy()])
        labels.append(batch["labels"].numpy())
        probabilities.append(probability.numpy())
    labels, probabilities = np.concatenate(labels), np.concatenate(probabilities)
    scores = metrics.au_scores(labels, probabilities, np.zeros(len(labels), bool), np.ones(NUM_AUS, bool))
    errors = np.concatenate(errors)
    f1 = [s.f1 for s in scores if s is not None and not math.isnan(s.f1)]
    return {"frames": int(len(labels)), "scores": metrics.scores_by_name(scores),
            "mean_f1": float(np.mean(f1)) if f1 else None,
            "landmark_error": float(errors.mean()) if len(errors) else None}


def _validation_scalars(result: dict) -> dict[str, float]:
    scalars = {f"val/f1/{name}": s["f1"] for name, s in result["scores"].items() if s and s["f1"] is not None}
    if result["mean_f1"] is not None:
        scalars["val/f1/mean"] = result["mean_f1"]
    if result["landmark_error"] is not None:
        scalars["val/landmark_error"] = result["landmark_error"]
    return scalars


def _check_options(options: DetectorTrainingOptions) -> None:
    """Options that cannot work, refused before anything is read or built."""
    for name, smallest in (("steps", 1), ("log_every", 1), ("checkpoint_every", 1), ("eval_every", 0)):
        if getattr(options, name) < smallest:
            raise UsageError(f"--{name} {getattr(options, name)}: expected a whole number of steps, at least "
                             f"{smallest}")
    check_seed(options.seed)


def run_detector_training(config: JaanetConfig, options: DetectorTrainingOptions) -> list[dict[str, float]]:
    """Train up to global step `options.steps`; returns the loss scalars of every step run here."""
    _check_options(options)
    train_files = dataset.fold_files(options.data_dir, options.fold, "train")
    validation_files = dataset.fold_files(options.data_dir, options.fold, "test")
    stats = training_statistics(train_files, options.fold)
    if config.batch_size > stats.frames:  # a batch larger than the data would read it over and over
        raise UsageError(f"--batch_size {config.batch_size}: the training parts of fold {options.fold} hold "
                         f"{stats.frames} examples; choose at most that")
    au_weights = losses.au_weights_from_counts(stats.positives, stats.known)
    logging.info("AU weights (from %d training frames): %s", stats.frames,
                 ", ".join(f"{n} {w:.3f}" for n, w in zip(AU_NAMES, au_weights)))
    with prepare_logdir(config, options.logdir, options.resume, options.steps) as resume_from:
        return _train(config, options, resume_from, train_files, validation_files, au_weights)


def _train(config: JaanetConfig, options: DetectorTrainingOptions, resume_from: str | None, train_files: list[str],
           validation_files: list[str], au_weights: np.ndarray) -> list[dict[str, float]]:
    """run_detector_training's work, in its locked logdir."""
    trainer = JaanetTrainer(config, au_weights, options.seed)
    manager = tf.train.CheckpointManager(trainer.checkpoint, options.logdir, options.max_checkpoints,
                                         checkpoint_name=CHECKPOINT_PREFIX)
    if resume_from is not None:
        trainer.checkpoint.restore(resume_from).assert_consumed()
        logging.info("resumed from %s at step %d", resume_from, int(trainer.step.numpy()))
    start = step = int(trainer.step.numpy())
    validation = ValidationLog(options.logdir, start) if options.eval_every else None
    batches = iter(dataset.make_dataset(train_files, config.image_size, config.batch_size, seed=options.seed,
                                        skip_examples=start * config.batch_size))
    writer = tf.summary.create_file_writer(str(Path(options.logdir) / "train"))
    history = []
    progress = Progress("detector training steps", options.steps - start)
    while step < options.steps:
        scalars = {f"loss/{k}": float(v) for k, v in trainer.train_step(next(batches)).items()}
        step = int(trainer.step.numpy())
        check_finite(scalars, step, manager.latest_checkpoint)
        history.append(scalars)
        progress.advance_to(step - start)
        if step % options.log_every == 0:
            learning_rate = float(trainer.optimizer.learning_rate)
            write_scalars(writer, {**scalars, "learning_rate": learning_rate}, step)
            logging.info("step %d: total %.4f (softmax %.4f, dice %.4f, landmark %.4f, refine %.4f), lr %g", step,
                         *(scalars[f"loss/{k}"] for k in LOSS_NAMES[-1:] + LOSS_NAMES[:-1]), learning_rate)
        if step % options.checkpoint_every == 0 or step == options.steps:
            save_checkpoint(manager, step)
        if options.eval_every and (step % options.eval_every == 0 or step == options.steps):
            result = validate(trainer, validation_files, config.batch_size)
            write_scalars(writer, _validation_scalars(result), step)
            logging.info("step %d validation (%d frames): mean F1 %s, %s", step, result["frames"],
                         "none" if result["mean_f1"] is None else f"{result['mean_f1']:.1f}",
                         ", ".join(f"{n} {s['f1']:.1f}" for n, s in result["scores"].items() if s and s["f1"] is not None))
            validation.add({"step": step, "fold": options.fold,
                            "au_weights": dict(zip(AU_NAMES, au_weights.tolist())), **result})
    writer.flush()
    return history
