"""Where each AU's moving landmarks rest, and how well a photo's own landmarks tell how far it has
moved (lac_gan/nets/movement.py:source_strength): the numbers behind au_movements' resting places.

From a `lacgan label` folder: the 49 landmarks of every labelled face of the training parts whose
OpenFace label says the AU is absent give each moving landmark's resting place (mean and sd of its
(out, up) in the face frame); the estimate is then scored on the held-out part's faces of the chosen
subjects by its AUC (1 = it orders every face with the AU above every face without it, 0.5 = chance)
and its mean with the AU absent and present.

    python benchmarks/resting_geometry.py --labels OUT/labels/people --train_parts part1,part2 \\
        --test_part part3 --subjects 'S.*' [--out docs-table.md]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from edit_judged import labelled_photos
from lac_gan.common.errors import UserError
from lac_gan.data.au_movements import AU_MOVEMENTS, RestingPlace
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.bp4d_layout import read_landmarks49
from lac_gan.nets import movement


def labelled_faces(labels_dir: Path, parts: list[str], subjects: str, part_flag: str) -> tuple[np.ndarray, pd.DataFrame]:
    """Landmarks [N, 49, 2] and labels (columns AU_NAMES, 0/1/9) of the labelled photos of `parts`
    whose subject matches `subjects` (edit_judged.labelled_photos) that have landmarks."""
    photos = pd.concat([labelled_photos(labels_dir, part, subjects, part_flag) for part in parts], ignore_index=True)
    # A photo images/<subject>/<task>/<frame>.<ext> has its landmarks in landmarks_49/<subject>/<task>/<frame>.txt.
    paths = [labels_dir / "landmarks_49" / p.parent.relative_to(labels_dir / "images") / f"{p.stem}.txt"
             for p in photos["path"]]
    found = np.array([p.is_file() for p in paths], dtype=bool)
    landmarks = [read_landmarks49(p) for p, f in zip(paths, found) if f]
    return (np.asarray(landmarks, np.float32).reshape(-1, 49, 2),
            photos.loc[found, list(AU_NAMES)].reset_index(drop=True))


def resting_places(landmarks: np.ndarray, labels: pd.DataFrame) -> dict[str, tuple[RestingPlace, ...]]:
    """Per AU, the resting place of each landmark its movement moves (its control points placed on
    the landmark itself), from the faces labelled without the AU."""
    places = {}
    for au in AU_NAMES:
        moved = sorted(AU_MOVEMENTS[au].on_landmarks)
        resting = landmarks[labels[au].to_numpy() == 0]
        if not len(resting) or not moved:
            continue
        xy = movement.frame_places(resting, moved).numpy()  # [N, n, 2]
        mean, sd = xy.mean(0), xy.std(0)
        places[au] = tuple(RestingPlace(m, out=round(float(mean[i, 0]), 4), out_sd=round(float(sd[i, 0]), 4),
                                        up=round(float(mean[i, 1]), 4), up_sd=round(float(sd[i, 1]), 4))
                           for i, m in enumerate(moved))
    return places


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The area under the ROC curve of `scores` for labels 0/1 (ties count half)."""
    ranks = pd.Series(scores).rank().to_numpy()
    positive = labels == 1
    n1, n0 = positive.sum(), (~positive).sum()
    return float((ranks[positive].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def main() -> None:
    try:
        run()
    except UserError as error:
        sys.exit(f"resting_geometry.py: error: {error}")


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--train_parts", default="part1,part2")
    parser.add_argument("--test_part", default="part3")
    parser.add_argument("--subjects", default=".*", help="held-out subjects scored (regular expression)")
    parser.add_argument("--out", type=Path, help="also write the table (markdown) here")
    args = parser.parse_args()
    train_landmarks, train_labels = labelled_faces(args.labels, args.train_parts.split(","), ".*", "--train_parts")
    test_landmarks, test_labels = labelled_faces(args.labels, [args.test_part], args.subjects, "--test_part")
    places = resting_places(train_landmarks, train_labels)
    candidate = movement.resting_table({au: dataclasses.replace(m, resting=places.get(au, ()))
                                        for au, m in AU_MOVEMENTS.items()})
    strength = movement.source_strength(test_landmarks, candidate).numpy()
    lines = [f"Resting places from {len(train_landmarks)} faces of {args.train_parts}; scored on "
             f"{len(test_landmarks)} faces of {args.test_part} (subjects {args.subjects}).", "",
             "| AU | training faces without it | held-out AUC | strength, AU absent (mean, sd) | AU present |",
             "|---|---|---|---|---|"]
    for a, au in enumerate(AU_NAMES):
        known = test_labels[au].to_numpy() != 9
        labels = test_labels[au].to_numpy()[known]
        if au not in places or len(set(labels)) < 2:
            lines.append(f"| {au} | — | no labels | | |")
            continue
        s = strength[known, a]
        lines.append(f"| {au} | {(train_labels[au] == 0).sum()} | {auc(labels, s):.2f} | {s[labels == 0].mean():.2f}, "
                     f"{s[labels == 0].std():.2f} | {s[labels == 1].mean():.2f}, {s[labels == 1].std():.2f} |")
    lines += ["", "Resting places (au_movements.RestingPlace):"] + [f"- {au}: {places[au]}" for au in places]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
