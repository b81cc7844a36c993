"""`lacgan edit` on photos of people no training part holds, judged by OpenFace and dlib.

    python benchmarks/edit_judged.py [--checkpoint LOGDIR | --editor warp] --labels W/people_labels --part part3 \\
        --subjects 'S.*' --set AU12=1,AU6=1 --absent AU12 --count 40 \\
        --openface_bin ../shared/tools/openface/FeatureExtraction --out_dir OUT

Takes `--count` photos (seeded) of the `--part` subjects (of a `lacgan label` folder, `--labels`) whose
labels say `--absent` is absent (or `--present` present), edits each with `--set` as `lacgan edit` does, and labels the edited
photos with `lacgan label` (OpenFace FaceLandmarkImg, the labels' own judge). The control: the same
photos passed through the same path unedited (written as PNG like the edits), labelled the same way.
Identity: dlib's face descriptors of the face's aligned crop before and after the edit (dlib reads a
distance below 0.6 as the same person). Writes OUT/edit_judged.json and prints the figures.
"""
from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from lac_gan.common.errors import UsageError
from lac_gan.common.json_files import write_json_atomic
from lac_gan.data import alignment
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.image_io import read_rgb, write_rgb
from lac_gan.data.image_range import to_model_range
from lac_gan.evaluation.face_identity import DLIB_SAME_PERSON_DISTANCE, dlib_judge
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.editing import FaceEditor, parse_au_targets
from tfrecords_tools import label_layout, labeller


def labelled_photos(labels_dir: Path, part: str, subjects: str, part_flag: str = "--part") -> pd.DataFrame:
    """The labelled photos of the `part` subjects matching `subjects` (of a `lacgan label` folder): a
    row per photo, its `path` and its 12 AU labels (columns AU_NAMES: 0, 1, or 9 where unknown).
    An unknown part is an error naming `part_flag`, the flag that gave it."""
    folds_path = labels_dir / label_layout.FOLDS_NAME
    if not folds_path.is_file():
        raise UsageError(f"--labels {labels_dir}: no {label_layout.FOLDS_NAME}; expected a `lacgan label` output folder")
    folds = json.loads(folds_path.read_text())
    if part not in folds:
        raise UsageError(f"{part_flag} {part}: {labels_dir} has the parts {', '.join(folds)}")
    rows = []
    for subject in (s for s in folds[part] if re.fullmatch(subjects, s)):
        for table_path in sorted((labels_dir / "AU_OCC").glob(f"{subject}_*.csv")):
            task = table_path.stem.split("_", 1)[1]
            images = {p.stem: p for p in sorted((labels_dir / "images" / subject / task).glob("*.*"))}
            for frame, *labels in pd.read_csv(table_path).itertuples(index=False):
                if str(frame) in images:
                    rows.append((images[str(frame)], *labels))
    return pd.DataFrame(rows, columns=["path", *AU_NAMES])


def chosen_photos(photos: pd.DataFrame, states: dict[str, int], count: int, seed: int) -> list[Path]:
    """Seeded choice of `count` of the `labelled_photos` whose label of each AU in `states` is its state."""
    matching = np.ones(len(photos), dtype=bool)
    for au, state in states.items():
        matching &= photos[au].to_numpy() == state
    candidates = photos.loc[matching, "path"].tolist()
    rng = np.random.default_rng(seed)
    return [candidates[i] for i in sorted(rng.choice(len(candidates), size=min(count, len(candidates)), replace=False))]


def openface_labels(folder: Path, out_dir: Path, openface_bin: str, workers: int = 2,
                    photos_per_call: int = 100) -> tuple[dict[Path, np.ndarray], dict]:
    """({photo of `folder`, resolved: its 12 AU labels by `lacgan label` (0/1, 9 for AU24)}, the
    labeller's counts); a photo OpenFace does not label is left out."""
    manifest = labeller.label(str(folder), str(out_dir), openface_bin, workers=workers,
                              photos_per_call=photos_per_call)
    labels = {}
    for table_path in sorted((out_dir / "AU_OCC").glob("*.csv")):
        subject, task = table_path.stem.split("_", 1)
        # The layout's images are links to the labelled photos, named by frame.
        sources = {p.stem: p.resolve() for p in (out_dir / "images" / subject / task).iterdir()}
        for frame, *values in pd.read_csv(table_path).itertuples(index=False):
            labels[sources[str(frame)]] = np.asarray(values, dtype=int)
    return labels, manifest["counts"]


def judged_rates(folder: Path, out_dir: Path, openface_bin: str) -> tuple[dict, dict]:
    """({AU: share of labelled photos OpenFace reads it present}, the labeller's counts)."""
    labels, counts = openface_labels(folder, out_dir, openface_bin)
    table = np.asarray(list(labels.values())).reshape(-1, len(AU_NAMES))
    rates = {a: (float((table[:, i] == 1).mean()) if len(table) else None) for i, a in enumerate(AU_NAMES)}
    return rates, counts


def dlib_distance(judge, edited_crop: np.ndarray, unedited_crop: np.ndarray) -> float:
    """dlib's descriptor distance between two uint8 aligned crops of one face (< 0.6: the same person)."""
    return float(judge.score(to_model_range(edited_crop[None]).numpy(), to_model_range(unedited_crop[None]).numpy())[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--checkpoint", help="a trained model (either generator family; default: the bundled model)")
    model.add_argument("--editor", choices=["warp"], help="the fixed warp (no weights)")
    parser.add_argument("--labels", required=True, type=Path, help="a `lacgan label` output folder")
    parser.add_argument("--part", default="part3")
    parser.add_argument("--subjects", default=".*", help="regular expression on subject ids")
    parser.add_argument("--set", default="AU12=1,AU6=1")
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--absent", help="only photos whose labels have this AU absent (default: AU12)")
    chosen.add_argument("--present", help="only photos whose labels have this AU present (to judge an edit to 0)")
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--openface_bin", required=True)
    parser.add_argument("--out_dir", required=True, type=Path)
    args = parser.parse_args()
    targets = parse_au_targets(args.set)
    au, state = (args.present, 1) if args.present else (args.absent or "AU12", 0)
    photos = chosen_photos(labelled_photos(args.labels, args.part, args.subjects), {au: state}, args.count, args.seed)
    editor = FaceEditor(load_synthesizer(args.checkpoint, args.editor))
    judge = dlib_judge()
    distances, edited_count = [], 0
    for number, path in enumerate(photos):
        photo = read_rgb(path)
        alignments = editor.alignments(photo, all_faces=False)
        if not alignments:
            continue
        person = path.parent.parent.name
        edited = editor.edit(photo, targets, alignments=alignments)
        write_rgb(edited, args.out_dir / "edited" / person / f"{number:04d}.png")
        write_rgb(photo, args.out_dir / "unedited" / person / f"{number:04d}.png")
        to_crop = alignments[0].to_crop
        distances.append(dlib_distance(judge, *(alignment.warp_image(p, to_crop, editor.size) for p in (edited, photo))))
        edited_count += 1
    edited_rates, edited_counts = judged_rates(args.out_dir / "edited", args.out_dir / "judged_edited",
                                               args.openface_bin)
    source_rates, source_counts = judged_rates(args.out_dir / "unedited", args.out_dir / "judged_unedited",
                                               args.openface_bin)
    distances = np.asarray(distances)
    results = {
        "checkpoint": args.checkpoint, "editor": args.editor, "set": args.set, "au": au, "label_before": state,
        "photos": len(photos),
        "edited": edited_count, "openface_edited": edited_counts, "openface_unedited": source_counts,
        "present_after_edit": edited_rates, "present_unedited": source_rates,
        "identity": {"mean_dlib_distance": float(distances.mean()) if len(distances) else None,
                     "same_person_share": float((distances < DLIB_SAME_PERSON_DISTANCE).mean())
                     if len(distances) else None},
    }
    write_json_atomic(args.out_dir / "edit_judged.json", results)
    wanted = [AU_NAMES[i] for i in targets]
    print(f"{edited_count} of {len(photos)} photos edited ({args.set}); OpenFace reads present, edited vs unedited: "
          + ", ".join(f"{a} {edited_rates[a]:.2f} vs {source_rates[a]:.2f}" for a in wanted)
          + f"; dlib distance {results['identity']['mean_dlib_distance']:.3f}, same person "
          f"{results['identity']['same_person_share']:.2f}")


if __name__ == "__main__":
    main()
