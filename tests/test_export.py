"""SavedModel export: reloaded with tf.saved_model.load, it gives the in-process synthesizer's output."""
import numpy as np
import pytest
import tensorflow as tf

from builders import face_crops, write_untrained_checkpoint
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
