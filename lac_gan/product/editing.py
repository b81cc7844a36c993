"""Editing photos: any photo in, chosen AUs switched on or off, the same photo out.

For each face: MTCNN's 5 points -> the face's own 49 landmarks (`lac_gan.data.landmarks`: dlib's and
MediaPipe's models, mapped to OpenFace's 49 points) -> JAA-Net's alignment rule and the AU centres of those landmarks (as the converter does by
default) -> the aligned S x S crop -> the generator, with attention maps for the chosen AUs only (the other
AUs' maps are zero, so by Eq. 2 their regions stay exactly as they were) -> the result warped back
with the inverse transform and blended into the photo with the same Eq. 2 weights. Pixels outside
the chosen AU regions, the whole background included, keep their original values exactly. A face
whose landmark fit is refused by its quality check is aligned onto the canonical face and gets the
canonical face's regions instead: logged as a warning and counted in `FaceEditor.canonical_fallbacks`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging

from lac_gan.common.errors import DataError, UsageError, check_output_dir
from lac_gan.data import alignment, attention
from lac_gan.data.au_table import AU_NAMES, NUM_AUS, au_index
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.data.face_detection import Face, FaceDetector
from lac_gan.data.image_io import PHOTO_SUFFIXES
from lac_gan.data.image_range import to_model_range, to_uint8
from lac_gan.data.landmarks import LandmarkFitter
from lac_gan.nets import figures
from lac_gan.nets.synthesis import Synthesizer


class NoFaceError(DataError):
    """The photo has no face MTCNN can find; the message names the file."""


def parse_au_targets(set_spec: str | None, unset_spec: str | None = None) -> dict[int, int]:
    """`--set AU12=1,AU6=1` and `--unset AU4,AU15` -> {AU index: target 0/1}.

    `--set AUx` alone means present; values other than 0/1, unknown AU names, an AU given twice and
    an empty request are errors that say what is valid.
    """
    targets: dict[int, int] = {}

    def add(item: str, value: int) -> None:
        try:
            index = au_index(item)
        except ValueError as error:
            raise UsageError(f"--set/--unset: {error}") from error
        if index in targets:
            raise UsageError(f"{AU_NAMES[index]} is given more than once in --set/--unset")
        targets[index] = value

    for item in filter(None, (part.strip() for part in (set_spec or "").split(","))):
        name, _, value = item.partition("=")
        if value.strip() not in ("", "0", "1"):
            raise UsageError(f"--set {item}: the value must be 0 (absent) or 1 (present)")
        add(name, int(value.strip() or 1))
    for item in filter(None, (part.strip() for part in (unset_spec or "").split(","))):
        add(item, 0)
    if not targets:
        raise UsageError(f"nothing to edit: give --set AU12=1,... and/or --unset AU4,...; AUs: {', '.join(AU_NAMES)}")
    return targets


class FaceEditor:
    """A trained synthesizer plus a face detector, applied to whole photos."""

    def __init__(self, synthesizer: Synthesizer, detector: FaceDetector | None = None,
                 fitter: LandmarkFitter | None = None):
        self.synthesizer = synthesizer
        self.detector = detector or FaceDetector()
        self.fitter = fitter or LandmarkFitter()
        self.size = synthesizer.config.image_size
        self._canonical_maps = attention.canonical_attention_maps(self.size)
        self._template = alignment.canonical_five_points(self.size)
        self.canonical_fallbacks = 0  # faces whose landmark fit was refused

    def alignment_of(self, photo: np.ndarray, face: Face) -> tuple[np.ndarray, np.ndarray]:
        """(photo -> crop transform, all 12 AU maps [S, S, 12] in the crop) from the face's own landmarks;
        the canonical face's when the fit is refused (logged, counted)."""
        landmarks49 = self.fitter.fit(photo, face.points5)
        if landmarks49 is None:
            self.canonical_fallbacks += 1
            logging.warning("face at %s: landmark fit refused; using the canonical face's AU regions",
                            np.round(face.box).astype(int).tolist())
            return alignment.similarity_transform(face.points5, self._template), self._canonical_maps
        to_crop = alignment.jaanet_transform(landmarks49, self.size)
        centres = attention.au_centres(alignment.transform_points(to_crop, landmarks49))
        return to_crop, attention.au_attention_maps(centres, self.size)

    def aligned_face(self, photo: np.ndarray, to_crop: np.ndarray, maps: np.ndarray, caption: str) -> figures.Face:
        """A face of `photo` as the generator sees it (its `alignment_of`: crop transform and 12 AU
        maps), for Fig. 3 / Fig. 5; a photo's AU labels are unknown, so the figures start from every
        AU absent."""
        crop = to_model_range(alignment.warp_image(photo, to_crop, self.size)).numpy()
        return figures.Face(image=crop, attention_maps=maps.astype(np.float32),
                            labels=np.full(NUM_AUS, UNKNOWN_LABEL), caption=caption)

    def faces(self, photo: np.ndarray, all_faces: bool) -> list[Face]:
        found = self.detector.detect_all(photo)
        return found if all_faces else found[:1]

    def alignments(self, photo: np.ndarray, all_faces: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """`alignment_of` each face to edit (the largest, or all): found and fitted once per photo."""
        return [self.alignment_of(photo, face) for face in self.faces(photo, all_faces)]

    def edit(self, photo: np.ndarray, targets: dict[int, int], all_faces: bool = False,
             source: str = "photo", alignments: list[tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
        """The edited photo (uint8, same size); NoFaceError naming `source` when no face is found.
        `alignments`: the photo's `alignments` when the caller already has them."""
        if alignments is None:
            alignments = self.alignments(photo, all_faces)
        if not alignments:
            raise NoFaceError(f"{source}: no face found (MTCNN); nothing was edited")
        edited = photo
        for to_crop, all_maps in alignments:
            edited = self._edit_face(edited, to_crop, all_maps, targets)
        return edited

    def _edit_face(self, photo: np.ndarray, to_crop: np.ndarray, all_maps: np.ndarray,
                   targets: dict[int, int]) -> np.ndarray:
        crop = alignment.warp_image(photo, to_crop, self.size)
        chosen = np.zeros(NUM_AUS, np.float32)
        labels = np.zeros(NUM_AUS, np.float32)
        for index, value in targets.items():
            chosen[index], labels[index] = 1.0, value
        maps = all_maps * chosen
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
    """(input, output) paths: one photo -> one file, or a folder of photos -> a folder. Paths that
    cannot work are a UsageError here, before any model is loaded; so is an output that would replace
    one of the input photos (the same path however spelled, `./me.jpg` or through a symlink: see
    `refuse_overwriting_photos`)."""
    image, out = Path(image), Path(out)
    if image.is_dir():
        photos = sorted(p for p in image.iterdir() if p.suffix.lower() in PHOTO_SUFFIXES)
        if not photos:
            raise UsageError(f"--image {image}: no photos ({', '.join(PHOTO_SUFFIXES)}) in this folder")
        check_output_dir("--out", out)
        if same_path(image, out):
            raise UsageError(f"--out {out}: is the --image folder {image}; the edits would replace the original "
                             "photos: choose another folder")
        pairs = [(p, out / p.name) for p in photos]
        refuse_overwriting_photos(pairs)
        return pairs
    if not image.exists():
        raise UsageError(f"--image {image}: no such file or folder")
    if out.suffix.lower() not in PHOTO_SUFFIXES:
        raise UsageError(f"--out {out}: expected a photo file name ending in one of {', '.join(PHOTO_SUFFIXES)}")
    if out.is_dir():
        raise UsageError(f"--out {out}: is a folder; for one photo, expected a file name")
    check_output_dir("--out", out.parent)
    refuse_overwriting_photos([(image, out)])
    return [(image, out)]


def same_path(a: Path, b: Path) -> bool:
    """Whether two paths name the same file or folder: equal once resolved (`.`, `..`, symlinks), or,
    when both exist, the same file on disk (a hard link, a case-insensitive file system)."""
    return a.resolve() == b.resolve() or (_file_id(a) is not None and _file_id(a) == _file_id(b))


def _file_id(path: Path) -> tuple[int, int] | None:
    """The file on disk that `path` names (device, inode), None when there is none."""
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino


def refuse_overwriting_photos(pairs: list[tuple[Path, Path]]) -> None:
    """A UsageError naming the output when an output of `pairs` is one of their input photos: the
    edit would silently replace the user's original (`--image me.jpg --out ./me.jpg`, or an output
    folder whose file of a photo's name is a symlink to one of the inputs)."""
    by_path = {source.resolve(): source for source, _ in pairs}
    by_file = {_file_id(source): source for source, _ in pairs}
    by_file.pop(None, None)  # an input that cannot be read (a dangling symlink) is no file to protect
    for _, target in pairs:
        source = by_path.get(target.resolve()) or by_file.get(_file_id(target))
        if source is not None:
            raise UsageError(f"--out {target}: is the input photo {source}; the edit would replace the original: "
                             "choose another --out")
