"""R^i on held-out people during training (lac_gan/training/regressor_validation.py): the figures' maths by
hand, the fixed held-out set and validation.json across resume; and, on the same training run (its
AU24 is never labelled in the training parts), that such an AU is left untrained and out of Eq. 2.
--eval_every 0 (no validation) is checked on tests/test_training.py's default run, which has it."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from builders import face_variants, write_converted_dataset
from lac_gan.common.errors import DataError, UsageError
from lac_gan.data import metrics
from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.data.bp4d import JAANET_PARTS
from lac_gan.data.dataset import fold_files
from lac_gan.nets import config as config_lib
from lac_gan.nets.synthesis import composed_maps, load_synthesizer
from lac_gan.training import regressor_validation
from lac_gan.training.loop import TrainingOptions, run_training, untrained_aus, validate_checkpoint
from lac_gan.training.step import LacGanTrainer
from lac_gan.training.summaries import ValidationLog

SIZE = 32
AU1, AU2, AU24 = (AU_NAMES.index(name) for name in ("AU1", "AU2", "AU24"))


@pytest.fixture(scope="module")
def face_data(tmp_path_factory, astronaut):
    """part1..3 of 8 faces each, random 0/1/9 labels; AU24 always 9 in the training parts (part1, 2),
    so training leaves it untrained, though the held-out part3 has it."""
    rng = np.random.default_rng(0)
    parts = {}
    for p, part in enumerate(JAANET_PARTS):
        parts[part] = []
        for frame, face in enumerate(face_variants(astronaut, SIZE, 8, rng)):
            labels = rng.choice([0, 1, 9], size=NUM_AUS, p=[0.45, 0.45, 0.1])
            if part != "part3":
                labels[AU24] = 9
            parts[part].append({"image": face, "labels": labels, "subject": f"F00{p + 1}", "task": "T1",
                                "frame": frame, "landmarks49": canonical_landmarks49(SIZE)})
    return write_converted_dataset(tmp_path_factory.mktemp("faces"), SIZE, parts)


def options(data_dir, logdir, **changes) -> TrainingOptions:
    values = dict(data_dir=str(data_dir), logdir=str(logdir), steps=4, seed=3, log_every=4, image_every=4,
                  checkpoint_every=2, eval_every=2, eval_examples=5)
    return TrainingOptions(**{**values, **changes})


@pytest.fixture(scope="module")
def trained_run(face_data, tmp_path_factory) -> tuple[Path, list[dict[str, float]]]:
    """(logdir, loss history) of one 4-step run validating at steps 2 and 4, for the tests that read
    it (each run_training traces the whole train step)."""
    logdir = tmp_path_factory.mktemp("run")
    return logdir, run_training(config_lib.tiny(), options(face_data, logdir))


def validation_entries(logdir) -> list[dict]:
    return json.loads((logdir / "validation.json").read_text())


def event_tags(logdir) -> set[str]:
    tags = set()
    for path in (logdir / "train").glob("events.out.tfevents.*"):
        for record in tf.data.TFRecordDataset(str(path)):
            tags.update(value.tag for value in tf.compat.v1.Event.FromString(record.numpy()).summary.value)
    return tags


def test_balanced_accuracy_by_hand():
    # Positives 1 of 2 read, negatives 2 of 2: (0.5 + 1) / 2; a constant answer is 0.5 at any rate.
    assert metrics.balanced_accuracy([1, 1, 0, 0], [1, 0, 0, 0]) == 0.75
    assert metrics.balanced_accuracy([1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]) == 0.5
    assert metrics.balanced_accuracy([1, 1], [1, 1]) is None and metrics.balanced_accuracy([], []) is None


def test_figures_by_hand():
    """Four frames: AU1 labels 1 0 1 9, targets 0 0 0 1 -> changed: frames 0 and 2 (both to absent,
    so the edit figures are None: no target present); AU2 labels 1 0 0 1, targets 0 1 1 0 -> every
    frame changes, two each way."""
    labels = np.zeros((4, NUM_AUS), int)
    targets = np.zeros((4, NUM_AUS), int)
    labels[:, AU1], targets[:, AU1] = [1, 0, 1, 9], [0, 0, 0, 1]
    labels[:, AU2], targets[:, AU2] = [1, 0, 0, 1], [0, 1, 1, 0]
    real = np.zeros((4, NUM_AUS), int)
    edit = np.zeros((4, NUM_AUS), int)
    real[:, AU1] = [1, 1, 0, 1]  # known frames 0-2: positives 1/2 read, negatives 0/1 -> 0.25
    real[:, AU2] = [1, 0, 0, 1]  # right on every real frame -> 1; against the targets -> 0
    edit[:, AU2] = [0, 1, 0, 1]  # targets 0 1 1 0: to absent 1/2, to present 1/2 -> 0.5
    figures = regressor_validation.held_out_figures(labels, targets, real, edit, untrained_aus=("AU24",))
    au1, au2 = figures["per_au"]["AU1"], figures["per_au"]["AU2"]
    assert au1["r_balanced_accuracy"] == 0.25
    assert au1["r_edit_accuracy"] is None and au1["r_source_accuracy"] is None
    assert (au1["known"], au1["positives"], au1["changed"], au1["changed_to_present"]) == (3, 2, 2, 0)
    assert (au2["r_balanced_accuracy"], au2["r_edit_accuracy"], au2["r_source_accuracy"]) == (1.0, 0.5, 0.0)
    assert "AU24" not in figures["per_au"] and figures["untrained_aus"] == ["AU24"]
    # AU4 ... AU23 are all 0: no positive, undefined everywhere; the means are over AU1 and AU2.
    assert figures["per_au"]["AU4"]["r_balanced_accuracy"] is None
    assert figures["mean"] == {"r_balanced_accuracy": 0.625, "r_edit_accuracy": 0.5, "r_source_accuracy": 0.0}
    scalars = regressor_validation.validation_scalars(figures)
    assert scalars["val/r_balanced_accuracy/AU1"] == 0.25 and scalars["val/r_edit_accuracy/mean"] == 0.5
    assert "val/r_edit_accuracy/AU1" not in scalars and not any("AU24" in name for name in scalars)


def test_held_out_set_is_spread_and_edits_towards_another_frame(face_data):
    files = fold_files(face_data, 1, "test")
    every = regressor_validation.held_out_set(files, 100)
    assert every.records.shape[0] == 8
    chosen = regressor_validation.held_out_set(files, 3)
    # Frames 0, 4 (3.5 rounds to even) and 7 of the part, in order; each edited towards the frame
    # half the set away; 9s follow synthesis_labels (the target's label, else the source's, else 0).
    assert np.array_equal(chosen.labels, every.labels[[0, 4, 7]])
    assert np.array_equal(chosen.targets, chosen.labels[[1, 2, 0]])
    expected = np.where(chosen.targets == 9, np.where(chosen.labels == 9, 0, chosen.labels), chosen.targets)
    assert np.array_equal(chosen.edit_labels, expected)
    assert np.array_equal(regressor_validation.held_out_set(files, 3).records.numpy(), chosen.records.numpy())


class ReadsItsInputs:
    """A stand-in trainer whose R reads each real frame as its label (9 as 0) and each edit as the
    label it was edited towards: checks that batches, labels and targets stay aligned."""
    config = config_lib.tiny().replace(batch_size=2, untrained_aus=("AU24",))

    def held_out_readings(self, batch, targets):
        return tf.where(batch["known_mask"], batch["labels"], 0), tf.cast(targets, tf.int32)


def test_readings_are_scored_against_their_own_frames(face_data):
    held_out = regressor_validation.held_out_set(fold_files(face_data, 1, "test"), 7)  # batches 2 2 2 1
    figures = regressor_validation.regressor_validation(ReadsItsInputs(), held_out)
    for au, scores in figures["per_au"].items():
        assert scores["r_balanced_accuracy"] in (1.0, None), au
        assert scores["r_edit_accuracy"] in (1.0, None) and scores["r_source_accuracy"] in (0.0, None), au
    assert figures["mean"] == {"r_balanced_accuracy": 1.0, "r_edit_accuracy": 1.0, "r_source_accuracy": 0.0}
    assert figures["examples"] == 7 and "AU24" not in figures["per_au"]


def test_training_writes_validation_and_appends_on_resume(face_data, trained_run, tmp_path):
    logdir = shutil.copytree(trained_run[0], tmp_path / "run")  # resumed below: the fixture's stays as run
    entries = validation_entries(logdir)
    assert [e["step"] for e in entries] == [2, 4]
    assert entries[-1]["fold"] == 1 and entries[-1]["examples"] == 5 and "AU24" not in entries[-1]["per_au"]
    assert {"val/r_balanced_accuracy/mean", "val/r_edit_accuracy/mean", "val/r_source_accuracy/mean",
            "val/r_balanced_accuracy/AU12"} <= event_tags(logdir)
    # The same figures offline, from the last checkpoint.
    assert validate_checkpoint(str(logdir), str(face_data), 1, 5) == entries[-1]
    # An entry past the checkpoint resumed from belongs to the run being replaced: dropped. Steps 5
    # (not a multiple of 2, but the last) is evaluated and appended.
    (logdir / "validation.json").write_text(json.dumps(entries + [{"step": 5, "stale": True}]))
    run_training(config_lib.tiny(), options(face_data, logdir, steps=5, resume=True))
    resumed = validation_entries(logdir)
    assert [e["step"] for e in resumed] == [2, 4, 5] and resumed[:2] == entries and "stale" not in resumed[-1]


def test_au_never_labelled_in_training_is_untrained_and_not_composed(face_data, trained_run):
    """AU24 coded 9 on every training frame (part3, held out, has it): the run says so, config.json
    records it, and its map is left out of Eq. 2 (its region keeps the source pixels)."""
    assert untrained_aus(str(face_data), 1) == {"AU24": "no known label in the training parts part1, part2"}
    logdir, history = trained_run
    assert [h["loss/pixel/AU24"] for h in history] == [0.0] * 4
    synthesizer = load_synthesizer(str(logdir))
    assert synthesizer.config.untrained_aus == ("AU24",)
    kept = composed_maps(synthesizer.config, tf.ones([1, 4, 4, NUM_AUS])).numpy()[0]
    assert np.all(kept[..., -1] == 0) and np.all(kept[..., :-1] == 1)


@pytest.mark.parametrize("changes, flag", [({"eval_every": -1}, "--eval_every -1"),
                                           ({"eval_examples": 0}, "--eval_examples 0")])
def test_bad_eval_flags_are_refused(face_data, tmp_path, changes, flag):
    with pytest.raises(UsageError, match=flag):
        run_training(config_lib.tiny(), options(face_data, tmp_path, **changes))


def test_unreadable_validation_file_stops_a_resume_before_training(tmp_path):
    (tmp_path / "validation.json").write_text("[{\"step\": 2}")
    with pytest.raises(DataError, match="validation.json: unreadable"):
        ValidationLog(tmp_path, 2)
    assert ValidationLog(tmp_path, 0).entries == []  # a new run starts a new list


def test_validating_changes_no_variable(face_data):
    """R^i's batch norm reads its moving statistics: validating must not move them (nor anything)."""
    trainer = LacGanTrainer(config_lib.tiny(), tf.distribute.get_strategy(), seed=0)
    held_out = regressor_validation.held_out_set(fold_files(face_data, 1, "test"), 8)
    variables = trainer.models.generator.variables + trainer.models.local_discriminator.variables
    before = [v.numpy().copy() for v in variables]
    first = regressor_validation.regressor_validation(trainer, held_out)
    assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, variables))
    assert regressor_validation.regressor_validation(trainer, held_out) == first
