"""R^i on held-out people during training: can LAC-GAN's own label critic read AUs on new faces?

Not in the paper (docs/paper-notes.md, "Held-out R^i"). The generator learns its labels from R^i
(Eq. 7-8): where R^i reads the AU on new people no better than chance, no label control can be
learnt, whatever the losses say; the generator then learns marks R^i reads instead. Three figures
per AU, each a balanced accuracy (0.5 = chance whatever the AU's rate; None where the evaluated
labels hold no positive or no negative):

- `r_balanced_accuracy`: R^i on the real ROIs of held-out frames against their known labels;
- `r_edit_accuracy`: R^i on the ROIs of those frames edited towards another held-out frame's
  labels, against those labels, over the frames whose label of the AU the edit changes;
- `r_source_accuracy`: R^i on the same frames unedited, against the same target labels (the
  control: what R^i says when nothing was edited).

The held-out frames are a fixed subset of the fold's test part, so every evaluation (and every
run of the same fold) scores the same frames and the same edits.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from lac_gan.common.errors import DataError
from lac_gan.data import metrics, record_schema
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.nets.synthesis import synthesis_labels
from lac_gan.training.step import MODEL_INPUTS

FIGURES = ("r_balanced_accuracy", "r_edit_accuracy", "r_source_accuracy")


@dataclasses.dataclass(frozen=True)
class HeldOutSet:
    """records: N serialised examples (tf.string [N]); labels [N, 12] (0/1/9); targets [N, 12]: the labels (0/1/9)
    each frame is edited towards, those of the frame half the set away (usually another person);
    edit_labels [N, 12]: the 0/1 labels the generator gets for that edit (synthesis_labels)."""
    records: tf.Tensor
    labels: np.ndarray
    targets: np.ndarray
    edit_labels: np.ndarray


def held_out_set(files: list[str], count: int) -> HeldOutSet:
    """`count` records of `files` spread evenly over them in order (all of them when fewer), so that
    every subject and task of the part is represented; the same ones every time."""
    records = tf.data.TFRecordDataset(files)
    try:
        total = int(records.reduce(np.int64(0), lambda n, _: n + 1))
        chosen = np.unique(np.round(np.linspace(0, total - 1, min(count, total))).astype(np.int64))
        selected = records.enumerate().filter(lambda i, _: tf.reduce_any(i == chosen)).map(lambda _, r: r)
        serialised = tf.constant(list(selected.as_numpy_iterator()), tf.string)
    except tf.errors.DataLossError as error:
        raise DataError(f"{', '.join(files)}: a damaged record in the held-out part "
                        f"({str(error).strip().splitlines()[0]}); convert it again, or pass --eval_every 0") from error
    if not serialised.shape[0]:
        raise DataError(f"{', '.join(files)}: no record in the held-out part to validate on; pass --eval_every 0")
    labels = tf.io.parse_example(serialised, {"labels": record_schema.FEATURES["labels"]})["labels"].numpy()
    targets = labels[(np.arange(len(labels)) + len(labels) // 2) % len(labels)]
    return HeldOutSet(serialised, labels, targets, synthesis_labels(targets, labels))


def held_out_figures(labels: np.ndarray, targets: np.ndarray, real_readings: np.ndarray,
                     edit_readings: np.ndarray, untrained_aus=()) -> dict:
    """The three figures (module docstring) per AU and their means over the AUs that have one, with
    the counts behind them; untrained AUs are left out. labels, targets [N, 12] (0/1/9);
    real_readings, edit_readings [N, 12] (0/1): R^i on the real frames and on their edits."""
    per_au = {}
    for j, au in enumerate(AU_NAMES):
        if au in untrained_aus:
            continue
        known = labels[:, j] != UNKNOWN_LABEL
        changed = metrics.changed_labels(targets[:, j], labels[:, j])
        to_present = targets[changed, j] == 1
        per_au[au] = {
            "r_balanced_accuracy": metrics.balanced_accuracy(labels[known, j] == 1, real_readings[known, j]),
            "r_edit_accuracy": metrics.balanced_accuracy(to_present, edit_readings[changed, j]),
            "r_source_accuracy": metrics.balanced_accuracy(to_present, real_readings[changed, j]),
            "known": int(known.sum()), "positives": int(np.sum(labels[:, j] == 1)),
            "changed": int(changed.sum()), "changed_to_present": int(to_present.sum())}
    means = {}
    for figure in FIGURES:
        values = [scores[figure] for scores in per_au.values() if scores[figure] is not None]
        means[figure] = float(np.mean(values)) if values else None
    return {"examples": int(len(labels)), "untrained_aus": list(untrained_aus), "mean": means, "per_au": per_au}


def regressor_validation(trainer, held_out: HeldOutSet) -> dict:
    """held_out_figures of a LacGanTrainer's R^i (its `held_out_readings`) on a held-out set, in
    batches of the training batch size."""
    config = trainer.config
    batches = tf.data.Dataset.from_tensor_slices((held_out.records, held_out.edit_labels)).map(
        lambda record, targets: (record_schema.parse_example(record, config.image_size), targets)).batch(
        config.batch_size)
    real, edited = [], []
    for batch, targets in batches:
        inputs = {name: batch[name] for name in MODEL_INPUTS}
        real_readings, edit_readings = trainer.held_out_readings(inputs, targets)
        real.append(real_readings.numpy())
        edited.append(edit_readings.numpy())
    return held_out_figures(held_out.labels, held_out.targets, np.concatenate(real), np.concatenate(edited),
                            config.untrained_aus)


def validation_scalars(figures: dict) -> dict[str, float]:
    """TensorBoard scalars `val/<figure>/<AU>` and `val/<figure>/mean`, leaving out undefined ones."""
    scalars = {f"val/{figure}/{au}": scores[figure] for au, scores in figures["per_au"].items()
               for figure in FIGURES if scores[figure] is not None}
    scalars.update({f"val/{figure}/mean": value for figure, value in figures["mean"].items() if value is not None})
    return scalars


def summary_line(figures: dict) -> str:
    def shown(value):
        return "-" if value is None else f"{value:.3f}"
    mean = figures["mean"]
    return (f"R on {figures['examples']} held-out frames (balanced accuracy, chance 0.5): real "
            f"{shown(mean['r_balanced_accuracy'])}, edits {shown(mean['r_edit_accuracy'])}, unedited sources "
            f"{shown(mean['r_source_accuracy'])}")
