"""How sharp an edited photo stays: the same warp edit drawn at the photo's resolution (what `lacgan
edit` does for a movement) against drawn in the 200 px aligned crop and pasted back (what it does for
the CARGs' redrawn regions, and what it did for every edit before).

    python benchmarks/edit_sharpness.py [--photo PATH] [--scale 2] [--set AU12=1]

Sharpness: the variance of the Laplacian of the grey image over the box around the edit (the
pixels the movement changed, plus 10 px), for the original photo, the photo-resolution edit and
the pasted-back edit; the same box for all three.
"""
from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402
from scipy import ndimage  # noqa: E402

from benchmarks.machine import cpu_description  # noqa: E402
from lac_gan.data import alignment  # noqa: E402
from lac_gan.data.image_io import read_rgb  # noqa: E402
from lac_gan.data.image_range import to_model_range, to_uint8  # noqa: E402
from lac_gan.nets import movement  # noqa: E402
from lac_gan.nets.synthesis import load_synthesizer  # noqa: E402
from lac_gan.product.editing import FaceEditor, blend_back, move_photo, parse_au_targets  # noqa: E402


def laplacian_variance(image: np.ndarray, box) -> float:
    x0, y0, x1, y1 = box
    return float(ndimage.laplace(image[y0:y1, x0:x1].astype(np.float64).mean(axis=-1)).var())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=None, help="default: scikit-image's astronaut")
    parser.add_argument("--scale", type=float, default=1.0, help="resize the photo by this factor first (Lanczos)")
    parser.add_argument("--set", default="AU12=1")
    args = parser.parse_args()
    if args.photo:
        photo = read_rgb(args.photo)
    else:
        from skimage import data
        photo = data.astronaut()
    if args.scale != 1:
        size = (round(photo.shape[1] * args.scale), round(photo.shape[0] * args.scale))
        photo = np.asarray(Image.fromarray(photo).resize(size, Image.Resampling.LANCZOS))
    editor = FaceEditor(load_synthesizer(editor="warp"))
    face = editor.alignments(photo, all_faces=False)[0]
    plan = editor.plan(photo, face, parse_au_targets(args.set))
    to_photo = alignment.invert_transform(face.to_crop)
    at_photo = move_photo(photo, plan, to_photo)
    crop = alignment.warp_image(photo, face.to_crop, editor.size)
    edited_crop = to_uint8(movement.render(to_model_range(crop[None]), plan))[0].numpy()
    changed_in_crop = np.any(edited_crop != crop, axis=-1).astype(np.float32)
    pasted = blend_back(photo, edited_crop, ndimage.binary_dilation(changed_in_crop, iterations=2).astype(np.float32),
                        to_photo)
    ys, xs = np.nonzero(np.any(at_photo != photo, axis=-1))
    box = (max(xs.min() - 10, 0), max(ys.min() - 10, 0), xs.max() + 11, ys.max() + 11)
    print(cpu_description())
    print(f"photo {photo.shape[1]}x{photo.shape[0]}, face crop {editor.size} px, {args.set}; box {box}")
    original = laplacian_variance(photo, box)
    for name, image in (("original", photo), ("drawn at the photo's resolution", at_photo),
                        (f"drawn in the {editor.size} px crop, pasted back", pasted)):
        value = laplacian_variance(image, box)
        print(f"  {name:40s} variance of the Laplacian {value:8.1f}  ({100 * value / original:5.1f} % of the original)")


if __name__ == "__main__":
    main()
