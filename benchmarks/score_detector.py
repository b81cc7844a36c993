"""Per-AU scores of an AU detector on a fold's held-out people, per group of subjects, beside the
answers that ignore the face (all-present F1, majority-class accuracy) and the training parts' rates.

    python benchmarks/score_detector.py --data_dir DATA --fold 1 --out_dir OUT \\
        --detector jaanet --detector_checkpoint LOGDIR --group lfw=S --group video_au=P
    python benchmarks/score_detector.py --data_dir DATA --fold 1 --out_dir OUT \\
        --detector openface --openface_bin ../shared/tools/openface/FeatureExtraction \\
        --group lfw=S --group video_au=P --max_frames 600

A group is the subjects whose id starts with PREFIX (default: one group "all"). The chosen frames of
the fold's test part are written as PNGs at the records' size (OUT/faces/<group>/, in frame-index
order, or a seeded sample of --max_frames per group), the detector runs on them as `evaluate
--detector` runs it (`detectors.build_detector`: OpenFace with -aus -au_static, one image at a time;
JAA-Net resizing to its checkpoint's size and taking the centre crop), and each group is scored
with `metrics.au_scores` (JAA-Net's F1 of the positive class and accuracy, threshold 0.5). The floor
(`metrics.constant_answer_scores`) is computed on the frames the detector analysed. Means are over
the AUs the detector covers with at least --min_positive_rate positives in the group.
Writes OUT/<detector>.json, per group the detector's outputs with the labels
(OUT/<detector>_<group>.npz: occurrence, failed, labels, subjects), and prints a markdown table per group.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from lac_gan.common.errors import UserError  # noqa: E402
from lac_gan.data import dataset  # noqa: E402
from lac_gan.data.au_table import AU_NAMES  # noqa: E402
from lac_gan.data.bp4d import UNKNOWN_LABEL  # noqa: E402
from lac_gan.data.image_io import write_rgb  # noqa: E402
from lac_gan.data.image_range import to_uint8  # noqa: E402
from lac_gan.data import metrics  # noqa: E402
from lac_gan.evaluation import detectors, protocol  # noqa: E402

GROUP_NAME = re.compile(r"[A-Za-z0-9_-]+")


def parse_group(text: str) -> tuple[str, str]:
    name, equals, prefix = text.partition("=")
    if not equals or not GROUP_NAME.fullmatch(name):
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=PREFIX, NAME of letters, digits, _ or -")
    return name, prefix


def positive_rates(index, rows) -> np.ndarray:
    """Per AU, the share of `rows`' known labels that are 1 (NaN where none is known)."""
    labels = index.loc[rows, list(AU_NAMES)].to_numpy()
    known = (labels != UNKNOWN_LABEL).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(known > 0, (labels == 1).sum(axis=0) / known, np.nan)


def write_faces(files: list[str], image_size: int, index, chosen: dict[str, np.ndarray], out_dir: Path) -> None:
    """One pass over the records: the chosen frames as uint8 PNGs, out_dir/<group>/<position:06d>.png."""
    position = {key: i for i, key in enumerate(zip(index["subject"], index["task"], index["frame"]))}
    destination = {int(row): (group, i) for group, rows in chosen.items() for i, row in enumerate(rows)}
    for group in chosen:
        (out_dir / group).mkdir(parents=True, exist_ok=True)
    batches = dataset.make_dataset(files, image_size, 64, shuffle=False, repeat=False, drop_remainder=False)
    for batch in batches.as_numpy_iterator():
        for k, key in enumerate(zip(batch["subject"], batch["task"], batch["frame"])):
            row = position[(key[0].decode(), key[1].decode(), int(key[2]))]
            if row in destination:
                group, i = destination[row]
                write_rgb(to_uint8(batch["image"][k]).numpy(), out_dir / group / f"{i:06d}.png")


def _cell(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.1f}"


def group_result(scores, floor, train_rate, min_rate: float) -> dict:
    """Means over the AUs covered, scored and with >= min_rate positives among the scored frames."""
    used = [j for j, s in enumerate(scores)
            if s is not None and s.frames and s.positives / s.frames >= min_rate]
    mean = {"aus": [AU_NAMES[j] for j in used]}
    if used:
        mean.update(f1=float(np.mean([scores[j].f1 for j in used])),
                    accuracy=float(np.mean([scores[j].accuracy for j in used])),
                    always_present_f1=float(np.mean([floor["always_present"][j].f1 for j in used])),
                    majority_accuracy=float(np.mean([floor["majority"][j].accuracy for j in used])))
    return {"scores": metrics.scores_by_name(scores),
            "always_present": metrics.scores_by_name(floor["always_present"]),
            "majority": metrics.scores_by_name(floor["majority"]),
            "train_positive_rate": {n: None if math.isnan(r) else float(r) for n, r in zip(AU_NAMES, train_rate)},
            "mean": mean}


def markdown_table(name: str, result: dict, min_rate: float) -> str:
    lines = [f"{name}: {result['frames']} frames, {result['detection_failures']} not analysed",
             "| AU | frames | present % | train present % | predicted present % | F1 | Acc | all-present F1 "
             "| majority Acc |",
             "|---|---|---|---|---|---|---|---|---|"]
    for au in AU_NAMES:
        score, always, majority = (result[k][au] for k in ("scores", "always_present", "majority"))
        train = result["train_positive_rate"][au]
        if not score or not score["frames"]:
            lines.append(f"| {au} | {score['frames'] if score else '–'} | – | {_cell(None if train is None else 100 * train)}"
                         " | – | – | – | – | – |")
            continue
        predicted = score["true_positives"] + score["false_positives"]
        lines.append(f"| {au} | {score['frames']} | {_cell(100 * score['positives'] / score['frames'])} | "
                     f"{_cell(None if train is None else 100 * train)} | {_cell(100 * predicted / score['frames'])} | "
                     f"{_cell(score['f1'])} | "
                     f"{_cell(score['accuracy'])} | {_cell(always['f1'])} | {_cell(majority['accuracy'])} |")
    mean = result["mean"]
    if len(mean["aus"]):
        lines.append(f"| Mean ({len(mean['aus'])} AUs with ≥ {100 * min_rate:.0f} % positives) | | | | | "
                     f"**{_cell(mean['f1'])}** | **{_cell(mean['accuracy'])}** | {_cell(mean['always_present_f1'])} | "
                     f"{_cell(mean['majority_accuracy'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", required=True, help="Converted TFRecords (with manifest.json).")
    parser.add_argument("--fold", type=int, default=1, help="JAA-Net fold: its test part is scored.")
    parser.add_argument("--out_dir", required=True, type=Path)
    parser.add_argument("--detector", required=True, choices=["openface", "jaanet"])
    parser.add_argument("--detector_checkpoint", help="--detector jaanet: a `lacgan train-detector` logdir.")
    parser.add_argument("--openface_bin", help="--detector openface: FeatureExtraction.")
    parser.add_argument("--group", action="append", type=parse_group, metavar="NAME=PREFIX",
                        help="Score the subjects whose id starts with PREFIX as group NAME (repeatable).")
    parser.add_argument("--max_frames", type=int, help="A seeded sample of this many frames per group.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min_positive_rate", type=float, default=0.10)
    args = parser.parse_args()
    if args.max_frames is not None and args.max_frames < 1:
        parser.error(f"--max_frames must be >= 1, got {args.max_frames}")
    groups = dict(args.group or [("all", "")])
    if len(groups) < len(args.group or [()]):
        parser.error("--group: a NAME is given twice")
    try:
        test_files = dataset.fold_files(args.data_dir, args.fold, "test")
        train_files = dataset.fold_files(args.data_dir, args.fold, "train")
        image_size = int(dataset.read_manifest(args.data_dir)["image_size"])
        detector = detectors.build_detector(args.detector, work_dir=args.out_dir / f"{args.detector}_work",
                                            openface_bin=args.openface_bin,
                                            detector_checkpoint=args.detector_checkpoint)
    except UserError as error:  # exit 2 for a flag that cannot work, 1 for bad data
        sys.stderr.write(f"score_detector: {error}\n")
        sys.exit(error.exit_code)
    except ValueError as error:  # a --fold outside 1-3
        parser.error(str(error))
    index, train_index = protocol.read_frame_index(test_files), protocol.read_frame_index(train_files)
    rng = np.random.default_rng(args.seed)
    chosen = {}
    for name, prefix in groups.items():
        rows = np.flatnonzero(index["subject"].str.startswith(prefix).to_numpy())
        if not len(rows):
            parser.error(f"--group {name}={prefix}: no subject of the fold's test part starts with {prefix!r}")
        if args.max_frames is not None and args.max_frames < len(rows):
            rows = np.sort(rng.choice(rows, size=args.max_frames, replace=False))
        chosen[name] = rows
    write_faces(test_files, image_size, index, chosen, args.out_dir / "faces")
    results = {"data_dir": str(args.data_dir), "fold": args.fold, "detector": args.detector,
               "command": " ".join(sys.argv), "groups": {}}
    for name, rows in chosen.items():
        paths = [args.out_dir / "faces" / name / f"{i:06d}.png" for i in range(len(rows))]
        found = detector.predict(paths, name)
        labels = index.loc[rows, list(AU_NAMES)].to_numpy()
        scores = metrics.au_scores(labels, found.occurrence, found.failed, found.covered)
        floor = metrics.constant_answer_scores(np.where(found.failed[:, None], UNKNOWN_LABEL, labels))
        train_rows = np.flatnonzero(train_index["subject"].str.startswith(groups[name]).to_numpy())
        result = {"prefix": groups[name], "frames": int(len(rows)), "subjects": int(index.loc[rows, "subject"].nunique()),
                  "detection_failures": found.num_failed, "provenance": found.provenance,
                  **group_result(scores, floor, positive_rates(train_index, train_rows), args.min_positive_rate)}
        results["groups"][name] = result
        np.savez_compressed(args.out_dir / f"{args.detector}_{name}.npz", occurrence=found.occurrence,
                            failed=found.failed, labels=labels, subjects=index.loc[rows, "subject"].to_numpy(str))
        print(markdown_table(f"{name} ({result['subjects']} people)", result, args.min_positive_rate), "\n")
    (args.out_dir / f"{args.detector}.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
