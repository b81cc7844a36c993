"""Every AU on and off, by every editor, judged by OpenFace (and JAA-Net), in one run.

    python benchmarks/edit_judged_all.py --labels W/labels/people --part part3 --subjects 'S.*' \\
        --editors bundled,warp,carg=W/lacgan --combos happy,angry --count 100 \\
        --openface_bin ../shared/tools/openface/FeatureExtraction [--jaanet_checkpoint W/jaanet] --out_dir OUT

Rows: each of --aus switched on (`--set AUx=1` on --count seeded photos of the --part people whose
labels say it is absent) and off (`--set AUx=0` on photos labelled present), and each --combos
combination likewise (all its AUs absent, all set to 1; all present, all set to 0). Photos are
chosen, edited and identity-judged as benchmarks/edit_judged.py does, every editor editing the same
photos of a row. Judges: OpenFace 2.0.6 FaceLandmarkImg (`lacgan label`) on the whole photo written
as PNG, the judge that made the labels (it has no AU24); with --jaanet_checkpoint also JAA-Net, all
12 AUs, on the face's aligned crop (the paper's 200 px face, the unedited photo's alignment for both).
The control: the chosen photos unedited through the same path, judged once per judge for every row
and editor.

Per cell (edit x editor) and judge, over the photos judged both edited and unedited whose start
state the judge's own labels give (OpenFace: the labels the photos were chosen by; JAA-Net, and
OpenFace-less AU24: the judge's reading of the unedited photo): on % = share read present after
`=1`, off % = share read absent after `=0`; the other AUs whose present rate moved by >= 10 points
against the same photos unedited; same person % and mean distance by dlib. And per judge its
agreement with the labels the photos were chosen by, on the unedited PNG copies: how far a single
reading of a photo can be trusted.

Writes OUT/cells/<edit>/<editor>/cell.json as each cell is done (a rerun skips those), then
OUT/edit_judged_all.json and OUT/edit_judged_all.md (one table per judge).
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edit_judged import chosen_photos, dlib_distance, labelled_photos, openface_labels
from lac_gan.common.errors import UsageError, UserError
from lac_gan.common.json_files import write_json_atomic, write_text_atomic
from lac_gan.common.progress import Progress
from lac_gan.data import alignment, metrics
from lac_gan.data.au_table import AU_NAMES, AU_NUMBERS, EXPRESSIONS, NUM_AUS, au_index
from lac_gan.data.image_io import read_rgb, write_rgb
from lac_gan.evaluation.detectors import OPENFACE_OCCURRENCE_AUS
from lac_gan.evaluation.face_identity import DLIB_SAME_PERSON_DISTANCE, dlib_judge
from lac_gan.nets.synthesis import EDITORS_WITHOUT_WEIGHTS, load_synthesizer
from lac_gan.product.editing import FaceEditor
from tfrecords_tools.openface_runs import openface_binaries

CHANGE_REPORTED = 0.10  # an other AU's present rate moving this much (edited vs unedited) is listed
BUNDLED = "bundled"
DIRECTIONS = {"on": 1, "off": 0}  # direction -> the target every AU of the edit is set to


@dataclass(frozen=True)
class Edit:
    """One row: every AU of `aus` set to `target`, on photos whose labels have them all at the other state."""
    name: str  # "AU12", or a combination's name
    aus: tuple[str, ...]
    target: int

    @property
    def direction(self) -> str:
        return "on" if self.target else "off"

    @property
    def start(self) -> int:
        return 1 - self.target

    @property
    def folder(self) -> str:
        return f"{self.name}_{self.direction}"

    @property
    def targets(self) -> dict[int, float]:
        return {au_index(a): float(self.target) for a in self.aus}


def parse_aus(text: str, flag: str) -> tuple[str, ...]:
    """'AU1,12' -> ('AU1', 'AU12'); an unknown AU is a UsageError naming the flag and the valid ones."""
    try:
        return tuple(AU_NAMES[au_index(a)] for a in re.split(r"[,+]", text) if a.strip())
    except ValueError as error:
        raise UsageError(f"{flag}: {error}") from error


def parse_combos(text: str) -> dict[str, tuple[str, ...]]:
    """'happy,angry=AU4+AU23' -> {name: AUs}: a name alone is au_table.EXPRESSIONS' combination."""
    combos = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, aus = item.partition("=")
        if not aus and name not in EXPRESSIONS:
            raise UsageError(f"--combos {item}: give NAME=AUa+AUb, or one of {', '.join(EXPRESSIONS)}")
        combos[name] = parse_aus(aus, f"--combos {item}") if aus else EXPRESSIONS[name]
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or len(combos[name]) < 2:
            raise UsageError(f"--combos {item}: a name of letters and digits and at least two AUs, e.g. happy=AU6+AU12")
    return combos


def editor_sources(text: str) -> dict[str, tuple[str | None, str | None]]:
    """'bundled,warp,carg=W/lacgan' -> {table name: (checkpoint, editor)} for load_synthesizer: `bundled`
    is the model in the package, `warp` the weightless editor, anything else a checkpoint (NAME=PATH,
    or PATH named by its folder)."""
    sources = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, path = item.partition("=") if "=" in item else ("", "", item)
        if item == BUNDLED:
            name, source = item, (None, None)
        elif item in EDITORS_WITHOUT_WEIGHTS:
            name, source = item, (None, item)
        else:
            name, source = name or Path(path).name, (path, None)
            if not Path(path).exists() and not Path(path + ".index").exists():
                raise UsageError(f"--editors {item}: no such checkpoint or training logdir {path}")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in sources:
            raise UsageError(f"--editors {item}: each editor needs its own name of letters and digits (NAME=PATH)")
        sources[name] = source
    if not sources:
        raise UsageError(f"--editors: give at least one of {BUNDLED}, {', '.join(EDITORS_WITHOUT_WEIGHTS)} or a checkpoint")
    return sources


def photo_key(path: Path) -> str:
    """A labelled photo's name in this run: images/<subject>/<task>/<frame>.<ext> -> subject_task_frame."""
    return f"{path.parent.parent.name}_{path.parent.name}_{path.stem}"


class OpenFaceJudge:
    """OpenFace FaceLandmarkImg through `lacgan label` on whole photos: what made the labels."""
    name = "openface"
    made_the_labels = True
    title = "OpenFace 2.0.6 (FaceLandmarkImg through `lacgan label`, the whole photo)"
    covered = np.isin(AU_NUMBERS, OPENFACE_OCCURRENCE_AUS)

    def __init__(self, openface_bin: str, workers: int):
        openface_binaries(openface_bin)  # a missing binary is an error before any edit
        self.openface_bin, self.workers = openface_bin, workers

    def read(self, photos: Path, crops: Path, keys: list[str], out_dir: Path) -> dict[str, list]:
        """{photo key: 12 readings, 0/1, None where not covered} of the photos `photos`/<subject>/<key>.png."""
        labels, _ = openface_labels(photos, out_dir, self.openface_bin, self.workers,
                                    photos_per_call=max(1, min(100, math.ceil(len(keys) / self.workers))))
        return {path.stem: [int(v) if self.covered[i] else None for i, v in enumerate(values)]
                for path, values in labels.items() if path.stem in keys}


class JaanetJudge:
    """Our JAA-Net on the faces' aligned crops, all 12 AUs, present at metrics.THRESHOLD."""
    name = "jaanet"
    made_the_labels = False
    title = "JAA-Net (the face's aligned 200 px crop)"
    covered = np.ones(NUM_AUS, dtype=bool)

    def __init__(self, checkpoint: str, work_dir: Path):
        from lac_gan.evaluation.protocol import build_detector  # TensorFlow's JAA-Net, only when asked for
        self.detector = build_detector("jaanet", work_dir=work_dir, detector_checkpoint=checkpoint)

    def read(self, photos: Path, crops: Path, keys: list[str], out_dir: Path) -> dict[str, list]:
        """{photo key: 12 readings, 0/1} of the crops `crops`/<key>.png."""
        paths = [crops / f"{key}.png" for key in keys]
        occurrence = self.detector.predict(paths, out_dir.name).occurrence
        return {p.stem: [int(v >= metrics.THRESHOLD) for v in row] for p, row in zip(paths, occurrence)}


# The controls, each a copy of every chosen photo (whole, and its face's crop) judged once: unedited
# (PNG), the edits' reference; mirrored, a change that carries no AU, to measure how far a judge's
# single reading of a photo holds (a lossless copy is read exactly as the labelled file was).
CONTROLS = {"unedited": lambda pixels: pixels, "mirrored": lambda pixels: np.ascontiguousarray(pixels[:, ::-1])}


class Photos:
    """The chosen photos: read, their face found once (the judging crop's alignment), and the
    controls' copies written."""

    def __init__(self, out_dir: Path, crop_editor: FaceEditor):
        self.out_dir, self.crop_editor = out_dir, crop_editor
        self.to_crop: dict[str, np.ndarray | None] = {}

    def copy(self, control: str, key: str) -> Path:
        return self.out_dir / control / "photos" / key.split("_")[0] / f"{key}.png"

    def copy_crop(self, control: str, key: str) -> Path:
        return self.out_dir / control / "crops" / f"{key}.png"

    def prepare(self, path: Path) -> bool:
        """Whether the photo has a face; its controls' copies are written the first time."""
        key = photo_key(path)
        if key not in self.to_crop:
            photo = read_rgb(path)
            faces = self.crop_editor.alignments(photo, all_faces=False)
            self.to_crop[key] = faces[0].to_crop if faces else None
            for control, change in CONTROLS.items():
                if faces and not self.copy_crop(control, key).is_file():
                    write_rgb(change(photo), self.copy(control, key))
                    write_rgb(change(self.crop(photo, key)), self.copy_crop(control, key))
        return self.to_crop[key] is not None

    def crop(self, photo: np.ndarray, key: str) -> np.ndarray:
        return alignment.warp_image(photo, self.to_crop[key], self.crop_editor.size)


def edit_cell(edit: Edit, editor: FaceEditor, photos: Photos, chosen: list[Path], cell_dir: Path, identity,
              judges: list, progress: Progress) -> dict:
    """Edits the chosen photos (with a face), judges them, and returns the cell's record."""
    distances = {}
    for path in chosen:
        key = photo_key(path)
        photo = read_rgb(path)
        faces = editor.alignments(photo, all_faces=False)
        if faces:
            edited = editor.edit(photo, edit.targets, alignments=faces)
            write_rgb(edited, cell_dir / "photos" / key.split("_")[0] / f"{key}.png")
            crop = photos.crop(edited, key)
            write_rgb(crop, cell_dir / "crops" / f"{key}.png")
            distances[key] = dlib_distance(identity, crop, read_rgb(photos.copy_crop("unedited", key)))
        progress.update(1)
    readings = {j.name: j.read(cell_dir / "photos", cell_dir / "crops", list(distances), cell_dir / f"judged_{j.name}")
                if distances else {} for j in judges}
    return {"edit": edit.name, "aus": list(edit.aus), "set": ",".join(f"{a}={edit.target}" for a in edit.aus),
            "photos": len(chosen), "edited": len(distances), "dlib_distance": distances, "readings": readings}


def present_share(values: list) -> float | None:
    return float(np.mean(values)) if values else None


def start_labels(judge, control: dict, chosen_by: dict) -> dict:
    """{photo key: the 12 states the judge's own labels give before the edit}: for the judge that
    made the labels, those (its unedited reading where they give none, AU24), else its unedited reading."""
    if not judge.made_the_labels:
        return control
    return {k: [c if label is None else label for label, c in zip(chosen_by[k], values)] for k, values in control.items()}


def cell_scores(edit: Edit, cell: dict, control: dict, start: dict, covered: np.ndarray) -> dict:
    """A judge's figures for one cell from its readings of the edited photos (`cell["readings"]`) and
    of the unedited ones (`control`), over the photos whose `start_labels` are the edit's start."""
    edited = cell["readings"]
    paired = [k for k in cell["dlib_distance"] if k in edited and k in control]
    scores = {}
    for au in edit.aus:
        j = AU_NAMES.index(au)
        if not covered[j]:
            continue
        starting = [k for k in paired if start[k][j] == edit.start]
        scores[au] = {"photos": len(starting), "read_after": present_share([edited[k][j] for k in starting]),
                      "read_unedited": present_share([control[k][j] for k in starting])}
    covered_aus = [AU_NAMES.index(a) for a in scores]
    if len(covered_aus) > 1:  # a combination: all of its AUs read as asked
        starting = [k for k in paired if all(start[k][j] == edit.start for j in covered_aus)]
        scores["all"] = {"photos": len(starting),
                         "as_asked": present_share([all(edited[k][j] == edit.target for j in covered_aus)
                                                    for k in starting])}
    others = {}
    for j, au in enumerate(AU_NAMES):
        if au in edit.aus or not covered[j] or not paired:
            continue
        before, after = (present_share([readings[k][j] for k in paired]) for readings in (control, edited))
        if abs(after - before) >= CHANGE_REPORTED - 1e-9:
            others[au] = [before, after]
    distances = np.asarray(list(cell["dlib_distance"].values()))
    return {"photos": len(paired), "aus": scores, "other_aus_changed": others,
            "same_person": float(np.mean(distances < DLIB_SAME_PERSON_DISTANCE)) if len(distances) else None,
            "mean_dlib_distance": float(distances.mean()) if len(distances) else None}


def agreement(control: dict, chosen_by: dict, covered: np.ndarray) -> dict:
    """Per AU, of the photos whose labels say absent (present), the share the judge reads absent
    (present) again on their unedited PNG copies."""
    result = {}
    for j, au in enumerate(AU_NAMES):
        if not covered[j] or all(labels[j] is None for labels in chosen_by.values()):
            continue
        result[au] = {}
        for state, name in ((0, "absent"), (1, "present")):
            keys = [k for k in control if chosen_by[k][j] == state]
            result[au][name] = {"photos": len(keys),
                                "read_again": present_share([control[k][j] == state for k in keys])}
    return result


def percent(share: float | None) -> str:
    return "–" if share is None else f"{100 * share:.0f} %"


def table_markdown(results: dict, edits: list[Edit], editors: list[str]) -> str:
    lines = [f"# Edits judged: {results['settings']['count']} photos per edit of `{results['settings']['labels']}` "
             f"({results['settings']['part']}), seed {results['settings']['seed']}", "",
             "On % (off %): share of the photos the judge read without (with) the AU before the edit that it "
             "reads with (without) it after; n = photos judged both edited and unedited. Unedited: the same "
             "photos' control reading. Other AUs: present rate unedited → edited where it moved by ≥ "
             f"{100 * CHANGE_REPORTED:.0f} points. Same person: dlib, edited against unedited crop.", ""]
    rows = dict.fromkeys((e.name, e.aus) for e in edits)
    for judge, judged in results["judges"].items():
        lines += [f"## {judged['title']}", "",
                  "| edit | editor | on % (n) | unedited | off % (n) | unedited | same person on / off | "
                  "dlib distance on / off | other AUs changed by on | by off |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, aus in rows:
            for editor in editors:
                cells = {d: judged["cells"].get(name, {}).get(editor, {}).get(d) for d in DIRECTIONS}
                row = [name if len(aus) == 1 else f"{name} ({'+'.join(aus)})", editor]
                for direction, cell in cells.items():
                    row += list(direction_text(cell, aus, direction))
                row += [" / ".join(percent(c and c["same_person"]) for c in cells.values()),
                        " / ".join("–" if not c or c["mean_dlib_distance"] is None else f"{c['mean_dlib_distance']:.2f}"
                                   for c in cells.values())]
                row += [", ".join(f"{au} {100 * a:.0f}→{100 * b:.0f}" for au, (a, b) in c["other_aus_changed"].items())
                        or "none" if c else "–" for c in cells.values()]
                lines.append("| " + " | ".join(row) + " |")
        lines += ["", f"### {judged['title']}: agreement with the labels the photos were chosen by", "",
                  f"The chosen photos' copies read by this judge against their labels (`{results['settings']['labels']}`): "
                  "the unedited PNG copy, and the photo mirrored (no AU changes).", "",
                  "| AU | labelled absent: read absent again, PNG copy / mirrored (n) | labelled present: read present "
                  "again, PNG copy / mirrored (n) |", "|---|---|---|"]
        for au in judged["agreement"]["unedited"]:
            lines.append(f"| {au} | " + " | ".join(
                " / ".join(percent(judged["agreement"][c][au][state]["read_again"]) for c in CONTROLS)
                + f" ({judged['agreement']['unedited'][au][state]['photos']})" for state in ("absent", "present")) + " |")
        lines.append("")
    return "\n".join(lines)


def direction_text(cell: dict | None, aus: tuple[str, ...], direction: str) -> tuple[str, str]:
    """(on or off %, the control's present rate) of a cell for the table."""
    if not cell or not cell["aus"]:
        return "–", "–"
    target = DIRECTIONS[direction]

    def asked(score):  # on: read present after; off: read absent after
        share = score["read_after"]
        return None if share is None else (share if target else 1 - share)

    if len(aus) == 1:
        score = cell["aus"][aus[0]]
        return f"{percent(asked(score))} ({score['photos']})", percent(score["read_unedited"])
    parts = [f"{au} {percent(asked(s))}" for au, s in cell["aus"].items() if au != "all"]
    whole = cell["aus"].get("all")
    if whole:
        parts.append(f"all {percent(whole['as_asked'])} ({whole['photos']})")
    return ", ".join(parts), ", ".join(f"{au} {percent(s['read_unedited'])}" for au, s in cell["aus"].items()
                                       if au != "all")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", required=True, type=Path, help="a `lacgan label` output folder")
    parser.add_argument("--part", default="part3")
    parser.add_argument("--subjects", default=".*", help="regular expression on subject ids")
    parser.add_argument("--aus", default=",".join(AU_NAMES), help="the AUs edited one at a time (default: all 12)")
    parser.add_argument("--directions", default="on,off", help="on (AUx=1 where absent), off (AUx=0 where present)")
    parser.add_argument("--combos", default="", help=f"combined edits, NAME=AUa+AUb or one of {', '.join(EXPRESSIONS)}")
    parser.add_argument("--editors", default=f"{BUNDLED},warp",
                        help="bundled (the model in the package), warp, NAME=CHECKPOINT or CHECKPOINT")
    parser.add_argument("--count", type=int, default=100, help="photos per edit")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--openface_bin", required=True, help="OpenFace's FeatureExtraction (FaceLandmarkImg beside it)")
    parser.add_argument("--jaanet_checkpoint", help="a `lacgan train-detector` logdir: JAA-Net judges too")
    parser.add_argument("--workers", type=int, default=2, help="parallel OpenFace calls")
    parser.add_argument("--out_dir", required=True, type=Path)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    args = parse_args(argv)
    try:
        run(args)
    except UserError as error:
        sys.exit(f"edit_judged_all.py: error: {error}")


def run(args: argparse.Namespace) -> None:
    directions = [d.strip() for d in args.directions.split(",") if d.strip()]
    if not directions or set(directions) - set(DIRECTIONS):
        raise UsageError(f"--directions {args.directions}: give on, off or on,off")
    if args.count < 1:
        raise UsageError(f"--count must be at least 1, got {args.count}")
    rows = {au: (au,) for au in parse_aus(args.aus, "--aus")} | parse_combos(args.combos)
    edits = [Edit(name, aus, DIRECTIONS[d]) for name, aus in rows.items() for d in directions]
    sources = editor_sources(args.editors)
    labelled = labelled_photos(args.labels, args.part, args.subjects)
    if labelled.empty:
        raise UsageError(f"--labels {args.labels}: no labelled photo of {args.part}'s subjects matching {args.subjects!r}")
    judges = [OpenFaceJudge(args.openface_bin, args.workers)]
    if args.jaanet_checkpoint:
        if not Path(args.jaanet_checkpoint).exists():
            raise UsageError(f"--jaanet_checkpoint {args.jaanet_checkpoint}: no such logdir or checkpoint")
        judges.append(JaanetJudge(args.jaanet_checkpoint, args.out_dir / "jaanet_work"))
    crop_editor = FaceEditor(load_synthesizer(editor="warp"))  # no weights; aligns at the paper's 200 px face
    editors = {}
    for name, (checkpoint, editor) in sources.items():
        try:
            synthesizer = load_synthesizer(checkpoint, editor)
        except UserError as error:
            raise UsageError(f"--editors {name}: {error}") from error
        editors[name] = FaceEditor(synthesizer, crop_editor.detector, crop_editor.fitter)
    identity = dlib_judge()

    # The labels that chose the photos; an AU they do not give (OpenFace's AU24) is left to each
    # judge's reading of the unedited photo.
    labels_give = {au: bool((labelled[au] != 9).any()) for au in AU_NAMES}
    chosen = {e: chosen_photos(labelled, {a: e.start for a in e.aus if labels_give[a]}, args.count, args.seed)
              for e in edits}
    photos = Photos(args.out_dir, crop_editor)
    union = sorted({p for paths in chosen.values() for p in paths})
    preparing = Progress("unedited photos", len(union))
    for path in union:
        photos.prepare(path)
        preparing.update(1)
    with_face = {e: [p for p in paths if photos.prepare(p)] for e, paths in chosen.items()}
    logging.info("%d edits x %d editors on %d photos (%d with a face found)", len(edits), len(editors), len(union),
                 sum(1 for t in photos.to_crop.values() if t is not None))

    controls: dict[str, dict] = {}  # judge -> control -> {photo key: readings}
    keys = [photo_key(p) for p in union if photos.prepare(p)]
    for judge in judges:
        for control in CONTROLS:
            path = args.out_dir / control / f"{judge.name}.json"
            if not path.is_file():
                folder = args.out_dir / control
                write_json_atomic(path, judge.read(folder / "photos", folder / "crops", keys, folder / f"judged_{judge.name}"))
            controls.setdefault(judge.name, {})[control] = json.loads(path.read_text())

    def cell_path(edit: Edit, editor: str) -> Path:
        return args.out_dir / "cells" / edit.folder / editor / "cell.json"

    def finished(edit: Edit, editor: str) -> bool:  # written, and by a run with all of this run's judges
        path = cell_path(edit, editor)
        return path.is_file() and {j.name for j in judges} <= set(json.loads(path.read_text())["readings"])

    todo = [(e, n) for e in edits for n in editors if not finished(e, n)]
    done = sum(len(with_face[e]) for e in edits for n in editors) - sum(len(with_face[e]) for e, _ in todo)
    progress = Progress("photo edits", done + sum(len(with_face[e]) for e, _ in todo), already_done=done)
    for edit, name in todo:
        logging.info("%s %s by %s on %d photos", edit.name, edit.direction, name, len(with_face[edit]))
        cell = edit_cell(edit, editors[name], photos, with_face[edit], cell_path(edit, name).parent, identity, judges,
                         progress)
        cell_path(edit, name).parent.mkdir(parents=True, exist_ok=True)  # also for a cell without photos
        write_json_atomic(cell_path(edit, name), cell)

    in_union = set(union)
    labels_by_key = {photo_key(row.path): [int(getattr(row, a)) if labels_give[a] else None for a in AU_NAMES]
                     for row in labelled.itertuples(index=False) if row.path in in_union}
    results = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
               "editors": {n: {"checkpoint": c, "editor": e} for n, (c, e) in sources.items()},
               "photos_with_face": sum(1 for t in photos.to_crop.values() if t is not None), "judges": {}}
    for judge in judges:
        control = controls[judge.name]["unedited"]
        start = start_labels(judge, control, labels_by_key)
        cells: dict = {}
        for edit in edits:
            for name in editors:
                cell = json.loads(cell_path(edit, name).read_text())
                cell["readings"] = cell["readings"][judge.name]
                cells.setdefault(edit.name, {}).setdefault(name, {})[edit.direction] = cell_scores(
                    edit, cell, control, start, judge.covered)
        results["judges"][judge.name] = {
            "title": judge.title, "cells": cells,
            "agreement": {c: agreement(readings, labels_by_key, judge.covered)
                          for c, readings in controls[judge.name].items()}}
    write_json_atomic(args.out_dir / "edit_judged_all.json", results)
    write_text_atomic(args.out_dir / "edit_judged_all.md", table_markdown(results, edits, list(editors)))
    print(f"wrote {args.out_dir / 'edit_judged_all.md'} and {args.out_dir / 'edit_judged_all.json'}")


if __name__ == "__main__":
    main()
