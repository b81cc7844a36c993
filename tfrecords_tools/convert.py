"""BP4D frames + AU occurrence labels -> aligned faces with AU attention maps, as TFRecord shards.

    python -m tfrecords_tools.convert --bp4d_root /data/BP4D/images \\
        --labels_root /data/BP4D/AUCoding/AU_OCC --out_dir /data/bp4d_tfrecords

One shard per video, `<out_dir>/<part>/<Subject>_<Task>.tfrecord`, grouped by subject-exclusive part
(JAA-Net's three by default); a fold is a choice of parts. A shard is written under a temporary name
and renamed only when complete, after its stats sidecar `<Subject>_<Task>.stats.json`: finished
shards are never redone, so re-running after a kill completes the set. `manifest.json` is rebuilt
from all sidecars at the end. Bad input is counted by reason, never fatal; a misconfiguration is
fatal at once with a message saying what was expected where. One converter at a time writes to an
out_dir (a lock file), and worker processes end when the converter dies, even by kill -9.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shlex
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf
from absl import flags

from lac_gan import alignment, attention, record_schema
from lac_gan.au_table import AU_NAMES
from lac_gan.bp4d import JAANET_FOLD_TEST_PART, JAANET_PARTS, UNKNOWN_LABEL, fold_parts
from lac_gan.cli import run_absl
from lac_gan.dataset import MANIFEST_NAME
from lac_gan.errors import UsageError, UserError, check_output_dir, fault_message
from lac_gan.image_io import ImageReadError, read_rgb
from lac_gan.json_files import write_json_atomic
from lac_gan.locks import lock_directory
from lac_gan.landmarks import MAPPING_PATH
from lac_gan.progress import format_eta
from lac_gan.provenance import package_versions
from tfrecords_tools.bp4d_layout import Problems, Video, discover, read_landmarks49

if TYPE_CHECKING:
    from lac_gan.face_detection import FaceTracker
    from lac_gan.landmarks import LandmarkFitter

SIDECAR_SUFFIX = ".stats.json"
PARTIAL_SUFFIX = ".partial"
LOCK_NAME = ".convert.lock"
PROGRESS_EVERY_S = 3.0
MIN_IMAGE_SIZE = 16
PARENT_CHECK_S = 1.0
ALIGNMENT_METHOD = ("with 49 landmarks (from a file, or fitted on MTCNN's face by lac_gan.landmarks: dlib's 68 points "
                    "and MediaPipe's face mesh mapped to OpenFace's 49): "
                    "JAA-Net align_face_49pts (eyes level, square of 2.9 x the eyes-nose-mouth box); otherwise: "
                    "least-squares similarity (Umeyama) of MTCNN's 5 points onto the canonical 49-point face's eye "
                    "centres, nose tip and mouth corners")
# Where a frame's 49 landmarks come from (--landmarks); each falls back to the canonical face, counted.
LANDMARKS_FILES, LANDMARKS_FITTED, LANDMARKS_CANONICAL = "files", "fitted", "mtcnn_canonical"
LANDMARK_SOURCES = (LANDMARKS_FILES, LANDMARKS_FITTED, LANDMARKS_CANONICAL)

FLAGS = flags.FLAGS
flags.DEFINE_string("bp4d_root", None, "Frames: <bp4d_root>/<Subject>/<Task>/<frame>.jpg (or .png).")
flags.DEFINE_string("labels_root", None, "AU occurrence CSVs: <labels_root>/<Subject>_<Task>.csv.")
flags.DEFINE_string("out_dir", None, "Output: <out_dir>/<part>/<Subject>_<Task>.tfrecord + manifest.json.")
flags.DEFINE_string("landmarks_root", None, "Optional 49-point landmarks: <landmarks_root>/<Subject>/<Task>/"
                    "<frame>.txt, 98 numbers x1 y1 ... x49 y49, 1-based pixels. Frames with a file are "
                    "aligned by JAA-Net's rule, the others by MTCNN.")
flags.DEFINE_enum("landmarks", None, LANDMARK_SOURCES, "Where each frame's 49 landmarks (alignment, AU centres "
                  "and maps) come from: 'files' (--landmarks_root), 'fitted' (on MTCNN's face: dlib's 68 points and "
                  "MediaPipe's face mesh, mapped to OpenFace's 49; README 'Per-face landmarks'), "
                  "'mtcnn_canonical' (none: MTCNN's 5 points onto the canonical face, its centres for every "
                  "frame). Default: 'files' with --landmarks_root, else 'fitted'.")
flags.DEFINE_integer("workers", os.cpu_count(), "Worker processes (one MTCNN each); 1 = in this process.")
flags.DEFINE_string("folds", "jaanet", "'jaanet' (JAA-Net's 3 subject parts) or a JSON file "
                    "{\"part name\": [subjects, ...], ...}.")
flags.DEFINE_integer("image_size", 200, "Side of the aligned square face.")
flags.DEFINE_float("spatial_ratio", attention.SPATIAL_RATIO, "Attention map r: AU square half side / image.")
flags.DEFINE_float("fill_coefficient", attention.FILL_COEFFICIENT, "Attention map c: Manhattan decay.")
flags.DEFINE_integer("redetect_every", 10, "Full MTCNN detection every K frames; in between, only ONet "
                     "refines the previous face (1 = full detection on every frame).")
flags.DEFINE_integer("detect_size", 480, "Longest side of the downscaled copy MTCNN runs on.")


class ConvertError(UsageError):
    """A fatal misconfiguration of the run (not of one input file): exit status 2."""


class ConversionFailed(UserError):
    """The run could not finish (a worker died, videos failed, out_dir is damaged or cannot be
    written): exit status 1. Finished shards are kept; the message says what to do."""


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


@dataclass(frozen=True)
class Job:
    video: Video
    part: str
    out_dir: str
    landmarks_root: str | None
    settings: Settings

    @property
    def shard(self) -> Path:
        return Path(self.out_dir) / self.part / f"{self.video.name}.tfrecord"


def sidecar_path(shard: Path) -> Path:
    return shard.with_name(shard.stem + SIDECAR_SUFFIX)


def read_sidecar(shard: Path) -> dict:
    """A finished shard's stats; a damaged sidecar is named, with how to redo that video."""
    sidecar = sidecar_path(shard)
    try:
        return json.loads(sidecar.read_text())
    except (OSError, ValueError) as error:
        raise ConversionFailed(f"{sidecar}: unreadable stats sidecar ({error}); delete it and {shard.name} "
                               "to convert that video again") from error


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
            from lac_gan.face_detection import FaceDetector, FaceTracker
            self._tracker = FaceTracker(FaceDetector(self.settings.detect_size), self.settings.redetect_every)
        return self._tracker

    @property
    def fitter(self) -> LandmarkFitter:
        if self._fitter is None:
            from lac_gan.landmarks import LandmarkFitter
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


def _frame_landmarks(job: Job, frame: int, fallbacks: Problems) -> np.ndarray | None:
    """The frame's 49 points when --landmarks_root has a usable file; otherwise None (MTCNN aligns)."""
    if job.landmarks_root is None:
        return None
    path = Path(job.landmarks_root) / job.video.subject / job.video.task / f"{frame}.txt"
    if not path.is_file():
        fallbacks.add("landmarks_missing", str(path))
        return None
    try:
        return read_landmarks49(path)
    except (OSError, ValueError) as error:
        fallbacks.add("bad_landmarks_file", str(error))
        return None


def convert_video(job: Job, converter: FrameConverter, on_frame) -> dict:
    """Write one video's shard (unless it is already finished) and return its stats sidecar content."""
    shard = job.shard
    if shard.exists():
        return read_sidecar(shard)
    shard.parent.mkdir(parents=True, exist_ok=True)
    skipped, fallbacks = Problems(), Problems()
    skipped.merge(job.video.problems)
    positives, known = np.zeros(len(AU_NAMES), int), np.zeros(len(AU_NAMES), int)
    written = 0
    converter.start_video()
    started = time.monotonic()
    partial = shard.with_name(shard.name + PARTIAL_SUFFIX)
    with tf.io.TFRecordWriter(str(partial)) as writer:
        for frame, path, labels in job.video.frames:
            try:
                landmarks49 = _frame_landmarks(job, frame, fallbacks)
                writer.write(converter.example(job.video, frame, path, labels, landmarks49, fallbacks))
            except FrameSkipped as skip:
                skipped.add(skip.reason, str(skip))
            else:
                written += 1
                positives += np.array(labels) == 1
                known += np.array(labels) != UNKNOWN_LABEL
            on_frame()
    full_detections, refinements = converter.detection_counts()
    stats = {
        "subject": job.video.subject, "task": job.video.task, "part": job.part,
        "settings": dataclasses.asdict(job.settings),
        "labelled_frames": len(job.video.frames), "written": written,
        "skipped": skipped.to_dict(), "landmark_fallbacks": fallbacks.to_dict(),
        "unlabelled_images": job.video.unlabelled_images,
        "au_positives": positives.tolist(), "au_known": known.tolist(),
        "full_detections": full_detections, "onet_refinements": refinements,
        "seconds": round(time.monotonic() - started, 3),
    }
    write_json_atomic(sidecar_path(shard), stats)  # before the rename: a finished shard always has one
    os.replace(partial, shard)
    return stats


# ---- worker processes -------------------------------------------------------------------------------

_converter: FrameConverter | None = None
_frames_done = None  # multiprocessing.Value shared with the progress reporter


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent died (even by kill -9) ends itself instead of waiting forever on a pipe
    nobody reads."""
    def watch():
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)
    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _init_worker(settings: Settings, frames_done, single_threaded: bool, parent: int | None = None) -> None:
    """Per process: one FrameConverter (hence one MTCNN), the shared frame counter."""
    global _converter, _frames_done
    if parent is not None:
        _exit_with_parent(parent)
    if single_threaded:  # one TF thread per worker process: the processes are the parallelism
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    _converter, _frames_done = FrameConverter(settings), frames_done


def _count_frame() -> None:
    with _frames_done.get_lock():
        _frames_done.value += 1


def _run_job(job: Job) -> tuple[str, dict | None, str | None]:
    """(video, stats, None), or (video, None, traceback) when converting it failed unexpectedly: one bad
    video must not stop the others; its partial file is removed and a re-run retries it."""
    try:
        return job.video.name, convert_video(job, _converter, _count_frame), None
    except (OSError, tf.errors.OpError) as error:  # out_dir cannot be written (disk full...): no video can
        job.shard.with_name(job.shard.name + PARTIAL_SUFFIX).unlink(missing_ok=True)
        raise ConversionFailed(f"{fault_message(error)}; finished shards are kept: make room, then run the same "
                               "command again to convert the rest") from None
    except Exception:  # noqa: BLE001 - reported per video in the manifest and on stderr
        job.shard.with_name(job.shard.name + PARTIAL_SUFFIX).unlink(missing_ok=True)
        return job.video.name, None, traceback.format_exc()


class ProgressReporter(threading.Thread):
    """Every few seconds: frames done/total, frames/s and ETA (stderr). The rate is over the last
    RATE_WINDOW reports, so that the workers' start-up does not drag it down for the whole run."""
    RATE_WINDOW = 10

    def __init__(self, frames_done, total: int, already_done: int):
        super().__init__(daemon=True)
        self.frames_done, self.total, self.already_done = frames_done, total, already_done
        self.history = collections.deque([(time.monotonic(), 0)], maxlen=self.RATE_WINDOW + 1)
        self.stopped = threading.Event()

    def report(self) -> None:
        now, done_here = time.monotonic(), self.frames_done.value
        self.history.append((now, done_here))
        then, done_then = self.history[0]
        rate = (done_here - done_then) / max(now - then, 1e-9)
        remaining = self.total - self.already_done - done_here
        eta = format_eta(remaining / rate if rate > 0 else None)
        print(f"[convert] {self.already_done + done_here}/{self.total} frames, {rate:.1f} frames/s, ETA {eta}",
              file=sys.stderr, flush=True)

    def run(self) -> None:
        while not self.stopped.wait(PROGRESS_EVERY_S):
            self.report()


def run_jobs(jobs: list[Job], workers: int, settings: Settings) -> dict[str, tuple[dict | None, str | None]]:
    """Convert every job, in this process (workers == 1) or in a spawn pool; {video: (stats, error)}."""
    context = multiprocessing.get_context("spawn")
    frames_done = context.Value("q", 0)
    todo = sorted((j for j in jobs if not j.shard.exists()), key=lambda j: -len(j.video.frames))
    finished = sum(len(j.video.frames) for j in jobs if j.shard.exists())
    results = {j.video.name: (read_sidecar(j.shard), None) for j in jobs if j.shard.exists()}
    progress = ProgressReporter(frames_done, finished + sum(len(j.video.frames) for j in todo), finished)
    progress.start()
    try:
        if workers == 1 or len(todo) <= 1:
            _init_worker(settings, frames_done, single_threaded=False)
            for name, stats, error in map(_run_job, todo):
                results[name] = (stats, error)
        else:
            with ProcessPoolExecutor(min(workers, len(todo)), mp_context=context, initializer=_init_worker,
                                     initargs=(settings, frames_done, True, os.getpid())) as pool:
                for future in as_completed([pool.submit(_run_job, job) for job in todo]):
                    try:
                        name, stats, error = future.result()
                    except ConversionFailed:
                        pool.shutdown(cancel_futures=True)  # the other videos would fail the same way
                        raise
                    results[name] = (stats, error)
    except BrokenProcessPool as error:  # a worker was killed (out of memory?): nothing to count, stop
        raise ConversionFailed("a worker process died (killed, out of memory?); finished shards are kept: run "
                               "the same command again to convert the rest") from error
    finally:
        progress.stopped.set()
        progress.report()
    return results


# ---- parts, checks, manifest ------------------------------------------------------------------------

def load_parts(folds: str) -> dict[str, list[str]]:
    """{part: [subjects]} from 'jaanet' or a JSON file; each subject in at most one part."""
    if folds == "jaanet":
        return {part: list(subjects) for part, subjects in JAANET_PARTS.items()}
    path = Path(folds)
    try:
        parts = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ConvertError(f"--folds {folds}: expected 'jaanet' or a JSON file "
                           f"{{\"part name\": [\"F001\", ...], ...}}: {error}") from error
    if not (isinstance(parts, dict) and parts and all(
            isinstance(v, list) and all(isinstance(s, str) for s in v) for v in parts.values())):
        raise ConvertError(f"--folds {folds}: expected a JSON object {{\"part name\": [\"F001\", ...], ...}}")
    for part in parts:
        if not part or part.startswith(".") or "/" in part or "\\" in part:
            raise ConvertError(f"--folds {folds}: part name {part!r} cannot be a folder name")
    owner = {}
    for part, subjects in parts.items():
        for subject in subjects:
            if subject in owner:
                raise ConvertError(f"--folds {folds}: subject {subject} is in both {owner[subject]!r} and "
                                   f"{part!r}; parts must be subject-exclusive")
            owner[subject] = part
    return parts


def check_finished_shards(jobs: list[Job], settings: Settings) -> None:
    """A resumed run must not mix settings, and every finished shard must have its sidecar."""
    for job in jobs:
        if not job.shard.exists():
            continue
        sidecar = sidecar_path(job.shard)
        if not sidecar.is_file():
            raise ConvertError(f"{job.shard} has no {sidecar.name}: it was not written by this converter "
                               "or the sidecar was deleted; delete the shard to convert that video again")
        previous = read_sidecar(job.shard).get("settings")
        if previous != dataclasses.asdict(settings):
            raise ConvertError(f"{job.shard} was converted with other settings ({previous}, now "
                               f"{dataclasses.asdict(settings)}); use another --out_dir or the same flags")


def au_rates(sidecars: list[dict]) -> dict[str, dict]:
    """{AU: {positive, known, rate}} over some videos; rate = positive / known (9s excluded)."""
    positives = np.sum([s["au_positives"] for s in sidecars], axis=0) if sidecars else np.zeros(len(AU_NAMES))
    known = np.sum([s["au_known"] for s in sidecars], axis=0) if sidecars else np.zeros(len(AU_NAMES))
    return {name: {"positive": int(p), "known": int(k), "rate": round(p / k, 4) if k else None}
            for name, p, k in zip(AU_NAMES, positives, known)}


def build_manifest(parts: dict[str, list[str]], settings: Settings, results: dict, video_problems: Problems,
                   unassigned: dict[str, list[str]], command: str) -> dict:
    """manifest.json from every finished shard's sidecar plus this run's video-level findings."""
    sidecars = [stats for stats, _ in results.values() if stats is not None]
    skipped_frames, fallbacks, videos = Problems(), Problems(), Problems()
    videos.merge(video_problems)
    for name, (stats, error) in sorted(results.items()):
        if error is not None:
            videos.add("conversion_error", f"{name}: {error.strip().splitlines()[-1]}")
    for stats in sidecars:
        skipped_frames.merge(stats["skipped"])
        fallbacks.merge(stats["landmark_fallbacks"])
    by_part = {part: [s for s in sidecars if s["part"] == part] for part in parts}
    rates = {"per_part": {part: au_rates(found) for part, found in by_part.items()}}
    if set(JAANET_FOLD_TEST_PART.values()) <= set(parts):
        rates["per_jaanet_fold"] = {}
        for fold in sorted(JAANET_FOLD_TEST_PART):
            train, test = fold_parts(fold, list(parts))
            rates["per_jaanet_fold"][f"fold{fold}"] = {
                "train": au_rates([s for p in train for s in by_part[p]]), "test": au_rates(by_part[test])}
    return {
        "schema_version": settings.schema_version,
        "image_size": settings.image_size,
        "parts": list(parts),
        "part_subjects": parts,
        "subjects_not_in_any_part": unassigned,
        # e.g. a subject folder missing from the copy: the part is then smaller than the protocol's
        "part_subjects_without_data": {part: sorted(set(subjects) - {s["subject"] for s in by_part[part]})
                                       for part, subjects in parts.items()},
        "frames": {
            "labelled_with_image": sum(s["labelled_frames"] for s in sidecars),
            "written": sum(s["written"] for s in sidecars),
            "skipped": skipped_frames.to_dict(),
            "landmarks": settings.landmarks,
            "landmark_mapping_sha256": settings.landmark_mapping_sha256,
            "landmark_fallbacks_to_canonical": fallbacks.to_dict(),
            "full_detections": sum(s["full_detections"] for s in sidecars),
            "onet_refinements": sum(s["onet_refinements"] for s in sidecars),
            "worker_seconds": round(sum(s["seconds"] for s in sidecars), 1),
        },
        "videos": {"converted": len(sidecars), "skipped": videos.to_dict()},
        "unlabelled_images": {"total": sum(s["unlabelled_images"] for s in sidecars),
                              "per_video": {f"{s['subject']}_{s['task']}": s["unlabelled_images"]
                                            for s in sidecars if s["unlabelled_images"]}},
        "au_positive_rate": rates,
        "attention_maps": {"spatial_ratio": settings.spatial_ratio, "fill_coefficient": settings.fill_coefficient,
                           "encoding": record_schema.MAP_ENCODING},
        "alignment": {"method": ALIGNMENT_METHOD, "detect_size": settings.detect_size,
                      "redetect_every": settings.redetect_every},
        "command": command,
        "versions": package_versions(),
    }


def make_jobs(videos: list[Video], parts: dict[str, list[str]], out_dir: Path, landmarks_root: str | None,
              settings: Settings, video_problems: Problems) -> tuple[list[Job], dict[str, list[str]]]:
    """Jobs of the videos whose subject is in a part; {subject: [videos]} of the others (counted)."""
    part_of = {subject: part for part, subjects in parts.items() for subject in subjects}
    jobs, unassigned = [], {}
    for video in videos:
        if video.subject not in part_of:
            unassigned.setdefault(video.subject, []).append(video.name)
            video_problems.add("subject_not_in_any_part", video.name)
        elif video.frames:
            jobs.append(Job(video, part_of[video.subject], str(out_dir), landmarks_root, settings))
        else:
            video_problems.add("no_labelled_frame_with_image", video.name)
    return jobs, unassigned


def lock_out_dir(out_dir: Path):
    """This run's lock on out_dir: a second converter there would write the same partial shards."""
    return lock_directory(out_dir, LOCK_NAME, "--out_dir", "converter",
                          "wait for it to finish, then run this command again to complete the set")


def prepare_out_dir(out_dir: str) -> Path:
    path = check_output_dir("--out_dir", out_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def convert(bp4d_root: str, labels_root: str, out_dir: str, *, landmarks_root: str | None = None,
            workers: int = 1, folds: str = "jaanet", settings: Settings = Settings(),
            command: str = "") -> dict:
    """The whole conversion; returns the manifest (also written to out_dir). Raises ConvertError or
    LayoutError for misconfigurations, DirectoryBusyError when another converter writes to out_dir,
    and ConversionFailed when out_dir is damaged or cannot be written, a worker died, or (after
    writing the manifest) videos failed."""
    if landmarks_root is not None and not Path(landmarks_root).is_dir():
        raise ConvertError(f"--landmarks_root {landmarks_root}: no such directory; expected "
                           f"{landmarks_root}/<Subject>/<Task>/<frame>.txt")
    if workers < 1:
        raise ConvertError(f"--workers must be at least 1, got {workers}")
    settings = settings.resolved(landmarks_root)
    settings.check()
    if settings.landmarks == LANDMARKS_FITTED:
        from lac_gan.landmarks import LandmarkModelMissing, check_installed
        try:
            check_installed()
        except LandmarkModelMissing as error:
            raise ConvertError(f"--landmarks {LANDMARKS_FITTED}: {error}; or choose --landmarks "
                               f"{LANDMARKS_CANONICAL}") from error
        # Refitting the mapping changes the points: a resumed run must not mix two mappings' shards.
        settings = dataclasses.replace(settings,
                                       landmark_mapping_sha256=hashlib.sha256(MAPPING_PATH.read_bytes()).hexdigest())
    parts = load_parts(folds)
    videos, video_problems = discover(Path(bp4d_root), Path(labels_root))
    jobs, unassigned = make_jobs(videos, parts, Path(out_dir), landmarks_root, settings, video_problems)
    if not jobs:
        raise ConvertError(f"no video of a subject in the parts {list(parts)}: found subjects "
                           f"{sorted(unassigned)[:10]}; check --folds")
    with lock_out_dir(prepare_out_dir(out_dir)):
        check_finished_shards(jobs, settings)
        results = run_jobs(jobs, workers, settings)
        manifest = build_manifest(parts, settings, results, video_problems, unassigned, command)
        write_json_atomic(Path(out_dir) / MANIFEST_NAME, manifest)
    failed = [name for name, (_, error) in results.items() if error is not None]
    for name in failed:
        print(f"[convert] {name} failed:\n{results[name][1]}", file=sys.stderr)
    if failed:
        raise ConversionFailed(f"{len(failed)} video(s) failed ({', '.join(sorted(failed)[:5])}...): see the "
                           "tracebacks above; their shards are not written, run the same command again to retry")
    return manifest


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {argv[1:]}")
    for name in ("bp4d_root", "labels_root", "out_dir"):
        if not FLAGS[name].value:
            raise UsageError(f"--{name} is required")
    settings = Settings(image_size=FLAGS.image_size, spatial_ratio=FLAGS.spatial_ratio,
                        fill_coefficient=FLAGS.fill_coefficient, redetect_every=FLAGS.redetect_every,
                        detect_size=FLAGS.detect_size, landmarks=FLAGS.landmarks)
    manifest = convert(FLAGS.bp4d_root, FLAGS.labels_root, FLAGS.out_dir, landmarks_root=FLAGS.landmarks_root,
                       workers=FLAGS.workers, folds=FLAGS.folds, settings=settings,
                       command=shlex.join([sys.executable, "-m", "tfrecords_tools.convert", *sys.argv[1:]]))
    frames = manifest["frames"]
    print(f"[convert] wrote {frames['written']} of {frames['labelled_with_image']} labelled frames; skipped "
          f"{frames['skipped']['counts']}; manifest: {Path(FLAGS.out_dir) / MANIFEST_NAME}", file=sys.stderr)


if __name__ == "__main__":
    run_absl(main, program="convert")
