"""Each loss term against a hand computation on small tensors."""
import math

import numpy as np
import pytest
import tensorflow as tf

from lac_gan.data.au_table import NUM_AUS
from lac_gan.training import losses


def log_sigmoid(x):
    return -math.log1p(math.exp(-x))


def test_adversarial_losses_eq_3_6_7():
    real, fake = tf.constant([2.0, -1.0]), tf.constant([0.5, -3.0])
    d = losses.discriminator_adversarial_loss(real, fake).numpy()
    expected = [-log_sigmoid(r) - math.log(1 - 1 / (1 + math.exp(-f))) for r, f in [(2.0, 0.5), (-1.0, -3.0)]]
    np.testing.assert_allclose(d, expected, rtol=1e-6)
    masked = losses.discriminator_adversarial_loss(real, fake, real_weights=tf.constant([True, False])).numpy()
    np.testing.assert_allclose(masked[1], -math.log(1 - 1 / (1 + math.exp(3.0))), rtol=1e-6)
    g = losses.generator_adversarial_loss(fake).numpy()
    np.testing.assert_allclose(g, [-log_sigmoid(0.5), -log_sigmoid(-3.0)], rtol=1e-6)


def test_pixel_loss_eq_5_is_the_l1_norm_or_per_roi_pixel_and_masks_unknown_labels():
    s = 2
    maps = np.zeros((1, s, s, NUM_AUS), np.float32)
    maps[0, 0, 0, 0], maps[0, 0, 1, 0] = 1.0, 0.5  # AU1: mass 1.5
    maps[0, 1, 1, 1] = 1.0  # AU2: mass 1
    regions = np.zeros((NUM_AUS, 1, s, s, 3), np.float32)
    generated = np.zeros_like(regions)
    generated[0, 0, 0, 0] = [0.3, -0.3, 0.0]  # |.| sum 0.6
    generated[1, 0, 1, 1] = [1.0, 1.0, 1.0]  # |.| sum 3
    known = np.ones((1, NUM_AUS), bool)
    # The generated ROI is A_i x G: AU1's pixel (0, 0) has weight 1, AU2's (1, 1) weight 1.
    loss = losses.pixel_loss(generated, regions, maps, known).numpy()
    np.testing.assert_allclose(loss[0, :2], [0.6, 3.0], rtol=1e-6)  # the paper's l1 norm (sum)
    per_pixel = losses.pixel_loss(generated, regions, maps, known, reduction="roi_mean").numpy()
    np.testing.assert_allclose(per_pixel[0, :2], [0.6 / (3 * 1.5), 3.0 / 3.0], rtol=1e-6)
    known[0, 1] = False  # AU2's label is 9: no reconstruction target
    assert losses.pixel_loss(generated, regions, maps, known).numpy()[0, 1] == 0
    with pytest.raises(ValueError, match="reduction"):
        losses.pixel_loss(generated, regions, maps, known, reduction="mean")


def test_label_regression_loss_eq_8():
    predicted = np.zeros((1, NUM_AUS, 2), np.float32)
    predicted[0, 0] = [0.5, -1.0]  # vs absent (+1, -1): 0.25 + 0
    predicted[0, 1] = [0.0, 0.0]  # vs present (-1, +1): 1 + 1
    labels = np.zeros((1, NUM_AUS), np.int32)
    labels[0, 1] = 1
    loss = losses.label_regression_loss(predicted, labels).numpy()
    np.testing.assert_allclose(loss[0, :2], [0.25, 2.0])
    weights = np.ones((1, NUM_AUS), bool)
    weights[0, 0] = False
    assert losses.label_regression_loss(predicted, labels, weights).numpy()[0, 0] == 0


def test_identity_loss_eq_4():
    a = [tf.ones([1, 2, 2, 1]), tf.zeros([1, 1, 1, 2])]
    b = [tf.zeros([1, 2, 2, 1]), tf.constant([[[[1.0, 3.0]]]])]
    np.testing.assert_allclose(losses.identity_loss(a, b, (0.5, 0.9)).numpy(), [0.5 * 1 + 0.9 * 2])


def test_total_variation_loss():
    image = np.zeros((1, 2, 2, 1), np.float32)
    image[0, 0, 0, 0] = 1.0  # rows: |0-1|, |0-0| -> mean 0.5; cols: same -> 0.5
    np.testing.assert_allclose(losses.total_variation_loss(image).numpy(), [1.0])


def test_carg_and_total_objective_eq_9_10():
    ones = tf.ones([1, NUM_AUS])
    carg = losses.carg_loss(ones, 2 * ones, 3 * ones, 4 * ones, lambda_latent_adv=0.01, lambda_au_adv=0.1,
                            lambda_au_label=10.0)
    np.testing.assert_allclose(carg.numpy(), np.full((1, NUM_AUS), 1 + 0.02 + 0.1 * (3 + 40)), rtol=1e-6)
    beta = (1.0,) * NUM_AUS
    total = losses.lac_gan_loss(carg, beta, tf.constant([2.0]), tf.constant([5.0]), tf.constant([0.7]),
                                lambda_identity=1.0, lambda_tv=0.001, lambda_image_adv=1.0)
    np.testing.assert_allclose(total.numpy(), [NUM_AUS * 5.32 + 2.0 + 0.005 + 0.7], rtol=1e-6)
