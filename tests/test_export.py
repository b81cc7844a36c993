"""SavedModel export: reloaded with tf.saved_model.load, it gives the in-process synthesizer's output."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from builders import face_crops, write_untrained_checkpoint
from conftest import REPO_ROOT
from lac_gan.common.errors import UsageError
from lac_gan.data import attention
from lac_gan.data.image_range import to_model_range, to_uint8
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.export import export_saved_model


@pytest.fixture(scope="module")
def synthesizer(tmp_path_factory):
    return load_synthesizer(str(write_untrained_checkpoint(tmp_path_factory.mktemp("run"))))


def test_saved_model_round_trip_matches_in_process_output(synthesizer, tmp_path, astronaut):
    size = synthesizer.config.image_size
    images = face_crops(astronaut, size, 3)
    labels = np.array([[1] * 12, [0] * 12, [1, 0] * 6], np.float32)
    export_saved_model(synthesizer, tmp_path / "saved")

    serving = tf.saved_model.load(str(tmp_path / "saved")).signatures["serving_default"]
    exported = serving(image=tf.constant(images), target_labels=tf.constant(labels))["image"].numpy()

    maps = np.broadcast_to(attention.canonical_attention_maps(size), (3, size, size, 12))
    expected = to_uint8(synthesizer(to_model_range(images), maps, labels)).numpy()
    assert exported.dtype == np.uint8 and exported.shape == images.shape
    np.testing.assert_array_equal(exported, expected)
    outside = maps.sum(axis=-1) == 0
    np.testing.assert_array_equal(exported[outside], images[outside])


def test_export_refuses_to_overwrite(synthesizer, tmp_path):
    (tmp_path / "taken").mkdir()
    with pytest.raises(UsageError, match="already exists"):
        export_saved_model(synthesizer, tmp_path / "taken")


def test_export_command_prints_its_own_lines_only(tmp_path):
    """TensorFlow logs its SavedModel and checkpoint writes as absl INFO lines ("Writing fingerprint
    to ...", "Sharding callback duration: ..."): not the project's lines, so the command hides them
    (lac_gan/cli.py, _tensorflow_info_dropped) and prints what it wrote."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-m", "lac_gan", "export", "--editor", "warp", "--out", str(tmp_path / "saved")],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    printed = result.stdout + result.stderr
    assert "SavedModel written to" in printed and (tmp_path / "saved" / "fingerprint.pb").is_file()
    assert "Writing fingerprint" not in printed and "Sharding callback" not in printed, printed
