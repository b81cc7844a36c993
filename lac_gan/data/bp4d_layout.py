"""Finding a BP4D tree's frames and AU labels, and reading its files (`../shared/spec/bp4d.md`).

Frames: `<bp4d_root>/<Subject>/<Task>/<frame>.jpg` (or .png), the frame number unpadded.
Labels: `<labels_root>/<Subject>_<Task>.csv`, header of AU numbers, first column `0` = frame number,
cells 1 / 0 / 9 (not coded). Optional landmarks: `<landmarks_root>/<Subject>/<Task>/<frame>.txt`,
98 numbers x1 y1 ... x49 y49, 1-based pixels of the original frame (JAA-Net's per-line format).

Real copies differ from the common form (line endings, whitespace, extra columns, missing or extra
rows); everything dropped here is counted in a `Problems` by reason, never silently.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lac_gan.common.errors import DataError, UsageError
from lac_gan.data.au_table import AU_NUMBERS
from lac_gan.data.bp4d import UNKNOWN_LABEL

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
FRAME_COLUMN = "0"
VALID_LABELS = (0, 1, UNKNOWN_LABEL)
EXAMPLES_PER_REASON = 5


class LayoutError(UsageError):
    """A fatal misconfiguration: the message says what was expected where."""


@dataclass
class Problems:
    """Counts by reason, with the first few offending files (or file:line) of each."""
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, example: str, count: int = 1) -> None:
        self.counts[reason] = self.counts.get(reason, 0) + count
        kept = self.examples.setdefault(reason, [])
        if len(kept) < EXAMPLES_PER_REASON:
            kept.append(example)

    def merge(self, other: "Problems | dict") -> None:
        other = other if isinstance(other, Problems) else Problems(**other)
        for reason, count in other.counts.items():
            self.counts[reason] = self.counts.get(reason, 0) + count
            kept = self.examples.setdefault(reason, [])
            kept.extend(other.examples.get(reason, [])[:EXAMPLES_PER_REASON - len(kept)])

    def to_dict(self) -> dict:
        return {"counts": dict(sorted(self.counts.items())), "examples": dict(sorted(self.examples.items()))}


@dataclass
class Video:
    """One subject and task: its labelled frames that have an image, and what was dropped on the way."""
    subject: str
    task: str
    frames: list[tuple[int, str, tuple[int, ...]]]  # (frame number, image path, 12 labels), by frame
    problems: Problems  # frame-level: CSV rows dropped, labelled frames without image
    unlabelled_images: int  # images the CSV does not list (normal in BP4D: only part is coded)

    @property
    def name(self) -> str:
        return f"{self.subject}_{self.task}"


def _frame_number(stem: str) -> int | None:
    """`12` -> 12; anything else (`12a`, and `²` or `١٢`, which str.isdigit() accepts too) -> None."""
    return int(stem) if stem.isascii() and stem.isdigit() else None


def _is_utf8(name: str) -> bool:
    """False for a name whose bytes are not UTF-8 (Python holds them as lone surrogates, which
    neither a record's strings nor strict JSON can carry)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _visible_dirs(path: Path) -> list[os.DirEntry]:
    return sorted((e for e in os.scandir(path) if e.is_dir() and not e.name.startswith(".")), key=lambda e: e.name)


def find_frame_images(bp4d_root: Path) -> dict[tuple[str, str], dict[int, str]]:
    """{(subject, task): {frame: image path}} for every folder holding at least one frame image."""
    videos = {}
    for subject in _visible_dirs(bp4d_root):
        for task in _visible_dirs(Path(subject.path)):
            frames = {}
            for entry in os.scandir(task.path):
                stem, suffix = os.path.splitext(entry.name)
                number = _frame_number(stem)
                # .jpg wins over a .png of the same frame number (BP4D ships JPEG).
                if number is not None and suffix.lower() in IMAGE_SUFFIXES and (
                        number not in frames or suffix.lower() != ".png"):
                    frames[number] = entry.path
            if frames:
                videos[(subject.name, task.name)] = frames
    return videos


def find_label_files(labels_root: Path) -> dict[tuple[str, str], Path]:
    """{(subject, task): CSV path} from `<Subject>_<Task>.csv` names."""
    found = {}
    for path in sorted(labels_root.iterdir()):
        subject, sep, task = path.stem.partition("_")
        if path.suffix.lower() == ".csv" and sep and subject and task and path.is_file():
            found[(subject, task)] = path
    return found


def _column_name(cell: str) -> str:
    """'  12 ' -> '12', '12.0' -> '12'; other text stays as it is (stripped)."""
    text = cell.strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


def _integer(cell: str) -> int:
    number = float(cell.strip())
    if not number.is_integer():
        raise ValueError(f"{cell.strip()!r} is not a whole number")
    return int(number)


class CsvError(ValueError):
    """A label file that cannot be used at all (the whole video is skipped): reason + detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


def read_au_csv(path: Path) -> tuple[dict[int, tuple[int, ...]], Problems]:
    """{frame: 12 labels in AU_NUMBERS order} of one AU occurrence CSV, and the rows dropped.

    Raises CsvError('unreadable_csv' | 'csv_missing_au_columns') when the file is unusable.
    """
    problems = Problems()
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            rows = [(n, row) for n, row in enumerate(csv.reader(f), start=1) if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise CsvError("unreadable_csv", f"{path}: {error}") from error
    if not rows:
        raise CsvError("unreadable_csv", f"{path}: empty file")
    header = [_column_name(c) for c in rows[0][1]]
    missing = [str(au) for au in AU_NUMBERS if str(au) not in header]
    if missing:
        raise CsvError("csv_missing_au_columns", f"{path}: no column for AU {', '.join(missing)}")
    frame_column = header.index(FRAME_COLUMN) if FRAME_COLUMN in header else 0
    au_columns = [header.index(str(au)) for au in AU_NUMBERS]
    labels = {}
    for line, row in rows[1:]:
        try:
            frame = _integer(row[frame_column])
            values = tuple(_integer(row[c]) for c in au_columns)
            if any(v not in VALID_LABELS for v in values):
                raise ValueError(f"labels must be 0, 1 or 9, got {values}")
        except (ValueError, IndexError) as error:
            problems.add("bad_csv_row", f"{path}:{line}: {error or 'missing cells'}")
            continue
        if frame in labels:
            problems.add("duplicate_csv_row", f"{path}:{line}: frame {frame} again (first kept)")
            continue
        labels[frame] = values
    return labels, problems


def read_landmarks49(path: str | Path) -> np.ndarray:
    """49 points [49, (x, y)], 0-based pixels, from a JAA-Net-style file of 98 1-based numbers; a
    DataError naming the file and what is wrong with it."""
    try:
        values = np.array(Path(path).read_text().split(), dtype=np.float64)
    except (OSError, ValueError) as error:  # ValueError: text that is not a number, or not UTF-8
        raise DataError(f"{path}: not a landmark file of 98 numbers ({error})") from error
    if values.shape != (98,):
        raise DataError(f"{path}: expected 98 numbers x1 y1 ... x49 y49, got {values.size}")
    if not np.isfinite(values).all():
        raise DataError(f"{path}: {int(np.sum(~np.isfinite(values)))} of its 98 numbers are not finite (nan or inf)")
    points = values.reshape(49, 2) - 1.0
    if np.ptp(points, axis=0).min() <= 0:
        raise DataError(f"{path}: the 49 points lie on a line; no face can be aligned from them")
    return points


def _require_dir(path: Path, flag: str, expected: str) -> None:
    if not path.is_dir():
        raise LayoutError(f"--{flag} {path}: no such directory; expected {expected}")


def discover(bp4d_root: Path, labels_root: Path) -> tuple[list[Video], Problems]:
    """Every video with labels and images, and the video-level problems (counted per video).

    Raises LayoutError when the roots are missing or nothing labelled can be found.
    """
    bp4d_root, labels_root = Path(bp4d_root), Path(labels_root)
    frame_pattern = f"{bp4d_root}/<Subject>/<Task>/<frame>.jpg"
    csv_pattern = f"{labels_root}/<Subject>_<Task>.csv"
    _require_dir(bp4d_root, "bp4d_root", frame_pattern)
    _require_dir(labels_root, "labels_root", csv_pattern)
    images = find_frame_images(bp4d_root)
    if not images:
        raise LayoutError(f"expected {frame_pattern} (or .png), found no frame image under {bp4d_root}"
                          f"{_layout_hint(bp4d_root)}")
    label_files = find_label_files(labels_root)
    if not label_files:
        raise LayoutError(f"expected {csv_pattern}, found no such CSV in {labels_root}")

    video_problems = Problems()
    for key in sorted(k for k in images.keys() | label_files.keys() if not all(map(_is_utf8, k))):
        images.pop(key, None)
        found = label_files.pop(key, None)
        video_problems.add("name_not_utf8", str(found or bp4d_root.joinpath(*key)))
    videos = []
    for key in sorted(images.keys() - label_files.keys()):
        video_problems.add("images_without_csv", str(bp4d_root.joinpath(*key)))
    for key in sorted(label_files.keys() - images.keys()):
        video_problems.add("csv_without_images", str(label_files[key]))
    for key in sorted(images.keys() & label_files.keys()):
        try:
            labels, problems = read_au_csv(label_files[key])
        except CsvError as error:
            video_problems.add(error.reason, str(error))
            continue
        frames = images[key]
        for frame in sorted(labels.keys() - frames.keys()):
            problems.add("missing_image", f"{bp4d_root.joinpath(*key)}/{frame}.jpg (row of {label_files[key]})")
        labelled = [(f, frames[f], labels[f]) for f in sorted(labels.keys() & frames.keys())]
        videos.append(Video(*key, frames=labelled, problems=problems,
                            unlabelled_images=len(frames.keys() - labels.keys())))
    if not any(v.frames for v in videos):
        raise LayoutError(_nothing_labelled_message(images, label_files, frame_pattern, csv_pattern))
    return videos, video_problems


def _layout_hint(bp4d_root: Path) -> str:
    """'; did you mean X?' when the frame layout sits one level below or above the given root."""
    candidates = [Path(d.path) for d in _visible_dirs(bp4d_root)[:20]] + [bp4d_root.parent]
    found = next((c for c in candidates if find_frame_images(c)), None) if bp4d_root.parent != bp4d_root else None
    return f"; did you mean --bp4d_root {found}?" if found else ""


def _nothing_labelled_message(images, label_files, frame_pattern: str, csv_pattern: str) -> str:
    """Why no labelled frame was found, with an example of each side."""
    shared = sorted(images.keys() & label_files.keys())
    if not shared:
        return (f"no video has both images and labels: image folders like {'/'.join(min(images))} "
                f"(expected {frame_pattern}), CSVs like {min(label_files.values()).name} (expected {csv_pattern})")
    key = shared[0]
    frames = sorted(images[key])
    return (f"no CSV row matches a frame image: e.g. {label_files[key]} vs. frames {frames[0]}..{frames[-1]} "
            f"in {'/'.join(key)} (or every CSV is unusable); expected {frame_pattern} named by the CSV's "
            f"column {FRAME_COLUMN!r}")
