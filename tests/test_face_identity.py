"""dlib's face-recognition descriptors as the identity judge, on real faces aligned as the records are."""
import numpy as np
import pytest

from lac_gan.data import alignment
from lac_gan.data.face_detection import FaceDetector
from lac_gan.data.image_io import read_rgb
from lac_gan.data.landmarks import LandmarkFitter
from lac_gan.evaluation.face_identity import DLIB_SAME_PERSON_DISTANCE, dlib_judge

SIZE = 128
PEOPLE = ("0-f1-su-ph.jpg", "0-f15-hao-ph.jpg", "45-m7-di-ph.jpg", "single_face.jpg")


def aligned_face(photo: np.ndarray, detector: FaceDetector, fitter: LandmarkFitter) -> np.ndarray:
    """The largest face as a converted record holds it (JAA-Net's alignment from its own landmarks),
    in [-1, 1]."""
    landmarks49 = fitter.fit(photo, detector.detect(photo).points5)
    crop = alignment.warp_image(photo, alignment.jaanet_transform(landmarks49, SIZE), SIZE)
    return crop.astype(np.float32) / 127.5 - 1.0


def test_dlib_tells_people_apart_and_keeps_one_person(shared_dir, astronaut):
    detector, fitter = FaceDetector(), LandmarkFitter()
    faces = np.stack([aligned_face(read_rgb(shared_dir / "fixtures" / "faces" / name), detector, fitter)
                      for name in PEOPLE] + [aligned_face(astronaut, detector, fitter)])
    judge = dlib_judge()
    others = judge.score(faces, np.roll(faces, 1, axis=0))
    # The same faces with pixel noise (a synthesiser's small changes) stay the same people.
    noisy = np.clip(faces + np.random.default_rng(0).normal(0, 0.03, faces.shape), -1, 1).astype(np.float32)
    same = judge.score(noisy, faces)
    # At 128 px dlib separates these five people less than at its own 150 px chips (two of the
    # East Asian pairs sit near its 0.6 rule), but every pair of people stays far beyond the noise.
    assert np.all(same < 0.5 * DLIB_SAME_PERSON_DISTANCE), same
    assert others.min() > 2 * same.max() and others.mean() > DLIB_SAME_PERSON_DISTANCE, others
    summary = judge.summary(same.tolist(), others.tolist())
    assert summary["synthetic_vs_source"]["same_person_share"] == 1.0
    assert summary["synthetic_vs_source"]["mean_distance"] == pytest.approx(same.mean())
