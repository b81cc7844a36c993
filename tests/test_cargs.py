"""Shapes, dtypes, label tiling and per-AU independence of the LAC-GAN networks (tiny preset)."""
import numpy as np
import pytest
import tensorflow as tf

from lac_gan.data import attention
from lac_gan.data.au_table import NUM_AUS
from lac_gan.nets import cargs, config as config_lib
from lac_gan.nets.synthesis import edit_faces


@pytest.fixture(scope="module")
def tiny_models():
    tf.random.set_seed(0)
    return cargs.LacGanModels(config_lib.tiny())


def test_label_code_and_tiling():
    labels = tf.constant([[0, 1] + [0] * (NUM_AUS - 2)])
    code = cargs.label_code(labels).numpy()
    np.testing.assert_array_equal(code[0, 0], [1, -1])  # absent
    np.testing.assert_array_equal(code[0, 1], [-1, 1])  # present
    tiled = cargs.tiled_label_code(labels, 30).numpy()
    assert tiled.shape == (1, NUM_AUS, 60)
    np.testing.assert_array_equal(tiled[0, 0], [1.0] * 30 + [-1.0] * 30)
    np.testing.assert_array_equal(tiled[0, 1], [-1.0] * 30 + [1.0] * 30)


def test_sub_model_shapes_and_dtypes(tiny_models):
    c = tiny_models.config
    s, b = c.image_size, 2
    regions = tf.random.uniform([NUM_AUS, b, s, s, 3], -1, 1)
    labels = tf.constant(np.random.default_rng(0).integers(0, 2, (b, NUM_AUS)), tf.int32)
    z = tiny_models.generator.encode(regions)
    assert z.shape == (b, NUM_AUS, c.z_dim) and z.dtype == tf.float32
    assert np.all(np.abs(z.numpy()) <= 1)
    generated = tiny_models.generator.decode(z, labels)
    assert generated.shape == (NUM_AUS, b, s, s, 3) and np.all(np.abs(generated.numpy()) <= 1)
    assert tiny_models.latent_discriminator(z).shape == (b, NUM_AUS)
    logits, codes = tiny_models.local_discriminator(regions, labels, training=True)
    assert logits.shape == (b, NUM_AUS) and codes.shape == (b, NUM_AUS, 2)
    assert tiny_models.global_discriminator(regions[0]).shape == (b,)


@pytest.mark.parametrize("size, side", [(200, 7), (48, 2), (32, 1)])
def test_decoder_reaches_image_size(size, side):
    """200 -> 7 after 5 stride-2 convs; 5 deconvs give 224, centre-cropped back to 200."""
    assert cargs.encoded_side(size) == side
    c = config_lib.tiny().replace(image_size=size)
    generator = cargs.CARGs(c)
    out = generator.decode(tf.zeros([1, NUM_AUS, c.z_dim]), tf.zeros([1, NUM_AUS], tf.int32))
    assert out.shape == (NUM_AUS, 1, size, size, 3)


def test_each_au_has_its_own_parameters(tiny_models):
    """Changing AU 3's input changes only AU 3's output: the 12 sub-models share nothing."""
    c = tiny_models.config
    regions = tf.random.uniform([NUM_AUS, 1, c.image_size, c.image_size, 3], -1, 1, seed=1)
    labels = tf.zeros([1, NUM_AUS], tf.int32)
    base = tiny_models.generator(regions, labels).numpy()
    changed = tf.tensor_scatter_nd_update(regions, [[3]], tf.zeros([1, 1, c.image_size, c.image_size, 3]))
    after = tiny_models.generator(changed, labels).numpy()
    differs = [not np.array_equal(base[i], after[i]) for i in range(NUM_AUS)]
    assert differs == [i == 3 for i in range(NUM_AUS)]
    assert tiny_models.generator.encoder_convs[0].kernel.shape[0] == NUM_AUS


def test_pixels_outside_every_region_are_bit_identical(tiny_models, astronaut):
    s = tiny_models.config.image_size
    image = tf.image.resize(astronaut[None, 30:230, 130:330].astype(np.float32), [s, s]) / 127.5 - 1
    maps = tf.constant(attention.canonical_attention_maps(s)[None])
    edited = edit_faces(tiny_models.generator, image, maps, tf.ones([1, NUM_AUS], tf.int32)).numpy()
    outside = tf.reduce_sum(maps, axis=-1).numpy()[0] == 0
    assert outside.sum() > 0.5 * s * s
    np.testing.assert_array_equal(edited[0][outside], image.numpy()[0][outside])
    assert not np.array_equal(edited[0][~outside], image.numpy()[0][~outside])


def test_checkpoint_holds_every_variable(tiny_models, tmp_path):
    networks = {"generator": tiny_models.generator, "latent": tiny_models.latent_discriminator,
                "local": tiny_models.local_discriminator, "global": tiny_models.global_discriminator}
    path = tf.train.Checkpoint(**networks).save(str(tmp_path / "ckpt"))
    saved = [name for name, _ in tf.train.list_variables(path) if name.endswith("VARIABLE_VALUE")]
    expected = sum(len(net.variables) for net in networks.values())
    assert len(saved) - 1 == expected  # minus save_counter
