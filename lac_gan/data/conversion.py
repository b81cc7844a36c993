"""BP4D frames + AU occurrence labels -> aligned faces with AU attention maps, as TFRecord shards: the
converter's shard writing (`convert`: one shard per video, written under a temporary name and renamed
after its stats sidecar, worker processes, the lock, manifest.json from all sidecars), around its
frame pipeline (lac_gan/data/frame_pipeline.py). What a run promises (resuming, counted bad input,
exit statuses) is the command's docstring: tfrecords_tools/convert.py (`lacgan convert`); `lacgan
train --demo` calls `convert` too.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import multiprocessing
import os
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf

from lac_gan.common.errors import UserError, check_output_dir, fault_message
from lac_gan.common.json_files import write_json_atomic
from lac_gan.common.locks import lock_directory
from lac_gan.common.progress import format_eta
from lac_gan.common.provenance import package_versions
from lac_gan.data import record_schema
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.bp4d import JAANET_FOLD_TEST_PART, JAANET_PARTS, UNKNOWN_LABEL, fold_parts
from lac_gan.data.bp4d_layout import Problems, Video, discover, read_landmarks49
from lac_gan.data.dataset import MANIFEST_NAME
from lac_gan.data.frame_pipeline import (ALIGNMENT_METHOD, LANDMARKS_CANONICAL, LANDMARKS_FITTED, ConvertError,
                                         FrameConverter, FrameSkipped, Settings)
from lac_gan.data.landmarks import MAPPING_PATH


SIDECAR_SUFFIX = ".stats.json"
PARTIAL_SUFFIX = ".partial"
LOCK_NAME = ".convert.lock"
PROGRESS_EVERY_S = 3.0
PARENT_CHECK_S = 1.0


class ConversionFailed(UserError):
    """The run could not finish (a worker died, videos failed, out_dir is damaged or cannot be
    written): exit status 1. Finished shards are kept; the message says what to do."""


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
        from lac_gan.data.landmarks import LandmarkModelMissing, check_installed
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
