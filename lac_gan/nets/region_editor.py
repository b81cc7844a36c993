"""The region editor (beyond the paper): a second generator family beside the CARGs, which moves the
face instead of redrawing it (docs/paper-notes.md, "The region editor").

Three regions, each the AUs that share a part of the face (brows: AU1, 2, 4; eyes and cheeks:
AU6, 7; mouth: AU10, 12, 14, 15, 17, 23, 24). For each, a small net sees a crop around the
region's own control landmarks (lac_gan/data/au_movements.py; the box they and their kernels'
reach span), with the requested change of each of its AUs as an input plane
(lac_gan/nets/movement.py:requested_change: 1 to switch an absent AU on, -1 to undo one, 0 for
nothing; on a photo, AU12's by the lift its own lip corners show), and outputs, per AU, no code:

- a movement: the requested change times a learned gain (1 + g, g in [region_min_gain,
  region_max_gain] = [0, 0.5]) of the AU's table movement, plus small residual moves of its
  control points (|r| <= region_max_residual IOD, times the request's size, the same on both sides
  of the face: region_symmetric_residuals), spread by the smooth
  compact kernel of lac_gan/nets/movement.py: a flow that cannot draw marks and is 0 beyond the
  points' reach. The table's movement is the floor the editor starts from and cannot fall below:
  a strength learned freely from (target - source) regressed to t - P(source present), 0.0-0.4 of
  the table for AU12, a gain allowed down to -0.5 went there for AU1 (OpenFace read it in 23 %),
  and one allowed down to -0.1 went there for every AU in every retraining (docs/paper-notes.md);
- a shading (not for region_unshaded_aus, AU1, which OpenFace reads from the movement and whose
  learned shading cost it 3-8 points): a lighter or darker skin (the same change in R, G and B,
  |s| <= region_max_shade) on a coarse grid over the crop (region_colour_grid^2), resized smoothly
  to the face and multiplied by the AU's window (its kernel's reach) and the request's size, so it
  acts only in the AU's region, cannot be sharper than the grid, and cannot paint a hue: furrows,
  wrinkles, a cheek's shading and teeth are lighter or darker skin; the RGB colour first tried
  here drew coloured marks within 500 steps (a red mouth for AU17, a green one for AU14), which a
  critic took and no detector reads.

Composition: the face is warped by the summed flow, then the AUs' shadings (x window x |request|)
and the table's creases of the AUs switched on (lac_gan/nets/movement.py:crease_shade, a floor the
learned shading adds to, as the table's movement is for the learned gain) are added. An AU with
nothing requested (not chosen, or already as asked) moves nothing and shades nothing: outside the
requested AUs' reach the output is the source, bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.nets import movement
from lac_gan.nets.config import LacGanConfig

REGIONS: dict[str, tuple[str, ...]] = {
    "brows": ("AU1", "AU2", "AU4"),
    "eyes": ("AU6", "AU7"),
    "mouth": ("AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"),
}
LEAKY_SLOPE = 0.2


@dataclass(frozen=True)
class Region:
    name: str
    aus: np.ndarray  # AU indices [n]
    points: np.ndarray  # indices into the control table [k]


def regions(table: movement.ControlTable = movement.CONTROL_TABLE) -> tuple[Region, ...]:
    found = []
    for name, aus in REGIONS.items():
        indices = np.array([AU_NAMES.index(a) for a in aus])
        found.append(Region(name, indices, np.flatnonzero(np.isin(table.owner, indices))))
    covered = np.sort(np.concatenate([r.aus for r in found]))
    if not np.array_equal(covered, np.arange(NUM_AUS)):
        raise ValueError("REGIONS must hold every AU once")
    return tuple(found)


def region_boxes(points: tf.Tensor, radii: tf.Tensor, region: Region, image_size: int) -> tf.Tensor:
    """The square box [B, 4] (y1, x1, y2, x2 as fractions of the image, tf.image.crop_and_resize's
    form) around a region's control points and their kernels' reach."""
    own = tf.gather(points, region.points, axis=1)
    reach = movement.KERNEL_REACH * tf.gather(radii, region.points, axis=1)[..., None]
    low = tf.reduce_min(own - reach, axis=1)
    high = tf.reduce_max(own + reach, axis=1)
    centre, half = (low + high) / 2, tf.reduce_max(high - low, axis=-1, keepdims=True) / 2
    low, high = centre - half, centre + half
    scale = float(image_size - 1)
    return tf.stack([low[:, 1], low[:, 0], high[:, 1], high[:, 0]], axis=-1) / scale


def mirror_partners(table: movement.ControlTable = movement.CONTROL_TABLE) -> np.ndarray:
    """[K] each control point's mirror image across the face's midline: the same AU's point nearest
    its reflection on the canonical face (itself for a point on the midline)."""
    landmarks = tf.constant(canonical_landmarks49(200)[None], tf.float32)
    points, _, _ = movement.control_points(landmarks, table)
    middle, x_axis, _, iod = (v[0].numpy() for v in movement.face_frame(landmarks))
    points = points[0].numpy()
    reflected = points - 2.0 * ((points - middle) @ x_axis)[:, None] * x_axis
    distance = np.linalg.norm(reflected[:, None] - points[None], axis=-1) / iod
    distance[table.owner[:, None] != table.owner[None]] = np.inf
    partners = distance.argmin(axis=1)
    if distance[np.arange(len(partners)), partners].max() > 0.05:
        raise ValueError("a control point has no mirror image in its AU's movement")
    return partners


def _symmetric(residuals: tf.Tensor, points: tf.Tensor, frame, partners: np.ndarray) -> tf.Tensor:
    """Residual moves [B, K, 2] at points [B, K, 2] of faces whose face_frame is `frame`, made the
    same on both sides of the face: each point's (out, down) in the face frame averaged with its
    mirror partner's (a point on the midline keeps only its down). Free residuals went to their
    bound one way on every face, lifting one brow more than the other and tilting the mouth
    (docs/paper-notes.md, "Retraining")."""
    _, x_axis, y_axis, _ = frame
    side = movement.midline_side(points, frame)
    out = side * tf.reduce_sum(residuals * x_axis[:, None], axis=-1)
    down = tf.reduce_sum(residuals * y_axis[:, None], axis=-1)
    out, down = ((v + tf.gather(v, partners, axis=1)) / 2.0 for v in (out, down))
    return (side * out)[..., None] * x_axis[:, None] + down[..., None] * y_axis[:, None]


def _never_back_along(residuals: tf.Tensor, directions: tf.Tensor) -> tf.Tensor:
    """Residual moves [B, K, 2] without their part against each point's table direction [B, K, 2]
    (points that do not move keep theirs): they may bend and add to the table's movement, never undo
    it, so that (1 + region_min_gain) x the table is the floor. Free residuals took AU1's, AU4's and
    AU15's points back by their whole bound against the table (docs/paper-notes.md, "The region editor")."""
    unit = tf.math.divide_no_nan(directions, tf.norm(directions, axis=-1, keepdims=True))
    backwards = tf.minimum(tf.reduce_sum(residuals * unit, axis=-1, keepdims=True), 0.0)
    return residuals - backwards * unit


class RegionNet(keras.layers.Layer):
    """One region's net: crop + requested-change planes -> per AU a movement gain, residual moves of
    its points, and a shading grid."""

    def __init__(self, config: LacGanConfig, region: Region, **kwargs):
        super().__init__(**kwargs)
        self.config, self.region = config, region
        n, k = len(region.aus), len(region.points)
        self.convs = [keras.layers.Conv2D(c, 4, strides=2, padding="same", name=f"conv{j + 1}")
                      for j, c in enumerate(config.region_channels)]
        self.hidden = keras.layers.Dense(64, name="movement_hidden")
        # Zero-initialised: the editor starts as the warp (gain 1, no residual), and learns from there.
        self.movement = keras.layers.Dense(n + 2 * k, kernel_initializer="zeros", name="movement")
        # Small initial weights: the shading starts near 0.
        self.shade = keras.layers.Conv2D(n, 3, padding="same", name="shade",
                                         kernel_initializer=keras.initializers.RandomNormal(stddev=0.01))
        for conv in self.convs:  # attributes, so that tf.train.Checkpoint saves them (it does not see lists)
            setattr(self, conv.name, conv)

    def call(self, crops, requested):
        n = len(self.region.aus)
        own_requests = tf.gather(requested, self.region.aus, axis=1)
        side = tf.shape(crops)[1]
        planes = tf.tile(own_requests[:, None, None, :], tf.stack([1, side, side, 1]))
        x = tf.cast(tf.concat([crops, planes], axis=-1), self.compute_dtype)
        for conv in self.convs:
            x = tf.nn.leaky_relu(conv(x), LEAKY_SLOPE)
        flat = tf.reshape(x, [-1, x.shape[1] * x.shape[2] * x.shape[3]])
        pooled = tf.concat([flat, tf.cast(own_requests, flat.dtype)], axis=-1)
        head = self.movement(tf.nn.leaky_relu(self.hidden(pooled), LEAKY_SLOPE))
        # Asymmetric: up to region_max_gain more than the table's movement, region_min_gain less.
        raw = tf.tanh(head[:, :n])
        gains = raw * tf.where(raw > 0, self.config.region_max_gain, -self.config.region_min_gain)
        residuals = self.config.region_max_residual * tf.tanh(tf.reshape(head[:, n:], [-1, len(self.region.points), 2]))
        grid = self.config.region_colour_grid
        shade = tf.cast(self.shade(tf.image.resize(x, [grid, grid], "bilinear")), tf.float32)
        # float32 outputs: the face's geometry is float32 under any precision policy.
        return (tf.cast(gains, tf.float32), tf.cast(residuals, tf.float32),
                self.config.region_max_shade * tf.tanh(shade))


class RegionEditorNet(keras.Model):
    """The three region nets; `edit_plan` turns their outputs into an EditPlan."""

    def __init__(self, config: LacGanConfig, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.regions = regions()
        self.region_nets = [RegionNet(config, region, name=region.name) for region in self.regions]
        for net in self.region_nets:  # attributes, so that tf.train.Checkpoint sees them
            setattr(self, f"net_{net.name}", net)
        order = np.concatenate([r.points for r in self.regions])
        self._table_order = np.argsort(order)  # region-ordered points -> the control table's order
        au_order = np.concatenate([r.aus for r in self.regions])
        self._au_order = np.argsort(au_order)
        self._partners = mirror_partners()
        # 0 for the AUs drawn by movement alone (config.region_unshaded_aus): their shading is not drawn.
        self._shaded = np.array([0.0 if au in config.region_unshaded_aus else 1.0 for au in AU_NAMES], np.float32)

    def edit_plan(self, images, landmarks, requested, stride: int = 1,
                  measured=None) -> tuple[movement.EditPlan, dict]:
        """(the EditPlan, {"gains" [B, 12], "residuals" [B, K, 2] (IOD), "shades" [B, s, s, 12] on
        the stride's grid}) for faces [B, S, S, 3] with landmarks [B, 49, 2] and the requested change
        [B, 12] in [-1, 1] (movement.requested_change x chosen); the shading and the windows are
        computed every `stride` pixels and resized. `measured` [B, 12] bool: requests that undo the
        face's own, measured movement (a photo's AU12 by its lip corners' lift): the learned gain
        applies (the smile's appearance outlasts its geometry), but never beyond the table's whole
        movement (a broad smile was undone by 1.46 of its own lift, drawing folds)."""
        size = self.config.image_size
        table = movement.CONTROL_TABLE
        points, table_moves, radii = movement.control_points(landmarks, table)
        frame = movement.face_frame(landmarks)
        iod = frame[3]
        crop = self.config.region_crop_size
        gains, residuals, shades = [], [], []
        # The shading grids are read every `stride` pixels and resized (they are coarse and smooth).
        coarse = movement.pixel_grid(size, size, stride)
        for region, net in zip(self.regions, self.region_nets):
            boxes = region_boxes(points, radii, region, size)
            crops = tf.image.crop_and_resize(images, boxes, tf.range(tf.shape(images)[0]), [crop, crop])
            gain, residual, shade = net(crops, requested)
            gains.append(gain)
            residuals.append(residual)
            # Each face pixel's place on the region's coarse grid (border values beyond the box,
            # where the AU windows are 0 anyway).
            grid = float(self.config.region_colour_grid)
            scale = float(size - 1)
            gx = (coarse[None, ..., 0] / scale - boxes[:, 1, None, None]) / (boxes[:, 3] - boxes[:, 1])[:, None, None]
            gy = (coarse[None, ..., 1] / scale - boxes[:, 0, None, None]) / (boxes[:, 2] - boxes[:, 0])[:, None, None]
            shades.append(movement.sample_bilinear(shade, tf.stack([gx * grid - 0.5, gy * grid - 0.5], axis=-1)))
        gain = tf.gather(tf.concat(gains, axis=1), self._au_order, axis=1)
        residual = tf.gather(tf.concat(residuals, axis=1), self._table_order, axis=1)
        size_of_request = tf.abs(requested)
        strength = requested * (1.0 + gain)
        if measured is not None:  # a measured lift undone: never by more than the table's movement
            strength = tf.where(measured, tf.maximum(strength, -1.0), strength)
        per_point = tf.gather(strength, table.owner, axis=1)[..., None]
        point_request = tf.gather(size_of_request, table.owner, axis=1)[..., None]
        if self.config.region_symmetric_residuals:
            residual = _symmetric(residual, points, frame, self._partners)
        residual = _never_back_along(residual, table_moves * tf.sign(per_point))
        moves = table_moves * per_point + residual * iod[:, None, None] * point_request
        windows = movement.au_windows(coarse, points, radii, table.owner)
        shades = (tf.gather(tf.concat(shades, axis=3), self._au_order, axis=3) * windows
                  * (size_of_request * self._shaded)[:, None, None, :])
        shade = tf.reduce_sum(shades, axis=-1)  # [B, s, s]: the AUs' shadings add, as their flows do
        if stride != 1:  # computed on the coarse grid, then resized: smooth, and 12 x fewer full-size maps
            shade = tf.image.resize(shade[..., None], [size, size], "bilinear")[..., 0]
        # The table's creases (as its movement, a floor the learned shading adds to), at full size: narrow.
        shade = shade + movement.crease_shade(images, landmarks, requested)
        batch = tf.shape(images)[0]
        plan_points, plan_moves, plan_radii = movement.with_still_points(landmarks, points, moves, radii)
        plan = movement.EditPlan(points=plan_points, moves=plan_moves, radii=plan_radii,
                                 owner_one_hot=tf.constant(movement.PLAN_OWNERS), colour=tf.zeros_like(images),
                                 colour_weight=tf.zeros([batch, size, size]), shade=shade)
        return plan, {"gains": gain, "residuals": residual, "shades": shades}

    def call(self, images, landmarks, requested):
        return movement.render(images, self.edit_plan(images, landmarks, requested, self.config.flow_stride)[0],
                               self.config.flow_stride)

    def create_weights(self) -> None:
        """One pass on a canonical face so every variable exists (checkpoints restore into them)."""
        s = self.config.image_size
        landmarks = tf.constant(canonical_landmarks49(s)[None], tf.float32)
        self.edit_plan(tf.zeros([1, s, s, 3]), landmarks, tf.ones([1, NUM_AUS]), stride=self.config.flow_stride)


class RegionSynthesizer(movement.Editor):
    """A trained region editor as an editor (lac_gan/nets/movement.py:Editor)."""
    family = "region"

    def __init__(self, config: LacGanConfig, generator: RegionEditorNet):
        self.config, self.generator, self.networks = config, generator, (generator,)
        self.image_size, self.untrained_aus = config.image_size, config.untrained_aus
        s = config.image_size
        self._plan = tf.function(self._plan_impl, input_signature=[
            tf.TensorSpec([None, s, s, 3], tf.float32), tf.TensorSpec([None, 49, 2], tf.float32),
            tf.TensorSpec([None, NUM_AUS], tf.float32), tf.TensorSpec([None, NUM_AUS], tf.bool)])

    def _plan_impl(self, images, landmarks, requested, measured):
        plan, _ = self.generator.edit_plan(images, landmarks, requested, measured=measured)
        return (plan.points, plan.moves, plan.radii, plan.shade)

    def plan(self, images, attention_maps, landmarks, targets, chosen, source_labels) -> movement.EditPlan:
        requested = movement.requested_change(targets, source_labels, landmarks) * chosen
        points, moves, radii, shade = self._plan(images, landmarks, requested,
                                                 movement.measured_undo(requested, source_labels))
        return movement.EditPlan(points=points, moves=moves, radii=radii,
                                 owner_one_hot=tf.constant(movement.PLAN_OWNERS),
                                 colour=tf.zeros_like(images), colour_weight=tf.zeros_like(shade), shade=shade)
