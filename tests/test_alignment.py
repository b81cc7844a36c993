"""Alignment geometry, warping conventions and the MTCNN wrapper / tracker."""
import numpy as np
import pytest
from PIL import Image

from lac_gan.data import alignment


def _similarity(angle_deg: float, scale: float, tx: float, ty: float) -> np.ndarray:
    a = np.deg2rad(angle_deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), tx], [scale * np.sin(a), scale * np.cos(a), ty]])


def test_similarity_fit_recovers_a_known_transform():
    source = np.random.default_rng(0).uniform(0, 500, (5, 2))
    truth = _similarity(17, 0.4, 30, -12)
    np.testing.assert_allclose(alignment.similarity_transform(source, alignment.transform_points(truth, source)),
                               truth, atol=1e-9)


def test_similarity_fit_never_reflects():
    source = np.random.default_rng(1).uniform(0, 100, (5, 2))
    mirrored = source * [-1, 1]
    matrix = alignment.similarity_transform(source, mirrored)
    assert np.linalg.det(matrix[:, :2]) > 0


def test_inverse_round_trip():
    matrix = _similarity(-8, 2.5, 4, 9)
    points = np.random.default_rng(2).uniform(0, 50, (7, 2))
    back = alignment.transform_points(alignment.invert_transform(matrix), alignment.transform_points(matrix, points))
    np.testing.assert_allclose(back, points, atol=1e-9)


def test_five_points_are_ordered_by_image_position():
    eyes = np.array([[80.0, 50], [20, 52]])  # "left eye" named first, but it has the larger x
    ordered = alignment.order_five_points(eyes, [50, 80], np.array([[70.0, 110], [30, 110]]))
    np.testing.assert_allclose(ordered[[0, 1, 3, 4], 0], [20, 80, 30, 70])


def test_canonical_template_comes_from_the_package():
    points = alignment.canonical_landmarks49(200)
    assert points.shape == (49, 2)
    np.testing.assert_allclose(alignment.canonical_landmarks49(100), points * 99 / 199)
    five = alignment.canonical_five_points(200)
    assert five[0, 0] < five[1, 0] and five[3, 0] < five[4, 0]  # eyes and mouth corners in x order


def test_jaanet_rule_levels_eyes_and_frames_the_box():
    size = 128
    truth = _similarity(12, 3.0, 400, 250)
    landmarks = alignment.transform_points(truth, alignment.canonical_landmarks49(200))
    matrix = alignment.jaanet_transform(landmarks, size)
    five = alignment.five_points_from_49(alignment.transform_points(matrix, landmarks))
    assert five[0, 1] == pytest.approx(five[1, 1], abs=1e-9)  # eyes level
    extent = five.max(axis=0) - five.min(axis=0)
    assert extent.max() == pytest.approx((size - 1) / alignment.JAANET_BOX_ENLARGE)
    np.testing.assert_allclose((five.max(axis=0) + five.min(axis=0)) / 2, [(size - 1) / 2] * 2, atol=1e-9)
    # The canonical face is (nearly) a fixed point of the rule: the two alignment routes agree.
    aligned = alignment.transform_points(matrix, landmarks)
    assert np.abs(aligned - alignment.canonical_landmarks49(size)).max() < 1.5 * size / 200


def test_warp_moves_pixels_where_points_go_and_fills_grey():
    image = np.zeros((50, 60, 3), np.uint8)
    image[20, 30] = 255
    matrix = np.array([[2.0, 0, 3], [0, 2, 5]])
    warped = alignment.warp_image(image, matrix, 100)
    row, col = np.unravel_index(np.argmax(warped[..., 0]), warped.shape[:2])
    np.testing.assert_allclose([col, row], alignment.transform_points(matrix, [30, 20]))
    assert (warped[0, 0] == alignment.BORDER_GREY).all()  # maps to (-1.5, -2.5), outside the source
    identity = np.array([[1.0, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(alignment.warp_image(image, identity, 50), image[:, :50])


@pytest.fixture(scope="module")
def detector():
    from lac_gan.data.face_detection import FaceDetector
    return FaceDetector()


def test_detected_face_aligns_onto_the_template(detector, astronaut):
    face = detector.detect(astronaut)
    assert face is not None and face.confidence > 0.9
    template = alignment.canonical_five_points(200)
    matrix = alignment.similarity_transform(face.points5, template)
    aligned = alignment.transform_points(matrix, face.points5)
    assert np.linalg.norm(aligned[:2] - template[:2], axis=1).max() < 5  # eyes, px of 200
    crop = alignment.warp_image(astronaut, matrix, 200)
    assert crop.shape == (200, 200, 3) and crop.std() > 20


def test_detection_handles_big_greyscale_rgba_and_faceless_images(detector, shared_dir):
    bad = shared_dir / "fixtures" / "bad_inputs"
    assert detector.detect(np.asarray(Image.open(bad / "free-mountain-vector-01.jpg").convert("RGB"))) is None
    for name in ("BWPictureHuman.jpg", "Image_with_alpha.png"):
        image = np.asarray(Image.open(bad / name).convert("RGB"))
        face = detector.detect(image)
        assert face is None or (face.box[2:] <= np.array(image.shape[1::-1]) * 1.2).all()


def test_largest_face_wins_and_matches_stock_mtcnn(detector, shared_dir, monkeypatch):
    from mtcnn import MTCNN
    image = np.asarray(Image.open(shared_dir / "fixtures" / "faces" / "multi_face.jpg").convert("RGB"))
    stock = MTCNN(stages=list(detector._stages)).detect_faces(image, box_format="xyxy", output_type="numpy")
    assert len(stock) > 1
    largest = max(stock, key=lambda row: (row[3] - row[1]) * (row[4] - row[2]))
    with monkeypatch.context() as patch:
        patch.setattr(detector, "detect_size", max(image.shape))  # no downscaling, as stock MTCNN
        face = detector.detect(image)
    np.testing.assert_allclose(face.box, largest[1:5], atol=0.5)
    np.testing.assert_allclose(face.points5[2], largest[[8, 13]], atol=0.5)  # nose
    # Two faces here differ by 1% in size: downscaled, either may win, but it is one of the largest.
    sides = sorted(np.sqrt((stock[:, 3] - stock[:, 1]) * (stock[:, 4] - stock[:, 2])))
    assert detector.detect(image).side > 0.97 * sides[-2]


def test_onet_reuse_keeps_alignment_of_full_detection(detector, shared_dir):
    """Measured on real consecutive frames: the eyes aligned with reused detections stay within a few
    pixels (of a 200 crop) of where full detection puts them (docs/benchmarks.md records the figures)."""
    from lac_gan.data.face_detection import FaceTracker
    frames = [np.asarray(Image.open(p).convert("RGB"))
              for p in sorted((shared_dir / "fixtures" / "sequence").glob("*.jpg"))[:10]]
    template = alignment.canonical_five_points(200)
    tracker = FaceTracker(detector, redetect_every=5)
    distances = []
    for frame in frames:
        full, tracked = detector.detect(frame), tracker(frame)
        by_full = alignment.similarity_transform(full.points5, template)
        by_tracked = alignment.similarity_transform(tracked.points5, template)
        eyes = full.points5[:2]
        distances.append(np.linalg.norm(alignment.transform_points(by_tracked, eyes)
                                        - alignment.transform_points(by_full, eyes), axis=1).max())
    assert tracker.refinements == 8 and tracker.full_detections == 2
    assert np.mean(distances) < 6 and np.max(distances) < 10
