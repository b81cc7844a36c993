"""Per-face landmarks against real ones: point error, AU-centre shift, conversion frames/s.

    python benchmarks/landmarks.py --reference /work/data/video_au_200 --work_dir /work/data [--workers 2] \
        [--openface_bin ../shared/tools/openface/FeatureExtraction]

On ../shared/datasets/video_au (frames with OpenFace 2.0.6's 49 landmarks; the shipped mapping was
fitted on these frames, so these figures are in-sample: the fitting script's subject-exclusive
cross-validation is the held-out figure):
- point error: MTCNN + the fitted 49 points (`lac_gan.data.landmarks`), and the canonical face placed by
  MTCNN's 5 points (what `--landmarks mtcnn_canonical` assumes), against the OpenFace points, mean
  over points and frames of the distance / the inter-ocular distance (outer eye corners, 49-points
  19 and 28: the 300-W convention);
- AU-centre shift: the 12 x 2 AU centres stored by a conversion without landmark files (`--landmarks
  fitted`, `--landmarks mtcnn_canonical`), each in its own aligned 200 px crop, against those of
  `--reference` (the conversion with `--landmarks_root landmarks_49`): mean, 95th percentile, per AU;
- conversion frames/s of both (wall clock, and steady: frames over the workers' time in videos), run
  one after the other (delete the two outputs in --work_dir to time them again).
With --openface_bin, people the mapping never saw: the fixture photos and video frames
(../shared/fixtures/faces, sequence) with OpenFace's own 68 points as the reference (its fits below
DEFAULT_MIN_CONFIDENCE left out), the shipped fit against dlib's points mapped by index; --figure
draws the photos' points (docs/landmarks_fixtures.png).
Prints JSON (the figures of docs/benchmarks.md "Per-face landmarks").
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
VIDEO_AU = REPO.parent / "shared" / "datasets" / "video_au"
FIXTURES = REPO.parent / "shared" / "fixtures"

from benchmarks.convert_and_read import timed_conversion  # noqa: E402
from benchmarks.machine import machine  # noqa: E402
from tfrecords_tools.fit_landmark_mapping import OUTER_EYE_CORNERS_49, frame_point_errors, judge, shift_figures  # noqa: E402


def convert(source: str, out: Path, workers: int) -> dict:
    manifest, timing = timed_conversion(VIDEO_AU / "images", VIDEO_AU / "AU_OCC", out, workers,
                                        f"--folds={VIDEO_AU / 'folds.json'}", f"--landmarks={source}")
    return {**timing, "fallbacks_to_canonical": manifest["frames"]["landmark_fallbacks_to_canonical"]["counts"]}


def stored_centres(out: Path) -> dict[tuple[str, str, int], np.ndarray]:
    import tensorflow as tf

    from lac_gan.data.record_schema import parse_example
    size = json.loads((out / "manifest.json").read_text())["image_size"]
    centres = {}
    for record in tf.data.TFRecordDataset(sorted(str(p) for p in out.glob("*/*.tfrecord"))):
        example = parse_example(record, size)
        key = (example["subject"].numpy().decode(), example["task"].numpy().decode(), int(example["frame"]))
        centres[key] = example["au_centres"].numpy()
    return centres


def centre_shift(ours: dict, reference: dict) -> dict:
    keys = sorted(set(ours) & set(reference))
    shift = np.stack([np.linalg.norm(ours[k] - reference[k], axis=-1) for k in keys])  # [frames, 12, 2]
    return {"frames": len(keys), **shift_figures(shift)}


def point_errors(redetect_every: int = 10) -> dict:
    """Normalised mean error of the fitted and of the canonical 49 points, in the original frames."""
    from lac_gan.data import alignment
    from lac_gan.data.bp4d_layout import read_landmarks49
    from lac_gan.data.face_detection import FaceDetector, FaceTracker
    from lac_gan.data.image_io import read_rgb
    from lac_gan.data.landmarks import LandmarkFitter
    tracker, fitter = FaceTracker(FaceDetector(), redetect_every), LandmarkFitter()
    canonical = alignment.canonical_landmarks49(200)
    template = alignment.canonical_five_points(200)
    fitted, placed, truths, refused, seconds = [], [], [], 0, 0.0
    for video in sorted((VIDEO_AU / "images").glob("*/*")):
        tracker.reset()
        for path in sorted(video.glob("*.jpg"), key=lambda p: int(p.stem)):
            truth = read_landmarks49(VIDEO_AU / "landmarks_49" / video.parent.name / video.name / f"{path.stem}.txt")
            image = read_rgb(path)
            face = tracker(image)
            if face is None:
                continue
            started = time.perf_counter()
            points = fitter.fit(image, face.points5)
            seconds += time.perf_counter() - started
            to_frame = alignment.invert_transform(alignment.similarity_transform(face.points5, template))
            placed.append(alignment.transform_points(to_frame, canonical))
            if points is None:
                refused += 1
                points = placed[-1]
            fitted.append(points)
            truths.append(truth)
    fitted = frame_point_errors(np.array(fitted), np.array(truths))
    placed = frame_point_errors(np.array(placed), np.array(truths))
    return {"frames": len(fitted), "fit_refused": refused, "fit_ms_per_face": round(1000 * seconds / len(fitted), 2),
            "nme_fitted": round(float(fitted.mean()), 4), "nme_canonical": round(float(placed.mean()), 4),
            "nme_fitted_p95_per_frame": round(float(np.percentile(fitted, 95)), 4)}


def held_out_people(openface_bin: str, work_dir: Path, figure: list | None = None) -> dict:
    """The shipped fit and dlib's index mapping against OpenFace on the fixture photos and frames;
    `figure` collects an overlay tile of each judged photo."""
    from lac_gan.data import landmarks
    from lac_gan.data.face_detection import FaceDetector
    from lac_gan.data.image_io import read_rgb
    from lac_gan.evaluation import openface
    images = sorted((FIXTURES / "faces").glob("*.jpg")) + sorted((FIXTURES / "sequence").glob("*.jpg"))
    csvs = openface.run_feature_extraction(openface_bin, images, work_dir / "openface_fixtures", "-2Dfp")
    detector, fitter = FaceDetector(), landmarks.LandmarkFitter()
    fitted, by_index, reference, left_out = [], [], [], []
    for image_path, csv in zip(images, csvs):
        row = openface.read_csv(csv).iloc[0] if csv is not None else None
        if row is None or row["confidence"] < openface.DEFAULT_MIN_CONFIDENCE:
            left_out.append(image_path.name)
            continue
        truth = landmarks.landmarks49_from_68(np.stack([[row[f"x_{i}"], row[f"y_{i}"]] for i in range(68)]))
        image = read_rgb(image_path)
        face = detector.detect(image)
        points = fitter.fit(image, face.points5) if face is not None else None
        if points is None or np.linalg.norm(points[13] - truth[13]) > np.linalg.norm(np.subtract(*truth[list(OUTER_EYE_CORNERS_49)])) / 2:
            left_out.append(image_path.name)  # not the face OpenFace fitted (a group photo), or refused
            continue
        fitted.append(points)
        by_index.append(landmarks.landmarks49_from_68(fitter.dlib68(image, face.points5)))
        reference.append(truth)
        if figure is not None and image_path.parent.name == "faces":
            figure.append(_overlay(image, points, truth))
    return {"left_out": left_out, "fitted": judge(np.array(fitted), np.array(reference), 200),
            "dlib_by_index": judge(np.array(by_index), np.array(reference), 200)}


def _overlay(image: np.ndarray, fitted: np.ndarray, reference: np.ndarray, size: int = 300):
    """The face aligned from OpenFace's points: ours green, OpenFace's red, AU centres as squares."""
    from PIL import Image, ImageDraw

    from lac_gan.data import alignment, attention
    matrix = alignment.jaanet_transform(reference, size)
    tile = Image.fromarray(alignment.warp_image(image, matrix, size))
    draw = ImageDraw.Draw(tile)
    for points, colour in ((reference, (255, 40, 40)), (fitted, (40, 255, 40))):
        crop_points = alignment.transform_points(matrix, points)
        for x, y in crop_points:
            draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
        for x, y in attention.au_centres(crop_points).reshape(-1, 2):
            draw.rectangle([x - 4, y - 4, x + 4, y + 4], outline=colour)
    return tile


def save_figure(tiles: list, path: Path) -> None:
    from PIL import Image
    side = tiles[0].size[0]
    canvas = Image.new("RGB", (side * len(tiles), side))
    for i, tile in enumerate(tiles):
        canvas.paste(tile, (i * side, 0))
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", required=True, help="conversion of video_au with --landmarks_root")
    parser.add_argument("--work_dir", required=True, help="where the two conversions without files are written")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--openface_bin", help="OpenFace's FeatureExtraction: also judge on the fixture faces")
    parser.add_argument("--figure", type=Path, help="with --openface_bin: a PNG of the fixture photos, ours green, "
                        "OpenFace's red (points, and AU centres as squares)")
    args = parser.parse_args()
    if not VIDEO_AU.is_dir():
        sys.exit(f"{VIDEO_AU} is absent")
    reference = stored_centres(Path(args.reference))
    results = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "points": point_errors()}
    for source in ("fitted", "mtcnn_canonical"):
        out = Path(args.work_dir) / f"video_au_200_{source}"
        speed = convert(source, out, args.workers) if not (out / "manifest.json").exists() else None
        results[source] = {"conversion": speed, "au_centre_shift": centre_shift(stored_centres(out), reference)}
    if args.openface_bin:
        tiles = [] if args.figure else None
        results["held_out_people"] = held_out_people(args.openface_bin, Path(args.work_dir), tiles)
        if tiles:
            save_figure(tiles, args.figure)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
