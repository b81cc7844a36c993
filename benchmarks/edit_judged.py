"""`lacgan edit` on photos of people no training part holds, judged by OpenFace and dlib.

    python benchmarks/edit_judged.py --checkpoint LOGDIR (or --editor warp) --labels W/people_labels --part part3 \\
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

from lac_gan.common.json_files import write_json_atomic
from lac_gan.data import alignment
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.image_io import read_rgb, write_rgb
from lac_gan.data.image_range import to_model_range
from lac_gan.evaluation.face_identity import DLIB_SAME_PERSON_DISTANCE, dlib_judge
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.editing import FaceEditor, parse_au_targets
from tfrecords_tools import label_layout, labeller


def chosen_photos(labels_dir: Path, part: str, subjects: str, au: str, state: int, count: int,
                  seed: int) -> list[Path]:
    """Seeded choice of labelled photos of the part's matching subjects whose label of `au` is `state`."""
    members = [s for s in json.loads((labels_dir / label_layout.FOLDS_NAME).read_text())[part] if re.fullmatch(subjects, s)]
    column = au.removeprefix("AU")
    photos = []
    for subject in members:
        for table_path in sorted((labels_dir / "AU_OCC").glob(f"{subject}_*.csv")):
            table = pd.read_csv(table_path)
            task = table_path.stem.split("_", 1)[1]
            for frame in table.loc[table[column] == state, "0"]:
                photos += sorted((labels_dir / "images" / subject / task).glob(f"{frame}.*"))
    rng = np.random.default_rng(seed)
    return [photos[i] for i in sorted(rng.choice(len(photos), size=min(count, len(photos)), replace=False))]


def judged_rates(folder: Path, out_dir: Path, openface_bin: str) -> tuple[dict, dict]:
    """({AU: share of labelled photos OpenFace reads it present}, the labeller's counts)."""
    manifest = labeller.label(str(folder), str(out_dir), openface_bin, workers=2)
    tables = [pd.read_csv(p) for p in sorted((out_dir / "AU_OCC").glob("*.csv"))]
    table = pd.concat(tables) if tables else pd.DataFrame(columns=["0", *(a.removeprefix("AU") for a in AU_NAMES)])
    rates = {a: (float((table[a.removeprefix("AU")] == 1).mean()) if len(table) else None) for a in AU_NAMES}
    return rates, manifest["counts"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--checkpoint", help="a trained model (either generator family)")
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
    photos = chosen_photos(args.labels, args.part, args.subjects, au, state, args.count, args.seed)
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
        crops = [to_model_range(alignment.warp_image(p, to_crop, editor.size)).numpy() for p in (edited, photo)]
        distances.append(float(judge.score(crops[0][None], crops[1][None])[0]))
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
