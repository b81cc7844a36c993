"""The labeller's OpenFace runs (`lacgan label`): the photos or video frames to label, found and cut
into units of work (a chunk of photos for one `FaceLandmarkImg` call, or one video for
`FeatureExtraction -fdir`), OpenFace run over each unit, its CSVs read into per-item results (the 12
AU labels, 49 landmarks, confidence) and each unit's results saved atomically under `.label_work/`, so
that a killed run continues where it stopped. Writing them in BP4D's layout: label_layout.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from lac_gan.common.errors import UsageError, UserError
from lac_gan.common.json_files import valid_unicode, write_json_atomic
from lac_gan.common.progress import Progress
from lac_gan.data.au_table import AU_NUMBERS
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.data.bp4d_layout import IMAGE_SUFFIXES, Problems
from lac_gan.data.landmarks import IBUG68_TO_49
from lac_gan.evaluation.openface import OpenFaceError, find_binary, occurrence_column, read_csv, run_openface_call

MODE_PHOTOS, MODE_FRAMES = "photos", "frames"
PHOTO_TASK = "T1"
# FaceLandmarkImg / FeatureExtraction: AU outputs and 2D landmarks only (no HOG, pose, aligned crops).
OPENFACE_FLAGS = ("-aus", "-2Dfp")
FACE_LANDMARK_IMG = "FaceLandmarkImg"
SETTINGS_NAME = "settings.json"
OPENFACE_COVERS = tuple(n != 24 for n in AU_NUMBERS)  # OpenFace 2.x has no AU24
VERSION_PATTERN = re.compile(rb"OpenFace\s+v?(\d+\.\d+\.\d+)")


class LabelError(UsageError):
    """A flag or input folder that cannot work (exit status 2)."""


@dataclass(frozen=True)
class Settings:
    """What a run's saved units depend on: a resumed run must use the same."""
    mode: str
    images: str
    min_confidence: float
    photos_per_call: int
    subject_prefix: str
    openface_flags: tuple[str, ...]


@dataclass(frozen=True)
class Item:
    """One photo or frame to label: where it comes from and where it goes."""
    subject: str
    task: str
    frame: int
    source: str  # absolute path of the input file

    @property
    def suffix(self) -> str:
        return Path(self.source).suffix.lower()


@dataclass
class Unit:
    """A piece of work saved as one file: a chunk of photos (one FaceLandmarkImg call) or one video."""
    name: str
    items: list[Item]

    def key(self) -> str:
        """Changes when the unit's inputs do, so a saved result is never reused for other files."""
        text = "\n".join(f"{i.subject}/{i.task}/{i.frame}={i.source}" for i in self.items)
        return hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def sorted_entries(path: Path) -> list[os.DirEntry]:
    return sorted((e for e in os.scandir(path) if not e.name.startswith(".")), key=lambda e: e.name)


def display_path(path: str | Path) -> str:
    """A path as text that strict JSON and CSV readers accept (json_files.valid_unicode's rule)."""
    return valid_unicode(str(path))


def display_file(path: str | Path) -> str:
    return display_path(os.path.abspath(path))


def find_photos(images: Path, subject_prefix: str, problems: Problems) -> tuple[list[Item], dict[str, str], list[str]]:
    """(every photo in person and file order, {subject id: person folder name}, subjects without any
    photo file). Files that are not photos are counted as not_an_image."""
    people = [e for e in sorted_entries(images) if e.is_dir()]
    for entry in sorted_entries(images):
        if not entry.is_dir():
            problems.add("not_a_person_folder", display_file(entry.path))
    width = max(4, len(str(len(people))))
    items, names, empty = [], {}, []
    for number, person in enumerate(people, start=1):
        subject = f"{subject_prefix}{number:0{width}d}"
        names[subject] = display_path(person.name)
        photos = []
        for entry in sorted_entries(Path(person.path)):
            if not entry.is_file():
                continue
            if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                photos.append(entry.path)
            else:
                problems.add("not_an_image", display_file(entry.path))
        if not photos:
            empty.append(subject)
        items += [Item(subject, PHOTO_TASK, frame, os.path.abspath(path)) for frame, path in enumerate(photos, 1)]
    return items, names, empty


def find_frames(images: Path, problems: Problems) -> list[Unit]:
    """One unit per video of a BP4D-layout tree; files that are not numbered frames are counted."""
    units = []
    for subject in (e for e in sorted_entries(images) if e.is_dir()):
        if "_" in subject.name or not subject.name.isprintable():
            problems.add("bad_subject_name", display_file(subject.path))  # <Subject>_<Task>.csv must split
            continue
        for task in (e for e in sorted_entries(Path(subject.path)) if e.is_dir()):
            if not task.name.isprintable():
                problems.add("bad_task_name", display_file(task.path))
                continue
            frames = {}
            for entry in sorted_entries(Path(task.path)):
                stem, suffix = os.path.splitext(entry.name)
                if not entry.is_file():
                    continue
                if suffix.lower() not in IMAGE_SUFFIXES:
                    problems.add("not_an_image", display_file(entry.path))
                elif not (stem.isascii() and stem.isdigit()) or int(stem) in frames:
                    problems.add("bad_frame_name", display_file(entry.path))
                else:
                    frames[int(stem)] = os.path.abspath(entry.path)
            if frames:
                items = [Item(subject.name, task.name, n, frames[n]) for n in sorted(frames)]
                units.append(Unit(f"{subject.name}_{task.name}", items))
    return units


EXIF_ORIENTATION = 0x0112
TURNED_SIDEWAYS = (5, 6, 7, 8)  # EXIF orientations that swap width and height


def readable_photo(path: str) -> tuple[tuple[int, int], int] | None:
    """((width, height) upright, EXIF orientation (1: stored upright)) of a photo that decodes
    completely, else None."""
    try:
        with Image.open(path) as image:
            image.load()
            orientation = image.getexif().get(EXIF_ORIENTATION, 1)
            width, height = image.size
            return ((height, width) if orientation in TURNED_SIDEWAYS else (width, height)), orientation
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None


def landmarks_49(table, row: int) -> np.ndarray:
    """float [98] x1 y1 ... x49 y49 in 1-based pixels (JAA-Net's files) from a row's 0-based x_i, y_i."""
    xs = table[[f"x_{i}" for i in IBUG68_TO_49]].to_numpy(np.float64)[row]
    ys = table[[f"y_{i}" for i in IBUG68_TO_49]].to_numpy(np.float64)[row]
    return np.stack([xs, ys], axis=1).reshape(-1) + 1.0


def occurrence_labels(table, row: int) -> list[int]:
    """The paper's 12 AUs from a row's AUxx_c: 0/1, and 9 where OpenFace has no output (AU24)."""
    labels = []
    for number, covered in zip(AU_NUMBERS, OPENFACE_COVERS):
        value = table[occurrence_column(number)].iloc[row] if covered else np.nan
        labels.append(int(value >= 0.5) if np.isfinite(value) else UNKNOWN_LABEL)
    return labels


def _has_landmarks(table) -> bool:
    return all(f"x_{i}" in table.columns and f"y_{i}" in table.columns for i in IBUG68_TO_49)


def _check_output(table, path: Path) -> None:
    needed = [occurrence_column(n) for n, c in zip(AU_NUMBERS, OPENFACE_COVERS) if c] + ["confidence"]
    missing = [c for c in needed if c not in table.columns]
    if missing or not _has_landmarks(table):
        raise OpenFaceError(f"{path}: not OpenFace output with -aus -2Dfp (missing {missing[:3] or 'x_i/y_i'})")


def _labelled(item: Item, table, row: int) -> dict:
    return {**asdict(item), "confidence": float(table["confidence"].iloc[row]),
            "labels": occurrence_labels(table, row), "landmarks": landmarks_49(table, row).round(2).tolist()}


def _skipped(item: Item, reason: str) -> dict:
    return {**asdict(item), "reason": reason}


class Labeller:
    """Runs OpenFace over units and turns its CSVs into per-item results."""

    def __init__(self, settings: Settings, feature_extraction: str, face_landmark_img: str, timeout_s: float,
                 work_dir: Path):
        self.settings = settings
        self.binary = face_landmark_img if settings.mode == MODE_PHOTOS else feature_extraction
        self.timeout_s, self.work_dir = timeout_s, work_dir

    def command(self, inputs: list[str], out_dir: Path) -> list[str]:
        return [self.binary, *inputs, "-out_dir", str(out_dir), *self.settings.openface_flags]

    def _call(self, inputs: list[str], out_dir: Path, log: Path) -> None:
        command = self.command(inputs, out_dir)
        run_openface_call(command, shlex.join(command[:3]) + " ...", self.timeout_s, log, lambda: None)

    def label(self, unit: Unit) -> list[dict] | None:
        """Per item: a labelled result or a skip with its reason; None when OpenFace failed on a video
        (not saved, so the next run tries it again)."""
        scratch = self.work_dir / "scratch" / unit.name
        shutil.rmtree(scratch, ignore_errors=True)
        inputs, outputs = scratch / "in", scratch / "out"
        inputs.mkdir(parents=True)
        results, links, sizes = {}, {}, {}
        for position, item in enumerate(unit.items):
            readable = readable_photo(item.source)
            if readable is None:
                results[position] = _skipped(item, "unreadable_image")
                continue
            # Links with plain names: OpenFace names its CSVs after the input, and a video's frames
            # must sort in frame order. OpenFace reads pixels as stored, ignoring the EXIF
            # orientation that every viewer (and read_rgb, which convert and edit use) applies: a
            # photo stored on its side is given to it upright, as a lossless copy.
            sizes[position], orientation = readable
            if orientation == 1:
                links[position] = inputs / f"{position:06d}{item.suffix}"
                links[position].symlink_to(item.source)
            else:
                links[position] = inputs / f"{position:06d}.png"
                with Image.open(item.source) as stored:
                    ImageOps.exif_transpose(stored).convert("RGB").save(links[position])
        try:
            if links and self.settings.mode == MODE_PHOTOS:
                results.update(self._label_photos(unit, links, sizes, inputs, outputs, scratch / "openface.log"))
            elif links:
                video = self._label_video(unit, list(links), inputs, outputs, scratch / "openface.log")
                if video is None:
                    return None
                results.update(video)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return [results[p] for p in range(len(unit.items))]

    def _label_photos(self, unit, links, sizes, inputs, outputs, log) -> dict[int, dict]:
        """`links`: {position in the unit: link to a readable photo in `inputs`}."""
        try:
            self._call(["-fdir", str(inputs)], outputs, log)
            failed_call = []
        except OpenFaceError:
            # A photo OpenFace cannot take ends the whole call: the photos it did not reach are run
            # one by one, so that only the culprit is lost.
            failed_call = [p for p in links if not (outputs / f"{p:06d}.csv").is_file()]
        errors = {}
        for position in failed_call:
            try:
                self._call(["-f", str(links[position])], outputs, log)
            except OpenFaceError as error:
                errors[position] = str(error)
        results = {}
        for position in links:
            item = unit.items[position]
            path = outputs / f"{position:06d}.csv"
            if position in errors:
                results[position] = _skipped(item, "openface_error")
            elif not path.is_file():
                results[position] = _skipped(item, "no_face")
            else:
                table = read_csv(path)
                if len(table) == 0:
                    results[position] = _skipped(item, "no_face")
                    continue
                _check_output(table, path)
                row = self._centred_face(table, sizes[position])
                if table["confidence"].iloc[row] < self.settings.min_confidence:
                    results[position] = _skipped(item, "low_confidence")
                else:
                    results[position] = _labelled(item, table, row)
        return results

    @staticmethod
    def _centred_face(table, size: tuple[int, int]) -> int:
        """The row of the face whose landmarks' mean is nearest the photo's centre."""
        xs = table[[f"x_{i}" for i in range(68)]].to_numpy(np.float64).mean(axis=1)
        ys = table[[f"y_{i}" for i in range(68)]].to_numpy(np.float64).mean(axis=1)
        return int(np.argmin(np.hypot(xs - size[0] / 2, ys - size[1] / 2)))

    def _label_video(self, unit, readable, inputs, outputs, log) -> dict[int, dict] | None:
        try:
            self._call(["-fdir", str(inputs)], outputs, log)
            path = outputs / f"{inputs.name}.csv"
            if not path.is_file():
                raise OpenFaceError(f"wrote no {path.name}")
            table = read_csv(path)
            _check_output(table, path)
        except (OpenFaceError, UserError) as error:
            print(f"[label] {unit.name}: OpenFace failed, will be retried by the next run: {error}",
                  file=sys.stderr)
            return None
        rows = {int(frame): row for row, frame in enumerate(table["frame"])}
        results = {}
        for number, position in enumerate(readable, start=1):  # -fdir numbers the sorted links from 1
            item, row = unit.items[position], rows.get(number)
            if row is None or ("success" in table.columns and table["success"].iloc[row] == 0):
                results[position] = _skipped(item, "no_face")
            elif table["confidence"].iloc[row] < self.settings.min_confidence:
                results[position] = _skipped(item, "low_confidence")
            else:
                results[position] = _labelled(item, table, row)
        return results


def openface_binaries(openface_bin: str | None) -> tuple[str, str]:
    """(FeatureExtraction, FaceLandmarkImg beside it); a one-line error naming both when either is
    missing or not executable."""
    try:
        feature_extraction = find_binary(openface_bin)
    except UserError as error:
        raise LabelError(f"{error}; `lacgan label` needs OpenFace's FeatureExtraction and, beside it, "
                         f"{FACE_LANDMARK_IMG}") from error
    face_landmark_img = str(Path(feature_extraction).with_name(FACE_LANDMARK_IMG))
    if not (Path(face_landmark_img).is_file() and os.access(face_landmark_img, os.X_OK)):
        raise LabelError(f"--openface_bin {feature_extraction}: no executable {face_landmark_img} beside it; "
                         f"`lacgan label` needs both FeatureExtraction and {FACE_LANDMARK_IMG} of one OpenFace build")
    return feature_extraction, face_landmark_img


def describe_binary(path: str) -> dict:
    """The path, sha256 and, when the file names one (a wrapper script does), OpenFace's version."""
    content = Path(path).read_bytes()
    found = VERSION_PATTERN.search(content)
    return {"path": path, "sha256": hashlib.sha256(content).hexdigest(),
            "version": found.group(1).decode() if found else None}


def check_settings(work_dir: Path, settings: Settings) -> None:
    """A resumed run must label as the first did; saved units of other settings are refused."""
    path = work_dir / SETTINGS_NAME
    current = json.loads(json.dumps(asdict(settings)))
    if path.is_file():
        saved = json.loads(path.read_text())
        changed = [k for k in current if saved.get(k) != current[k]]
        if changed:
            raise LabelError(f"--out_dir {work_dir.parent}: was labelled with other settings ({', '.join(changed)}: "
                             f"{[saved.get(k) for k in changed]}); use those, or a new --out_dir")
    else:
        work_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(path, current)


def run_units(units: list[Unit], labeller: Labeller, work_dir: Path, workers: int) -> tuple[list[dict], list[str]]:
    """Every unit's results (saved ones read back, the rest labelled and saved), and the units that
    failed (not saved)."""
    results_dir = work_dir / "units"
    results_dir.mkdir(parents=True, exist_ok=True)
    done, todo = {}, []
    for unit in units:
        path = results_dir / f"{unit.name}.{unit.key()}.json"
        if path.is_file():
            done[unit.name] = json.loads(path.read_text())
        else:
            todo.append((unit, path))
    total = sum(len(u.items) for u in units)
    progress = Progress("label", total, already_done=sum(len(v) for v in done.values()))
    failed, lock = [], threading.Lock()

    def work(unit: Unit, path: Path) -> None:
        results = labeller.label(unit)
        with lock:
            if results is None:
                failed.append(unit.name)
            else:
                write_json_atomic(path, results)
                done[unit.name] = results
            progress.update(len(unit.items))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in as_completed([pool.submit(work, unit, path) for unit, path in todo]):
            future.result()
    return [r for unit in units for r in done.get(unit.name, [])], failed
