"""Data pipeline benchmark: conversion frames/s (with and without detection reuse), reader
examples/s, bytes per example, and how far detection reuse moves the alignment.

    python benchmarks/convert_and_read.py [--frames 240] [--workers N] [--repeats 3] [--work_dir DIR]
    python benchmarks/convert_and_read.py --read_dir CONVERTED [--repeats 3]   # the reader alone

The BP4D-sized tree is made from the 30 real frames of ../shared/fixtures/sequence, upscaled to
BP4D's 1040 x 1392 and played forwards then backwards (so consecutive frames stay consecutive),
split into videos of 60 frames of subjects from the three JAA-Net parts. Timed figures are repeated
(alternating the variants) and given as median [min, max]: a shared machine is noisy. Prints JSON
(the figures of docs/benchmarks.md "Data pipeline").
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from benchmarks.machine import machine  # noqa: E402

SEQUENCE = REPO.parent / "shared" / "fixtures" / "sequence"
BP4D_SIZE = (1040, 1392)  # width, height of a BP4D frame
FRAMES_PER_VIDEO = 60
SUBJECTS = ("F001", "M011", "F007", "M007")
AUS = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)


def build_tree(root: Path, frames: int) -> tuple[Path, Path]:
    images, labels = root / "images", root / "labels"
    labels.mkdir(parents=True)
    paths = sorted(SEQUENCE.glob("*.jpg"))
    played = paths + paths[::-1]  # forwards then backwards: 60 consecutive frames
    big = {p: Image.open(p).convert("RGB").resize(BP4D_SIZE, Image.Resampling.BICUBIC) for p in paths}
    rng = np.random.default_rng(0)
    for index in range(frames):
        subject, frame = SUBJECTS[index // FRAMES_PER_VIDEO % len(SUBJECTS)], 1000 + index % FRAMES_PER_VIDEO
        task = f"T{1 + index // (FRAMES_PER_VIDEO * len(SUBJECTS))}"
        folder = images / subject / task
        folder.mkdir(parents=True, exist_ok=True)
        big[played[index % FRAMES_PER_VIDEO]].save(folder / f"{frame}.jpg", quality=90)
        csv = labels / f"{subject}_{task}.csv"
        if not csv.exists():
            csv.write_text("0," + ",".join(map(str, AUS)) + "\n")
        with csv.open("a") as f:
            f.write(f"{frame}," + ",".join(str(v) for v in rng.choice([0, 1, 9], size=len(AUS))) + "\n")
    return images, labels


def timed_conversion(images: Path, labels: Path, out: Path, workers: int, *flags: str) -> tuple[dict, dict]:
    """Run the converter as a user would; (manifest, {frames, wall_s, frames_per_s_wall, frames_per_s_steady})."""
    command = [sys.executable, "-m", "tfrecords_tools.convert", f"--bp4d_root={images}",
               f"--labels_root={labels}", f"--out_dir={out}", f"--workers={workers}", *flags]
    started = time.monotonic()
    subprocess.run(command, check=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
                   stderr=subprocess.DEVNULL)
    wall = time.monotonic() - started
    manifest = json.loads((out / "manifest.json").read_text())
    frames = manifest["frames"]
    videos = manifest["videos"]["converted"]
    # Steady state: frames over the time workers spent inside videos (start-up excluded).
    steady = frames["written"] / (frames["worker_seconds"] / min(workers, videos))
    return manifest, {"command": " ".join(command[1:]), "frames": frames["written"], "wall_s": round(wall, 1),
                      "frames_per_s_wall": round(frames["written"] / wall, 1),
                      "frames_per_s_steady": round(steady, 1)}


def run_conversion(images: Path, labels: Path, out: Path, workers: int, redetect_every: int) -> dict:
    manifest, timing = timed_conversion(images, labels, out, workers, f"--redetect_every={redetect_every}")
    frames = manifest["frames"]
    return {"redetect_every": redetect_every, **timing,
            "full_detections": frames["full_detections"], "onet_refinements": frames["onet_refinements"]}


def reader_speed(out: Path, batches: int = 60, batch_size: int = 32) -> float:
    import tensorflow as tf

    from lac_gan.data.dataset import make_dataset, part_files
    dataset = make_dataset(part_files(out, ["part1", "part2", "part3"]), 200, batch_size, seed=0)

    @tf.function
    def consume(batch):  # a dummy consumer that touches everything the model reads
        return (tf.reduce_sum(batch["image"]) + tf.reduce_sum(batch["attention_maps"])
                + tf.cast(tf.reduce_sum(batch["labels"]), tf.float32))

    iterator = iter(dataset)
    for _ in range(5):  # warm-up: pipeline start, tracing
        consume(next(iterator))
    started = time.monotonic()
    for _ in range(batches):
        consume(next(iterator)).numpy()
    return batches * batch_size / (time.monotonic() - started)


def reuse_alignment_error(redetect_every: int, shift: int = 8) -> dict:
    """Where each method's alignment puts the fully detected eye points, px of a 200 crop: reuse vs.
    full detection on every frame (the per-frame distance of the farther eye). For scale, the same
    distance between full detection on the frame and on the frame shifted by `shift` px: MTCNN's own
    landmark noise when nothing but the framing changes."""
    from lac_gan.data import alignment
    from lac_gan.data.face_detection import FaceDetector, FaceTracker
    frames = [np.asarray(Image.open(p).convert("RGB").resize(BP4D_SIZE, Image.Resampling.BICUBIC))
              for p in sorted(SEQUENCE.glob("*.jpg"))]
    detector = FaceDetector()
    tracker = FaceTracker(detector, redetect_every)
    template = alignment.canonical_five_points(200)
    def eye_distance(points5, reference):
        eyes = reference.points5[:2]
        by_reference = alignment.transform_points(alignment.similarity_transform(reference.points5, template), eyes)
        by_other = alignment.transform_points(alignment.similarity_transform(points5, template), eyes)
        return np.linalg.norm(by_other - by_reference, axis=1).max()

    reuse, noise = [], []
    for index, frame in enumerate(frames):
        full, tracked = detector.detect(frame), tracker(frame)
        if index % redetect_every:  # frames where the tracker reused the detection
            reuse.append(eye_distance(tracked.points5, full))
        shifted = detector.detect(np.ascontiguousarray(frame[shift:, shift:]))
        noise.append(eye_distance(shifted.points5 + shift, full))
    summary = lambda values: {"mean": round(float(np.mean(values)), 2), "max": round(float(np.max(values)), 2)}
    return {"frames": len(frames), "redetect_every": redetect_every, "reuse_vs_full_px": summary(reuse),
            f"full_vs_full_on_{shift}px_shifted_frame_px": summary(noise)}


def spread(values: list[float]) -> str:
    return f"{float(np.median(values)):.1f} [{min(values):.1f}, {max(values):.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=240)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work_dir", default=None, help="kept when given; a temporary folder otherwise")
    parser.add_argument("--read_dir", default=None, help="time only the reader, on this converter output "
                        "(200 px, parts part1-part3)")
    args = parser.parse_args()
    if args.read_dir:
        print(json.dumps({"machine": machine(), "command": " ".join(["python", *sys.argv]),
                          "load_average_1min_at_start": os.getloadavg()[0],
                          "reader_examples_per_s": spread([round(reader_speed(Path(args.read_dir)), 1)
                                                           for _ in range(args.repeats)]),
                          "load_average_1min_at_end": os.getloadavg()[0]}, indent=1))
        return
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="lacgan_bench_"))
    images, labels = build_tree(work / "tree", args.frames)
    results = {"machine": machine(), "command": " ".join(["python", *sys.argv]),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "load_average_1min_at_start": os.getloadavg()[0]}  # the machine may be shared
    runs = {10: [], 1: []}
    for _ in range(args.repeats):
        for k in runs:
            shutil.rmtree(work / f"out_k{k}", ignore_errors=True)
            runs[k].append(run_conversion(images, labels, work / f"out_k{k}", args.workers, k))
    results["conversion"] = {f"redetect_every_{k}": {
        "frames": found[0]["frames"], "full_detections": found[0]["full_detections"],
        "onet_refinements": found[0]["onet_refinements"],
        **{name: spread([r[name] for r in found]) for name in ("frames_per_s_steady", "frames_per_s_wall")}}
        for k, found in runs.items()}
    out = work / "out_k10"
    shards = list(out.glob("*/*.tfrecord"))
    results["bytes_per_example"] = round(sum(p.stat().st_size for p in shards) / runs[10][0]["frames"])
    results["reader_examples_per_s"] = spread([round(reader_speed(out), 1) for _ in range(args.repeats)])
    results["eye_alignment_px_of_200"] = reuse_alignment_error(10)
    results["load_average_1min_at_end"] = os.getloadavg()[0]
    print(json.dumps(results, indent=1))
    if not args.work_dir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
