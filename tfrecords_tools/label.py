"""AU occurrence labels and 49 landmarks for any photo collection or video frames, by OpenFace 2.x,
written in BP4D's layout so that `lacgan convert` reads them (`lacgan label`).

    python -m tfrecords_tools.label --mode photos --images PEOPLE_DIR --out_dir OUT \\
        --openface_bin /path/to/OpenFace/FeatureExtraction
    python -m tfrecords_tools.convert --bp4d_root OUT/images --labels_root OUT/AU_OCC \\
        --landmarks_root OUT/landmarks_49 --folds OUT/folds.json --out_dir RECORDS

`--mode photos`: one folder per person, photos (jpg, jpeg, png, any case) inside; each person is one
subject (generated ids S0001..., `sources.csv` maps them back) with one task T1, frames numbered
1..n in sorted file order. Each photo is labelled by OpenFace's `FaceLandmarkImg -aus -2Dfp`
(static AU models: a photo gives OpenFace no video to calibrate on); of several faces, the named
person is the one nearest the photo's centre. `--mode frames`: a BP4D-layout tree
`<Subject>/<Task>/<frame>.jpg`; each task is one video for `FeatureExtraction -fdir` (sequence mode:
OpenFace tracks and calibrates per person). `--combine A,B` joins labelled folders into one.

Output: `images/<Subject>/<Task>/<n>.<ext>` (links to the inputs), `AU_OCC/<Subject>_<Task>.csv` (the
paper's 12 AUs from OpenFace's `AUxx_c`; AU24, which OpenFace lacks, coded 9),
`landmarks_49/<Subject>/<Task>/<n>.txt` (OpenFace's 68 points in the 49-point scheme, 1-based pixels),
`sources.csv`, `folds.json` (three subject-exclusive parts) and `label_manifest.json` (command,
OpenFace binaries and flags, counts by reason with the first files of each, AU positive rates).

Bad input never stops the run; it is counted by reason. Work is done in units (a chunk of photos or
one video), each unit's result saved atomically under `.label_work/`: a killed run continues where
it stopped, and the outputs are rebuilt from the saved units at the end, each file renamed into place.
"""
from __future__ import annotations

import collections
import csv
import hashlib
import io
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
from PIL import Image

from lac_gan.au_table import AU_NUMBERS, NUM_AUS
from lac_gan.bp4d import UNKNOWN_LABEL
from lac_gan.cli import run_absl
from lac_gan.errors import UsageError, UserError, check_output_dir
from lac_gan.evaluation.openface import (DEFAULT_MIN_CONFIDENCE, OpenFaceError, find_binary, occurrence_column,
                                         read_csv, run_openface_call)
from lac_gan.json_files import valid_unicode, write_json_atomic, write_text_atomic
from lac_gan.landmarks import IBUG68_TO_49
from lac_gan.locks import lock_directory
from lac_gan.progress import Progress
from tfrecords_tools.bp4d_layout import IMAGE_SUFFIXES, Problems

MODE_PHOTOS, MODE_FRAMES = "photos", "frames"
PHOTO_TASK = "T1"
PARTS = ("part1", "part2", "part3")
# FaceLandmarkImg / FeatureExtraction: AU outputs and 2D landmarks only (no HOG, pose, aligned crops).
OPENFACE_FLAGS = ("-aus", "-2Dfp")
FACE_LANDMARK_IMG = "FaceLandmarkImg"
WORK_DIR = ".label_work"
LOCK_NAME = ".label.lock"
SETTINGS_NAME = "settings.json"
MANIFEST_NAME = "label_manifest.json"
SOURCES_NAME = "sources.csv"
FOLDS_NAME = "folds.json"
AU_OCC_HEADER = ("0", *(str(n) for n in AU_NUMBERS))
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


def _sorted_entries(path: Path) -> list[os.DirEntry]:
    return sorted((e for e in os.scandir(path) if not e.name.startswith(".")), key=lambda e: e.name)


def _display(path: str | Path) -> str:
    """A path as text that strict JSON and CSV readers accept (json_files.valid_unicode's rule)."""
    return valid_unicode(str(path))


def _display_file(path: str | Path) -> str:
    return _display(os.path.abspath(path))


def find_photos(images: Path, subject_prefix: str, problems: Problems) -> tuple[list[Item], dict[str, str], list[str]]:
    """(every photo in person and file order, {subject id: person folder name}, subjects without any
    photo file). Files that are not photos are counted as not_an_image."""
    people = [e for e in _sorted_entries(images) if e.is_dir()]
    for entry in _sorted_entries(images):
        if not entry.is_dir():
            problems.add("not_a_person_folder", _display_file(entry.path))
    width = max(4, len(str(len(people))))
    items, names, empty = [], {}, []
    for number, person in enumerate(people, start=1):
        subject = f"{subject_prefix}{number:0{width}d}"
        names[subject] = _display(person.name)
        photos = []
        for entry in _sorted_entries(Path(person.path)):
            if not entry.is_file():
                continue
            if os.path.splitext(entry.name)[1].lower() in IMAGE_SUFFIXES:
                photos.append(entry.path)
            else:
                problems.add("not_an_image", _display_file(entry.path))
        if not photos:
            empty.append(subject)
        items += [Item(subject, PHOTO_TASK, frame, os.path.abspath(path)) for frame, path in enumerate(photos, 1)]
    return items, names, empty


def find_frames(images: Path, problems: Problems) -> list[Unit]:
    """One unit per video of a BP4D-layout tree; files that are not numbered frames are counted."""
    units = []
    for subject in (e for e in _sorted_entries(images) if e.is_dir()):
        if "_" in subject.name or not subject.name.isprintable():
            problems.add("bad_subject_name", _display_file(subject.path))  # <Subject>_<Task>.csv must split
            continue
        for task in (e for e in _sorted_entries(Path(subject.path)) if e.is_dir()):
            if not task.name.isprintable():
                problems.add("bad_task_name", _display_file(task.path))
                continue
            frames = {}
            for entry in _sorted_entries(Path(task.path)):
                stem, suffix = os.path.splitext(entry.name)
                if not entry.is_file():
                    continue
                if suffix.lower() not in IMAGE_SUFFIXES:
                    problems.add("not_an_image", _display_file(entry.path))
                elif not (stem.isascii() and stem.isdigit()) or int(stem) in frames:
                    problems.add("bad_frame_name", _display_file(entry.path))
                else:
                    frames[int(stem)] = os.path.abspath(entry.path)
            if frames:
                items = [Item(subject.name, task.name, n, frames[n]) for n in sorted(frames)]
                units.append(Unit(f"{subject.name}_{task.name}", items))
    return units


def readable_size(path: str) -> tuple[int, int] | None:
    """(width, height) of a photo that decodes completely, else None."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.size
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
            size = readable_size(item.source)
            if size is None:
                results[position] = _skipped(item, "unreadable_image")
                continue
            # Links with plain names: OpenFace names its CSVs after the input, and a video's frames
            # must sort in frame order.
            links[position] = inputs / f"{position:06d}{item.suffix}"
            links[position].symlink_to(item.source)
            sizes[position] = size
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


def load_folds(path: str) -> dict[str, list[str]]:
    try:
        parts = json.loads(Path(path).read_text())
    except (OSError, ValueError) as error:
        raise LabelError(f"--folds {path}: expected a JSON file {{\"part\": [\"subject\", ...]}}: {error}") from error
    if not (isinstance(parts, dict) and all(isinstance(v, list) for v in parts.values())):
        raise LabelError(f"--folds {path}: expected a JSON object {{\"part\": [\"subject\", ...], ...}}")
    return parts


def spread_over_parts(frames_per_subject: dict[str, int]) -> dict[str, list[str]]:
    """Every subject in exactly one of three parts, even in frames and in people: the subjects with
    most frames first, each into the part with fewest frames so far (then fewest people). Round
    robin by name would not do: LFW has one person with 530 photos and thousands with one."""
    parts = {part: [] for part in PARTS}
    frames = {part: 0 for part in PARTS}
    for subject in sorted(frames_per_subject, key=lambda s: (-frames_per_subject[s], s)):
        part = min(PARTS, key=lambda p: (frames[p], len(parts[p]), p))
        parts[part].append(subject)
        frames[part] += frames_per_subject[subject]
    return {part: sorted(members) for part, members in parts.items()}


def assign_parts(frames_per_subject: dict[str, int], given: dict[str, list[str]] | None,
                 problems: Problems) -> dict[str, list[str]]:
    """The given parts (subjects not in them counted), else the subjects spread evenly."""
    if given is None:
        return spread_over_parts(frames_per_subject)
    parts = {part: [s for s in members if s in frames_per_subject] for part, members in given.items()}
    listed = {s for members in given.values() for s in members}
    for subject in sorted(frames_per_subject):
        if subject not in listed:
            problems.add("subject_not_in_folds", subject)
    return parts


def write_layout(out_dir: Path, results: list[dict], images_root: Path | None) -> None:
    """images/, AU_OCC/, landmarks_49/ and sources.csv from the labelled results, each file renamed
    into place; folders of an earlier run are replaced whole, so nothing stale is left."""
    labelled = [r for r in results if "labels" in r]
    staging = out_dir / WORK_DIR / "layout"
    shutil.rmtree(staging, ignore_errors=True)
    videos: dict[tuple[str, str], list[dict]] = {}
    for result in labelled:
        videos.setdefault((result["subject"], result["task"]), []).append(result)
    for (subject, task), frames in videos.items():
        image_dir = staging / "images" / subject / task
        landmark_dir = staging / "landmarks_49" / subject / task
        image_dir.mkdir(parents=True)
        landmark_dir.mkdir(parents=True)
        (staging / "AU_OCC").mkdir(exist_ok=True)
        lines = [",".join(AU_OCC_HEADER)]
        for result in sorted(frames, key=lambda r: r["frame"]):
            frame = result["frame"]
            (image_dir / f"{frame}{Path(result['source']).suffix.lower()}").symlink_to(result["source"])
            (landmark_dir / f"{frame}.txt").write_text(" ".join(f"{v:.2f}" for v in result["landmarks"]) + "\n")
            lines.append(",".join(str(v) for v in (frame, *result["labels"])))
        (staging / "AU_OCC" / f"{subject}_{task}.csv").write_text("\n".join(lines) + "\n")
    sources = io.StringIO()
    writer = csv.writer(sources, lineterminator="\n")
    writer.writerow(["subject", "task", "frame", "source", "confidence"])
    for result in labelled:
        source = Path(result["source"])
        shown = source.relative_to(images_root) if images_root and source.is_relative_to(images_root) else source
        writer.writerow([result["subject"], result["task"], result["frame"], _display(shown),
                         f"{result['confidence']:.3f}"])
    for name in ("images", "AU_OCC", "landmarks_49"):
        (staging / name).mkdir(exist_ok=True)
        replace_dir(staging / name, out_dir / name)
    write_text_atomic(out_dir / SOURCES_NAME, sources.getvalue())


def replace_dir(new: Path, old: Path) -> None:
    """Puts folder `new` where `old` is, the old one moved aside first and deleted after."""
    aside = old.with_name(f".{old.name}.old")
    shutil.rmtree(aside, ignore_errors=True)
    if old.exists():
        os.replace(old, aside)
    os.replace(new, old)
    shutil.rmtree(aside, ignore_errors=True)


def positive_rates(results: list[dict], parts: dict[str, list[str]]) -> dict[str, dict]:
    """Per part and over all: labelled frames and each AU's share of positives among known labels."""
    part_of = {s: part for part, members in parts.items() for s in members}
    groups: dict[str, list[list[int]]] = {"all": []}
    for result in results:
        if "labels" in result:
            groups["all"].append(result["labels"])
            groups.setdefault(part_of.get(result["subject"], "no_part"), []).append(result["labels"])
    rates = {}
    for group, labels in groups.items():
        table = np.asarray(labels, dtype=np.int64).reshape(-1, NUM_AUS)
        known = table != UNKNOWN_LABEL
        rates[group] = {"frames": len(table), "positive_rate": {
            f"AU{n}": (round(float((table[:, j] == 1).sum() / known[:, j].sum()), 4) if known[:, j].any() else None)
            for j, n in enumerate(AU_NUMBERS)}}
    return rates


def lock_out_dir(out: Path):
    """One labeller at a time per --out_dir (two would write the same units and layout)."""
    return lock_directory(out, LOCK_NAME, "--out_dir", "labeller", "wait for it to finish, then run this command again")


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
    progress = Progress("label", total)
    progress.advance_to(sum(len(v) for v in done.values()))
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


def label(images: str, out_dir: str, openface_bin: str | None, *, mode: str = MODE_PHOTOS,
          min_confidence: float = DEFAULT_MIN_CONFIDENCE, workers: int = 1, photos_per_call: int = 100,
          folds: str | None = None, subject_prefix: str = "S", openface_args: str = "",
          openface_timeout: float = 1800.0, command: str = "") -> dict:
    """The whole labelling; returns the manifest (also written to out_dir)."""
    images_root = Path(images)
    if not images_root.is_dir():
        expected = "<person>/<photo>.jpg" if mode == MODE_PHOTOS else "<Subject>/<Task>/<frame>.jpg"
        raise LabelError(f"--images {images}: no such folder; expected {images}/{expected}")
    if not 0.0 <= min_confidence <= 1.0:
        raise LabelError(f"--min_confidence must be in [0, 1], got {min_confidence}")
    for flag, value in (("--workers", workers), ("--photos_per_call", photos_per_call)):
        if value < 1:
            raise LabelError(f"{flag} must be at least 1, got {value}")
    if not (openface_timeout > 0 and np.isfinite(openface_timeout)):
        raise LabelError(f"--openface_timeout must be a positive number of seconds, got {openface_timeout}")
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", subject_prefix):
        raise LabelError(f"--subject_prefix {subject_prefix!r}: expected letters and digits, starting with a letter")
    given_folds = load_folds(folds) if folds else None
    feature_extraction, face_landmark_img = openface_binaries(openface_bin)
    out = check_output_dir("--out_dir", out_dir)
    try:
        openface_flags = (*OPENFACE_FLAGS, *shlex.split(openface_args))
    except ValueError as error:
        raise LabelError(f"--openface_args {openface_args!r}: {error}") from error
    settings = Settings(mode, str(images_root.resolve()), min_confidence, photos_per_call, subject_prefix,
                        openface_flags)
    problems = Problems()
    if mode == MODE_PHOTOS:
        items, names, empty = find_photos(images_root, subject_prefix, problems)
        units = [Unit(f"photos{start // photos_per_call:06d}", items[start:start + photos_per_call])
                 for start in range(0, len(items), photos_per_call)]
        subjects = list(names)
    else:
        units, names, empty = find_frames(images_root, problems), {}, []
        subjects = sorted({u.items[0].subject for u in units})
    if not units:
        raise LabelError(f"--images {images}: no photo (.jpg, .jpeg, .png) found in the --mode {mode} layout")
    out.mkdir(parents=True, exist_ok=True)
    with lock_out_dir(out):
        work_dir = out / WORK_DIR
        check_settings(work_dir, settings)
        labeller = Labeller(settings, feature_extraction, face_landmark_img, openface_timeout, work_dir)
        results, failed = run_units(units, labeller, work_dir, workers)
        for result in results:
            if "reason" in result:
                problems.add(result["reason"], _display(result["source"]))
        for unit in units:
            if unit.name in failed:
                problems.add("openface_error", f"{unit.name} ({len(unit.items)} frames, retried by the next run)",
                             len(unit.items))
        frames_per_subject = collections.Counter(r["subject"] for r in results if "labels" in r)
        with_results = {r["subject"] for r in results}  # a failed video's subject is not known to be empty
        for subject in subjects:
            if subject not in frames_per_subject and subject in with_results:
                problems.add("subject_without_usable_photo", f"{subject} ({names.get(subject, subject)})")
        for subject in empty:
            problems.add("subject_without_usable_photo", f"{subject} ({names[subject]}: no photo file)")
        parts = assign_parts(frames_per_subject, given_folds, problems)
        write_layout(out, results, images_root.resolve())
        write_json_atomic(out / FOLDS_NAME, parts)
        manifest = {
            "command": command, "mode": mode, "images": _display(images_root.resolve()),
            "openface": {"binary": describe_binary(labeller.binary), "flags": list(openface_flags),
                         "min_confidence": min_confidence},
            "counts": {"inputs": sum(len(u.items) for u in units), "labelled": sum("labels" in r for r in results),
                       "subjects": len(subjects) + len(empty), "subjects_labelled": len(frames_per_subject),
                       "skipped": problems.to_dict()},
            "subject_names": names if mode == MODE_PHOTOS else None,
            "parts": {part: len(members) for part, members in parts.items()},
            "au_positive_rates": positive_rates(results, parts),
        }
        write_json_atomic(out / MANIFEST_NAME, manifest)
    return manifest


def combine(inputs: list[str], out_dir: str, command: str = "") -> dict:
    """Joins labelled folders into one BP4D layout (links), with their folds, sources and rates."""
    out = check_output_dir("--out_dir", out_dir)
    manifests, owners = [], {}
    for folder in inputs:
        path = Path(folder) / MANIFEST_NAME
        try:
            manifests.append(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            raise LabelError(f"--combine {folder}: not a finished `lacgan label` output ({path}: {error})") from error
        for subject_dir in (e for e in _sorted_entries(Path(folder) / "images") if e.is_dir()):
            if subject_dir.name in owners:
                raise LabelError(f"--combine: subject {subject_dir.name} is in both {owners[subject_dir.name]} and "
                                 f"{folder}; label one of them with another --subject_prefix")
            owners[subject_dir.name] = folder
    out.mkdir(parents=True, exist_ok=True)
    with lock_out_dir(out):
        staging = out / WORK_DIR / "layout"
        shutil.rmtree(staging, ignore_errors=True)
        for name in ("images", "landmarks_49"):
            (staging / name).mkdir(parents=True)
            for subject, folder in owners.items():
                source = Path(folder).resolve() / name / subject
                if source.is_dir():
                    (staging / name / subject).symlink_to(source)
        (staging / "AU_OCC").mkdir()
        for folder in inputs:
            for csv_path in sorted((Path(folder) / "AU_OCC").glob("*.csv")):
                (staging / "AU_OCC" / csv_path.name).symlink_to(csv_path.resolve())
        for name in ("images", "AU_OCC", "landmarks_49"):
            replace_dir(staging / name, out / name)
        parts: dict[str, list[str]] = {}
        for folder in inputs:
            for part, members in json.loads((Path(folder) / FOLDS_NAME).read_text()).items():
                parts.setdefault(part, []).extend(members)
        write_json_atomic(out / FOLDS_NAME, parts)
        lines = ["set," + (Path(inputs[0]) / SOURCES_NAME).read_text().splitlines()[0]]
        for folder in inputs:
            lines += [f"{_display(Path(folder).resolve())},{line}"
                      for line in (Path(folder) / SOURCES_NAME).read_text().splitlines()[1:]]
        write_text_atomic(out / SOURCES_NAME, "\n".join(lines) + "\n")
        manifest = {"command": command, "combined": [_display(Path(f).resolve()) for f in inputs],
                    "counts": {"labelled": sum(m["counts"]["labelled"] for m in manifests),
                               "subjects_labelled": sum(m["counts"]["subjects_labelled"] for m in manifests)},
                    "parts": {part: len(members) for part, members in parts.items()}}
        write_json_atomic(out / MANIFEST_NAME, manifest)
    return manifest


if __name__ == "__main__":
    from lac_gan.commands import label as command
    run_absl(command.main, program="label")
