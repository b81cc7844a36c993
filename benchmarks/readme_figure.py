"""The README's opening figure: real photos before and after `lacgan edit` (the bundled model unless
--checkpoint or --editor warp is given), each face cropped around itself at the photo's resolution.

    python benchmarks/readme_figure.py --out docs/bundled_edits.png

Rows: skimage's astronaut (public domain, bundled with scikit-image) and the shared fixture photos
(../shared/fixtures/faces); columns: the photo, then one column per `--set` edit.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import data as skimage_data

from lac_gan.data.image_io import read_rgb
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.editing import FaceEditor, parse_au_targets

FIXTURES = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "faces"
PHOTOS = ("single_face.jpg", "0-f1-su-ph.jpg", "45-m7-di-ph.jpg")
TILE = 256


def face_box(alignment, shape) -> tuple[int, int, int, int]:
    """A square around the face's landmarks in the photo (1.9x their span), clipped to the photo."""
    inverse = np.linalg.inv(np.vstack([alignment.to_crop, [0, 0, 1]]))
    points = np.c_[alignment.landmarks, np.ones(len(alignment.landmarks))] @ inverse[:2].T
    centre = (points.min(0) + points.max(0)) / 2
    half = 0.95 * (points.max(0) - points.min(0)).max()
    x1, y1 = np.maximum(centre - half, 0).astype(int)
    x2, y2 = np.minimum(centre + half, [shape[1], shape[0]]).astype(int)
    return x1, y1, x2, y2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", help="a trained model instead of the bundled one")
    parser.add_argument("--editor", choices=["warp"], help="the fixed warp instead of the bundled model")
    parser.add_argument("--set", action="append", help="an edit column (repeatable); default AU12=1, AU12=0, "
                        "AU1=1,AU2=1")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    edits = args.set or ["AU12=1", "AU12=0", "AU1=1,AU2=1"]
    if not FIXTURES.is_dir():
        parser.error(f"{FIXTURES}: the shared fixture photos are missing (../shared beside the repository)")
    editor = FaceEditor(load_synthesizer(args.checkpoint, args.editor))
    photos = [("astronaut", skimage_data.astronaut())] + [(n, read_rgb(FIXTURES / n)) for n in PHOTOS]
    columns = ["photo"] + [f"--set {e}" for e in edits]
    sheet = Image.new("RGB", (TILE * len(columns), 24 + TILE * len(photos)), "white")
    draw = ImageDraw.Draw(sheet)
    for j, title in enumerate(columns):
        draw.text((j * TILE + 6, 6), title, fill="black")
    for i, (name, photo) in enumerate(photos):
        alignments = editor.alignments(photo, all_faces=False)
        if not alignments:
            raise SystemExit(f"{name}: no face found")
        x1, y1, x2, y2 = face_box(alignments[0], photo.shape)
        results = [photo] + [editor.edit(photo, parse_au_targets(e), alignments=alignments) for e in edits]
        for j, result in enumerate(results):
            tile = Image.fromarray(np.asarray(result)[y1:y2, x1:x2]).resize((TILE, TILE), Image.LANCZOS)
            sheet.paste(tile, (j * TILE, 24 + i * TILE))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
