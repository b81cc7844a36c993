"""Editing photos: any photo in, chosen AUs switched on or off, the same photo out.

For each face: MTCNN's 5 points -> the similarity transform onto the canonical face (as in training)
-> the aligned S x S crop -> the generator, with attention maps for the chosen AUs only (the other
AUs' maps are zero, so by Eq. 2 their regions stay exactly as they were) -> the result warped back
with the inverse transform and blended into the photo with the same Eq. 2 weights. Pixels outside
the chosen AU regions, the whole background included, keep their original values exactly.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from lac_gan import alignment, attention
from lac_gan.au_table import AU_NAMES, NUM_AUS, au_index
from lac_gan.face_detection import Face, FaceDetector
from lac_gan.image_io import PHOTO_SUFFIXES
from lac_gan.synthesis import Synthesizer, to_model_range, to_uint8


class NoFaceError(ValueError):
    """The photo has no face MTCNN can find; the message names the file."""


def parse_au_targets(set_spec: str | None, unset_spec: str | None = None) -> dict[int, int]:
    """`--set AU12=1,AU6=1` and `--unset AU4,AU15` -> {AU index: target 0/1}.

    `--set AUx` alone means present; values other than 0/1, unknown AU names, an AU given twice and
    an empty request are errors that say what is valid.
    """
    targets: dict[int, int] = {}

    def add(item: str, value: int) -> None:
        index = au_index(item)
        if index in targets:
            raise ValueError(f"{AU_NAMES[index]} is given more than once in --set/--unset")
        targets[index] = value

    for item in filter(None, (part.strip() for part in (set_spec or "").split(","))):
        name, _, value = item.partition("=")
        if value.strip() not in ("", "0", "1"):
            raise ValueError(f"--set {item}: the value must be 0 (absent) or 1 (present)")
        add(name, int(value.strip() or 1))
    for item in filter(None, (part.strip() for part in (unset_spec or "").split(","))):
        add(item, 0)
    if not targets:
        raise ValueError(f"nothing to edit: give --set AU12=1,... and/or --unset AU4,...; AUs: {', '.join(AU_NAMES)}")
    return targets


class FaceEditor:
    """A trained synthesizer plus a face detector, applied to whole photos."""

    def __init__(self, synthesizer: Synthesizer, detector: FaceDetector | None = None):
        self.synthesizer = synthesizer
        self.detector = detector or FaceDetector()
        self.size = synthesizer.config.image_size
        self._canonical_maps = attention.canonical_attention_maps(self.size)
        self._template = alignment.canonical_five_points(self.size)

    def faces(self, photo: np.ndarray, all_faces: bool) -> list[Face]:
        found = self.detector.detect_all(photo)
        return found if all_faces else found[:1]

    def edit(self, photo: np.ndarray, targets: dict[int, int], all_faces: bool = False,
             source: str = "photo") -> np.ndarray:
        """The edited photo (uint8, same size); NoFaceError naming `source` when no face is found."""
        faces = self.faces(photo, all_faces)
        if not faces:
            raise NoFaceError(f"{source}: no face found (MTCNN); nothing was edited")
        edited = photo
        for face in faces:
            edited = self._edit_face(edited, face, targets)
        return edited

    def _edit_face(self, photo: np.ndarray, face: Face, targets: dict[int, int]) -> np.ndarray:
        to_crop = alignment.similarity_transform(face.points5, self._template)
        crop = alignment.warp_image(photo, to_crop, self.size)
        chosen = np.zeros(NUM_AUS, np.float32)
        labels = np.zeros(NUM_AUS, np.float32)
        for index, value in targets.items():
            chosen[index], labels[index] = 1.0, value
        maps = self._canonical_maps * chosen
        edited_crop = to_uint8(self.synthesizer(to_model_range(crop[None]), maps[None], labels[None]))[0].numpy()
        weight = tf.reduce_sum(attention.normalise_overlaps(maps), axis=-1).numpy()
        return blend_back(photo, edited_crop, weight, alignment.invert_transform(to_crop))


def blend_back(photo: np.ndarray, edited_crop: np.ndarray, weight: np.ndarray, to_photo: np.ndarray) -> np.ndarray:
    """Eq. 2 in the photo's frame: photo + weight * (edited - photo), with the crop and its weights
    warped back by `to_photo`; pixels of weight 0 are returned untouched."""
    height, width = photo.shape[:2]
    edited = alignment.warp_image(edited_crop, to_photo, (width, height)).astype(np.float32)
    weight = alignment.warp_image(weight.astype(np.float32), to_photo, (width, height))[..., None]
    blended = np.round(photo + weight * (edited - photo))
    return np.where(weight > 0, np.clip(blended, 0, 255), photo).astype(np.uint8)


def photo_pairs(image: str | Path, out: str | Path) -> list[tuple[Path, Path]]:
    """(input, output) paths: one photo -> one file, or a folder of photos -> a folder."""
    image, out = Path(image), Path(out)
    if image.is_dir():
        photos = sorted(p for p in image.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        if not photos:
            raise FileNotFoundError(f"{image}: no photos ({', '.join(PHOTO_SUFFIXES)}) in this folder")
        return [(p, out / p.name) for p in photos]
    if not image.exists():
        raise FileNotFoundError(f"{image}: no such file or folder")
    return [(image, out)]
