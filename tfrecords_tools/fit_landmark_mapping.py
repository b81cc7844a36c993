"""Fit the mapping from the two landmark models' points to reference 49-point landmarks, with a
subject-exclusive cross-validation, and write it to --out (`lac_gan.data.landmarks` reads MAPPING_PATH).

    python -m tfrecords_tools.fit_landmark_mapping \\
        [--images ../shared/datasets/video_au/images --landmarks_root ../shared/datasets/video_au/landmarks_49 \\
         --folds ../shared/datasets/video_au/folds.json] --out lac_gan/resources/landmark_mapping.npz

The shipped mapping was made by this command with its defaults (OpenFace 2.0.6's points on video_au)
and that --out; --out has no default, so that no mistyped command overwrites the shipped file.
Faces are found as the converter finds them (MTCNN, re-detected every 10 frames), then both models
are run (`LandmarkFitter.dlib68`, `.mesh468`). For each part of --folds, the mapping is fitted on the
other parts and judged on it: point error / inter-ocular distance (outer eye corners, 49-points 19
and 28), and the shift of the 12 AU centres in each frame's own aligned --size crop (as the converter
places them), for dlib's index mapping alone (the baseline), each fitted model alone, and their
average. Prints that report as JSON and stores it in the mapping file's `about`, with the mapping
fitted on all parts. BP4D users can refit it to their own landmark files the same way.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import time
from pathlib import Path

import numpy as np

from lac_gan.cli import report_error
from lac_gan.common.errors import UsageError, UserError, fault_message
from lac_gan.common.progress import Progress
from lac_gan.data import alignment, attention, landmarks
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.bp4d_layout import find_frame_images, read_landmarks49
from lac_gan.data.frame_pipeline import MIN_IMAGE_SIZE

VIDEO_AU = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "video_au"
OUTER_EYE_CORNERS_49 = (19, 28)
MOUTH_AUS = ("AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24")
REDETECT_EVERY = 10  # the converter's default
POINT_ARRAYS = ("subject", "dlib68", "mesh468", "reference49")
PROGRAM = "fit_landmark_mapping"


def collect_points(images: Path, landmarks_root: Path, every: int) -> dict[str, np.ndarray]:
    """Both models' points and the reference 49 points of every `every`-th frame that has a landmark
    file and a detected face, with its subject."""
    from lac_gan.data.face_detection import FaceDetector, FaceTracker
    from lac_gan.data.image_io import read_rgb
    videos = find_frame_images(images)
    tracker, fitter = FaceTracker(FaceDetector(), REDETECT_EVERY), landmarks.LandmarkFitter(mapping_path=None)
    rows = {name: [] for name in POINT_ARRAYS}
    progress = Progress("frames", sum(len(frames) for frames in videos.values()))
    for (subject, task), frames in sorted(videos.items()):
        tracker.reset()
        for number, path in sorted(frames.items()):
            progress.update(1)
            truth_path = landmarks_root / subject / task / f"{number}.txt"
            image = read_rgb(path)
            face = tracker(image)  # every frame, so the tracking is the converter's
            if number % every or face is None or not truth_path.is_file():
                continue
            rows["subject"].append(subject)
            rows["dlib68"].append(fitter.dlib68(image, face.points5))
            rows["mesh468"].append(fitter.mesh468(image, face.points5))
            rows["reference49"].append(read_landmarks49(truth_path))
    if not rows["subject"]:
        raise UsageError(f"no frame under {images} has both a detected face and a landmark file under {landmarks_root}")
    return {name: np.array(values) for name, values in rows.items()}


def aligned_au_centres(landmarks49: np.ndarray, size: int) -> np.ndarray:
    """[12, 2, 2] AU centres in the frame's own aligned size x size crop, as the converter stores them."""
    matrix = alignment.jaanet_transform(landmarks49, size)
    return attention.au_centres(alignment.transform_points(matrix, landmarks49))


def frame_point_errors(predicted: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """[N]: each frame's mean point distance [N, 49, 2] vs [N, 49, 2] / its inter-ocular distance."""
    interocular = np.linalg.norm(reference[:, OUTER_EYE_CORNERS_49[0]] - reference[:, OUTER_EYE_CORNERS_49[1]], axis=1)
    return np.linalg.norm(predicted - reference, axis=2).mean(axis=1) / interocular


def shift_figures(shift: np.ndarray) -> dict:
    """Mean, 95th percentile, mouth AUs and per AU of AU-centre shifts [N, 12, 2] in px."""
    mouth = [AU_NAMES.index(name) for name in MOUTH_AUS]
    return {"au_centre_shift_px": round(float(shift.mean()), 3),
            "au_centre_shift_p95_px": round(float(np.percentile(shift, 95)), 2),
            "mouth_au_centre_shift_px": round(float(shift[:, mouth].mean()), 3),
            "mouth_au_centre_shift_p95_px": round(float(np.percentile(shift[:, mouth], 95)), 2),
            "per_au_shift_px": {name: round(float(v), 2) for name, v in zip(AU_NAMES, shift.mean(axis=(0, 2)))}}


def judge(predicted: np.ndarray, reference: np.ndarray, size: int) -> dict:
    """Point error and AU-centre shift of predicted [N, 49, 2] against reference [N, 49, 2]."""
    shift = np.linalg.norm(np.stack([aligned_au_centres(p, size) for p in predicted])
                           - np.stack([aligned_au_centres(r, size) for r in reference]), axis=-1)  # [N, 12, 2]
    return {"frames": len(predicted), "point_error": round(float(frame_point_errors(predicted, reference).mean()), 4),
            **shift_figures(shift)}


def fit_mapping(points: dict[str, np.ndarray], ridge: float, mesh_weight: float, about: dict) -> landmarks.LandmarkMapping:
    reference = points["reference49"]
    return landmarks.LandmarkMapping(
        landmarks.LinearMapping.fit(points["dlib68"], reference, ridge, start=np.array(landmarks.IBUG68_TO_49)),
        landmarks.LinearMapping.fit(points["mesh468"], reference, ridge), mesh_weight, about)


def cross_validate(points: dict[str, np.ndarray], parts: dict[str, list[str]], ridge: float, mesh_weight: float,
                   size: int) -> dict:
    """Each part judged by a mapping fitted on the others; figures over all held-out frames and by part."""
    part_of = {subject: part for part, subjects in parts.items() for subject in subjects}
    frame_parts = np.array([part_of.get(s, "") for s in points["subject"]])  # "": in no part, not judged
    predicted = {name: np.zeros_like(points["reference49"]) for name in ("dlib_index", "dlib_fitted", "mesh_fitted", "fitted")}
    for part in parts:
        held_out = frame_parts == part
        if not held_out.any():
            continue
        mapping = fit_mapping({k: v[(frame_parts != part) & (frame_parts != "")] for k, v in points.items()},
                              ridge, mesh_weight, {})
        for i in np.flatnonzero(held_out):
            dlib68, mesh468 = points["dlib68"][i], points["mesh468"][i]
            predicted["dlib_index"][i] = landmarks.landmarks49_from_68(dlib68)
            predicted["dlib_fitted"][i] = mapping.dlib68(dlib68)
            predicted["mesh_fitted"][i] = mapping.mesh468(mesh468)
            predicted["fitted"][i] = mapping(dlib68, mesh468)
    judged = frame_parts != ""
    reference = points["reference49"]
    return {name: {"all": judge(p[judged], reference[judged], size),
                   "by_part": {part: judge(p[frame_parts == part], reference[frame_parts == part], size)["au_centre_shift_px"]
                               for part in parts if (frame_parts == part).any()}}
            for name, p in predicted.items()}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's own (an unknown flag, a word for a number): a UsageError
        raise UsageError(f"{message} (--help lists the flags)")


def parse_flags(argv: list[str] | None) -> argparse.Namespace:
    """The flags, each checked before any work; a UsageError names the one that cannot work."""
    parser = _Parser(prog=PROGRAM, description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=VIDEO_AU / "images", help="<Subject>/<Task>/<frame>.jpg")
    parser.add_argument("--landmarks_root", type=Path, default=VIDEO_AU / "landmarks_49",
                        help="<Subject>/<Task>/<frame>.txt, 98 numbers (the converter's landmark files)")
    parser.add_argument("--folds", type=Path, default=VIDEO_AU / "folds.json",
                        help="JSON {part: [subjects]}: the cross-validation's subject-exclusive parts")
    parser.add_argument("--out", type=Path, required=True,
                        help=f"the mapping file to write (the one lacgan reads: {landmarks.MAPPING_PATH})")
    parser.add_argument("--ridge", type=float, default=1.0, help="L2 penalty of both mappings, above 0")
    parser.add_argument("--mesh_weight", type=float, default=0.3, help="the mesh's share of the average, 0 to 1")
    parser.add_argument("--size", type=int, default=200, help="crop size at which AU-centre shifts are judged")
    parser.add_argument("--every", type=int, default=1, help="use every K-th frame")
    parser.add_argument("--points_cache", type=Path,
                        help="an .npz of the models' points: read if present, else written")
    args = parser.parse_args(argv)
    if not (math.isfinite(args.ridge) and args.ridge > 0):
        raise UsageError(f"--ridge {args.ridge}: expected a finite number above 0")
    if not 0 <= args.mesh_weight <= 1:
        raise UsageError(f"--mesh_weight {args.mesh_weight}: expected a share from 0 to 1")
    if args.size < MIN_IMAGE_SIZE:  # the converter's smallest
        raise UsageError(f"--size {args.size}: expected a crop side of at least {MIN_IMAGE_SIZE} px")
    if args.every < 1:
        raise UsageError(f"--every {args.every}: expected a whole number, at least 1")
    for flag, path in (("--images", args.images), ("--landmarks_root", args.landmarks_root)):
        if not path.is_dir():
            raise UsageError(f"{flag} {path}: no such directory")
    if not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: its folder does not exist")
    return args


def fit(args: argparse.Namespace) -> None:
    try:
        parts = json.loads(args.folds.read_text())
    except (OSError, ValueError) as error:
        raise UsageError(f"--folds {args.folds}: not a readable JSON file of {{part: [subjects]}} ({error})") from error
    if args.points_cache and args.points_cache.is_file():
        try:
            with np.load(args.points_cache) as cached:
                points = {name: cached[name] for name in POINT_ARRAYS}
        except (OSError, ValueError, KeyError) as error:
            raise UsageError(f"--points_cache {args.points_cache}: not a points cache written by this command "
                             f"({error}); delete it to collect the points again") from error
    else:
        points = collect_points(args.images, args.landmarks_root, args.every)
        if args.points_cache:
            np.savez(args.points_cache, **points)
    judged_parts = {part for part, subjects in parts.items() if set(subjects) & set(points["subject"].tolist())}
    if len(judged_parts) < 2:
        raise UsageError(f"--folds {args.folds}: the cross-validation needs frames of at least 2 parts; found "
                         f"frames of {sorted(judged_parts) or 'none'}")
    report = {"date": time.strftime("%Y-%m-%d"), "images": str(args.images), "landmarks_root": str(args.landmarks_root),
              "frames": len(points["subject"]), "subjects": sorted(set(points["subject"].tolist())),
              "ridge": args.ridge, "mesh_weight": args.mesh_weight,
              "cross_validation_by_part": cross_validate(points, parts, args.ridge, args.mesh_weight, args.size)}
    mapping = fit_mapping(points, args.ridge, args.mesh_weight, report)
    partial = args.out.with_name(args.out.name + ".partial")
    mapping.save(partial)
    partial.replace(args.out)  # the old mapping stays whole until the new one is
    print(json.dumps(report, indent=1))


def main(argv: list[str] | None = None) -> None:
    """Errors as every lacgan command shows them (lac_gan/common/errors.py): `fit_landmark_mapping: error: ...`,
    exit status 2 for a flag, 1 for a problem found while running."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        fit(parse_flags(argv))
    except (UserError, OSError) as error:
        report_error(PROGRAM, error if isinstance(error, UserError) else fault_message(error),
                     getattr(error, "exit_code", 1))


if __name__ == "__main__":
    main()
