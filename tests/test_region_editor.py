"""The region editor and the warp (lac_gan/nets/movement.py, warp_editor.py, region_editor.py): a
smooth flow that is zero beyond its AUs' reach, pixels outside the chosen AUs' regions bit-identical,
the warp moving the table's landmarks the table's way on a real photo, and the `tiny_region` family
through training, resume, export and editing."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from lac_gan.common.errors import DataError
from lac_gan.data import alignment
from lac_gan.data.au_movements import AU_MOVEMENTS, NOSE_BASE
from lac_gan.data.au_table import AU_NAMES, NUM_AUS
from lac_gan.nets import config as config_lib, movement
from lac_gan.nets.region_editor import RegionEditorNet, mirror_partners
from lac_gan.nets.synthesis import editor_of, load_synthesizer
from lac_gan.nets.warp_editor import WarpEditor

SIZE = 64


@pytest.fixture(scope="module")
def face():
    """The canonical face at SIZE px with some texture, and its 49 landmarks."""
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(0, 0.4, (1, SIZE, SIZE, 3)), -1, 1).astype(np.float32)
    return tf.constant(image), tf.constant(alignment.canonical_landmarks49(SIZE)[None], tf.float32)


@pytest.fixture(scope="module")
def random_editor():
    """A region editor at SIZE px whose movement and shading heads have random weights (untrained
    ones start as the warp, with no shading), so that its gains, residuals and shading are far from
    zero."""
    config = config_lib.tiny_region().replace(image_size=SIZE)
    keras.utils.set_random_seed(1)
    net = RegionEditorNet(config)
    net.create_weights()
    for region_net in net.region_nets:
        for variable in region_net.movement.weights + region_net.shade.weights:
            variable.assign(tf.random.normal(variable.shape, stddev=1.0))
    return editor_of(config, net)


def reach_mask(landmarks, aus) -> np.ndarray:
    """[S, S] True within 3 sigma of a control point of one of `aus` (computed apart from the
    editor, from the table)."""
    points, _, radii = movement.control_points(landmarks)
    owner = movement.CONTROL_TABLE.owner
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    mask = np.zeros((SIZE, SIZE), bool)
    for k in np.flatnonzero(np.isin(owner, [AU_NAMES.index(a) for a in aus])):
        x, y = points[0, k].numpy()
        mask |= np.hypot(xs - x, ys - y) < movement.KERNEL_REACH * radii[0, k].numpy()
    return mask


def flow_and_plan(editor, face, targets, chosen):
    images, landmarks = face
    inputs = editor.inputs(images, tf.zeros([1, SIZE, SIZE, NUM_AUS]), tf.constant([targets], tf.float32),
                           landmarks, tf.constant([chosen], tf.float32), None)
    plan = editor.plan(*inputs)
    return movement.flow_of(plan, SIZE).numpy()[0], plan


# The steepest slope |dk/dr| x sigma a smooth kernel of width sigma may have: a Gaussian's is
# e^(-1/2) = 0.61; the taper to 0 at 3 sigma makes it 0.74. A kernel with an edge has no bound.
SMOOTH_KERNEL_SLOPE = 0.75


def test_flow_is_smooth_and_zero_beyond_its_aus_reach(random_editor, face):
    """With random weights the flow moves pixels, its spatial gradient is bounded as a smooth
    kernel's (2 x SMOOTH_KERNEL_SLOPE x the largest move / the narrowest sigma: two coincident
    points at most, by the normalised mix), so it cannot draw edges or marks, and it is exactly 0
    beyond the reach of the chosen AUs' points."""
    chosen = np.zeros(NUM_AUS)
    chosen[[AU_NAMES.index("AU12"), AU_NAMES.index("AU1")]] = 1
    flow, plan = flow_and_plan(random_editor, face, np.ones(NUM_AUS), chosen)
    moving = np.linalg.norm(plan.moves.numpy()[0], axis=-1) > 0
    largest_move = np.linalg.norm(plan.moves.numpy()[0], axis=-1).max()
    bound = 2 * SMOOTH_KERNEL_SLOPE * largest_move / plan.radii.numpy()[0][moving].min()
    assert np.abs(flow).max() > 1.0  # pixels
    gradient = max(np.abs(np.diff(flow, axis=0)).max(), np.abs(np.diff(flow, axis=1)).max())
    assert gradient <= bound
    outside = ~reach_mask(face[1], ["AU12", "AU1"])
    assert outside.sum() > SIZE * SIZE // 10
    assert np.all(flow[outside] == 0)


def test_pixels_outside_the_chosen_aus_regions_are_bit_identical(random_editor, face):
    images, landmarks = face
    chosen = np.zeros((1, NUM_AUS), np.float32)
    chosen[0, AU_NAMES.index("AU4")] = 1
    edited = random_editor(images, tf.zeros([1, SIZE, SIZE, NUM_AUS]), tf.ones([1, NUM_AUS]), landmarks=landmarks,
                           chosen=chosen).numpy()[0]
    outside = ~reach_mask(landmarks, ["AU4"])
    np.testing.assert_array_equal(edited[outside], images.numpy()[0][outside])
    assert np.abs(edited[~outside] - images.numpy()[0][~outside]).max() > 0.05


def test_an_untrained_au_keeps_its_pixels(face):
    """An AU the model lists as untrained is never chosen: asking for it changes nothing."""
    images, landmarks = face
    editor = WarpEditor(SIZE)
    editor.untrained_aus = ("AU12",)
    edited = editor(images, tf.zeros([1, SIZE, SIZE, NUM_AUS]), tf.ones([1, NUM_AUS]), landmarks=landmarks,
                    chosen=tf.one_hot([AU_NAMES.index("AU12")], NUM_AUS))
    np.testing.assert_array_equal(edited.numpy(), images.numpy())


def test_the_requested_change_follows_target_and_known_source():
    requested = movement.requested_change(tf.constant([[1.0, 0.0, 0.5, 1.0, 0.0]]), tf.constant([[9, 9, 9, 1, 0]]))
    np.testing.assert_allclose(requested.numpy(), [[1.0, -1.0, 0.5, 0.0, 0.0]])


def lip_corners_at(strength: float) -> tf.Tensor:
    """The canonical face with its lip corners placed at AU12's resting places plus `strength` x the
    table's AU12 movement (face frame, IOD)."""
    landmarks = alignment.canonical_landmarks49(200).astype(np.float32)
    middle, x_axis, y_axis, iod = (t[0].numpy() for t in movement.face_frame(landmarks[None]))
    move = AU_MOVEMENTS["AU12"].on_landmarks
    for rest in AU_MOVEMENTS["AU12"].resting:
        side = np.sign((landmarks[rest.landmark] - middle) @ x_axis)
        out, up = rest.out + strength * move[rest.landmark].out, rest.up + strength * move[rest.landmark].up
        landmarks[rest.landmark] = middle + iod * (side * out * x_axis - up * y_axis)
    return tf.constant(landmarks[None])


@pytest.mark.parametrize("strength", [0.0, 0.4, 1.0])
def test_the_source_strength_is_how_far_the_lip_corners_have_moved_along_au12(strength):
    shown = movement.source_strength(lip_corners_at(strength)).numpy()[0]
    assert shown[AU_NAMES.index("AU12")] == pytest.approx(strength, abs=1e-4)
    assert not shown[[i for i, au in enumerate(AU_NAMES) if not AU_MOVEMENTS[au].resting]].any()


def test_a_photo_is_undone_by_its_own_smile_and_smiles_only_what_it_lacks():
    """With unknown labels and the face's landmarks, AU12 asks target - the strength its corners show
    (clipped to [0, 1]), an undo 1.4 x that (at most the table's whole movement); AUs without resting
    places keep -1 (a typical occurrence undone); known labels are unaffected."""
    au12, au1 = AU_NAMES.index("AU12"), AU_NAMES.index("AU1")
    unknown = tf.fill([1, NUM_AUS], 9)
    assert movement.MEASURED_UNDO_FACTOR == 1.4
    for strength, target, expected in ((0.4, 0.0, -0.56), (0.9, 0.0, -1.0), (0.4, 1.0, 0.6), (0.0, 0.0, 0.0),
                                       (1.6, 1.0, 0.0)):
        requested = movement.requested_change(tf.fill([1, NUM_AUS], target), unknown, lip_corners_at(strength)).numpy()
        assert requested[0, au12] == pytest.approx(expected, abs=1e-4)
        assert requested[0, au1] == (1.0 if target else -1.0)
    known = movement.requested_change(tf.zeros([1, NUM_AUS]), tf.ones([1, NUM_AUS], tf.int32), lip_corners_at(0.4))
    np.testing.assert_array_equal(known.numpy(), -np.ones([1, NUM_AUS]))


@pytest.mark.parametrize("lift", [0.4, 1.0])
def test_a_photos_own_smile_is_undone_by_at_most_the_tables_movement(random_editor, lift):
    """The region editor's gain (here far from 0) applies to undoing a photo's measured AU12 too, but
    the undo never goes beyond the table's whole movement (plus the bounded residuals); the product
    path (`plan`) marks the request as measured."""
    au12 = AU_NAMES.index("AU12")
    landmarks = lip_corners_at(lift) * SIZE / 200
    images, unknown = tf.zeros([1, SIZE, SIZE, 3]), tf.fill([1, NUM_AUS], 9)
    targets, chosen = tf.zeros([1, NUM_AUS]), tf.one_hot([au12], NUM_AUS)
    requested = movement.requested_change(targets, unknown, landmarks) * chosen
    measured = movement.measured_undo(requested, unknown)
    np.testing.assert_array_equal(measured.numpy()[0], np.arange(NUM_AUS) == au12)
    plan, extras = random_editor.generator.edit_plan(images, landmarks, requested, measured=measured)
    gain = extras["gains"].numpy()[0, au12]
    assert gain > 0.05  # these random weights ask for more than the table
    asked = min(movement.MEASURED_UNDO_FACTOR * lift, 1.0)
    strength = min(asked * (1 + gain), 1.0)
    _, table_moves, _ = movement.control_points(landmarks)
    _, _, _, iod = movement.face_frame(landmarks)
    own = movement.CONTROL_TABLE.owner == au12
    expected = -strength * table_moves.numpy()[0] + asked * iod.numpy()[0] * extras["residuals"].numpy()[0]
    np.testing.assert_allclose(plan.moves.numpy()[0, :own.size][own], expected[own], atol=1e-3)
    product = random_editor.plan(images, None, landmarks, targets, chosen, unknown)
    np.testing.assert_allclose(product.moves.numpy(), plan.moves.numpy(), atol=1e-5)


def test_an_untrained_region_editor_moves_as_the_warp(face):
    """Its learned gain and residuals start at 0: the movement is the warp's, the table's floor a
    trained model starts from (docs/paper-notes.md, "The region editor")."""
    config = config_lib.tiny_region().replace(image_size=SIZE)
    net = RegionEditorNet(config)
    net.create_weights()
    targets, chosen = np.ones(NUM_AUS), np.ones(NUM_AUS)
    _, region_plan = flow_and_plan(editor_of(config, net), face, targets, chosen)
    _, warp_plan = flow_and_plan(WarpEditor(SIZE), face, targets, chosen)
    np.testing.assert_allclose(region_plan.moves.numpy(), warp_plan.moves.numpy(), atol=1e-5)
    assert np.abs(warp_plan.moves.numpy()).max() > 1.0


def test_the_gain_keeps_the_tables_movement_as_its_floor(random_editor, face):
    """With random weights (heads far from 0) every gain is within [region_min_gain, region_max_gain]
    = [0, 0.5], both ends reached: an AU moves at least the table's movement, at most 1.5 times it
    (plus its residual moves, which bend and add to the table's movement but never undo it)."""
    images, landmarks = face
    config = random_editor.config
    assert (config.region_min_gain, config.region_max_gain) == (0.0, 0.5)
    _, extras = random_editor.generator.edit_plan(images, landmarks, tf.ones([1, NUM_AUS]))
    gains = extras["gains"].numpy()
    assert gains.min() >= config.region_min_gain - 1e-6 and gains.max() <= config.region_max_gain + 1e-6
    assert gains.min() < config.region_min_gain + 0.01 and gains.max() > 0.5 * config.region_max_gain
    # Nor do the residual moves take a point back along its table direction: along it, every point
    # moves at least (1 + region_min_gain) x the table's move, whichever way the change is requested.
    for request in (1.0, -1.0):
        plan, extras = random_editor.generator.edit_plan(images, landmarks, tf.fill([1, NUM_AUS], request))
        _, table_moves, _ = movement.control_points(landmarks)
        direction = request * table_moves.numpy()[0]
        length = np.linalg.norm(direction, axis=-1)
        moves = plan.moves.numpy()[0, :movement.CONTROL_TABLE.size]  # the still points follow
        along = np.sum(moves * direction, axis=-1)[length > 0] / length[length > 0]
        floor = (1 + config.region_min_gain) * length[length > 0]
        assert np.abs(extras["residuals"].numpy()).max() > 0.5 * config.region_max_residual
        assert np.all(along >= floor - 1e-4)


def test_the_brows_inner_raise_is_drawn_by_its_movement_alone(random_editor, face):
    """AU1 (region_unshaded_aus) draws no learned shading, though its net's shading head is far from
    0: OpenFace reads it from the brows' lift, and the brows' shading cost it 3-8 points. AU2 beside
    it, in the same region net, is shaded."""
    images, landmarks = face
    assert random_editor.config.region_unshaded_aus == ("AU1",)
    for au, shaded in (("AU1", False), ("AU2", True)):
        request = tf.one_hot([AU_NAMES.index(au)], NUM_AUS)
        plan, extras = random_editor.generator.edit_plan(images, landmarks, request)
        assert np.abs(extras["shades"].numpy()).max() > 0.01 if shaded else not np.any(plan.shade.numpy())
        assert np.abs(plan.moves.numpy()).max() > 0.5  # it still moves


def test_the_learned_moves_are_the_same_on_both_sides_of_the_face(random_editor, face):
    """With random weights (residuals far from 0, different on each side before they are mirrored)
    every control point moves as its mirror partner does, out and down in the face frame: a brow is
    not lifted more than the other, the mouth not tilted."""
    images, landmarks = face
    plan, extras = random_editor.generator.edit_plan(images, landmarks, tf.ones([1, NUM_AUS]))
    assert np.abs(extras["residuals"].numpy()).max() > 0.5 * random_editor.config.region_max_residual
    middle, x_axis, y_axis, iod = (v.numpy()[0] for v in movement.face_frame(landmarks))
    points, _, _ = movement.control_points(landmarks)
    side = np.sign((points.numpy()[0] - middle) @ x_axis)
    moves = plan.moves.numpy()[0, :movement.CONTROL_TABLE.size] / iod
    out, down = side * (moves @ x_axis), moves @ y_axis
    partners = mirror_partners()
    assert np.mean(partners != np.arange(len(partners))) > 0.8
    np.testing.assert_allclose(out, out[partners], atol=0.01)
    np.testing.assert_allclose(down, down[partners], atol=0.01)


def test_nothing_requested_is_the_source_exactly(random_editor, face):
    """Targets equal to the face's known labels request no change: a region editor with random
    weights (gains, residuals and shading far from 0) returns the source bit for bit."""
    images, landmarks = face
    labels = tf.constant([[1, 0] * 6], tf.int32)
    edited = random_editor(images, tf.zeros([1, SIZE, SIZE, NUM_AUS]), tf.cast(labels, tf.float32),
                           landmarks=landmarks, source_labels=labels)
    np.testing.assert_array_equal(edited.numpy(), images.numpy())


def nose_and_corner_moves(au: str) -> tuple[np.ndarray, np.ndarray]:
    """How far the warp's edit of `au` at strength 1 moves the canonical face's nostrils [5] and lip
    corners [2] (pixels at 200 px)."""
    landmarks = tf.constant(alignment.canonical_landmarks49(200)[None], tf.float32)
    plan = WarpEditor().plan(tf.zeros([1, 200, 200, 3]), None, landmarks, tf.ones([1, NUM_AUS]),
                             tf.one_hot([AU_NAMES.index(au)], NUM_AUS), tf.fill([1, NUM_AUS], 9))
    moved = np.linalg.norm((movement.moved_landmarks(landmarks, plan) - landmarks).numpy()[0], axis=-1)
    return moved[list(NOSE_BASE)], moved[[31, 37]]


@pytest.mark.parametrize("au", ["AU12", "AU15"])
def test_the_mouths_movements_leave_the_nose_still(au):
    """The nostrils are still points of AU12 and AU15: AU12's kernel (sigma 0.35 IOD, narrower drew a
    W-shaped mouth) dragged them by 0.66 of the corners' move, pinching the nose in every undone
    smile (the same person in 84 % of 100 held-out photos); AU15's at 0.35 by 0.94 (docs/paper-notes.md,
    "Kernel widths", "Still points")."""
    nose, corners = nose_and_corner_moves(au)
    assert corners.min() > 5.0
    assert nose.max() < 0.05 * corners.mean()


def test_an_upper_lip_raiser_still_lifts_the_nostrils():
    """AU10 moves the nostrils itself (up 0.04 IOD): they are not its still points."""
    nose, _ = nose_and_corner_moves("AU10")
    assert nose.min() > 3.0


@pytest.mark.parametrize("target, source_label", [(1.0, 0), (0.0, 1)])
def test_a_smile_moves_the_lip_corners_more_than_the_lips_middle(target, source_label):
    """AU12 holds the lips' middle back with half a moving point's weight: a real smile lifts it 0.5
    (upper lip) and 0.05 (lower lip) of its corners; moved as a block (0.8-1.0) the upper lip was
    squeezed against the still nose. Undone smiles too (OpenFace read 59 % of 100 undone smiles
    gone with it held, 52 % without: docs/paper-notes.md, "Still points")."""
    landmarks = tf.constant(alignment.canonical_landmarks49(200)[None], tf.float32)
    au12 = AU_NAMES.index("AU12")
    labels = tf.one_hot([au12], NUM_AUS, dtype=tf.int32) * source_label
    plan = WarpEditor().plan(tf.zeros([1, 200, 200, 3]), None, landmarks, tf.fill([1, NUM_AUS], target),
                             tf.one_hot([au12], NUM_AUS), labels)
    lift = -(movement.moved_landmarks(landmarks, plan) - landmarks).numpy()[0, :, 1]
    corners = lift[[31, 37]].mean()
    assert abs(corners) > 8.0 and np.sign(corners) == (1 if target else -1)
    assert 0.25 < lift[[33, 34, 35]].mean() / corners < 0.6
    assert 0.25 < lift[[39, 40, 41]].mean() / corners < 0.65


def warp_shade(au, landmarks, brightness=0.4, target=1.0, size=200):
    """The warp's shade [S, S] for `au` set to `target` on a face of one grey level."""
    plan = WarpEditor().plan(tf.fill([1, size, size, 3], brightness), None, landmarks, tf.fill([1, NUM_AUS], target),
                             tf.one_hot([AU_NAMES.index(au)], NUM_AUS), tf.fill([1, NUM_AUS], 9))
    return plan.shade.numpy()[0]


def test_a_frown_draws_its_furrows_between_the_brows_as_a_shadow():
    """AU4's creases (au_movements.Crease): darkest between the inner brows, by the table's depth of
    each pixel's own brightness (as deep a fraction on dark skin as on light: a shadow), nothing
    beyond the creases' reach; undoing a frown draws none (a light stripe where a photo has no
    furrow would be a mark)."""
    landmarks = tf.constant(alignment.canonical_landmarks49(200)[None], tf.float32)
    light, dark = (warp_shade("AU4", landmarks, b) for b in (0.4, -0.6))
    depth = max(c.depth for c in AU_MOVEMENTS["AU4"].creases)
    assert light.min() == pytest.approx(-depth * 1.4, rel=0.05)
    np.testing.assert_allclose(dark, light * 0.4 / 1.4, atol=1e-6)
    y, x = np.unravel_index(np.argmin(light), light.shape)
    brows, eyes = landmarks.numpy()[0, [4, 5]], landmarks.numpy()[0, 19:31]
    assert brows[0, 0] < x < brows[1, 0] and brows[:, 1].min() - 5 < y < eyes[:, 1].mean()
    ys, xs = np.nonzero(light)
    _, _, _, iod = movement.face_frame(landmarks)
    assert ys.max() < eyes[:, 1].mean() + 0.2 * iod[0] and np.all(light <= 0)
    assert not np.any(warp_shade("AU4", landmarks, target=0.0))


def test_the_chins_fold_runs_across_the_midline():
    """AU17's crease runs from one side's lower lip to the other's (Crease.end_landmark): as two
    creases, one per side, each fading at its ends, it drew two separate marks under the lip."""
    landmarks = tf.constant(alignment.canonical_landmarks49(200)[None], tf.float32)
    shade = warp_shade("AU17", landmarks)
    _, _, _, iod = movement.face_frame(landmarks)
    x, y = landmarks.numpy()[0, 40]  # the lower lip's middle
    column = shade[int(y):int(y + 0.3 * iod[0]), int(round(x))]
    depth = AU_MOVEMENTS["AU17"].creases[0].depth
    assert column.min() < -0.8 * depth * 1.4


@pytest.fixture(scope="module")
def astronaut_editor():
    from lac_gan.product.editing import FaceEditor
    return FaceEditor(load_synthesizer(editor="warp"))


@pytest.mark.parametrize("au, target, moved", [("AU12", 0, (31, 37)), ("AU1", 1, (4, 5)), ("AU15", 1, (31, 37))])
def test_warp_moves_the_tables_landmarks_its_way_on_a_real_photo(astronaut_editor, astronaut, au, target, moved):
    """The warped astronaut's landmarks, re-fitted by the project's own fitter: the AU's landmarks
    moved at least half the requested distance (the table's, times target - the strength her face
    shows: she smiles broadly, so AU12 is undone), in its direction (up for AU1, down for AU15 and
    the undone AU12), at least twice as far as the landmarks beyond the movement's reach moved (the
    fit couples them a little), and the photo changed only near the AU's landmarks."""
    editor = astronaut_editor
    face = editor.faces(astronaut, all_faces=False)[0]
    before = editor.fitter.fit(astronaut, face.points5)
    shown = np.clip(movement.source_strength(before[None].astype(np.float32)).numpy()[0, AU_NAMES.index(au)], 0, 1)
    assert au != "AU12" or shown > 0.8  # her smile, measured on her own landmarks
    edited = editor.edit(astronaut, {AU_NAMES.index(au): target})
    after = editor.fitter.fit(edited, editor.faces(edited, all_faces=False)[0].points5)
    _, x_axis, y_axis, iod = (t.numpy()[0] for t in movement.face_frame(tf.constant(before[None], tf.float32)))
    shift = (after - before) / iod
    up = -(shift @ y_axis)
    expected_up = {landmark: (target - shown) * p.up for landmark, p in AU_MOVEMENTS[au].on_landmarks.items()}
    for landmark in moved:
        assert np.sign(up[landmark]) == np.sign(expected_up[landmark])
        assert abs(up[landmark]) >= 0.5 * abs(expected_up[landmark])
    reach = movement.KERNEL_REACH * AU_MOVEMENTS[au].sigma
    anchors = before[[p.landmark for p in AU_MOVEMENTS[au].points]]
    far = np.linalg.norm((before[:, None] - anchors[None]) / iod, axis=-1).min(axis=1) > reach
    assert far.sum() >= 10
    assert np.abs(up[list(moved)]).min() > 2 * np.linalg.norm(shift[far], axis=-1).mean()
    changed = np.any(edited != astronaut, axis=-1)
    ys, xs = np.nonzero(changed)
    face_width = iod * 3
    centre = before[list(moved)].mean(axis=0)
    assert np.hypot(xs - centre[0], ys - centre[1]).max() < face_width


def test_warp_edits_a_photo_at_its_own_resolution(astronaut_editor, astronaut):
    """A 1024 px photo: the warp's edit is as sharp as the photo (variance of the Laplacian of the
    mouth region within 15 % of the original's); a crop pasted back from 200 px would blur it."""
    from PIL import Image
    from scipy import ndimage
    big = np.asarray(Image.fromarray(astronaut).resize((1024, 1024), Image.Resampling.LANCZOS))
    editor = astronaut_editor
    face = editor.alignments(big, all_faces=False)[0]
    edited = editor.edit(big, {AU_NAMES.index("AU12"): 0}, alignments=[face])  # she smiles: undone
    to_photo = alignment.invert_transform(face.to_crop)
    corners = alignment.transform_points(to_photo, face.landmarks[[31, 37]])
    (x0, y0), (x1, y1) = corners.min(axis=0).astype(int) - 20, corners.max(axis=0).astype(int) + 20

    def sharpness(image):
        return ndimage.laplace(image[y0:y1, x0:x1].mean(axis=-1)).var()
    assert np.any(edited[y0:y1, x0:x1] != big[y0:y1, x0:x1])
    assert sharpness(edited) > 0.85 * sharpness(big)


def test_a_config_of_one_family_on_the_others_weights_is_one_line_naming_it(tmp_path):
    """A region checkpoint whose config.json says cargs (or the reverse) is refused naming both."""
    from builders import write_untrained_checkpoint
    logdir = write_untrained_checkpoint(tmp_path / "run")
    values = json.loads((logdir / "config.json").read_text())
    values.update(generator="region")
    (logdir / "config.json").write_text(json.dumps(values))
    with pytest.raises(DataError, match=r"does not fit .*config\.json"):
        load_synthesizer(str(logdir))


def test_a_model_saved_before_a_field_existed_keeps_what_it_was_trained_with(tmp_path):
    """A config.json written before region_unshaded_aus and region_symmetric_residuals existed (the
    bundled model of 2026-12-05) loads as it was trained: every AU shaded, free residuals; one
    saved with them keeps its own values."""
    config = config_lib.tiny_region()
    config.save(tmp_path)
    assert config_lib.LacGanConfig.load(tmp_path) == config
    values = json.loads((tmp_path / "config.json").read_text())
    for name in ("region_unshaded_aus", "region_symmetric_residuals"):
        del values[name]
    (tmp_path / "config.json").write_text(json.dumps(values))
    old = config_lib.LacGanConfig.load(tmp_path)
    assert old.region_unshaded_aus == () and old.region_symmetric_residuals is False
    assert old.replace(region_unshaded_aus=("AU1",), region_symmetric_residuals=True) == config


@pytest.fixture(scope="module")
def region_data(tmp_path_factory, astronaut):
    from builders import write_face_records
    return write_face_records(tmp_path_factory.mktemp("faces"), astronaut, config_lib.tiny_region().image_size)


def region_options(data_dir, logdir, **changes):
    from lac_gan.training.loop import TrainingOptions
    values = dict(data_dir=str(data_dir), logdir=str(logdir), steps=4, seed=3, log_every=1, image_every=2,
                  checkpoint_every=2, eval_every=4, eval_examples=8)
    values.update(changes)
    return TrainingOptions(**values)


def test_tiny_region_trains_resumes_exactly_exports_and_edits(region_data, tmp_path, astronaut):
    """The region family through every user path: training (its logdir records the family), an
    exact resume, held-out R^i, the SavedModel (same output as in process), and a photo edit. The
    interrupted run validates and previews nothing (each traces a function of its own): it must still
    take the steps of the run that did both, so neither may move the training."""
    from lac_gan.data.image_range import to_model_range, to_uint8
    from lac_gan.product.editing import FaceEditor
    from lac_gan.product.export import export_saved_model
    from lac_gan.training.loop import run_training
    config = config_lib.tiny_region()
    whole = run_training(config, region_options(region_data, tmp_path / "whole"))
    quiet = {"eval_every": 0, "image_every": 1000}
    first = run_training(config, region_options(region_data, tmp_path / "resumed", steps=2, **quiet))
    second = run_training(config, region_options(region_data, tmp_path / "resumed", resume=True, **quiet))
    assert len(whole) == 4 and first + second == whole
    assert all(np.isfinite(v) for v in whole[-1].values()) and "loss/cycle" in whole[-1]
    assert json.loads((tmp_path / "whole" / "config.json").read_text())["generator"] == "region"
    validation = json.loads((tmp_path / "whole" / "validation.json").read_text())
    assert validation[-1]["step"] == 4 and validation[-1]["mean"]["r_balanced_accuracy"] is not None

    editor = load_synthesizer(str(tmp_path / "whole"))
    assert editor.family == "region"
    size = config.image_size
    images = to_uint8(tf.constant(np.random.default_rng(0).uniform(-1, 1, (2, size, size, 3)), tf.float32))
    targets = tf.constant(np.eye(2, NUM_AUS), tf.float32)
    out = export_saved_model(editor, tmp_path / "saved")
    served = tf.saved_model.load(str(out)).signatures["serving_default"](image=images, target_labels=targets)["image"]
    from lac_gan.data import attention
    landmarks = np.repeat(alignment.canonical_landmarks49(size)[None], 2, 0)
    maps = np.repeat(attention.canonical_attention_maps(size)[None], 2, 0)
    expected = to_uint8(editor(to_model_range(images), maps, targets, landmarks=landmarks))
    # The served graph is optimised as a whole (grappler), the in-process one function by function:
    # a float rounding may flip a pixel by one level (1 of 6,144 values here), never more.
    difference = np.abs(served.numpy().astype(int) - expected.numpy().astype(int))
    assert difference.max() <= 1 and np.count_nonzero(difference) <= 0.001 * difference.size

    edited = FaceEditor(editor).edit(astronaut, {AU_NAMES.index("AU12"): 0})  # she smiles: undone
    assert edited.shape == astronaut.shape and np.any(edited != astronaut)


def test_a_checkpoint_holds_every_weight_of_the_region_editor(tmp_path):
    """Every variable of the net is saved and restored (tf.train.Checkpoint sees attributes, not
    lists of layers): a restored editor's weights equal the saved one's."""
    from builders import write_untrained_checkpoint
    config = config_lib.tiny_region()
    logdir = write_untrained_checkpoint(tmp_path / "run", config, seed=4)
    saved = [name for name, _ in tf.train.list_variables(str(logdir / "ckpt-1")) if name.startswith("generator/")]
    net = RegionEditorNet(config)
    net.create_weights()
    assert len(saved) == len(net.variables)
    keras.utils.set_random_seed(5)
    restored = load_synthesizer(str(logdir)).generator
    keras.utils.set_random_seed(4)
    original = RegionEditorNet(config)
    original.create_weights()
    for a, b in zip(sorted(restored.variables, key=lambda v: v.path), sorted(original.variables, key=lambda v: v.path)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
