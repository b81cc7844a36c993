"""Face alignment to the square crop the model sees: template, point sets, transforms, warping.

Two ways to align a frame to an S x S crop (`../shared/spec/bp4d.md`):

- with the frame's own 49 landmarks: JAA-Net's rule (`jaanet_transform`): rotate the eyes level,
  take the bounding box of {eye centres, nose tip, mouth corners}, a square of half side
  0.5 * 2.9 * its larger side around the box centre, scaled to S;
- with only a detector's 5 points: the least-squares similarity (`similarity_transform`, Umeyama)
  from those points onto the same 5 points of the canonical face `canonical_49.csv`, which is the
  mean face in JAA-Net's 200 x 200 frame, so both routes give crops of the same framing.

Coordinates are 0-based pixel centres, (x, y) with y down. A transform is a 2 x 3 matrix M mapping
an original-frame point p to the crop: M @ [x, y, 1].
"""
from __future__ import annotations

import csv
import io
from functools import lru_cache
from importlib import resources

import numpy as np
from PIL import Image

# The canonical face was measured in a 200 x 200 crop.
CANONICAL_SIZE = 200
# JAA-Net's box enlargement: the crop's side is 2.9 times the eyes-nose-mouth box.
JAANET_BOX_ENLARGE = 2.9
BORDER_GREY = 128

# The 5 alignment points, in this order, by their position in the image (not the subject's
# left/right): eye with smaller x, eye with larger x, nose tip, mouth corner with smaller x, other.
FIVE_POINT_NAMES = ("eye_image_left", "eye_image_right", "nose_tip", "mouth_image_left", "mouth_image_right")
# 49-point indices (bp4d.md): eyes 19-24 (image left) and 25-30, nose tip 13, mouth corners 31, 37.
EYE_IMAGE_LEFT_49 = slice(19, 25)
EYE_IMAGE_RIGHT_49 = slice(25, 31)
NOSE_TIP_49 = 13
MOUTH_CORNERS_49 = (31, 37)


@lru_cache(maxsize=1)
def _canonical_200() -> np.ndarray:
    text = resources.files("lac_gan").joinpath("resources/canonical_49.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    points = np.array([[float(r["x"]), float(r["y"])] for r in sorted(rows, key=lambda r: int(r["point"]))])
    if points.shape != (49, 2):
        raise ValueError(f"canonical_49.csv: expected 49 points, got {points.shape[0]}")
    return points


def canonical_landmarks49(image_size: int = CANONICAL_SIZE) -> np.ndarray:
    """The canonical 49-point face [49, 2] in an image_size crop.

    Scaled by (S - 1) / 199, not S / 200: JAA-Net maps its square onto the pixel centres 0 .. S - 1,
    so this is exactly where its rule would put the same face at another size.
    """
    return _canonical_200() * (image_size - 1) / (CANONICAL_SIZE - 1)


def five_points_from_49(landmarks49: np.ndarray) -> np.ndarray:
    """[5, 2] alignment points (FIVE_POINT_NAMES order) from 49 landmarks."""
    points = np.asarray(landmarks49, dtype=np.float64)
    return np.stack([points[EYE_IMAGE_LEFT_49].mean(axis=0), points[EYE_IMAGE_RIGHT_49].mean(axis=0),
                     points[NOSE_TIP_49], points[MOUTH_CORNERS_49[0]], points[MOUTH_CORNERS_49[1]]])


def canonical_five_points(image_size: int) -> np.ndarray:
    """The template the detector's 5 points are fitted onto, in an image_size crop."""
    return five_points_from_49(canonical_landmarks49(image_size))


def order_five_points(eyes: np.ndarray, nose: np.ndarray, mouth: np.ndarray) -> np.ndarray:
    """[5, 2] in FIVE_POINT_NAMES order from 2 eyes, nose, 2 mouth corners in any left/right naming.

    Detectors disagree on whether "left" is the subject's or the viewer's left (MTCNN's
    'left_eye' has the smaller x on an upright face); sorting by x removes the ambiguity.
    """
    eyes = np.asarray(eyes, dtype=np.float64)[np.argsort(np.asarray(eyes)[:, 0], kind="stable")]
    mouth = np.asarray(mouth, dtype=np.float64)[np.argsort(np.asarray(mouth)[:, 0], kind="stable")]
    return np.concatenate([eyes, np.asarray(nose, dtype=np.float64).reshape(1, 2), mouth])


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation (no reflection) source -> target, 2 x 3.

    Umeyama (1991), the closed form that skimage's SimilarityTransform also uses.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_c, target_c = source - source_mean, target - target_mean
    covariance = target_c.T @ source_c / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    # Flip the last axis when the best orthogonal fit would be a reflection.
    signs = np.array([1.0, np.sign(np.linalg.det(u) * np.linalg.det(vt)) or 1.0])
    rotation = u @ np.diag(signs) @ vt
    scale = (singular * signs).sum() / (source_c ** 2).sum(axis=1).mean()
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def jaanet_transform(landmarks49: np.ndarray, image_size: int,
                     box_enlarge: float = JAANET_BOX_ENLARGE) -> np.ndarray:
    """JAA-Net's `align_face_49pts` as a 2 x 3 matrix: original frame -> image_size crop."""
    five = five_points_from_49(landmarks49)
    dx, dy = five[1] - five[0]
    length = np.hypot(dx, dy)
    cos, sin = dx / length, dy / length
    rotation = np.array([[cos, sin], [-sin, cos]])  # turns the eye line horizontal
    rotated = five @ rotation.T
    low, high = rotated.min(axis=0), rotated.max(axis=0)
    centre = (low + high) / 2
    half_size = 0.5 * box_enlarge * (high - low).max()
    scale = (image_size - 1) / 2.0 / half_size
    translation = scale * (half_size - centre)
    return np.hstack([scale * rotation, translation[:, None]])


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2 x 3 transform to points [..., 2]."""
    points = np.asarray(points, dtype=np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_transform(matrix: np.ndarray) -> np.ndarray:
    """The 2 x 3 inverse of an invertible 2 x 3 affine transform (crop -> original frame)."""
    linear_inverse = np.linalg.inv(matrix[:, :2])
    return np.hstack([linear_inverse, -(linear_inverse @ matrix[:, 2])[:, None]])


def warp_image(image: np.ndarray, matrix: np.ndarray, output_size: int | tuple[int, int]) -> np.ndarray:
    """Resample `image` through `matrix` (its frame -> the output frame), bilinear.

    uint8 RGB images get a grey 128 border; float32 [H, W] maps (the editor's blending weights) get 0.
    `output_size` is S for an S x S crop, or (width, height).
    """
    width, height = (output_size, output_size) if isinstance(output_size, int) else output_size
    inverse = invert_transform(matrix)
    # Pillow samples at pixel-area coordinates (centre of pixel i at i + 0.5): shift in and out.
    offset = inverse[:, 2] + 0.5 - 0.5 * inverse[:, :2].sum(axis=1)
    coefficients = (inverse[0, 0], inverse[0, 1], offset[0], inverse[1, 0], inverse[1, 1], offset[1])
    is_map = image.ndim == 2
    source = Image.fromarray(image.astype(np.float32)) if is_map else Image.fromarray(image)
    warped = source.transform((width, height), Image.Transform.AFFINE, coefficients,
                              resample=Image.Resampling.BILINEAR, fillcolor=0.0 if is_map else (BORDER_GREY,) * 3)
    return np.asarray(warped, dtype=np.float32 if is_map else np.uint8)
