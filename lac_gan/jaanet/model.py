"""JAA-Net v1 (ECCV 2018) as Keras layers, following PyTorch-JAANet's `network.py` module by module.

    crop [B, C, C, 3] in [-1, 1]  (C = 176)
      -> hierarchical multi-scale region learning: 2 x (region layer, 2x2 max pool)  -> R [B, C/4, C/4, 8u]
      -> face alignment: feature stack(R) -> F_align; two linear layers -> 49 landmarks (crop pixels)
      -> initial attention maps from those landmarks (lac_gan.data.attention, no gradient), C/4 + 8 square
      -> attention refinement: per AU, 4 unpadded 3x3 convs + sigmoid -> refined maps, C/4 square
      -> local AU branches: per AU, feature stack(R x refined map), averaged over AUs -> F_local
      -> global feature stack(R) -> F_global
      -> [F_align, F_global, F_local] flattened channel-first -> 2 linear layers -> log-softmax [B, 2, 12]

u = `unit_dim` (8 in the paper). A "feature stack" is the port's HLFeatExtractor: (3x3 conv, BN,
ReLU) x 2 and a 2x2 max pool, three times, with 12u, 16u, 20u channels.

The port's per-cell and per-AU module lists are computed here as grouped convolutions: a region
layer's g x g cells are moved into channels (cell (i, j) is group i*g + j) so that one grouped
convolution is exactly g*g independent convolutions, each zero-padded at its own cell's border; the
12 attention refiners and the 12 local AU stacks are 12 groups in the same way. Same arithmetic, one
op instead of 64 (or 12). `lac_gan.jaanet.official_weights` maps the port's per-cell weights onto them.

One departure from the port (docs/paper-notes.md, "JAA-Net"): the landmark output's bias starts at
the canonical face (`lac_gan.data.alignment`) in crop pixels, not at 0, so that the attention maps sit
on the face from the first step and the landmark loss does not start in the thousands.
"""
from __future__ import annotations


import keras
import numpy as np
import tensorflow as tf

from lac_gan.data import attention
from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.au_table import NUM_AUS
from lac_gan.jaanet.config import JaanetConfig
from lac_gan.nets.per_au_layers import formulation

NUM_LANDMARKS = 49
# PyTorch's BatchNorm2d defaults: eps 1e-5, running averages updated with 0.1 x the batch statistic.
BN_EPSILON = 1e-5
BN_MOMENTUM = 0.9
# The three partitions of a region layer, finest first (cells per side).
REGION_GRIDS = (8, 4, 2)
# Channels of the feature stacks' convolutions, in units of unit_dim.
FEATURE_STACK_UNITS = (12, 12, 16, 16, 20, 20)
# Hidden width of the two-layer linear heads, in units of unit_dim.
HEAD_UNITS = 64


def _batch_norm(name: str) -> keras.layers.BatchNormalization:
    return keras.layers.BatchNormalization(epsilon=BN_EPSILON, momentum=BN_MOMENTUM, name=name)


def _max_pool(x: tf.Tensor) -> tf.Tensor:
    """2x2, stride 2, dropping an odd last row/column (PyTorch's MaxPool2d(2, 2))."""
    return tf.nn.max_pool2d(x, 2, 2, "VALID")


def to_cells(x: tf.Tensor, grid: int) -> tf.Tensor:
    """[B, H, W, C] -> [B, H/g, W/g, g*g*C]: cell (i, j) of a g x g partition in channels (i*g + j)*C ..."""
    height, width, channels = x.shape[1:]
    x = tf.reshape(x, [-1, grid, height // grid, grid, width // grid, channels])
    x = tf.transpose(x, [0, 2, 4, 1, 3, 5])
    return tf.reshape(x, [-1, height // grid, width // grid, grid * grid * channels])


def from_cells(x: tf.Tensor, grid: int) -> tf.Tensor:
    """The inverse of `to_cells`."""
    cell_h, cell_w, grouped = x.shape[1:]
    channels = grouped // (grid * grid)
    x = tf.reshape(x, [-1, cell_h, cell_w, grid, grid, channels])
    x = tf.transpose(x, [0, 3, 1, 4, 2, 5])
    return tf.reshape(x, [-1, grid * cell_h, grid * cell_w, channels])


def _tracked(owner: keras.layers.Layer, layers: list) -> list:
    """Give each layer of a list its own attribute: Keras 3 tracks lists of layers for itself, but
    tf.train.Checkpoint only sees attributes, so without this they would not be saved."""
    for layer in layers:
        setattr(owner, layer.name, layer)
    return layers


def channels_first_flat(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, C] -> [B, C*H*W] in PyTorch's (C, H, W) order, so linear layers match the port's."""
    return tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [-1, int(np.prod(x.shape[1:]))])


class GroupedConv2D(keras.layers.Conv2D):
    """Conv2D (stride 1) computing groups > 1 without XLA, which Keras uses for them on CPU and which
    costs minutes of compilation for this network: one grouped convolution where the kernels can
    differentiate it, else one convolution per group on its slices of the same kernel (the choice of
    lac_gan/nets/per_au_layers.py, made once per process and dtype)."""

    def convolution_op(self, inputs, kernel):
        padding = self.padding.upper()
        if self.groups == 1 or formulation(inputs.dtype) == "grouped":
            return tf.nn.conv2d(inputs, kernel, 1, padding)
        # One split of each, not a slice per group: each slice and its gradient add several ops to
        # the traced train step (about half of its graph).
        return tf.concat([tf.nn.conv2d(inputs_group, kernel_group, 1, padding) for inputs_group, kernel_group
                          in zip(tf.split(inputs, self.groups, axis=-1), tf.split(kernel, self.groups, axis=-1))],
                         axis=-1)


class CellConvolution(keras.layers.Layer):
    """The port's LocalConv2dReLU: each cell of a g x g partition gets its own BN -> ReLU -> 3x3 conv."""

    def __init__(self, grid: int, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.grid = grid
        cells = grid * grid
        self.norm = _batch_norm("norm")
        self.conv = GroupedConv2D(cells * filters, 3, padding="same", groups=cells, name="conv")

    def call(self, x, training=False):
        cells = to_cells(x, self.grid)
        return from_cells(self.conv(tf.nn.relu(self.norm(cells, training=training))), self.grid)


class RegionLayer(keras.layers.Layer):
    """Hierarchical multi-scale region layer: a 3x3 conv, then 8x8-, 4x4- and 2x2-cell convolutions
    in sequence (filters/2, /4, /4 channels), concatenated, added to the conv's output, BN, ReLU."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(filters, 3, padding="same", name="conv")
        widths = (filters // 2, filters // 4, filters // 4)
        self.branches = _tracked(self, [CellConvolution(grid, width, name=f"cells{grid}")
                                        for grid, width in zip(REGION_GRIDS, widths)])
        self.norm = _batch_norm("norm")

    def call(self, x, training=False):
        x = self.conv(x)
        branch, outputs = x, []
        for layer in self.branches:
            branch = layer(branch, training=training)
            outputs.append(branch)
        return tf.nn.relu(self.norm(x + tf.concat(outputs, axis=-1), training=training))


class FeatureStack(keras.layers.Layer):
    """The port's HLFeatExtractor; with groups > 1, that many independent stacks side by side, group
    k reading and writing its own slice of channels (the 12 local AU branches)."""

    def __init__(self, unit_dim: int, groups: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.convs = _tracked(self, [GroupedConv2D(groups * units * unit_dim, 3, padding="same", groups=groups,
                                                   name=f"conv{k}") for k, units in enumerate(FEATURE_STACK_UNITS)])
        self.norms = _tracked(self, [_batch_norm(f"norm{k}") for k in range(len(FEATURE_STACK_UNITS))])

    def call(self, x, training=False):
        for k, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            x = tf.nn.relu(norm(conv(x), training=training))
            if k % 2 == 1:
                x = _max_pool(x)
        return x


class AttentionRefinement(keras.layers.Layer):
    """The port's LocalAttentionRefine, one group per AU: 3 x (unpadded 3x3 conv to 8u, BN, ReLU),
    an unpadded 3x3 conv to 1 channel, sigmoid. [B, S+8, S+8, 12] -> [B, S, S, 12]."""

    def __init__(self, unit_dim: int, **kwargs):
        super().__init__(**kwargs)
        width = NUM_AUS * 8 * unit_dim
        self.convs = _tracked(self, [GroupedConv2D(width, 3, groups=NUM_AUS, name=f"conv{k}") for k in range(3)])
        self.norms = _tracked(self, [_batch_norm(f"norm{k}") for k in range(3)])
        self.output_conv = GroupedConv2D(NUM_AUS, 3, groups=NUM_AUS, name="conv3")

    def call(self, x, training=False):
        for conv, norm in zip(self.convs, self.norms):
            x = tf.nn.relu(norm(conv(x), training=training))
        return tf.sigmoid(self.output_conv(x))


def initial_attention_maps(landmarks: np.ndarray, config: JaanetConfig) -> np.ndarray:
    """The port's `generate_map` for a batch: landmarks [B, 98] (x1, y1, ... in crop pixels) ->
    maps float32 [B, S0, S0, 12], S0 = config.initial_map_size, centres scaled by S0 / crop.

    The centre rules and the map formula are `lac_gan.data.attention`'s (the converter's, at another size).
    """
    size = config.initial_map_size
    scale = size / config.crop_size
    # Non-finite landmarks (a diverged network) are put at 0 here; training reports the non-finite loss.
    landmarks = np.nan_to_num(np.asarray(landmarks, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    maps = [attention.au_attention_maps(attention.au_centres(np.reshape(points, (NUM_LANDMARKS, 2))) * scale,
                                        size, config.spatial_ratio, config.fill_coefficient)
            for points in landmarks]
    return np.stack(maps).astype(np.float32) if maps else np.zeros((0, size, size, NUM_AUS), np.float32)


class JaaNet(keras.Model):
    """JAA-Net v1. `call(crops)` -> dict of
    au_log_probs [B, 2, 12] (log-softmax over absent/present), landmarks [B, 98] (crop pixels),
    initial_maps [B, S+8, S+8, 12], refined_maps [B, S, S, 12] (S = crop / 4)."""

    def __init__(self, config: JaanetConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        u = config.unit_dim
        self.region_layers = _tracked(self, [RegionLayer(4 * u, name="region1"), RegionLayer(8 * u, name="region2")])
        self.align_features = FeatureStack(u, name="align_features")
        self.align_hidden = keras.layers.Dense(HEAD_UNITS * u, name="align_hidden")
        mean_face = canonical_landmarks49(config.image_size) - config.centre_offset
        self.align_output = keras.layers.Dense(
            2 * NUM_LANDMARKS, bias_initializer=keras.initializers.Constant(mean_face.ravel()), name="align_output")
        self.refinement = AttentionRefinement(u, name="attention_refinement")
        self.local_features = FeatureStack(u, groups=NUM_AUS, name="local_au_features")
        self.global_features = FeatureStack(u, name="global_features")
        self.au_hidden = keras.layers.Dense(HEAD_UNITS * u, name="au_hidden")
        self.au_output = keras.layers.Dense(2 * NUM_AUS, name="au_output")

    def initial_maps(self, landmarks: tf.Tensor) -> tf.Tensor:
        size = self.config.initial_map_size
        maps = tf.numpy_function(lambda points: initial_attention_maps(points, self.config), [landmarks],
                                 tf.float32, stateful=False)
        return tf.ensure_shape(maps, [None, size, size, NUM_AUS])

    def call(self, crops, training=False):
        region = crops
        for layer in self.region_layers:
            region = _max_pool(layer(region, training=training))
        align = self.align_features(region, training=training)
        landmarks = self.align_output(self.align_hidden(channels_first_flat(align)))
        initial = tf.stop_gradient(self.initial_maps(landmarks))
        refined = self.refinement(initial, training=training)
        # AU i's copy of the region features, weighted by its map, in channel group i.
        side, channels = region.shape[1], region.shape[3]
        weighted = tf.reshape(region[:, :, :, None, :] * refined[..., None], [-1, side, side, NUM_AUS * channels])
        local = self.local_features(weighted, training=training)
        local = tf.reduce_mean(tf.reshape(local, [-1, *local.shape[1:3], NUM_AUS, local.shape[3] // NUM_AUS]), axis=3)
        global_ = self.global_features(region, training=training)
        features = channels_first_flat(tf.concat([align, global_, local], axis=-1))
        logits = tf.reshape(self.au_output(self.au_hidden(features)), [-1, 2, NUM_AUS])
        return {"au_log_probs": tf.nn.log_softmax(logits, axis=1), "landmarks": landmarks,
                "initial_maps": initial, "refined_maps": refined}


def build_model(config: JaanetConfig) -> JaaNet:
    """A JaaNet with its weights created (one call on a zero batch)."""
    model = JaaNet(config, name="jaanet")
    model(tf.zeros([1, config.crop_size, config.crop_size, 3]))
    return model


def present_probability(au_log_probs: tf.Tensor) -> tf.Tensor:
    """[B, 2, 12] log-softmax -> [B, 12] probability that each AU is present."""
    return tf.exp(au_log_probs[:, 1, :])
