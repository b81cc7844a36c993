"""JAA-Net training, resume, the detector in the Table 1 protocol, and bad input, on tiny synthetic
faces (40 px, cropped to 32): a frame shows a bright square when its AUs are present."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from builders import write_converted_dataset
from lac_gan.common.errors import DataError, UsageError
from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.evaluation.protocol import EvaluationConfig, build_detector, run_evaluation
from lac_gan.jaanet import config as config_lib
from lac_gan.jaanet.training import DetectorTrainingOptions, run_detector_training
from lac_gan.nets.restore import CheckpointNotFoundError

REPO = Path(__file__).resolve().parents[1]
CONFIG = config_lib.tiny()
SIZE = CONFIG.image_size
SUBJECTS = {"part1": "F001", "part2": "M011", "part3": "F007"}


def easy_examples(part: str, count: int, seed: int, landmarks: bool = True) -> list[dict]:
    """Noise faces; AU labels all equal to 'a bright square is in the middle' (~1 in 3), AU24 unknown
    in every 5th frame; landmarks = the canonical face jittered (none in every 4th frame)."""
    rng = np.random.default_rng(seed)
    examples = []
    for frame in range(count):
        present = rng.random() < 0.35
        image = rng.normal(128, 30, (SIZE, SIZE, 3))
        if present:
            image[14:26, 14:26] = 250
        labels = np.full(NUM_AUS, int(present))
        if frame % 5 == 0:
            labels[-1] = 9
        points = canonical_landmarks49(SIZE) + rng.normal(0, 0.5, (49, 2))
        examples.append({"image": np.clip(image, 0, 255).astype(np.uint8), "labels": labels,
                         "subject": SUBJECTS[part], "task": "T1", "frame": frame,
                         "landmarks49": points if landmarks and frame % 4 else None})
    return examples


def write_easy_data(directory: Path, landmarks: bool = True) -> Path:
    return write_converted_dataset(directory, SIZE, {"part1": easy_examples("part1", 40, 1, landmarks),
                                                     "part2": easy_examples("part2", 40, 2, landmarks),
                                                     "part3": easy_examples("part3", 40, 3, landmarks)})


@pytest.fixture(scope="module")
def easy_data(tmp_path_factory):
    return write_easy_data(tmp_path_factory.mktemp("easy"))


@pytest.fixture(scope="module")
def trained(easy_data, tmp_path_factory):
    logdir = tmp_path_factory.mktemp("jaanet")
    history = run_detector_training(CONFIG, DetectorTrainingOptions(
        data_dir=str(easy_data), logdir=str(logdir), steps=80, eval_every=80, checkpoint_every=40, log_every=20))
    return logdir, history


@pytest.fixture(scope="module")
def detector(trained, tmp_path_factory):
    """The trained checkpoint as `evaluate --detector jaanet` builds it, for the tests that only run
    it: each build restores the model and traces its prediction again (~8 CPU s)."""
    return build_detector("jaanet", work_dir=tmp_path_factory.mktemp("detector"), detector_checkpoint=str(trained[0]))


def test_training_learns_the_easy_task(trained):
    logdir, history = trained
    entries = json.loads((logdir / "validation.json").read_text())
    assert [entry["step"] for entry in entries] == [80]
    validation = entries[-1]
    assert validation["frames"] == 40
    # Always answering "present" would score F1 ~50 here, a coin ~35.
    f1 = [validation["scores"][name]["f1"] for name in AU_NAMES]
    assert min(f1) > 80, f1
    assert validation["au_weights"]["AU24"] > 0 and validation["landmark_error"] < 0.2
    first, last = np.mean([h["loss/total"] for h in history[:10]]), np.mean([h["loss/total"] for h in history[-10:]])
    assert last < 0.6 * first
    assert (logdir / "jaanet_config.json").is_file() and list((logdir / "train").iterdir())


def test_resume_continues_exactly(easy_data, trained, tmp_path):
    """2 steps, then --resume to 4, take the steps of the `trained` run (same seed): model, optimizer,
    augmentation RNG and data position all come back."""
    def train(steps, resume=False):
        return run_detector_training(CONFIG, DetectorTrainingOptions(
            data_dir=str(easy_data), logdir=str(tmp_path), steps=steps, resume=resume, eval_every=0))

    with pytest.raises(UsageError, match="holds no checkpoint to resume from"):
        train(2, resume=True)
    first = train(2)
    with pytest.raises(UsageError, match="already holds checkpoints"):
        train(4)
    with pytest.raises(UsageError, match="--steps 2: .*ckpt-2 is already at step 2"):
        train(2, resume=True)
    second = train(4, resume=True)
    assert [h["loss/total"] for h in first + second] == [h["loss/total"] for h in trained[1][:4]]
    assert second[-1]["loss/au_softmax"] == trained[1][3]["loss/au_softmax"]


def test_detector_scores_all_twelve_aus_in_table1(easy_data, trained, detector, tmp_path):
    config = EvaluationConfig(data_dir=str(easy_data), out_dir=str(tmp_path / "run"), detector="jaanet",
                              detector_checkpoint=str(trained[0]), batch_size=8, figure_faces=1)
    results = run_evaluation(config, synthesizer=lambda images, maps, labels, **faces: images, image_size=SIZE,
                             detector=detector)
    assert results["detector"]["covered_aus"] == list(AU_NAMES)
    table = pd.read_csv(tmp_path / "run" / "table1.csv")
    assert "ckpt-80" in results["detector"]["provenance"]["real"]
    rows = table[table.iloc[:, 0].astype(str).isin(AU_NAMES)]
    assert len(rows) == NUM_AUS and not rows.iloc[:, 1:3].isna().any().any()


def test_bad_detector_input_is_named(detector, tmp_path):
    with pytest.raises(CheckpointNotFoundError, match="no checkpoint"):
        build_detector("jaanet", work_dir=tmp_path, detector_checkpoint=str(tmp_path))
    with pytest.raises(UsageError, match="needs --detector_checkpoint"):
        build_detector("jaanet", work_dir=tmp_path)
    Image.new("RGB", (64, 48)).save(tmp_path / "wide.png")
    with pytest.raises(DataError, match=r"wide.png: 64x48 image, but the JAA-Net checkpoint .* takes square"):
        detector.predict([tmp_path / "wide.png"], "real")


def test_detector_resizes_faces_of_another_size(detector, tmp_path):
    """A 128 px LAC-GAN's faces go to a 200 px JAA-Net: the same faces at twice the size get the same
    decisions (pixel-doubled, so the resize back is close to the original)."""
    native, doubled = [], []
    for index, example in enumerate(easy_examples("part3", 40, 3)):
        native.append(tmp_path / f"native{index}.png")
        doubled.append(tmp_path / f"doubled{index}.png")
        Image.fromarray(example["image"]).save(native[-1])
        Image.fromarray(example["image"]).resize((2 * SIZE, 2 * SIZE), Image.NEAREST).save(doubled[-1])
    at_size = detector.predict(native, "real").occurrence
    resized = detector.predict(doubled, "real").occurrence
    assert ((at_size > 0.5) == (resized > 0.5)).mean() > 0.9
    assert np.abs(at_size - resized).mean() < 0.1


def test_records_without_landmarks_are_a_one_line_error(tmp_path):
    data = write_easy_data(tmp_path / "no_landmarks", landmarks=False)
    result = subprocess.run([sys.executable, "-m", "lac_gan", "train-detector", "--data_dir", str(data),
                             "--logdir", str(tmp_path / "logdir"), "--preset", "tiny"],
                            capture_output=True, text=True, cwd=REPO, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("lacgan train-detector: error: none of the 80 training frames of fold 1 has 49-point")
