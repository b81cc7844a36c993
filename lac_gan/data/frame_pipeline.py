"""The converter's frame pipeline: one labelled BP4D frame -> one serialised example. The frame is read,
its face found by MTCNN (tracked across a video's frames), its 49 landmarks taken from a file or
fitted (or, failing that, the canonical face's, counted), aligned by JAA-Net's rule (or MTCNN's 5
points onto the canonical face), and its 12 AU attention maps drawn; `Settings` is what the examples
depend on. Writing the examples into shards, with workers, sidecars and the manifest:
lac_gan/data/conversion.py; the command line: tfrecords_tools/convert.py.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lac_gan.common.errors import UsageError
from lac_gan.data import alignment, attention, record_schema
from lac_gan.data.bp4d_layout import Problems, Video
from lac_gan.data.image_io import ImageReadError, read_rgb

if TYPE_CHECKING:
    from lac_gan.data.face_detection import FaceTracker
    from lac_gan.data.landmarks import LandmarkFitter


MIN_IMAGE_SIZE = 16
ALIGNMENT_METHOD = ("with 49 landmarks (from a file, or fitted on MTCNN's face by lac_gan.data.landmarks: dlib's 68 points "
                    "and MediaPipe's face mesh mapped to OpenFace's 49): "
                    "JAA-Net align_face_49pts (eyes level, square of 2.9 x the eyes-nose-mouth box); otherwise: "
                    "least-squares similarity (Umeyama) of MTCNN's 5 points onto the canonical 49-point face's eye "
                    "centres, nose tip and mouth corners")
# Where a frame's 49 landmarks come from (--landmarks); each falls back to the canonical face, counted.
LANDMARKS_FILES, LANDMARKS_FITTED, LANDMARKS_CANONICAL = "files", "fitted", "mtcnn_canonical"
LANDMARK_SOURCES = (LANDMARKS_FILES, LANDMARKS_FITTED, LANDMARKS_CANONICAL)


class ConvertError(UsageError):
    """A fatal misconfiguration of the run (not of one input file): exit status 2."""


class FrameSkipped(Exception):
    """One labelled frame that cannot be converted, with the reason it is counted under."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True)
class Settings:
    """What a shard's content depends on: a resumed run must use the same."""
    image_size: int = 200
    spatial_ratio: float = attention.SPATIAL_RATIO
    fill_coefficient: float = attention.FILL_COEFFICIENT
    redetect_every: int = 10
    detect_size: int = 480
    landmarks: str | None = None  # a LANDMARK_SOURCES; None: 'files' with a landmarks_root, else 'fitted'
    landmark_mapping_sha256: str | None = None  # with 'fitted': the mapping that made the points
    schema_version: int = record_schema.SCHEMA_VERSION

    def resolved(self, landmarks_root: str | None) -> Settings:
        """These settings with `landmarks` chosen; a source that contradicts landmarks_root is an error."""
        landmarks = self.landmarks or (LANDMARKS_FILES if landmarks_root is not None else LANDMARKS_FITTED)
        if landmarks not in LANDMARK_SOURCES:
            raise ConvertError(f"--landmarks must be one of {', '.join(LANDMARK_SOURCES)}, got {landmarks!r}")
        if (landmarks == LANDMARKS_FILES) != (landmarks_root is not None):
            raise ConvertError(f"--landmarks {landmarks} and --landmarks_root go together: give both or neither")
        return dataclasses.replace(self, landmarks=landmarks)

    def check(self) -> None:
        if self.image_size < MIN_IMAGE_SIZE:
            raise ConvertError(f"--image_size must be at least {MIN_IMAGE_SIZE}, got {self.image_size}")
        if not 0 < self.spatial_ratio <= 1 or not (math.isfinite(self.fill_coefficient) and self.fill_coefficient > 0):
            raise ConvertError(f"--spatial_ratio must be in (0, 1] and --fill_coefficient > 0, got "
                               f"{self.spatial_ratio} and {self.fill_coefficient}")
        if self.redetect_every < 1 or self.detect_size < 48:
            raise ConvertError(f"--redetect_every must be >= 1 and --detect_size >= 48, got "
                               f"{self.redetect_every} and {self.detect_size}")


def read_frame(path: str) -> np.ndarray:
    """The frame as uint8 RGB; an unreadable file is a counted skip, not a crash."""
    try:
        return read_rgb(path)
    except ImageReadError as error:
        raise FrameSkipped("unreadable_image", str(error)) from error


class FrameConverter:
    """Turns labelled frames into serialised examples; one per process (it owns the MTCNN)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._tracker = None
        self._fitter = None
        canonical = alignment.canonical_landmarks49(settings.image_size)
        self.template5 = alignment.five_points_from_49(canonical)
        # Without a frame's own landmarks every frame shares the canonical centres, hence the maps.
        self.canonical_centres = attention.au_centres(canonical)
        self.canonical_maps = self.attention_maps(self.canonical_centres)

    def attention_maps(self, centres: np.ndarray) -> np.ndarray:
        return attention.au_attention_maps(centres, self.settings.image_size, self.settings.spatial_ratio,
                                           self.settings.fill_coefficient)

    @property
    def tracker(self) -> FaceTracker:
        if self._tracker is None:  # built on first use: runs with landmarks for every frame never need it
            from lac_gan.data.face_detection import FaceDetector, FaceTracker
            self._tracker = FaceTracker(FaceDetector(self.settings.detect_size), self.settings.redetect_every)
        return self._tracker

    @property
    def fitter(self) -> LandmarkFitter:
        if self._fitter is None:
            from lac_gan.data.landmarks import LandmarkFitter
            self._fitter = LandmarkFitter()
        return self._fitter

    def start_video(self) -> None:
        if self._tracker is not None:
            self._tracker.reset()

    def detection_counts(self) -> tuple[int, int]:
        """(full MTCNN detections, ONet-only refinements) since start_video."""
        return (self._tracker.full_detections, self._tracker.refinements) if self._tracker else (0, 0)

    def example(self, video: Video, frame: int, path: str, labels: tuple[int, ...],
                landmarks49: np.ndarray | None, fallbacks: Problems) -> bytes:
        """One record; a frame whose landmarks cannot be had is aligned by MTCNN onto the canonical
        face and counted in `fallbacks` (files: by _frame_landmarks; fitted: here)."""
        image = read_frame(path)
        size = self.settings.image_size
        face = None
        if landmarks49 is None:
            face = self.tracker(image)
            if face is None:
                raise FrameSkipped("no_face", path)
            if self.settings.landmarks == LANDMARKS_FITTED:
                landmarks49 = self.fitter.fit(image, face.points5)
                if landmarks49 is None:
                    fallbacks.add("landmark_fit_refused", path)
        if landmarks49 is not None:
            matrix = alignment.jaanet_transform(landmarks49, size)
            aligned49 = alignment.transform_points(matrix, landmarks49)
            points5 = alignment.five_points_from_49(aligned49)
            centres = attention.au_centres(aligned49)
            maps = self.attention_maps(centres)
        else:
            matrix = alignment.similarity_transform(face.points5, self.template5)
            points5 = alignment.transform_points(matrix, face.points5)
            aligned49, centres, maps = None, self.canonical_centres, self.canonical_maps
        return record_schema.encode_example(
            image=alignment.warp_image(image, matrix, size), labels=np.array(labels), subject=video.subject,
            task=video.task, frame=frame, landmarks5=points5, au_centres=centres, attention_maps=maps,
            landmarks49=aligned49)
