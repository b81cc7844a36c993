"""Per-AU layers: 12 independent convolutions / transposed convolutions / FC layers, one per AU.

Every layer holds its weights with a leading AU axis ([12, ...]; AU i's slice is AU i's own
parameters, nothing is shared) and maps AU-major feature maps [B, H, W, 12 * C] (channels
[i*C, (i+1)*C) belong to AU i) or vectors [B, 12, C]. Two formulations compute the same function
from the same variables, so checkpoints move freely between them:

- "grouped": one grouped convolution (feature groups = 12) / one batched matmul per layer. Fastest
  where the backend has grouped-convolution kernels for the forward pass and both gradients
  (cuDNN on GPU; oneDNN on CPU in float32 and bfloat16; XLA everywhere).
- "split": 12 ordinary convolutions / matmuls per layer. Runs on every backend, dtype and device;
  TensorFlow's default CPU kernels (oneDNN off: AMD and older Intel x86 before AVX-512, ARM, or
  TF_ENABLE_ONEDNN_OPTS=0) have no gradient for grouped convolutions, and oneDNN has none in float16.

`formulation(dtype)` picks once per process and compute dtype by asking the backend itself: it runs
a tiny grouped transposed convolution and its gradients, and takes "grouped" if that works, "split"
otherwise; the choice is logged once. `use_formulation` overrides it (tests, benchmarks).
"""
from __future__ import annotations

import contextlib
import math

import keras
import tensorflow as tf
from absl import logging

from lac_gan.data.au_table import NUM_AUS

FORMULATIONS = ("grouped", "split")

_chosen: dict[str, str] = {}
_override: list[str] = []


def grouped_convolution_gradients(dtype: tf.DType) -> bool:
    """Does this process's default device run a grouped convolution and both its gradients?

    The kernels are called directly, without a gradient tape: `formulation` runs this under
    tf.init_scope, which pauses every tape. Conv2DBackpropInput is also the transposed convolution.
    """
    x = tf.ones([1, 4, 4, 4], dtype)
    kernel = tf.ones([3, 3, 2, 4], dtype)  # 2 groups: filter input depth 2 of 4 channels
    y = tf.ones([1, 2, 2, 4], dtype)
    try:
        for result in (tf.nn.conv2d(x, kernel, 2, "SAME"),
                       tf.raw_ops.Conv2DBackpropInput(input_sizes=[1, 4, 4, 4], filter=kernel, out_backprop=y,
                                                      strides=[1, 2, 2, 1], padding="SAME"),
                       tf.raw_ops.Conv2DBackpropFilter(input=x, filter_sizes=[3, 3, 2, 4], out_backprop=y,
                                                       strides=[1, 2, 2, 1], padding="SAME")):
            result.numpy()
    except (tf.errors.InvalidArgumentError, tf.errors.UnimplementedError, tf.errors.NotFoundError):
        return False
    return True


def formulation(dtype=tf.float32) -> str:
    """The per-AU formulation for this process and compute dtype ("grouped" or "split")."""
    if _override:
        return _override[-1]
    dtype = tf.as_dtype(dtype)
    if dtype.name not in _chosen:
        with tf.init_scope():  # the probe runs eagerly, even while a tf.function is being traced
            device = "GPU" if tf.config.list_logical_devices("GPU") else "CPU"
            grouped = grouped_convolution_gradients(dtype)
        _chosen[dtype.name] = "grouped" if grouped else "split"
        logging.info("per-AU layers (%s on %s): %s", dtype.name, device,
                     "grouped convolutions (the backend has their gradients)" if grouped else
                     "12 separate convolutions per layer (this backend has no grouped-convolution gradients)")
    return _chosen[dtype.name]


@contextlib.contextmanager
def use_formulation(name: str):
    """Build and trace models inside this block with `name` instead of the automatic choice."""
    if name not in FORMULATIONS:
        raise ValueError(f"unknown per-AU formulation {name!r}; choose one of {FORMULATIONS}")
    _override.append(name)
    try:
        yield
    finally:
        _override.pop()


def he_init(fan_in: int):
    """He-normal for one AU's layer (Keras would count the AU axis into the fan-in). Chosen over
    DCGAN's N(0, 0.02), which at the tiny preset's widths shrinks signals to ~0 through 5 layers."""
    return keras.initializers.TruncatedNormal(stddev=math.sqrt(2.0 / fan_in) / 0.87962566)


class PerAUConv2D(keras.layers.Layer):
    """12 independent k x k convolutions (or, `transpose=True`, transposed convolutions: the
    decoder's "deconv", output side = strides x input side), 'SAME' padding.

    kernel [12, k, k, C_in, C_out], bias [12, C_out]; input [B, H, W, 12 * C_in] -> [B, H', W', 12 * C_out].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, strides: int = 2,
                 transpose: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.strides, self.transpose = kernel_size, strides, transpose
        k = kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(NUM_AUS, k, k, in_channels, out_channels),
                                      initializer=he_init(k * k * in_channels))
        self.bias = self.add_weight(name="bias", shape=(NUM_AUS, out_channels), initializer="zeros")

    def _output_shape(self, x: tf.Tensor, channels: int) -> list:
        shape = tf.shape(x)
        return [shape[0], shape[1] * self.strides, shape[2] * self.strides, channels]

    def _grouped(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        k = self.kernel_size
        if self.transpose:  # conv2d_transpose filters are [k, k, out, in]
            kernel = tf.reshape(tf.transpose(kernel, [1, 2, 4, 0, 3]),
                                [k, k, self.out_channels, NUM_AUS * self.in_channels])
            return tf.nn.conv2d_transpose(x, kernel, self._output_shape(x, NUM_AUS * self.out_channels),
                                          self.strides, "SAME")
        kernel = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [k, k, self.in_channels, NUM_AUS * self.out_channels])
        return tf.nn.conv2d(x, kernel, self.strides, "SAME")

    def _split(self, x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
        # One unstack (and one output shape) per layer, not 12 slices: each slice and its gradient
        # add several ops to the traced train step, which made them about half of its graph.
        pairs = zip(tf.split(x, NUM_AUS, axis=-1), tf.unstack(kernel))
        if self.transpose:
            output_shape = self._output_shape(x, self.out_channels)
            outputs = [tf.nn.conv2d_transpose(x_au, tf.transpose(kernel_au, [0, 1, 3, 2]), output_shape,
                                              self.strides, "SAME") for x_au, kernel_au in pairs]
        else:
            outputs = [tf.nn.conv2d(x_au, kernel_au, self.strides, "SAME") for x_au, kernel_au in pairs]
        return tf.concat(outputs, axis=-1)

    def call(self, x):
        kernel = tf.cast(self.kernel, self.compute_dtype)
        run = self._grouped if formulation(self.compute_dtype) == "grouped" else self._split
        bias = tf.reshape(tf.cast(self.bias, self.compute_dtype), [NUM_AUS * self.out_channels])
        return run(x, kernel) + bias


class PerAUDense(keras.layers.Layer):
    """12 independent FC layers: [B, 12, in] -> [B, 12, out] (one batched matmul, or 12 matmuls)."""

    def __init__(self, in_units: int, out_units: int, **kwargs):
        super().__init__(**kwargs)
        self.kernel = self.add_weight(name="kernel", shape=(NUM_AUS, in_units, out_units),
                                      initializer=he_init(in_units))
        self.bias = self.add_weight(name="bias", shape=(NUM_AUS, out_units), initializer="zeros")

    def call(self, x):
        kernel = tf.cast(self.kernel, self.compute_dtype)
        if formulation(self.compute_dtype) == "grouped":
            y = tf.einsum("bai,aio->bao", x, kernel)
        else:
            y = tf.stack([tf.matmul(x_au, kernel_au) for x_au, kernel_au in zip(tf.unstack(x, NUM_AUS, axis=1),
                                                                                 tf.unstack(kernel))], axis=1)
        return y + tf.cast(self.bias, self.compute_dtype)
