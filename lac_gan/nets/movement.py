"""Face movements: control landmarks moved, spread into a smooth dense flow, applied by a backward
warp; and the plan of an edit (a movement plus a colour change) that any editor family returns,
rendered in the aligned crop (training, evaluation) or, by `lac_gan.product.editing`, in the photo.

The kernel is a Gaussian of width sigma tapered to exactly 0 at 3 sigma,
k(r) = exp(-r^2 / 2 sigma^2) (1 - (r / 3 sigma)^2)^2: smooth everywhere, so a flow built from it
cannot draw marks, and zero outside, so pixels beyond every moving point's reach keep their values
bit for bit. Each AU's points are mixed by the normalised rule of the measured warp
(`../shared/spec/edits_openface_reads.md`): flow_a = sum_k w_k k_k d_k / max(1, sum_k w_k k_k) over
AU a's points (w_k: 1 for a moving point, a still point's weight: PLAN_OWNERS), so neighbouring
points do not add up; the AUs' flows then add (AU6 and AU12 both lift).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from lac_gan.data.au_movements import AU_MOVEMENTS, LEFT_EYE, RIGHT_EYE
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.data.bp4d import UNKNOWN_LABEL

KERNEL_REACH = 3.0  # in sigmas: the kernel is exactly 0 beyond


@dataclass(frozen=True)
class ControlTable:
    """AU_MOVEMENTS flattened to K points (numpy, [K] each): landmark index, placement and move at
    strength 1 (IOD), kernel sigma (IOD) and the owning AU's index."""
    landmark: np.ndarray
    at_out: np.ndarray
    at_down: np.ndarray
    out: np.ndarray
    up: np.ndarray
    sigma: np.ndarray
    owner: np.ndarray

    @property
    def size(self) -> int:
        return len(self.landmark)

    @property
    def owner_one_hot(self) -> np.ndarray:
        """[K, 12] float32: which AU each point belongs to."""
        return np.eye(NUM_AUS, dtype=np.float32)[self.owner]


def control_table() -> ControlTable:
    rows = [(p.landmark, p.at_out, p.at_down, p.out, p.up, AU_MOVEMENTS[au].sigma, a)
            for a, au in enumerate(AU_NAMES) for p in AU_MOVEMENTS[au].points]
    columns = list(zip(*rows))
    return ControlTable(*(np.asarray(c, np.int32 if i in (0, 6) else np.float32) for i, c in enumerate(columns)))


CONTROL_TABLE = control_table()

# Still points (au_movements.StillPoint): each joins its AU's normalised mix with no move, its own
# kernel width and its weight in the mix.
_STILL = [(a, p) for a, au in enumerate(AU_NAMES) for p in AU_MOVEMENTS[au].still]
STILL_LANDMARKS = np.asarray([p.landmark for _, p in _STILL], np.int32)
STILL_SIGMAS = np.asarray([p.sigma for _, p in _STILL], np.float32)
# The mix weights [K + P, 12] of a plan's points: the table's moving points, then the still points.
PLAN_OWNERS = np.concatenate([CONTROL_TABLE.owner_one_hot,
                              np.eye(NUM_AUS, dtype=np.float32)[np.asarray([a for a, _ in _STILL], np.int32)]
                              * np.asarray([p.weight for _, p in _STILL], np.float32)[:, None]])


def with_still_points(landmarks: tf.Tensor, points: tf.Tensor, moves: tf.Tensor, radii: tf.Tensor):
    """The table's points [B, K, 2], moves [B, K, 2] and radii [B, K] on faces [B, 49, 2] followed by
    the still points (no move): the movement of a plan, mixed by PLAN_OWNERS."""
    still = tf.gather(tf.cast(landmarks, tf.float32), STILL_LANDMARKS, axis=1)
    _, _, _, iod = face_frame(landmarks)
    return (tf.concat([points, still], 1), tf.concat([moves, tf.zeros_like(still)], 1),
            tf.concat([radii, iod[:, None] * STILL_SIGMAS], 1))


@dataclass(frozen=True)
class CreaseTable:
    """The creases of au_movements flattened to C lines (numpy): the landmarks their ends sit by
    [C, 2] (start, end), start and end (out, down) offsets [C, 2] (IOD), width [C] (IOD), depth [C]
    and the owning AU's index [C]."""
    landmarks: np.ndarray
    start: np.ndarray
    end: np.ndarray
    width: np.ndarray
    depth: np.ndarray
    owner: np.ndarray


def crease_table() -> CreaseTable:
    rows = [((c.landmark, c.landmark if c.end_landmark is None else c.end_landmark), c.start, c.end, c.width,
             c.depth, a) for a, au in enumerate(AU_NAMES) for c in AU_MOVEMENTS[au].creases]
    landmarks, start, end, width, depth, owner = (list(c) for c in zip(*rows)) if rows else ([],) * 6
    return CreaseTable(np.asarray(landmarks, np.int32).reshape(-1, 2), np.asarray(start, np.float32).reshape(-1, 2),
                       np.asarray(end, np.float32).reshape(-1, 2), np.asarray(width, np.float32),
                       np.asarray(depth, np.float32), np.asarray(owner, np.int32))


CREASE_TABLE = crease_table()
# A crease darkens the skin by at most this fraction where several cross (none may turn it black).
MAX_CREASE_DARKENING = 0.5


def crease_shade(images: tf.Tensor, landmarks: tf.Tensor, strengths: tf.Tensor,
                 table: CreaseTable = CREASE_TABLE) -> tf.Tensor:
    """The shadow [B, S, S] ([-1, 1] units, <= 0) of the creases of the AUs switched on by strengths
    [B, 12] (their positive part; 1 = the table's depth) on faces [B, S, S, 3] with landmarks [B, 49,
    2]: each pixel darkened by the fraction sum_c depth_c s_c f(t_c) k(d_c) (d_c: its distance to
    crease c, k the compact kernel of width_c; t_c in [0, 1] the nearest place along it, f(t) = 1 -
    (2t - 1)^2), of its own brightness (a shadow, so as deep on dark skin as on
    light), capped at MAX_CREASE_DARKENING. 0 beyond every crease's reach."""
    size = images.shape[1]
    if not len(table.owner):
        return tf.zeros(tf.shape(images)[:3])
    landmarks = tf.cast(landmarks, tf.float32)
    frame = face_frame(landmarks)
    iod = frame[3]

    def placed(anchor_landmarks, offsets):  # landmarks [C], (out, down) [C, 2] IOD -> pixels [B, C, 2]
        anchors = tf.gather(landmarks, anchor_landmarks, axis=1)
        return anchors + frame_vectors(anchors, frame, offsets[:, 0], offsets[:, 1])
    start, end = placed(table.landmarks[:, 0], table.start), placed(table.landmarks[:, 1], table.end)
    query = tf.reshape(pixel_grid(size, size), [1, -1, 1, 2])
    along = (end - start)[:, None]  # [B, 1, C, 2]
    t = tf.clip_by_value(tf.math.divide_no_nan(tf.reduce_sum((query - start[:, None]) * along, -1),
                                               tf.reduce_sum(along * along, -1)), 0.0, 1.0)
    nearest = start[:, None] + t[..., None] * along
    # Deepest at the middle and fading to nothing at the ends, as a fold of skin does: a shadow of
    # one depth along its length looked painted on.
    fade = 1.0 - tf.square(2.0 * t - 1.0)
    weights = fade * kernel(tf.reduce_sum(tf.square(query - nearest), -1), (iod[:, None] * table.width)[:, None])
    per_crease = tf.gather(tf.nn.relu(tf.cast(strengths, tf.float32)), table.owner, axis=1) * table.depth
    darkening = tf.minimum(tf.einsum("bnc,bc->bn", weights, per_crease), MAX_CREASE_DARKENING)
    brightness = tf.reshape(tf.reduce_mean(images, -1) + 1.0, [-1, size * size])
    return tf.reshape(-darkening * brightness, tf.shape(images)[:3])


@dataclass(frozen=True)
class RestingTable:
    """The resting places of au_movements (numpy, [M] or [M, 2]): landmark, mean and sd of its
    (out, up) place, the owning AU's move there at strength 1 (its control point on the landmark
    itself), and the AU's index; `estimated` [12] bool: the AUs that have resting places."""
    landmark: np.ndarray
    mean: np.ndarray
    sd: np.ndarray
    move: np.ndarray
    owner: np.ndarray
    estimated: np.ndarray


def resting_table(movements=None) -> RestingTable:
    movements = AU_MOVEMENTS if movements is None else movements
    rows = []
    for a, au in enumerate(AU_NAMES):
        own = movements[au].on_landmarks
        rows += [(r.landmark, (r.out, r.up), (r.out_sd, r.up_sd), (own[r.landmark].out, own[r.landmark].up), a)
                 for r in movements[au].resting]
    landmark, mean, sd, move, owner = (np.asarray(c) for c in zip(*rows)) if rows else ([],) * 5
    estimated = np.isin(np.arange(NUM_AUS), owner)
    return RestingTable(np.asarray(landmark, np.int32), np.asarray(mean, np.float32).reshape(-1, 2),
                        np.asarray(sd, np.float32).reshape(-1, 2), np.asarray(move, np.float32).reshape(-1, 2),
                        np.asarray(owner, np.int32), estimated)


RESTING_TABLE = resting_table()
# A photo's measured movement is undone by this many times the strength its landmarks show (never
# beyond the table's whole movement): a smile's appearance (cheeks, folds) outlasts its geometry.
# On 100 held-out LFW photos with AU12, undone by its lift alone OpenFace still read it in 57 % (the
# warp and a retrained region editor); by 1.4 x in 41-43 %, the same person in 100 %.
MEASURED_UNDO_FACTOR = 1.4


def frame_places(landmarks: tf.Tensor, indices) -> tf.Tensor:
    """The (out, up) places [B, n, 2] of landmarks[:, indices] in the face frame, IOD from the eyes'
    midpoint: out away from the midline (as control_points' moves), up perpendicular to the eye line."""
    middle, x_axis, y_axis, iod = face_frame(landmarks)
    offsets = tf.gather(tf.cast(landmarks, tf.float32), indices, axis=1) - middle[:, None]
    across = tf.reduce_sum(offsets * x_axis[:, None], axis=-1) / iod[:, None]
    down = tf.reduce_sum(offsets * y_axis[:, None], axis=-1) / iod[:, None]
    return tf.stack([tf.abs(across), -down], axis=-1)


def source_strength(landmarks: tf.Tensor, table: RestingTable = RESTING_TABLE) -> tf.Tensor:
    """How far each AU's landmarks of faces [B, 49, 2] have already moved from their resting places
    along its movement, in strengths of the table (0 at rest, 1 = the table's whole movement) [B, 12]:
    the weighted least-squares fit of s in place = rest + s * move, each coordinate weighted by
    1 / sd^2 of the resting places. 0 for the AUs without resting places."""
    if not len(table.landmark):
        return tf.zeros([tf.shape(landmarks)[0], NUM_AUS])
    weights = np.where(table.sd > 0, table.move / np.maximum(np.square(table.sd), 1e-12), 0.0).astype(np.float32)
    deviation = frame_places(landmarks, table.landmark) - table.mean  # [B, M, 2]
    numerator = tf.math.unsorted_segment_sum(tf.transpose(tf.reduce_sum(deviation * weights, -1)), table.owner, NUM_AUS)
    denominator = np.bincount(table.owner, (table.move * weights).sum(-1), NUM_AUS)
    return tf.transpose(tf.math.divide_no_nan(numerator, tf.constant(denominator, tf.float32)[:, None]))


def measured_undo(requested: tf.Tensor, source_labels: tf.Tensor) -> tf.Tensor:
    """[B, 12] bool: which of requested_change's requests undo a photo's own, measured movement (an
    AU with resting places, its label unknown, asked to move back). The region editor moves these
    by no more than the table's movement (region_editor.py:RegionEditorNet.edit_plan)."""
    unknown = tf.equal(source_labels, UNKNOWN_LABEL)
    return unknown & RESTING_TABLE.estimated & (requested < 0)


def requested_change(targets: tf.Tensor, source_labels: tf.Tensor, landmarks: tf.Tensor | None = None) -> tf.Tensor:
    """How far each AU is asked to move [B, 12] (1 = its table movement), from targets [B, 12] in
    [0, 1] and the source's labels 0/1/9: target - source where the label is known (0 when the AU
    already is as asked). Where it is unknown (any photo): with the faces' landmarks [B, 49, 2], for
    the AUs with resting places, target - the strength the face already shows (source_strength,
    clipped to [0, 1]): a smile is undone by MEASURED_UNDO_FACTOR x its own lift (at most -1) and
    a smiling face smiles only a little more; otherwise the target itself, and -1 (a typical
    occurrence undone) for a target of 0.
    The warp moves by it; the region editor scales it by a learned gain."""
    targets = tf.cast(targets, tf.float32)
    known = tf.not_equal(source_labels, UNKNOWN_LABEL)
    unknown_source = tf.where(targets > 0, targets, -1.0)
    if landmarks is not None:
        shown = tf.clip_by_value(source_strength(landmarks), 0.0, 1.0)
        change = targets - shown
        change = tf.where(change < 0, tf.maximum(MEASURED_UNDO_FACTOR * change, -1.0), change)
        unknown_source = tf.where(RESTING_TABLE.estimated, change, unknown_source)
    return tf.where(known, targets - tf.cast(source_labels, tf.float32), unknown_source)


def face_frame(landmarks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
    """49 landmarks [B, 49, 2] (x, y) -> the eyes' midpoint [B, 2], the unit x axis along the eye
    line [B, 2], the unit y axis perpendicular to it, pointing down the face [B, 2], and the IOD [B]."""
    landmarks = tf.cast(landmarks, tf.float32)
    left = tf.reduce_mean(tf.gather(landmarks, LEFT_EYE, axis=1), axis=1)
    right = tf.reduce_mean(tf.gather(landmarks, RIGHT_EYE, axis=1), axis=1)
    iod = tf.norm(right - left, axis=-1)
    x_axis = (right - left) / tf.maximum(iod, 1e-6)[:, None]
    y_axis = tf.stack([-x_axis[:, 1], x_axis[:, 0]], axis=-1)  # (1, 0) -> (0, 1): down in image coordinates
    return (left + right) / 2, x_axis, y_axis, iod


def control_points(landmarks: tf.Tensor, table: ControlTable = CONTROL_TABLE):
    """The table's points on faces [B, 49, 2] -> (points [B, K, 2], moves at strength 1 [B, K, 2],
    radii sigma [B, K]), all in the landmarks' pixels."""
    landmarks = tf.cast(landmarks, tf.float32)
    frame = face_frame(landmarks)
    anchors = tf.gather(landmarks, table.landmark, axis=1)
    points = anchors + frame_vectors(anchors, frame, table.at_out, table.at_down)
    moves = frame_vectors(anchors, frame, table.out, -table.up)
    return points, moves, frame[3][:, None] * table.sigma[None]


def midline_side(points: tf.Tensor, frame) -> tf.Tensor:
    """[B, K]: +1 for points [B, K, 2] right of the midline of faces whose face_frame is `frame`, -1
    left of it, 0 on it (where "out", away from the midline, has no direction)."""
    middle, x_axis, _, _ = frame
    return tf.sign(tf.reduce_sum((points - middle[:, None]) * x_axis[:, None], axis=-1))


def frame_vectors(anchors: tf.Tensor, frame, out, down) -> tf.Tensor:
    """Face-frame offsets (out, down) [K] (IOD) at points anchors [B, K, 2] -> image vectors [B, K, 2]
    (pixels), for faces whose face_frame is `frame`: out away from the midline (midline_side), down
    the face."""
    _, x_axis, y_axis, iod = frame
    side = midline_side(anchors, frame)[..., None]
    return iod[:, None, None] * (side * out[None, :, None] * x_axis[:, None] + down[None, :, None] * y_axis[:, None])


def kernel(squared_distance: tf.Tensor, sigma: tf.Tensor) -> tf.Tensor:
    """k(r) of the module docstring, from r^2 and sigma (broadcast)."""
    ratio = squared_distance / tf.square(sigma)
    taper = tf.nn.relu(1.0 - ratio / KERNEL_REACH ** 2)
    return tf.exp(-0.5 * ratio) * tf.square(taper)


def pixel_grid(height: int, width: int, stride: int = 1, origin=(0.0, 0.0)) -> tf.Tensor:
    """Pixel-centre coordinates (x, y) [h, w, 2] of an image, every `stride`-th pixel, placed as
    tf.image.resize's bilinear sampling places a grid `stride` times coarser (centres at
    (i + 0.5) stride - 0.5); `origin` (x, y) offsets the grid (a window of a larger image)."""
    ys = (np.arange(height // stride) + 0.5) * stride - 0.5 + origin[1]
    xs = (np.arange(width // stride) + 0.5) * stride - 0.5 + origin[0]
    grid_x, grid_y = np.meshgrid(xs, ys)
    return tf.constant(np.stack([grid_x, grid_y], axis=-1), tf.float32)


def kernel_weights(query: tf.Tensor, points: tf.Tensor, radii: tf.Tensor) -> tf.Tensor:
    """k of every point at every query position: query [B or 1, N, 2], points [B, K, 2], radii
    [B, K] -> [B, N, K]."""
    squared = tf.reduce_sum(tf.square(query[:, :, None, :] - points[:, None, :, :]), axis=-1)
    return kernel(squared, radii[:, None, :])


def flow_at(query: tf.Tensor, points: tf.Tensor, moves: tf.Tensor, radii: tf.Tensor,
            owner_one_hot: tf.Tensor) -> tf.Tensor:
    """The flow [B, N, 2] at query positions [B or 1, N, 2] of points [B, K, 2] moving by moves
    [B, K, 2] with kernel widths radii [B, K]; owner_one_hot [K, 12] weighs the points in each AU's
    normalised mix (module docstring; PLAN_OWNERS)."""
    weights = kernel_weights(query, points, radii)  # [B, N, K]
    owners = tf.cast(owner_one_hot, tf.float32)
    per_au_total = tf.einsum("bnk,ka->bna", weights, owners)
    per_au_flow = tf.einsum("bnk,bkd,ka->bnad", weights, moves, owners)
    return tf.reduce_sum(per_au_flow / tf.maximum(per_au_total, 1.0)[..., None], axis=2)


def movement_flow(grid: tf.Tensor, points: tf.Tensor, moves: tf.Tensor, radii: tf.Tensor,
                  owner_one_hot: tf.Tensor) -> tf.Tensor:
    """`flow_at` every position of a grid [h, w, 2] -> the dense flow [B, h, w, 2]."""
    flow = flow_at(tf.reshape(grid, [1, -1, 2]), points, moves, radii, owner_one_hot)
    return tf.reshape(flow, tf.concat([tf.shape(points)[:1], tf.shape(grid)[:2], [2]], 0))


def au_windows(grid: tf.Tensor, points: tf.Tensor, radii: tf.Tensor, owner: np.ndarray) -> tf.Tensor:
    """Each AU's region [B, h, w, 12] in [0, 1] at grid [h, w, 2]: the largest kernel value of its
    points (1 on a point, 0 beyond every point's reach): where its colour change may act."""
    weights = kernel_weights(tf.reshape(grid, [1, -1, 2]), points, radii)  # [B, N, K]
    windows = tf.math.unsorted_segment_max(tf.transpose(weights, [2, 0, 1]), owner, NUM_AUS)  # [12, B, N]
    windows = tf.maximum(windows, 0.0)  # an AU without points would get the dtype's lowest value
    return tf.reshape(tf.transpose(windows, [1, 2, 0]), tf.concat([tf.shape(points)[:1], tf.shape(grid)[:2],
                                                                    [NUM_AUS]], 0))


def sample_bilinear(images: tf.Tensor, coordinates: tf.Tensor) -> tf.Tensor:
    """images [B, H, W, C] read at coordinates [B, h, w, 2] (x, y; pixel centres at integers),
    bilinear, clamped to the border -> [B, h, w, C]. Differentiable in both."""
    shape = tf.shape(images)
    height, width = shape[1], shape[2]
    x, y = coordinates[..., 0], coordinates[..., 1]
    x = tf.clip_by_value(x, 0.0, tf.cast(width - 1, tf.float32))
    y = tf.clip_by_value(y, 0.0, tf.cast(height - 1, tf.float32))
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = tf.minimum(x0 + 1, width - 1), tf.minimum(y0 + 1, height - 1)
    flat = tf.reshape(images, [shape[0], -1, shape[3]])

    def at(yy, xx):
        index = tf.reshape(yy * width + xx, [shape[0], -1])
        values = tf.gather(flat, index, batch_dims=1)
        return tf.reshape(values, tf.concat([tf.shape(coordinates)[:3], shape[3:]], 0))
    top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx
    return top * (1.0 - fy) + bottom * fy


def warp(images: tf.Tensor, flow: tf.Tensor) -> tf.Tensor:
    """Backward warp: out(x) = images(x - flow(x)), for images and flow of the same size; pixels
    where the flow is exactly 0 are returned bit-identical."""
    size = tf.shape(images)
    ys, xs = tf.meshgrid(tf.range(size[1], dtype=tf.float32), tf.range(size[2], dtype=tf.float32), indexing="ij")
    grid = tf.stack([xs, ys], axis=-1)[None]
    moved = sample_bilinear(images, grid - flow)
    still = tf.reduce_all(tf.equal(flow, 0.0), axis=-1, keepdims=True)
    return tf.where(still, images, moved)


@dataclass
class EditPlan:
    """What an editor does to aligned faces, in the crop's pixels, before it is drawn:

    - points, moves [B, K, 2], radii [B, K] and owner_one_hot [K, 12]: the movement (K may be 0);
    - colour [B, S, S, 3] in [-1, 1] and colour_weight [B, S, S] in [0, 1]: after the movement,
      each pixel becomes moved + colour_weight * (colour - moved) (Eq. 2 with all AUs' maps summed);
    - shade [B, S, S] ([-1, 1] units): then added to all three channels (a lighter or darker skin:
      furrows, wrinkles, teeth), or None.
    Drawn by `render` in the crop, by lac_gan.product.editing at the photo's own resolution."""
    points: tf.Tensor
    moves: tf.Tensor
    radii: tf.Tensor
    owner_one_hot: tf.Tensor
    colour: tf.Tensor
    colour_weight: tf.Tensor
    shade: tf.Tensor | None = None


def flow_of(plan: EditPlan, size: int, stride: int = 1) -> tf.Tensor:
    """The plan's flow [B, S, S, 2] over the S x S crop, computed every `stride` pixels and resized
    bilinearly (a smooth flow loses nothing; training uses stride 4 for speed)."""
    flow = movement_flow(pixel_grid(size, size, stride), plan.points, plan.moves, plan.radii, plan.owner_one_hot)
    return flow if stride == 1 else tf.image.resize(flow, [size, size], "bilinear")


def moved_landmarks(landmarks: tf.Tensor, plan: EditPlan) -> tf.Tensor:
    """Where the plan's movement takes the faces' landmarks [B, 49, 2] (the flow at each)."""
    if not plan.points.shape[1]:
        return landmarks
    return landmarks + flow_at(landmarks, plan.points, plan.moves, plan.radii, plan.owner_one_hot)


def render(images: tf.Tensor, plan: EditPlan, stride: int = 1) -> tf.Tensor:
    """The plan drawn on the faces it was made for: images [B, S, S, 3] in [-1, 1] -> edited."""
    moved = warp(images, flow_of(plan, images.shape[1], stride)) if plan.points.shape[1] else images
    weight = plan.colour_weight[..., None]
    edited = tf.where(weight > 0, moved + weight * (plan.colour - moved), moved)
    if plan.shade is None:
        return edited
    shade = plan.shade[..., None]
    return tf.where(tf.equal(shade, 0.0), edited, tf.clip_by_value(edited + shade, -1.0, 1.0))


class Editor:
    """What every editor family offers (the paper's CARGs, the region editor, the warp): `plan` an
    edit of aligned faces, or draw it (`__call__`). Arguments, batch first:

    images [B, S, S, 3] in [-1, 1]; attention_maps [B, S, S, 12]; landmarks [B, 49, 2], the faces' own
    points in the crop (needed by the families that move them); targets [B, 12] in [0, 1] (0 absent,
    1 a clearly marked occurrence); chosen [B, 12] 0/1, the AUs the edit may change (default: every
    trained AU; others keep their pixels exactly); source_labels [B, 12] 0/1/9, the faces' own
    labels where known (9: unknown, as for any photo).
    """
    family: str
    image_size: int
    untrained_aus: tuple[str, ...] = ()
    networks: tuple = ()  # its trained networks (what an export must carry)
    needs_landmarks = True

    def plan(self, images, attention_maps, landmarks, targets, chosen, source_labels) -> EditPlan:
        raise NotImplementedError

    def __call__(self, images, attention_maps, targets, *, landmarks=None, chosen=None, source_labels=None):
        images, attention_maps, landmarks, targets, chosen, source_labels = self.inputs(
            images, attention_maps, targets, landmarks, chosen, source_labels)
        return render(images, self.plan(images, attention_maps, landmarks, targets, chosen, source_labels))

    def inputs(self, images, attention_maps, targets, landmarks, chosen, source_labels):
        """The arguments as float32 / int32 tensors with their defaults filled in."""
        images = tf.convert_to_tensor(images, tf.float32)
        batch = tf.shape(images)[0]
        if landmarks is None:
            if self.needs_landmarks:
                raise ValueError(f"the {self.family} editor moves the faces' own landmarks: pass landmarks [B, 49, 2]")
            landmarks = tf.zeros([batch, 49, 2])
        active = tf.constant([0.0 if au in self.untrained_aus else 1.0 for au in AU_NAMES])
        chosen = (tf.broadcast_to(active, [batch, NUM_AUS]) if chosen is None
                  else tf.cast(chosen, tf.float32) * active)
        source_labels = (tf.fill([batch, NUM_AUS], 9) if source_labels is None
                         else tf.cast(source_labels, tf.int32))
        return (images, tf.convert_to_tensor(attention_maps, tf.float32), tf.cast(landmarks, tf.float32),
                tf.cast(targets, tf.float32), chosen, source_labels)
