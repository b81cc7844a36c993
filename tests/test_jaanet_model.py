"""JAA-Net's network, losses and input geometry (no training here)."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lac_gan.data import attention
from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.jaanet import config as config_lib, data, losses, model as model_lib
from lac_gan.nets.per_au_layers import use_formulation


@pytest.fixture(scope="module")
def paper_sized():
    """The paper's sizes (200 px faces, 176 crops), width unit 1 so that it builds in seconds."""
    config = config_lib.paper().replace(unit_dim=1)
    return config, model_lib.build_model(config)


def test_shapes_at_200_and_176(paper_sized):
    config, model = paper_sized
    faces = tf.random.uniform([2, 200, 200, 3], -1, 1, seed=0)
    outputs = model(data.centre_crop(faces, config))
    assert outputs["au_log_probs"].shape == (2, 2, 12)
    assert outputs["landmarks"].shape == (2, 98)
    assert outputs["initial_maps"].shape == (2, 52, 52, 12) and outputs["refined_maps"].shape == (2, 44, 44, 12)
    np.testing.assert_allclose(tf.reduce_sum(tf.exp(outputs["au_log_probs"]), axis=1), 1.0, rtol=1e-5)
    # The heads read 20 * unit_dim channels of 5 x 5 (the port's 4000 at unit_dim 8).
    assert model.align_hidden.kernel.shape == (500, 64) and model.au_hidden.kernel.shape == (1500, 64)
    crops, points = data.random_crop_flip(faces, tf.zeros([2, 98]), tf.random.Generator.from_seed(0), config)
    assert crops.shape == (2, 176, 176, 3) and points.shape == (2, 98)
    assert config.centre_offset == 12 and data.centre_crop(faces, config).shape == (2, 176, 176, 3)
    with pytest.raises(ValueError, match="multiple of 16"):
        config.replace(crop_size=180)


def test_people_preset_runs_at_its_112_px_faces_and_96_crops():
    """The `people` preset's sizes (train-detector on thousands of people on a CPU): the network builds
    and runs at them (unit 1 here: only the geometry is under test)."""
    config = config_lib.preset("people").replace(unit_dim=1)
    assert (config.image_size, config.crop_size, config.centre_offset, config.map_size) == (112, 96, 8, 24)
    faces = tf.random.uniform([2, config.image_size, config.image_size, 3], -1, 1, seed=0)
    outputs = model_lib.build_model(config)(data.centre_crop(faces, config))
    assert outputs["au_log_probs"].shape == (2, 2, 12) and outputs["landmarks"].shape == (2, 98)
    assert outputs["initial_maps"].shape == (2, 32, 32, 12) and outputs["refined_maps"].shape == (2, 24, 24, 12)


def test_initial_attention_is_the_shared_au_centre_module(paper_sized):
    config, model = paper_sized
    outputs = model(tf.random.uniform([2, 176, 176, 3], -1, 1, seed=1))
    for points, maps in zip(outputs["landmarks"].numpy(), outputs["initial_maps"].numpy()):
        centres = attention.au_centres(points.reshape(49, 2).astype(np.float64)) * 52 / 176
        np.testing.assert_allclose(maps, attention.au_attention_maps(centres, 52, 0.14, 0.56), atol=1e-6)
    # Untrained, the landmarks are the canonical face (the output bias), so the maps sit on it.
    np.testing.assert_allclose(outputs["landmarks"].numpy()[0].reshape(49, 2),
                               canonical_landmarks49(200) - 12, atol=5.0)
    maps = outputs["initial_maps"].numpy()[0]
    assert maps.max() == pytest.approx(1.0) and (maps[..., 6] == maps[..., 7]).all()  # AU12 = AU14


def test_grouped_convolutions_are_per_group_convolutions():
    """The grouped path (under XLA, which has grouped kernels on every backend) and the per-group path
    give the same outputs and kernel gradients, and the latter is one convolution per group."""
    layer = model_lib.GroupedConv2D(6, 3, padding="same", groups=3)
    inputs = tf.random.normal([2, 5, 5, 6], seed=2)
    layer.build(inputs.shape)

    def run(path, jit):
        def forward_and_gradient():
            with tf.GradientTape() as tape:
                outputs = layer(inputs)
                loss = tf.reduce_sum(outputs ** 2)
            return outputs, tape.gradient(loss, layer.kernel)
        with use_formulation(path):
            return (tf.function(forward_and_gradient, jit_compile=True) if jit else forward_and_gradient)()

    grouped, grouped_gradient = run("grouped", jit=True)
    split, split_gradient = run("split", jit=False)
    np.testing.assert_allclose(split, grouped, atol=1e-5)
    separate = [tf.nn.conv2d(inputs[..., 2 * g:2 * g + 2], layer.kernel[..., 2 * g:2 * g + 2], 1, "SAME")
                for g in range(3)]
    np.testing.assert_allclose(split - layer.bias, tf.concat(separate, -1), atol=1e-5)
    np.testing.assert_allclose(split_gradient, grouped_gradient, rtol=1e-4, atol=1e-4)


def test_region_cells_are_convolved_independently():
    layer = model_lib.CellConvolution(4, 2)
    inputs = np.random.default_rng(0).normal(size=(1, 16, 16, 3)).astype(np.float32)
    before = layer(inputs).numpy()
    changed = inputs.copy()
    changed[:, 4:8, 8:12] += 5.0  # cell (1, 2) of the 4 x 4 partition
    after = layer(changed).numpy()
    differs = np.abs(after - before).max(axis=(0, 3)) > 0
    assert differs[4:8, 8:12].all() and differs.sum() == 16  # nothing leaks across the cell border


def test_random_crop_flip_moves_landmarks_with_the_pixels():
    config = config_lib.tiny()
    rng = np.random.default_rng(0)
    points = canonical_landmarks49(40).round()
    images = np.zeros((6, 40, 40, 3), np.float32)
    for k, (x, y) in enumerate(points):  # each landmark's pixel holds its own number
        images[:, int(y), int(x), 0] = k + 1
    crops, moved = data.random_crop_flip(tf.constant(images), tf.constant(np.tile(points.ravel(), (6, 1)), tf.float32),
                                         tf.random.Generator.from_seed(int(rng.integers(100))), config)
    crops, moved = crops.numpy(), moved.numpy().reshape(6, 49, 2)
    for crop, landmarks in zip(crops, moved):
        inside = [k for k, (x, y) in enumerate(landmarks) if 0 <= x < 32 and 0 <= y < 32]
        assert len(inside) > 40
        values = [crop[int(landmarks[k, 1]), int(landmarks[k, 0]), 0] for k in inside]
        # Mirrored frames renumber the points, so the pixel holds the mirror partner's number.
        original = [v - 1 for v in values]
        assert original == inside or original == [data.MIRROR_49[k] for k in inside]
    assert sorted(data.MIRROR_49) == list(range(49))
    assert all(data.MIRROR_49[data.MIRROR_49[k]] == k for k in range(49))


def test_softmax_and_dice_losses_weight_aus_and_ignore_unknown_labels():
    probability = np.array([[0.9, 0.2], [0.3, 0.6], [0.6, 0.1]], np.float32)  # [B=3, 2 AUs]
    log_probs = np.log(np.stack([1 - probability, probability], axis=1))  # [3, 2, 2]
    labels = np.array([[1, 0], [0, 9], [1, 1]])
    known = labels != 9
    weights = np.array([0.5, 1.5], np.float32)
    softmax = losses.au_softmax_loss(log_probs, labels, known, weights).numpy()
    au1 = -(np.log(0.9) + np.log(0.7) + np.log(0.6)) / 3
    au2 = -(np.log(0.8) + np.log(0.1)) / 2  # the unknown frame is left out
    assert softmax == pytest.approx((0.5 * au1 + 1.5 * au2) / 2, rel=1e-5)

    dice = losses.au_dice_loss(log_probs, labels, known, weights).numpy()
    d1 = 1 - (2 * (0.9 + 0.6) + 1) / ((0.81 + 0.09 + 0.36) + 2 + 1)
    d2 = 1 - (2 * 0.1 + 1) / ((0.04 + 0.01) + 1 + 1)
    assert dice == pytest.approx((0.5 * d1 + 1.5 * d2) / 2, rel=1e-5)
    changed = log_probs.copy()
    changed[1, :, 1] = np.log([0.01, 0.99])  # the prediction for the unknown label
    assert losses.au_dice_loss(changed, labels, known, weights).numpy() == pytest.approx(dice)
    assert losses.au_softmax_loss(changed, labels, known, weights).numpy() == pytest.approx(softmax)


def test_landmark_loss_is_normalised_and_masked():
    target = canonical_landmarks49(200).astype(np.float32).ravel()
    eyes = canonical_landmarks49(200)
    interocular2 = np.sum((eyes[19:25].mean(0) - eyes[25:31].mean(0)) ** 2)
    predicted = np.stack([target + 2.0, target + 50.0])  # the second frame has no true landmarks
    loss = losses.landmark_loss(predicted, np.stack([target, np.zeros_like(target)]), np.array([True, False]))
    assert loss.numpy() == pytest.approx(98 * 4.0 / (2 * interocular2), rel=1e-5)
    assert losses.landmark_loss(predicted, np.stack([target, target]), np.array([False, False])).numpy() == 0


def test_attention_refine_loss_is_bce_against_the_resized_initial_map():
    rng = np.random.default_rng(0)
    initial = rng.uniform(0, 1, (2, 52, 52, 12)).astype(np.float32)
    refined = rng.uniform(0.05, 0.95, (2, 44, 44, 12)).astype(np.float32)
    rows = np.floor(np.arange(44) * 52 / 44).astype(int)  # PyTorch's 'nearest': 0, 1, 2, 3, 4, 5, 7, ...
    target = initial[:, rows][:, :, rows]
    bce = -(target * np.log(refined) + (1 - target) * np.log(1 - refined))
    expected = bce.mean(axis=(0, 1, 2)).sum()
    assert losses.attention_refine_loss(refined, initial).numpy() == pytest.approx(expected, rel=1e-5)


def test_au_weights_are_inverse_rates_summing_to_the_labelled_aus():
    weights = losses.au_weights_from_counts(np.array([10, 40, 0, 0]), np.array([100, 100, 100, 0]))
    assert weights[3] == 0 and np.isfinite(weights).all()
    assert weights.sum() == pytest.approx(3.0)
    assert weights[0] / weights[1] == pytest.approx(4.0) and weights[2] / weights[0] == pytest.approx(10.0)
