"""What an intensity between 0 and 1 does: the lip corners' movement and the shading of
`--set AU12=<value>` on a photo (skimage's astronaut unless --photo), for the bundled model and the warp.

    PYTHONPATH=. python benchmarks/intensity_response.py [--au AU12] [--values 0,0.25,0.5,0.75,1] [--photo P]

Per value: the requested change (lac_gan/nets/movement.py:requested_change: a photo's labels are
unknown, so for AU12 target - the strength its own lip corners show, for the other AUs the target
and -1 for 0), the mean displacement of the two lip corners (49-point landmarks 31 and 37) in the
photo's pixels and as a share of the inter-ocular distance, and the largest and mean absolute
shading (in [-1, 1] units, over the pixels it reaches).
"""
import argparse

import numpy as np
from skimage import data

from lac_gan.data import alignment
from lac_gan.data.au_table import NUM_AUS, au_index
from lac_gan.data.image_io import read_rgb
from lac_gan.nets import movement
from lac_gan.nets.synthesis import load_synthesizer
from lac_gan.product.editing import FaceEditor, parse_au_targets

LIP_CORNERS = [31, 37]


def response(editor: FaceEditor, photo: np.ndarray, au: str, value: float) -> dict:
    """The requested change, the lip corners' displacement (photo px, IOD share) and the shading of one request."""
    face = editor.alignments(photo, all_faces=False)[0]
    plan = editor.plan(photo, face, parse_au_targets(f"{au}={value}"))
    landmarks = face.landmarks[None].astype(np.float32)
    requested = movement.requested_change(np.full([1, NUM_AUS], value, np.float32), np.full([1, NUM_AUS], 9),
                                          landmarks).numpy()[0, au_index(au)]
    moved = movement.moved_landmarks(landmarks, plan).numpy()[0]
    to_photo = alignment.invert_transform(face.to_crop)
    shift = np.linalg.norm(moved[LIP_CORNERS] - face.landmarks[LIP_CORNERS], axis=-1).mean()
    iod = float(movement.face_frame(landmarks)[3][0])
    shade = np.abs(plan.shade[0].numpy()) if plan.shade is not None else np.zeros(1)
    return {"requested": float(requested), "photo_px": shift * np.sqrt(abs(np.linalg.det(to_photo[:, :2]))), "iod": shift / iod,
            "shade_max": shade.max(), "shade_mean": shade[shade > 0].mean() if np.any(shade > 0) else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--au", default="AU12")
    parser.add_argument("--values", default="0,0.25,0.5,0.75,1")
    parser.add_argument("--photo", help="a photo instead of skimage's astronaut")
    args = parser.parse_args()
    values = [float(v) for v in args.values.split(",")]
    photo = read_rgb(args.photo) if args.photo else data.astronaut()
    print(f"| editor | {args.au} | requested change | lip corners moved (photo px) | share of IOD "
          "| shading max | shading mean |")
    print("|---|---|---|---|---|---|---|")
    for name, synthesizer in (("bundled model", load_synthesizer()), ("warp", load_synthesizer(editor="warp"))):
        editor = FaceEditor(synthesizer)
        for value in values:
            row = response(editor, photo, args.au, value)
            print(f"| {name} | {value:g} | {row['requested']:+.2f} | {row['photo_px']:.2f} | {100 * row['iod']:.1f} % | "
                  f"{row['shade_max']:.3f} | {row['shade_mean']:.3f} |")


if __name__ == "__main__":
    main()
