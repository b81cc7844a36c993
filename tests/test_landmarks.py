"""Per-face landmarks: the 68 -> 49 mapping, a real-face fit, the converter's default route and the
counted fallback to the canonical face (converter and editor)."""
import numpy as np
import pytest

from bp4d_tree import build_bp4d_tree
from builders import write_untrained_checkpoint
from conftest import SHARED
from lac_gan import alignment, attention, landmarks
from lac_gan.au_table import AU_NAMES
from lac_gan.face_detection import FaceDetector
from lac_gan.image_io import read_rgb
from tfrecords_tools import convert
from tfrecords_tools.bp4d_layout import read_landmarks49

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


@pytest.mark.parametrize("name", FIXTURE_FACES)
def test_real_face_fit_lands_on_the_face(detector, fitter, shared_dir, name):
    photo = read_rgb(shared_dir / "fixtures" / "faces" / name)
    face = detector.detect(photo)
    points = fitter.fit(photo, face.points5)
    assert points is not None and points.shape == (49, 2)
    assert landmarks.disagreement(points, face.points5) < 0.15
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

    from lac_gan.record_schema import parse_example
    return [{k: v.numpy() for k, v in parse_example(r, SIZE).items()}
            for r in tf.data.TFRecordDataset(sorted(str(p) for p in out.glob("*/*.tfrecord")))]


def test_converter_fits_each_frame_by_default(tree, tmp_path):
    manifest = convert.convert(str(tree.images), str(tree.labels), str(tmp_path / "out"),
                               settings=convert.Settings(image_size=SIZE))
    assert manifest["frames"]["landmarks"] == "fitted"
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


def test_refused_fits_fall_back_to_the_canonical_face_and_are_counted(tree, tmp_path, monkeypatch):
    monkeypatch.setattr(landmarks, "MAX_DISAGREEMENT", 0.0)  # every fit disagrees with MTCNN now
    manifest = convert.convert(str(tree.images), str(tree.labels), str(tmp_path / "out"),
                               settings=convert.Settings(image_size=SIZE))
    fallbacks = manifest["frames"]["landmark_fallbacks_to_canonical"]
    assert fallbacks["counts"] == {"landmark_fit_refused": manifest["frames"]["written"]}
    assert fallbacks["examples"]["landmark_fit_refused"]
    canonical_maps = attention.canonical_attention_maps(SIZE)
    for record in _records(tmp_path / "out"):
        assert not record["has_landmarks49"]
        assert np.abs(record["attention_maps"] - canonical_maps).max() <= 1 / 255 + 1e-6


def test_fitted_route_needs_no_landmarks_root_and_files_need_one(tree, tmp_path):
    with pytest.raises(convert.ConvertError, match="--landmarks files and --landmarks_root go together"):
        convert.convert(str(tree.images), str(tree.labels), str(tmp_path / "o"),
                        settings=convert.Settings(image_size=SIZE, landmarks="files"))
    with pytest.raises(convert.ConvertError, match="--landmarks fitted and --landmarks_root go together"):
        convert.convert(str(tree.images), str(tree.labels), str(tmp_path / "o"), landmarks_root=str(tmp_path),
                        settings=convert.Settings(image_size=SIZE, landmarks="fitted"))


@pytest.fixture(scope="module")
def editor(tmp_path_factory, detector, fitter):
    from lac_gan.editing import FaceEditor
    from lac_gan.synthesis import load_synthesizer
    return FaceEditor(load_synthesizer(str(write_untrained_checkpoint(tmp_path_factory.mktemp("run")))),
                      detector, fitter)


def test_editor_regions_come_from_the_photos_own_landmarks(editor, astronaut, monkeypatch):
    face = editor.detector.detect(astronaut)
    points = editor.fitter.fit(astronaut, face.points5)
    to_crop, maps = editor.alignment_of(astronaut, face)
    # AU12's two peaks sit on the photo's own mouth corners (49-points 31 and 37).
    au12 = maps[:, :, AU_NAMES.index("AU12")]
    peaks = np.argwhere(au12 == au12.max())[:, ::-1]  # (x, y)
    corners = np.round(alignment.transform_points(to_crop, points[[31, 37]]))
    assert {tuple(p) for p in peaks} == {tuple(c) for c in corners.astype(int)}
    assert editor.canonical_fallbacks == 0
    monkeypatch.setattr(landmarks, "MAX_DISAGREEMENT", 0.0)
    _, fallback_maps = editor.alignment_of(astronaut, face)
    assert editor.canonical_fallbacks == 1
    np.testing.assert_array_equal(fallback_maps, attention.canonical_attention_maps(editor.size))
