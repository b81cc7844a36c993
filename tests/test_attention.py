"""AU centres and attention maps (JAA-Net's generate_map rules, `../shared/spec/au_centres.md`)."""
import numpy as np
import pytest
import tensorflow as tf

from lac_gan.data import alignment, attention
from lac_gan.data.au_table import NUM_AUS, au_index


def test_centres_follow_the_rules_on_the_canonical_face():
    points = alignment.canonical_landmarks49(200)
    centres = attention.au_centres(points)
    ruler = abs(points[22, 0] - points[25, 0])
    assert centres.shape == (NUM_AUS, 2, 2)
    np.testing.assert_allclose(centres[au_index(1), 0], points[4] + [0, -ruler / 2], atol=1e-4)
    np.testing.assert_allclose(centres[au_index(6), 1], points[29] + [0, ruler], atol=1e-4)
    np.testing.assert_allclose(centres[au_index(17), 0], points[39] + [0, ruler / 2], atol=1e-4)
    np.testing.assert_allclose(centres[au_index(12)], centres[au_index(15)])  # one shared map


@pytest.mark.parametrize("size, ratio, coefficient", [(200, 0.14, 0.56), (64, 0.14, 0.56), (100, 0.2, 0.8)])
def test_maps_are_manhattan_diamonds_peaking_at_the_centres(size, ratio, coefficient):
    centres = attention.au_centres(alignment.canonical_landmarks49(size))
    maps = attention.au_attention_maps(centres, size, ratio, coefficient)
    assert maps.shape == (size, size, NUM_AUS) and maps.dtype == np.float32
    assert maps.min() >= 0.0 and maps.max() <= 1.0
    half = int(round((size - 1) / 2 * ratio))
    for au in range(NUM_AUS):
        for cx, cy in np.round(centres[au]).astype(int):
            assert maps[cy, cx, au] == pytest.approx(1.0)
        # Away from the other centre, the value at (drow, dcol) is 1 - (|drow| + |dcol|) c / (S r).
        (cx, cy), (ox, oy) = np.round(centres[au]).astype(int)
        for drow, dcol in [(0, 1), (1, 1), (-half, 0), (2, -3)]:
            row, col = cy + drow, cx + dcol
            if abs(row - oy) + abs(col - ox) > abs(drow) + abs(dcol) + 2 * half:
                expected = 1 - (abs(drow) + abs(dcol)) * coefficient / (size * ratio)
                assert maps[row, col, au] == pytest.approx(expected, abs=1e-6)


def test_maps_are_zero_outside_the_squares():
    size = 64
    centres = np.full((NUM_AUS, 2, 2), 32.0)
    maps = attention.au_attention_maps(centres, size)
    half = int(round((size - 1) / 2 * attention.SPATIAL_RATIO))
    inside = np.zeros((size, size), bool)
    inside[32 - half:32 + half + 1, 32 - half:32 + half + 1] = True
    assert (maps[~inside] == 0).all() and (maps[inside] > 0).all()


def test_centres_outside_the_image_are_clipped_not_an_error():
    centres = np.array([[[-3.0, 10.0], [70.0, 70.0]]] * NUM_AUS)
    maps = attention.au_attention_maps(centres, 64)
    assert maps.max() <= 1.0 and maps[:, :, 0].max() > 0


def test_overlap_normalisation_keeps_every_pixel_sum_at_most_one():
    centres = attention.au_centres(alignment.canonical_landmarks49(64))
    maps = attention.au_attention_maps(centres, 64)
    assert maps.sum(axis=-1).max() > 1  # AU12/14/15 overlap fully
    normalised = attention.normalise_overlaps(tf.constant(maps)).numpy()
    assert normalised.sum(axis=-1).max() <= 1 + 1e-6
