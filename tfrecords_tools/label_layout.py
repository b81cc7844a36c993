"""The labeller's output in BP4D's layout (`lacgan label`): `images/<Subject>/<Task>/<n>.<ext>` (links
to the inputs), `AU_OCC/<Subject>_<Task>.csv` (the paper's 12 AUs; AU24, which OpenFace lacks, coded
9), `landmarks_49/<Subject>/<Task>/<n>.txt` (1-based pixels), `sources.csv`, `folds.json` (three
subject-exclusive parts) and the AU positive rates of `label_manifest.json`, each folder renamed into
place. The OpenFace runs: openface_runs.py; the run that joins them, and `--combine`: labeller.py.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np

from lac_gan.common.json_files import write_text_atomic
from lac_gan.data.au_table import AU_NUMBERS, NUM_AUS
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.data.bp4d_layout import Problems
from tfrecords_tools.openface_runs import LabelError, display_path

WORK_DIR = ".label_work"
PARTS = ("part1", "part2", "part3")
MANIFEST_NAME = "label_manifest.json"
SOURCES_NAME = "sources.csv"
FOLDS_NAME = "folds.json"
AU_OCC_HEADER = ("0", *(str(n) for n in AU_NUMBERS))


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
        writer.writerow([result["subject"], result["task"], result["frame"], display_path(shown),
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
