"""How far `lacgan label --mode frames` agrees with a set's shipped labels and landmarks.

    python benchmarks/label_agreement.py LABELLED_DIR [--shipped ../shared/datasets/video_au]

LABELLED_DIR is `lacgan label --mode frames --images <shipped>/images --out_dir LABELLED_DIR`. Prints,
per AU, the share of frames (present in both) whose occurrence agrees, per video the mean over AUs,
the frames in one but not the other, and the distance between the two sets of 49 landmarks.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from lac_gan.data.au_table import AU_NUMBERS
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.data.bp4d_layout import read_landmarks49

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labelled", type=Path)
    parser.add_argument("--shipped", type=Path, default=REPO_ROOT.parent / "shared" / "datasets" / "video_au")
    args = parser.parse_args()
    agree: dict[int, list[np.ndarray]] = {n: [] for n in AU_NUMBERS}
    print("video | frames ours / shipped | agreement (mean over AUs)")
    for ours_path in sorted((args.labelled / "AU_OCC").glob("*.csv")):
        ours = pd.read_csv(ours_path)
        shipped = pd.read_csv(args.shipped / "AU_OCC" / ours_path.name)
        both = ours.merge(shipped, on="0", suffixes=("", "_shipped"))
        per_video = []
        for n in AU_NUMBERS:
            known = (both[str(n)] != UNKNOWN_LABEL) & (both[f"{n}_shipped"] != UNKNOWN_LABEL)
            same = (both[str(n)] == both[f"{n}_shipped"])[known].to_numpy()
            agree[n].append(same)
            if len(same):
                per_video.append(same.mean())
        missing = sorted(set(shipped["0"]) - set(ours["0"]))
        print(f"{ours_path.stem} | {len(ours)} / {len(shipped)} (not ours: {missing[:5]}) | {np.mean(per_video):.4f}")
    print("AU | agreement")
    for n in AU_NUMBERS:
        values = np.concatenate(agree[n]) if agree[n] else np.array([])
        print(f"AU{n} | {values.mean():.4f}" if len(values) else f"AU{n} | - (unknown in both)")
    distances = []
    for path in sorted((args.labelled / "landmarks_49").glob("*/*/*.txt")):
        shipped = args.shipped / "landmarks_49" / path.relative_to(args.labelled / "landmarks_49")
        if shipped.is_file():
            distances.append(np.linalg.norm(read_landmarks49(path) - read_landmarks49(shipped), axis=1).mean())
    distances = np.asarray(distances)
    print(f"landmarks: {len(distances)} frames, mean point distance {distances.mean():.3f} px, frames within "
          f"0.1 px {np.mean(distances < 0.1):.4f}, largest {distances.max():.2f} px")


if __name__ == "__main__":
    main()
