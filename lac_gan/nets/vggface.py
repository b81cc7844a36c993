"""VGG-Face (VGG16, no top) for the identity loss of Eq. 4, loading keras-vggface's released weights.

The network is our own Keras model with keras-vggface's layer names (conv1_1 ... conv5_3,
pool1 ... pool5); its weights come from `rcmalli_vggface_tf_notop_vgg16.h5` (keras-vggface GitHub
release v2.0), read by layer name with h5py from the Keras-2 HDF5 layout: root attribute
`layer_names`, one group per layer with attribute `weight_names` (e.g. `conv1_1/kernel:0`) whose
datasets sit either under that nested path or directly in the layer group.
"""
from __future__ import annotations

from pathlib import Path

import h5py
import keras
import numpy as np
import tensorflow as tf

from lac_gan.common.errors import UsageError

WEIGHTS_FILE_NAME = "rcmalli_vggface_tf_notop_vgg16.h5"
WEIGHTS_URL = ("https://github.com/rcmalli/keras-vggface/releases/download/v2.0/"
               + WEIGHTS_FILE_NAME)

# (block, number of convs, channels) of VGG16.
VGG16_BLOCKS = ((1, 2, 64), (2, 2, 128), (3, 3, 256), (4, 3, 512), (5, 3, 512))
# VGG-Face's training mean, BGR order (keras-vggface `preprocess_input(version=1)`).
BGR_MEAN = (93.5940, 104.7624, 129.1863)


def conv_layer_shapes() -> dict[str, tuple[tuple[int, ...], tuple[int, ...]]]:
    """{layer name: (kernel shape, bias shape)} of the 13 conv layers, independent of input size."""
    shapes, in_channels = {}, 3
    for block, count, channels in VGG16_BLOCKS:
        for j in range(1, count + 1):
            shapes[f"conv{block}_{j}"] = ((3, 3, in_channels, channels), (channels,))
            in_channels = channels
    return shapes


def build_vggface(input_size: int) -> keras.Model:
    """VGG16 without the classifier, keras-vggface names; outputs {conv name: activation} for all convs."""
    inputs = keras.Input((input_size, input_size, 3), name="input")
    x, outputs = inputs, {}
    for block, count, channels in VGG16_BLOCKS:
        for j in range(1, count + 1):
            name = f"conv{block}_{j}"
            x = keras.layers.Conv2D(channels, 3, padding="same", activation="relu", name=name)(x)
            outputs[name] = x
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"pool{block}")(x)
    return keras.Model(inputs, outputs, name="vggface_vgg16")


def preprocess(images: tf.Tensor) -> tf.Tensor:
    """Our images (RGB in [-1, 1]) -> VGG-Face input (BGR, 0-255 minus the BGR mean)."""
    pixels = (tf.cast(images, tf.float32) + 1.0) * 127.5
    return pixels[..., ::-1] - tf.constant(BGR_MEAN, tf.float32)


class WeightsFileError(UsageError, ValueError):
    """The VGG-Face weights file is missing or does not hold VGG16's layers."""


def _help(path) -> str:
    expected = ", ".join(f"{n} {k}+{b}" for n, (k, b) in conv_layer_shapes().items())
    return (f"{path}: expected keras-vggface's {WEIGHTS_FILE_NAME} (Keras-2 HDF5 weights) with "
            f"layers {expected}. Get it from keras-vggface's GitHub release v2.0: {WEIGHTS_URL} "
            "(or pass --identity_weights=none to train without the identity loss).")


def _layer_arrays(group: h5py.Group) -> list[np.ndarray]:
    """A layer's weight arrays in `weight_names` order, nested (`conv1_1/kernel:0`) or flat (`kernel:0`)."""
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
    if names:
        return [np.asarray(group[n] if n in group else group[n.split("/")[-1]]) for n in names]
    datasets = []
    group.visititems(lambda name, obj: datasets.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
    return [np.asarray(obj) for _, obj in sorted(datasets, key=lambda item: "bias" in item[0])]


def read_weights(path: str | Path) -> dict[str, list[np.ndarray]]:
    """{conv layer name: [kernel, bias]} from a keras-vggface HDF5 file, checked against VGG16's shapes."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"VGG-Face weights not found. {_help(path)}")
    weights = {}
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            for name, (kernel_shape, bias_shape) in conv_layer_shapes().items():
                if name not in root:
                    raise WeightsFileError(f"layer {name} is missing. {_help(path)}")
                arrays = _layer_arrays(root[name])
                shapes = [tuple(a.shape) for a in arrays]
                if shapes != [kernel_shape, bias_shape]:
                    raise WeightsFileError(f"layer {name} has weight shapes {shapes}, expected "
                                           f"{[kernel_shape, bias_shape]}. {_help(path)}")
                weights[name] = arrays
    except OSError as error:
        raise WeightsFileError(f"cannot read it as HDF5 ({error}). {_help(path)}") from error
    return weights


def write_weights(path: str | Path, weights: dict[str, list[np.ndarray]], nested: bool = True) -> None:
    """Write {layer: [kernel, bias]} in the Keras-2 HDF5 layout keras-vggface used (tests, tools)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([n.encode() for n in weights])  # fixed-length bytes, as Keras 2
        for name, (kernel, bias) in weights.items():
            group = f.create_group(name)
            weight_names = [f"{name}/kernel:0", f"{name}/bias:0"] if nested else ["kernel:0", "bias:0"]
            group.attrs["weight_names"] = np.array([n.encode() for n in weight_names])
            group.create_dataset(weight_names[0], data=kernel)
            group.create_dataset(weight_names[1], data=bias)


class VggFaceFeatures:
    """phi_l(.) of Eq. 4: the frozen VGG-Face activations at the chosen layers of our [-1, 1] images."""

    def __init__(self, weights_path: str | Path, input_size: int, layers: tuple[str, ...]):
        weights = read_weights(weights_path)
        full = build_vggface(input_size)
        for name, arrays in weights.items():
            full.get_layer(name).set_weights(arrays)
        self.layers = tuple(layers)
        self.model = keras.Model(full.inputs, [full.get_layer(name).output for name in self.layers])
        self.model.trainable = False

    def __call__(self, images: tf.Tensor) -> list[tf.Tensor]:
        return list(self.model(preprocess(images), training=False))
