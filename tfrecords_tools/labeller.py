"""`label()`: one labelling run from the inputs to BP4D's layout (the work of `lacgan label`, whose
flags are tfrecords_tools/label.py): one labeller per output folder (a lock), the run's settings
checked against saved units, OpenFace over the units not yet done (openface_runs.py), then the layout,
folds and manifest written from all saved units (label_layout.py).
"""
from __future__ import annotations

import collections
import json
import re
import shlex
import shutil
from pathlib import Path

import numpy as np

from lac_gan.common.errors import check_output_dir
from lac_gan.common.json_files import write_json_atomic, write_text_atomic
from lac_gan.common.locks import lock_directory
from lac_gan.data.bp4d_layout import Problems
from lac_gan.evaluation.openface import DEFAULT_MIN_CONFIDENCE
from tfrecords_tools.label_layout import (FOLDS_NAME, MANIFEST_NAME, SOURCES_NAME, WORK_DIR, assign_parts, load_folds,
                                          positive_rates, replace_dir, write_layout)
from tfrecords_tools.openface_runs import (MODE_PHOTOS, OPENFACE_FLAGS, LabelError, Labeller, Settings, Unit,
                                           check_settings, describe_binary, display_path, find_frames, find_photos,
                                           openface_binaries, run_units, sorted_entries)

LOCK_NAME = ".label.lock"


def lock_out_dir(out: Path):
    """One labeller at a time per --out_dir (two would write the same units and layout)."""
    return lock_directory(out, LOCK_NAME, "--out_dir", "labeller", "wait for it to finish, then run this command again")


LAYOUT_DIRS = ("images", "AU_OCC", "landmarks_49")  # what write_layout / combine replace as a whole


def check_apart(out: Path, flag: str, inputs: list[str]) -> None:
    """An --out_dir that is, holds or sits inside an input folder (given by `flag`) is refused: the
    layout written there would replace the input's files (or link to itself)."""
    target = out.resolve()
    for folder in inputs:
        source = Path(folder).resolve()
        if target == source or source.is_relative_to(target) or target.is_relative_to(source):
            raise LabelError(f"--out_dir {out} and {flag} {folder} overlap: the labelled layout would replace the "
                             "input's files; choose an --out_dir outside it")


def check_layout_is_ours(out: Path) -> None:
    """An --out_dir whose images/, AU_OCC/ or landmarks_49/ this command did not write (no manifest or
    work folder of a labeller beside them) is refused, never emptied."""
    if (out / MANIFEST_NAME).is_file() or (out / WORK_DIR).is_dir():
        return
    for name in LAYOUT_DIRS:
        if (out / name).exists():
            raise LabelError(f"--out_dir {out}: holds {name}/, which `lacgan label` did not write and would "
                             "replace; choose a new or empty --out_dir")


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
    check_apart(out, "--images", [images])
    check_layout_is_ours(out)
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
                problems.add(result["reason"], display_path(result["source"]))
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
            "command": command, "mode": mode, "images": display_path(images_root.resolve()),
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
        for subject_dir in (e for e in sorted_entries(Path(folder) / "images") if e.is_dir()):
            if subject_dir.name in owners:
                raise LabelError(f"--combine: subject {subject_dir.name} is in both {owners[subject_dir.name]} and "
                                 f"{folder}; label one of them with another --subject_prefix")
            owners[subject_dir.name] = folder
    check_apart(out, "--combine", inputs)
    check_layout_is_ours(out)
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
        for name in LAYOUT_DIRS:
            replace_dir(staging / name, out / name)
        parts: dict[str, list[str]] = {}
        for folder in inputs:
            for part, members in json.loads((Path(folder) / FOLDS_NAME).read_text()).items():
                parts.setdefault(part, []).extend(members)
        write_json_atomic(out / FOLDS_NAME, parts)
        lines = ["set," + (Path(inputs[0]) / SOURCES_NAME).read_text().splitlines()[0]]
        for folder in inputs:
            lines += [f"{display_path(Path(folder).resolve())},{line}"
                      for line in (Path(folder) / SOURCES_NAME).read_text().splitlines()[1:]]
        write_text_atomic(out / SOURCES_NAME, "\n".join(lines) + "\n")
        manifest = {"command": command, "combined": [display_path(Path(f).resolve()) for f in inputs],
                    "counts": {"labelled": sum(m["counts"]["labelled"] for m in manifests),
                               "subjects_labelled": sum(m["counts"]["subjects_labelled"] for m in manifests)},
                    "parts": {part: len(members) for part, members in parts.items()}}
        write_json_atomic(out / MANIFEST_NAME, manifest)
    return manifest
