"""VGG-Face: keras-vggface HDF5 layout round trip, clear errors, preprocessing."""
import h5py
import numpy as np
import pytest
import tensorflow as tf

from lac_gan.nets import vggface


def random_weights(seed=0):
    rng = np.random.default_rng(seed)
    return {name: [rng.normal(0, 0.01, k).astype(np.float32), rng.normal(0, 0.01, b).astype(np.float32)]
            for name, (k, b) in vggface.conv_layer_shapes().items()}


@pytest.mark.parametrize("nested", [True, False])
def test_round_trip_by_layer_name(tmp_path, nested):
    weights = random_weights()
    path = tmp_path / vggface.WEIGHTS_FILE_NAME
    vggface.write_weights(path, weights, nested=nested)
    with h5py.File(path) as f:
        assert [n.decode() for n in f.attrs["layer_names"]][:2] == ["conv1_1", "conv1_2"]
    features = vggface.VggFaceFeatures(path, 32, ("conv1_2", "conv5_2"))
    for name in ("conv1_1", "conv3_2", "conv5_2"):
        kernel, bias = features.model.get_layer(name).get_weights()
        np.testing.assert_array_equal(kernel, weights[name][0])
        np.testing.assert_array_equal(bias, weights[name][1])
    out = features(tf.zeros([2, 32, 32, 3]))
    assert [o.shape for o in out] == [(2, 32, 32, 64), (2, 2, 2, 512)]


def test_missing_file_names_file_layers_and_source(tmp_path):
    with pytest.raises(vggface.WeightsFileError) as error:
        vggface.read_weights(tmp_path / "absent.h5")
    message = str(error.value)
    assert "absent.h5" in message and "conv5_3 (3, 3, 512, 512)" in message
    assert "releases/download/v2.0/rcmalli_vggface_tf_notop_vgg16.h5" in message and "none" in message


def test_wrong_shapes_are_named(tmp_path):
    weights = random_weights()
    weights["conv2_1"][0] = np.zeros((3, 3, 64, 64), np.float32)
    path = tmp_path / "bad.h5"
    vggface.write_weights(path, weights)
    with pytest.raises(vggface.WeightsFileError, match=r"conv2_1 has weight shapes .*\(3, 3, 64, 64\).*expected"):
        vggface.read_weights(path)


def test_preprocess_is_bgr_minus_mean():
    rgb = tf.constant([[[[1.0, -1.0, 0.0]]]])  # R=255, G=0, B=127.5
    np.testing.assert_allclose(vggface.preprocess(rgb).numpy()[0, 0, 0],
                               [127.5 - 93.5940, 0 - 104.7624, 255 - 129.1863], rtol=1e-5)
