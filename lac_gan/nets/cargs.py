"""The LAC-GAN networks: 12 CARGs (encoder + decoder), 12 latent discriminators D_z^i, 12 local AU
discriminators D^i with their regression heads R^i, and the global image discriminator D_img.

The 12 per-AU sub-models of the paper are computed together by the per-AU layers of
lac_gan/nets/per_au_layers.py: weights with a leading AU axis ([12, ...], nothing shared), feature maps of
the 12 sub-models side by side in the channel axis, "AU-major": [B, H, W, 12 * C], channels
[i*C, (i+1)*C) belong to AU i. Each layer runs as one grouped op where the backend can, else as 12.
"""
from __future__ import annotations

import math

import keras
import tensorflow as tf

from lac_gan.data.au_table import NUM_AUS
from lac_gan.nets.config import LacGanConfig
from lac_gan.nets.per_au_layers import PerAUConv2D, PerAUDense

LEAKY_SLOPE = 0.2


# ---------------------------------------------------------------- labels -------------------------

def label_code(labels: tf.Tensor) -> tf.Tensor:
    """AU labels {0, 1} [B, 12] -> the paper's +-1 one-hot l_AU [B, 12, 2].

    absent (0) -> (+1, -1), present (1) -> (-1, +1).
    """
    present = tf.cast(labels, tf.float32)[..., None]
    return tf.concat([1.0 - 2.0 * present, 2.0 * present - 1.0], axis=-1)


def read_label_code(codes: tf.Tensor) -> tf.Tensor:
    """R^i's outputs [B, 12, 2] -> the labels {0, 1} [B, 12] whose +-1 one-hot (label_code) is nearer:
    present where the second entry exceeds the first (the squared distances differ by 4 (c1 - c0))."""
    codes = tf.cast(codes, tf.float32)
    return tf.cast(codes[..., 1] > codes[..., 0], tf.int32)


def tiled_label_code(labels: tf.Tensor, tile: int) -> tf.Tensor:
    """[B, 12] {0, 1} -> [B, 12, 2 * tile]: each one-hot entry repeated `tile` times (CAAE).

    With N_z = 60, tile = 30: absent is 30 x (+1) then 30 x (-1), present the reverse.
    """
    code = label_code(labels)
    return tf.repeat(code, tile, axis=-1)


# ------------------------------------------------------------- layouts ---------------------------

def stack_to_grouped(x: tf.Tensor) -> tf.Tensor:
    """[12, B, H, W, C] (one tensor per AU) -> [B, H, W, 12 * C] (AU-major channels)."""
    shape = tf.shape(x)
    x = tf.transpose(x, [1, 2, 3, 0, 4])
    return tf.reshape(x, [shape[1], shape[2], shape[3], NUM_AUS * x.shape[-1]])


def grouped_to_stack(x: tf.Tensor) -> tf.Tensor:
    """[B, H, W, 12 * C] -> [12, B, H, W, C]."""
    shape = tf.shape(x)
    x = tf.reshape(x, [shape[0], shape[1], shape[2], NUM_AUS, x.shape[-1] // NUM_AUS])
    return tf.transpose(x, [3, 0, 1, 2, 4])


def grouped_to_vectors(x: tf.Tensor) -> tf.Tensor:
    """[B, h, w, 12 * C] -> [B, 12, h * w * C]: each AU's feature map flattened for its FC layer."""
    h, w, c = x.shape[1], x.shape[2], x.shape[3] // NUM_AUS
    x = tf.reshape(x, [-1, h, w, NUM_AUS, c])
    return tf.reshape(tf.transpose(x, [0, 3, 1, 2, 4]), [-1, NUM_AUS, h * w * c])


def vectors_to_grouped(x: tf.Tensor, side: int, channels: int) -> tf.Tensor:
    """[B, 12, side * side * C] -> [B, side, side, 12 * C]."""
    x = tf.reshape(x, [-1, NUM_AUS, side, side, channels])
    return tf.reshape(tf.transpose(x, [0, 2, 3, 1, 4]), [-1, side, side, NUM_AUS * channels])


def encoded_side(image_size: int, layers: int = 5) -> int:
    """Spatial side after `layers` stride-2 'SAME' convolutions: 200 -> 100, 50, 25, 13, 7."""
    side = image_size
    for _ in range(layers):
        side = math.ceil(side / 2)
    return side


def _tracked(model: keras.Model, layers: list) -> list:
    """Give each layer of a list its own attribute: Keras 3 tracks lists of layers for itself, but
    tf.train.Checkpoint only sees attributes, so without this the layers would not be saved."""
    for layer in layers:
        setattr(model, layer.name, layer)
    return layers


def _leaky(x):
    return tf.nn.leaky_relu(x, LEAKY_SLOPE)


# -------------------------------------------------------------- models ---------------------------

class CARGs(keras.Model):
    """The 12 conditional AU region generators G_AU_i = (G_en^i, G_de^i) of §3.2.

    Encoder: 5 convs 5x5 stride 2 + ReLU, FC -> z (N_z, tanh). Decoder: FC on [z, tiled l] + ReLU,
    reshape to [s, s, C], 5 deconvs 5x5 stride 2 (ReLU, last tanh) to 32 s >= S, centre crop to S
    (200: 7 -> 224, crop 12 px each side; 32: 1 -> 32, no crop).
    """

    def __init__(self, config: LacGanConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        k = config.kernel_size
        self.side = encoded_side(config.image_size)
        enc = config.encoder_channels
        self.encoder_convs = _tracked(self, [PerAUConv2D(c_in, c_out, k, name=f"enc_conv{j + 1}")
                                             for j, (c_in, c_out) in enumerate(zip((3,) + enc[:-1], enc))])
        self.encoder_fc = PerAUDense(self.side * self.side * enc[-1], config.z_dim, name="enc_fc")
        dec = config.decoder_channels
        self.decoder_fc = PerAUDense(2 * config.z_dim, self.side * self.side * dec[0], name="dec_fc")
        self.decoder_deconvs = _tracked(self, [
            PerAUConv2D(c_in, c_out, k, transpose=True, name=f"dec_deconv{j + 1}")
            for j, (c_in, c_out) in enumerate(zip(dec, dec[1:] + (3,)))])

    def encode(self, regions: tf.Tensor) -> tf.Tensor:
        """Regions X^{AU_i} [12, B, S, S, 3] -> z [B, 12, N_z] in (-1, 1)."""
        x = stack_to_grouped(tf.cast(regions, self.compute_dtype))
        for conv in self.encoder_convs:
            x = tf.nn.relu(conv(x))
        return tf.tanh(self.encoder_fc(grouped_to_vectors(x)))

    def decode(self, z: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
        """z [B, 12, N_z], labels {0, 1} [B, 12] -> generated regions [12, B, S, S, 3] in (-1, 1)."""
        code = tf.cast(tiled_label_code(labels, self.config.label_tile), z.dtype)
        x = tf.nn.relu(self.decoder_fc(tf.concat([z, code], axis=-1)))
        x = vectors_to_grouped(x, self.side, self.config.decoder_channels[0])
        for deconv in self.decoder_deconvs[:-1]:
            x = tf.nn.relu(deconv(x))
        x = tf.tanh(self.decoder_deconvs[-1](x))
        return grouped_to_stack(centre_crop(x, self.config.image_size))

    def call(self, regions, labels):
        return self.decode(self.encode(regions), labels)

    def create_weights(self) -> tf.Tensor:
        """One pass on zeros so every variable exists (checkpoints restore into existing variables);
        returns that pass's z for building the latent discriminators the same way."""
        s = self.config.image_size
        z = self.encode(tf.zeros([NUM_AUS, 1, s, s, 3]))
        self.decode(z, tf.zeros([1, NUM_AUS], tf.int32))
        return z


def centre_crop(x: tf.Tensor, size: int) -> tf.Tensor:
    """[B, H, W, C] -> [B, size, size, C], the centre (H - size is split evenly, extra on the end)."""
    top = (x.shape[1] - size) // 2
    left = (x.shape[2] - size) // 2
    return x[:, top:top + size, left:left + size, :]


class LatentDiscriminators(keras.Model):
    """D_z^i of Eq. 6: 4 FC layers on z_AU_i (ReLU, last linear) -> one logit per AU [B, 12]."""

    def __init__(self, config: LacGanConfig, **kwargs):
        super().__init__(**kwargs)
        units = (config.z_dim,) + tuple(config.latent_disc_units) + (1,)
        self.layers_fc = _tracked(self, [PerAUDense(a, b, name=f"fc{j + 1}")
                                         for j, (a, b) in enumerate(zip(units, units[1:]))])

    def call(self, z):
        x = tf.cast(z, self.compute_dtype)
        for layer in self.layers_fc[:-1]:
            x = tf.nn.relu(layer(x))
        return self.layers_fc[-1](x)[..., 0]


class LocalAUDiscriminators(keras.Model):
    """D^i and R^i of Eq. 7-8: 4 shared convs 5x5 stride 2 with batch norm + LeakyReLU, then
    - D^i: FC on [features, tiled l_AU_i] -> one real/fake logit (conditioned on the label);
    - R^i: FC on the features -> a 2-vector regressed onto the +-1 one-hot l_AU_i.
    Input: regions [12, B, S, S, 3] and labels {0, 1} [B, 12]; output (logits [B, 12], R [B, 12, 2]).
    """

    def __init__(self, config: LacGanConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        chans = config.local_disc_channels
        k = config.kernel_size
        self.convs = _tracked(self, [PerAUConv2D(a, b, k, name=f"conv{j + 1}")
                                     for j, (a, b) in enumerate(zip((3,) + chans[:-1], chans))])
        self.norms = _tracked(self, [keras.layers.BatchNormalization(synchronized=True, name=f"bn{j + 1}") for j in range(len(chans))])
        side = encoded_side(config.image_size, len(chans))
        features = side * side * chans[-1]
        self.adversarial_head = PerAUDense(features + 2 * config.label_tile, 1, name="adv_fc")
        self.regression_head = PerAUDense(features, 2, name="reg_fc")

    def call(self, regions, labels, training=False):
        x = stack_to_grouped(tf.cast(regions, self.compute_dtype))
        for conv, norm in zip(self.convs, self.norms):
            x = _leaky(norm(conv(x), training=training))
        features = grouped_to_vectors(x)
        code = tf.cast(tiled_label_code(labels, self.config.label_tile), features.dtype)
        logits = self.adversarial_head(tf.concat([features, code], axis=-1))[..., 0]
        return logits, self.regression_head(features)


class GlobalDiscriminator(keras.Model):
    """D_img of Eq. 3: 5 convs 5x5 stride 2 + LeakyReLU (DCGAN style, no norm), FC -> one logit [B]."""

    def __init__(self, config: LacGanConfig, **kwargs):
        super().__init__(**kwargs)
        self.convs = _tracked(self, [keras.layers.Conv2D(c, config.kernel_size, strides=2, padding="same",
                                                         kernel_initializer="he_normal", name=f"conv{j + 1}")
                                     for j, c in enumerate(config.global_disc_channels)])
        self.flatten = keras.layers.Flatten()
        self.logit = keras.layers.Dense(1, kernel_initializer="he_normal", name="fc")

    def call(self, images):
        x = images
        for conv in self.convs[:-1]:
            x = _leaky(conv(x))
        # The last LeakyReLU after the flatten (the same numbers): with oneDNN, Grappler's remapper
        # fails on conv -> bias -> LeakyReLU whose output the fc's weight gradient also reads
        # ("fanout ... LeakyReluGrad exist for missing node ...BiasAdd"), and then leaves the whole
        # train step unfused (docs/benchmarks.md, "Remapper").
        return self.logit(_leaky(self.flatten(self.convs[-1](x))))[:, 0]


class LacGanModels:
    """All trainable networks of one LAC-GAN, built (weights created) for `config.image_size`."""

    def __init__(self, config: LacGanConfig):
        self.config = config
        self.generator = CARGs(config, name="cargs")
        self.latent_discriminator = LatentDiscriminators(config, name="latent_discriminators")
        self.local_discriminator = LocalAUDiscriminators(config, name="local_au_discriminators")
        self.global_discriminator = GlobalDiscriminator(config, name="global_discriminator")
        self._build()

    def _build(self):
        s = self.config.image_size
        z = self.generator.create_weights()
        self.latent_discriminator(z)
        self.local_discriminator(tf.zeros([NUM_AUS, 1, s, s, 3]), tf.zeros([1, NUM_AUS], tf.int32))
        self.global_discriminator(tf.zeros([1, s, s, 3]))

    @property
    def generator_variables(self) -> list:
        return self.generator.trainable_variables

    @property
    def discriminator_variables(self) -> list:
        return (self.latent_discriminator.trainable_variables + self.local_discriminator.trainable_variables
                + self.global_discriminator.trainable_variables)
