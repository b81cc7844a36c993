"""AU detectors behind one interface, so that the protocol does not care which one runs.

A detector reads a set of images (PNG files, in a fixed order) and returns, per image, the
occurrence of each of the paper's 12 AUs, plus which images it failed on. Here: the interface and
the detectors that need no model of ours (OpenFace, precomputed CSVs); JAA-Net's is
`lac_gan.evaluation.jaanet_detector.JaanetDetector`, and `protocol.build_detector` picks one by name.
"""
from __future__ import annotations

import abc
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lac_gan.common.errors import DataError, UsageError
from lac_gan.data.au_table import AU_NUMBERS
from lac_gan.evaluation import openface

# OpenFace 2.x has occurrence (`_c`) outputs for these AUs (openface.md): no AU24.
OPENFACE_OCCURRENCE_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)


@dataclass
class Detections:
    """A detector's answer for one set of N images.

    occurrence: float [N, 12], 0/1 (or a probability), NaN where there is no output.
    failed: bool [N], images the detector could not analyse (no face, low confidence): they are left
        out of the metrics, never read as "AU absent".
    covered: bool [12], the AUs the detector has an output for.
    provenance: the command or file the numbers come from.
    """
    occurrence: np.ndarray
    failed: np.ndarray
    covered: np.ndarray
    provenance: str

    @property
    def num_failed(self) -> int:
        return int(np.sum(self.failed))


class AUDetector(abc.ABC):
    """Occurrence of the 12 AUs in still face images."""

    name: str

    @property
    @abc.abstractmethod
    def covered_aus(self) -> np.ndarray:
        """bool [12]: the AUs this detector has an output for."""

    @abc.abstractmethod
    def predict(self, image_paths: list[Path], set_name: str) -> Detections:
        """Detections for `image_paths` (uint8 RGB PNGs); `set_name` ('real', 'synthetic', 'source') names
        the set for the detector's working files and logs."""


class OpenFaceDetector(AUDetector):
    """OpenFace 2.x FeatureExtraction with the static AU models, each image on its own; faces smaller
    than openface.MIN_FACE_SIZE (which OpenFace cannot read) are enlarged to it first, every set alike."""

    name = "openface"

    def __init__(self, binary: str | None, work_dir: str | Path, extra_args: str = "",
                 min_confidence: float = openface.DEFAULT_MIN_CONFIDENCE, timeout_s: float | None = None):
        self.binary = openface.find_binary(binary)
        self.work_dir = Path(work_dir)
        self.extra_args = extra_args
        self.min_confidence = min_confidence
        self.timeout_s = timeout_s

    @property
    def covered_aus(self) -> np.ndarray:
        return np.isin(AU_NUMBERS, OPENFACE_OCCURRENCE_AUS)

    def predict(self, image_paths: list[Path], set_name: str) -> Detections:
        out_dir = self.work_dir / set_name
        given, enlargements = openface.enlarge_small_faces(image_paths, self.work_dir / "enlarged" / set_name)
        command = openface.describe_run(self.binary, given, out_dir, self.extra_args)
        if enlargements:
            command += f" (faces enlarged first, bicubic: {', '.join(enlargements)})"
        logging.info("OpenFace on %d %s images: %s", len(image_paths), set_name, command)
        csv_paths = openface.run_feature_extraction(self.binary, given, out_dir, self.extra_args,
                                                    self.timeout_s, label=f"OpenFace on {set_name}")
        table, index = openface.read_per_image_csvs(csv_paths)
        return _detections(table, index, image_paths, self.min_confidence, command)


class PrecomputedDetector(AUDetector):
    """Detector outputs the user already has, per set either one CSV or a folder of CSVs.

    A folder holds one CSV per image named after it (`000042.png` -> `000042.csv`), as
    FeatureExtraction `-f` writes them (the `detector/<set>/` folders of an openface run are such
    folders). A single CSV has one row per image and identifies it by a `filename` column (or
    `file`, `image`, `path`: the image's file name, with or without extension) or by `frame`
    (1-based position in the set's sorted file names, as FeatureExtraction -fdir writes it, but
    -fdir smooths over neighbouring images: see openface.IMAGES_PER_CALL). Either way: `AU01_c`,
    `AU02_c`, ... with 0/1 or a probability for each AU the detector has (an AU without its column
    is not covered, shown '-'); optionally `success` and `confidence`, read as for OpenFace.
    A third set, 'source' (the `sets/source` images of a --max_frames run), is optional.
    """

    name = "precomputed"

    def __init__(self, path_by_set: dict[str, str | Path],
                 min_confidence: float = openface.DEFAULT_MIN_CONFIDENCE):
        for set_name, path in path_by_set.items():
            if not Path(path).exists():
                raise UsageError(f"--precomputed_{set_name} {path}: no such file or folder")
        self.path_by_set = {k: Path(v) for k, v in path_by_set.items()}
        self.min_confidence = min_confidence
        for path in self.path_by_set.values():  # the headers, before any synthesis
            header = openface.read_csv(_a_csv(path), header_only=True)
            openface.require_occurrence_columns(header, _a_csv(path))
            if not path.is_dir() and "frame" not in header.columns and not set(openface.FILENAME_COLUMNS) & set(
                    header.columns):
                raise DataError(f"{path}: cannot tell which image a row is for; expected a `filename` column (or "
                                f"{', '.join(openface.FILENAME_COLUMNS[1:])}, or `frame`), found "
                                f"{list(header.columns)[:6]}")

    @property
    def covered_aus(self) -> np.ndarray:
        masks = [openface.covered_aus(openface.read_csv(_a_csv(p), header_only=True))
                 for p in self.path_by_set.values()]
        return np.logical_and.reduce(masks)

    def predict(self, image_paths: list[Path], set_name: str) -> Detections:
        path = self.path_by_set[set_name]
        if path.is_dir():
            csv_paths = [path / f"{Path(p).stem}.csv" for p in image_paths]
            try:
                table, index = openface.read_per_image_csvs([p if p.is_file() else None for p in csv_paths])
            except FileNotFoundError as error:
                raise DataError(f"{path}: {error} (expected <image stem>.csv files)") from error
        else:
            table = openface.read_csv(path)
            try:
                index = openface.image_index(table, image_paths)
            except ValueError as error:
                raise DataError(f"{path}: {error}") from error
        return _detections(table, index, image_paths, self.min_confidence, str(path))


def _a_csv(path: Path) -> Path:
    """`path` itself, or the first CSV of the folder `path`."""
    if not path.is_dir():
        return path
    first = next(iter(sorted(path.glob("*.csv"))), None)
    if first is None:
        raise DataError(f"{path}: no CSV in this folder")
    return first


def _detections(table, index: np.ndarray, image_paths: list[Path], min_confidence: float,
                provenance: str) -> Detections:
    occurrence, failed = openface.detections(table, index, len(image_paths), min_confidence)
    return Detections(occurrence, failed, openface.covered_aus(table), provenance)
