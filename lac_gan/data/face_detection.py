"""Face detection with MTCNN 1.0: the largest face's box, 5 points and confidence, fast on video.

`FaceDetector.detect` runs the full cascade (PNet pyramid, RNet, ONet) on a copy of the image
downscaled to `detect_size` on its longest side (BP4D frames are 1040 x 1392; the face stays well
above MTCNN's minimum size and detection gets ~4x faster), then scales the results back.

`FaceTracker` exploits that neighbouring video frames hardly move: it re-runs only MTCNN's last
stage (ONet, which refines a given box and returns landmarks and a face confidence) on the box the
last full detection gave ONet, moved with the face, and falls back to a full detection every
`redetect_every` frames, or as soon as the ONet confidence drops or the box jumps or changes size
too much. On real video frames this moves the aligned eyes by about as much as MTCNN's own landmark
noise does (docs/benchmarks.md, "Data pipeline").
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from lac_gan.data.alignment import order_five_points

DETECT_SIZE = 480
REDETECT_EVERY = 10
# Tracking quality checks (what makes the tracker fall back to a full detection).
MIN_TRACK_CONFIDENCE = 0.9
MAX_TRACK_SHIFT = 0.15  # box centre move, as a fraction of the box side
MAX_TRACK_RESIZE = 1.2  # ratio of box sides, either way
# MTCNN's own defaults for its last stage.
ONET_THRESHOLD = 0.8
ONET_NMS = 0.7


@dataclass(frozen=True)
class Face:
    box: np.ndarray  # [x1, y1, x2, y2] in the original image
    points5: np.ndarray  # [5, 2], alignment.FIVE_POINT_NAMES order
    confidence: float
    proposal: np.ndarray  # the square box ONet was given, [x1, y1, x2, y2] in the original image

    @property
    def side(self) -> float:
        return float(np.sqrt((self.box[2] - self.box[0]) * (self.box[3] - self.box[1])))

    @property
    def centre(self) -> np.ndarray:
        return (self.box[:2] + self.box[2:]) / 2


def _face_from_row(row: np.ndarray, scale: float) -> Face:
    """A row of `_onet_rows` (downscaled pixels) -> Face in original pixels."""
    points = np.stack([row[6:11], row[11:16]], axis=1) / scale
    # MTCNN order: left eye, right eye, nose, mouth left, mouth right.
    return Face(box=row[1:5] / scale, points5=order_five_points(points[:2], points[2], points[3:]),
                confidence=float(row[5]), proposal=row[16:20] / scale)


def _compile_network(stage, patch_size: int | None) -> None:
    """Run a stage's network as a tf.function: called eagerly, Keras spends ~30 ms per call on these
    tiny networks, compiled ~3 ms. (mtcnn 1.0, pinned, calls its network as `stage._model(batch)`.)"""
    import tensorflow as tf
    spec = tf.TensorSpec([None, patch_size, patch_size, 3], tf.float32)
    stage._model = tf.function(stage.model, input_signature=[spec])


class FaceDetector:
    """One MTCNN (build one per process: it holds three Keras models)."""

    def __init__(self, detect_size: int = DETECT_SIZE):
        from mtcnn import MTCNN  # imported here: TensorFlow start-up cost only where detection is used
        self._stages = MTCNN().stages
        self._pnet, self._rnet, self._onet = self._stages
        for stage, patch in zip(self._stages, (None, 24, 48)):
            _compile_network(stage, patch)
        self.detect_size = detect_size

    def _normalised(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """The image downscaled to detect_size, in MTCNN's input range, batched; and the scale."""
        scale = min(1.0, self.detect_size / max(image.shape[:2]))
        if scale < 1.0:
            size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
            image = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0))
        return (image[None].astype(np.float32) - 127.5) / 128, scale

    def _onet_rows(self, normalised: np.ndarray, proposals: np.ndarray) -> np.ndarray:
        """ONet on square proposals [n, (image, x1, y1, x2, y2, score)] -> rows [image, box, confidence,
        5 x, 5 y, proposal box], unfiltered.

        MTCNN's StageONet does the same but drops the proposal, which tracking needs: ONet's landmarks
        depend on the framing of the crop it is shown, so reuse must show it the same framing.
        """
        from mtcnn.utils.bboxes import adjust_bboxes
        from mtcnn.utils.images import extract_patches
        from mtcnn.utils.landmarks import adjust_landmarks
        patches = extract_patches(normalised, proposals, expected_size=(48, 48))
        offsets, landmarks, scores = self._onet.model(patches)
        rows = proposals[:, :6].copy()
        rows[:, 5] = scores.numpy()[:, 1]
        rows = adjust_bboxes(rows, offsets.numpy())
        return np.concatenate([rows, adjust_landmarks(landmarks, proposals), proposals[:, 1:5]], axis=1)

    def detect_all(self, image: np.ndarray) -> list[Face]:
        """Every face of a uint8 RGB image (full cascade), largest first."""
        import tensorflow as tf
        from mtcnn.utils.bboxes import smart_nms_from_bboxes
        normalised, scale = self._normalised(image)
        try:
            proposals = self._pnet(images_normalized=normalised, images_oshapes=np.array([normalised.shape[1:]]))
            proposals = self._rnet(images_normalized=normalised, bboxes_batch=proposals)
        except tf.errors.InvalidArgumentError:  # how mtcnn 1.0 itself learns that nothing was found
            return []
        if len(proposals) == 0:
            return []
        rows = self._onet_rows(normalised, proposals)
        rows = rows[rows[:, 5] > ONET_THRESHOLD]
        if len(rows) == 0:
            return []
        rows = smart_nms_from_bboxes(rows, threshold=ONET_NMS, method="min", initial_sort=True)
        return sorted((_face_from_row(row, scale) for row in rows), key=lambda f: -f.side)

    def detect(self, image: np.ndarray) -> Face | None:
        """The largest face of a uint8 RGB image (full cascade), or None."""
        faces = self.detect_all(image)
        return faces[0] if faces else None

    def refine(self, image: np.ndarray, proposal: np.ndarray) -> Face:
        """ONet alone on a square `proposal` box (original pixels): the face there and its confidence."""
        normalised, scale = self._normalised(image)
        rows = self._onet_rows(normalised, np.array([[0.0, *(np.asarray(proposal) * scale), 1.0]]))
        return _face_from_row(rows[0], scale)


class FaceTracker:
    """Per-video detection with ONet reuse; call `reset()` (or make a new one) for each video."""

    def __init__(self, detector: FaceDetector, redetect_every: int = REDETECT_EVERY):
        self.detector = detector
        self.redetect_every = redetect_every
        self.reset()

    def reset(self) -> None:
        self._previous: Face | None = None
        self._last_detection: Face | None = None
        self._since_detection = 0
        self.full_detections = 0
        self.refinements = 0

    def _plausible(self, face: Face, previous: Face) -> bool:
        if face.confidence < MIN_TRACK_CONFIDENCE:
            return False
        shift = np.linalg.norm(face.centre - previous.centre) / previous.side
        resize = max(face.side / previous.side, previous.side / face.side)
        return shift <= MAX_TRACK_SHIFT and resize <= MAX_TRACK_RESIZE

    def __call__(self, image: np.ndarray) -> Face | None:
        if self._previous is not None and self._since_detection < self.redetect_every - 1:
            # ONet is shown the crop of the last full detection, moved as far as the face has moved
            # since: its landmarks depend on the crop's framing, which therefore must not drift.
            detected = self._last_detection
            proposal = detected.proposal + np.tile(self._previous.centre - detected.centre, 2)
            face = self.detector.refine(image, proposal)
            if self._plausible(face, self._previous):
                self._previous = face
                self._since_detection += 1
                self.refinements += 1
                return face
        face = self.detector.detect(image)
        self.full_detections += 1
        self._previous = face
        self._last_detection = face
        self._since_detection = 0
        return face
