"""Editing photos: any photo in, chosen AUs switched on or off, the same photo out.

For each face: MTCNN's 5 points -> the face's own 49 landmarks (`lac_gan.data.landmarks`: dlib's and
MediaPipe's models, mapped to OpenFace's 49 points) -> JAA-Net's alignment rule, the AU centres and
maps of those landmarks (as the converter does by default) -> the aligned S x S crop -> the editor's
plan for the chosen AUs only (lac_gan/nets/movement.py:EditPlan; the other AUs neither move nor
change colour) -> drawn on the photo: the movement as a flow of the photo's own pixels (so a large
photo stays as sharp as it was), the colour change (the CARGs' whole redrawn regions) warped back
from the crop and blended in with its Eq. 2 weights. Pixels the chosen AUs' movement and colour
do not reach, the whole background included, keep their original values exactly. A face whose
landmark fit is refused by its quality check is aligned onto the canonical face and gets the
canonical face's landmarks and regions instead: logged as a warning and counted in
`FaceEditor.canonical_fallbacks`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from absl import logging
from scipy import ndimage

from lac_gan.common.errors import DataError, UsageError, check_output_dir
from lac_gan.data import alignment, attention
from lac_gan.data.au_table import AU_NAMES, NUM_AUS, au_index
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.data.face_detection import Face, FaceDetector
from lac_gan.data.image_io import PHOTO_SUFFIXES
from lac_gan.data.image_range import to_model_range, to_uint8
from lac_gan.data.landmarks import LandmarkFitter
from lac_gan.nets import figures, movement
from lac_gan.nets.movement import Editor, EditPlan


class NoFaceError(DataError):
    """The photo has no face MTCNN can find; the message names the file."""


def parse_au_targets(set_spec: str | None, unset_spec: str | None = None) -> dict[int, float]:
    """`--set AU12=1,AU6=0.5` and `--unset AU4,AU15` -> {AU index: target in [0, 1]}.

    `--set AUx` alone means present (1); a value between 0 and 1 is an intensity (`au_target`).
    Unknown AU names, values `au_target` refuses, an AU given twice and an empty request are errors
    that say what is valid.
    """
    targets: dict[int, float] = {}

    def add(flag: str, name: str, value: str) -> None:
        try:
            index, target = au_target(name, value)
        except ValueError as error:
            raise UsageError(f"{flag}: {error}") from error
        if index in targets:
            raise UsageError(f"{AU_NAMES[index]} is given more than once in --set/--unset")
        targets[index] = target

    for item in filter(None, (part.strip() for part in (set_spec or "").split(","))):
        name, _, value = item.partition("=")
        add("--set", name, value.strip() or "1")
    for item in filter(None, (part.strip() for part in (unset_spec or "").split(","))):
        add("--unset", item, "0")
    if not targets:
        raise UsageError(f"nothing to edit: give --set AU12=1,... and/or --unset AU4,...; AUs: {', '.join(AU_NAMES)}")
    return targets


def au_target(name: str, value: object) -> tuple[int, float]:
    """(AU index, target) of one request such as ("AU12", "0.5"): the target runs from 0 (absent)
    to 1 (present), a value between is an intensity, which reaches the editor as its target
    (lac_gan/nets/movement.py:requested_change). A ValueError saying what is valid otherwise (an
    unknown AU, a value outside [0, 1], NaN, not a number)."""
    index = au_index(name)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:  # the comparison is also false for NaN
        raise ValueError(f"{name.strip()}={value}: the value must be a number from 0 (absent) to 1 (present), "
                         "e.g. AU12=0.5")
    return index, number


@dataclass(frozen=True)
class Alignment:
    """One face of a photo as the editor sees it: the photo -> crop transform, the 12 AU maps
    [S, S, 12] and the face's 49 landmarks [49, 2], both in the crop."""
    to_crop: np.ndarray
    maps: np.ndarray
    landmarks: np.ndarray


class FaceEditor:
    """An editor (any family: lac_gan/nets/synthesis.py:load_synthesizer) plus a face detector and
    landmark fitter, applied to whole photos: the edit is planned on the aligned crop and drawn at
    the photo's own resolution (the movement as a flow of the photo's pixels, the colour change
    warped back from the crop)."""

    def __init__(self, synthesizer: Editor, detector: FaceDetector | None = None,
                 fitter: LandmarkFitter | None = None):
        self.synthesizer = synthesizer
        self.detector = detector or FaceDetector()
        self.fitter = fitter or LandmarkFitter()
        self.size = synthesizer.image_size
        self._canonical_maps = attention.canonical_attention_maps(self.size)
        self._canonical_landmarks = alignment.canonical_landmarks49(self.size)
        self._template = alignment.canonical_five_points(self.size)
        self.canonical_fallbacks = 0  # faces whose landmark fit was refused

    def alignment_of(self, photo: np.ndarray, face: Face) -> Alignment:
        """The face's Alignment from its own landmarks; the canonical face's when the fit is refused
        (logged, counted)."""
        landmarks49 = self.fitter.fit(photo, face.points5)
        if landmarks49 is None:
            self.canonical_fallbacks += 1
            logging.warning("face at %s: landmark fit refused; using the canonical face's AU regions",
                            np.round(face.box).astype(int).tolist())
            return Alignment(alignment.similarity_transform(face.points5, self._template), self._canonical_maps,
                             self._canonical_landmarks)
        to_crop = alignment.jaanet_transform(landmarks49, self.size)
        landmarks = alignment.transform_points(to_crop, landmarks49)
        return Alignment(to_crop, attention.au_attention_maps(attention.au_centres(landmarks), self.size), landmarks)

    def aligned_face(self, photo: np.ndarray, face: Alignment, caption: str) -> figures.Face:
        """A face of `photo` as the editor sees it, for Fig. 3 / Fig. 5; a photo's AU labels are
        unknown, so the figures start from every AU absent."""
        crop = to_model_range(alignment.warp_image(photo, face.to_crop, self.size)).numpy()
        return figures.Face(image=crop, attention_maps=face.maps.astype(np.float32),
                            labels=np.full(NUM_AUS, UNKNOWN_LABEL), caption=caption,
                            landmarks=face.landmarks.astype(np.float32))

    def au_reach(self, photo_shape: tuple[int, ...], face: Alignment) -> np.ndarray:
        """Where an edit of each AU may change the photo, bool [H, W, 12]. For the editors that move
        the face (the warp, the region editor), the reach of the AU's control points' kernels
        (movement.KERNEL_REACH sigma: the flow is exactly 0 beyond), one crop pixel wider for the
        shading's resampling back to the photo; for the CARGs, the AU's attention map (where Eq. 2
        blends in the redrawn region)."""
        height, width = photo_shape[:2]
        to_photo = alignment.invert_transform(face.to_crop)
        if not self.synthesizer.needs_landmarks:
            return np.stack([alignment.warp_image(face.maps[..., i].astype(np.float32), to_photo, (width, height)) > 0
                             for i in range(NUM_AUS)], axis=-1)
        points, _, radii = movement.control_points(face.landmarks[None].astype(np.float32))
        crop_pixel = np.sqrt(abs(np.linalg.det(to_photo[:, :2])))
        points = alignment.transform_points(to_photo, points[0].numpy())
        reaches = (movement.KERNEL_REACH * radii[0].numpy() + 1.0) * crop_pixel
        reach = np.zeros((height, width, NUM_AUS), bool)
        for (x, y), radius, owner in zip(points, reaches, movement.CONTROL_TABLE.owner):
            x0, y0 = np.clip(np.floor([x - radius, y - radius]).astype(int), 0, [width, height])
            x1, y1 = np.clip(np.ceil([x + radius, y + radius]).astype(int) + 1, 0, [width, height])
            rows, cols = np.ogrid[y0:y1, x0:x1]
            reach[y0:y1, x0:x1, owner] |= (cols - x) ** 2 + (rows - y) ** 2 <= radius ** 2
        return reach

    def faces(self, photo: np.ndarray, all_faces: bool) -> list[Face]:
        found = self.detector.detect_all(photo)
        return found if all_faces else found[:1]

    def alignments(self, photo: np.ndarray, all_faces: bool) -> list[Alignment]:
        """`alignment_of` each face to edit (the largest, or all): found and fitted once per photo."""
        return [self.alignment_of(photo, face) for face in self.faces(photo, all_faces)]

    def edit(self, photo: np.ndarray, targets: dict[int, float], all_faces: bool = False,
             source: str = "photo", alignments: list[Alignment] | None = None) -> np.ndarray:
        """The edited photo (uint8, same size); NoFaceError naming `source` when no face is found.
        `alignments`: the photo's `alignments` when the caller already has them."""
        if alignments is None:
            alignments = self.alignments(photo, all_faces)
        if not alignments:
            raise NoFaceError(f"{source}: no face found (MTCNN); nothing was edited")
        edited = photo
        for face in alignments:
            edited = self._edit_face(edited, face, targets)
        return edited

    def plan(self, photo: np.ndarray, face: Alignment, targets: dict[int, float]) -> EditPlan:
        """The editor's plan for one face, in its crop. `face` must come from this editor's own
        `alignments` (its crop size): another size would crop the wrong part of the photo."""
        if face.maps.shape[:2] != (self.size, self.size):
            raise ValueError(f"an Alignment for a {face.maps.shape[0]} px crop given to a {self.size} px editor: "
                             "align the photo with this FaceEditor's own alignments()")
        crop = alignment.warp_image(photo, face.to_crop, self.size)
        chosen = np.zeros(NUM_AUS, np.float32)
        labels = np.zeros(NUM_AUS, np.float32)
        for index, value in targets.items():
            chosen[index], labels[index] = 1.0, value
        inputs = self.synthesizer.inputs(to_model_range(crop[None]), face.maps[None].astype(np.float32), labels[None],
                                         face.landmarks[None], chosen[None], None)
        return self.synthesizer.plan(*inputs)

    def _edit_face(self, photo: np.ndarray, face: Alignment, targets: dict[int, float]) -> np.ndarray:
        plan = self.plan(photo, face, targets)
        to_photo = alignment.invert_transform(face.to_crop)
        edited = move_photo(photo, plan, to_photo)
        weight = plan.colour_weight[0].numpy()
        if np.any(weight > 0):
            edited = blend_back(edited, to_uint8(plan.colour)[0].numpy(), weight, to_photo)
        if plan.shade is not None:
            edited = shade_photo(edited, plan.shade[0].numpy(), to_photo)
        return edited


def move_photo(photo: np.ndarray, plan: EditPlan, to_photo: np.ndarray) -> np.ndarray:
    """The plan's movement (made in the crop) drawn on the photo at its own resolution: its control
    points, moves and kernel widths mapped by `to_photo`, the flow computed over the window the
    moving points reach, the photo's pixels warped there. Pixels the flow does not reach are returned
    untouched."""
    moves = plan.moves[0].numpy()
    owners = plan.owner_one_hot.numpy()
    moving = np.linalg.norm(moves, axis=-1) > 0
    if not moving.any():
        return photo
    # The moving points and the points of the moving AUs' mixes that hold still.
    used = moving | (owners[:, owners[moving].any(axis=0)] > 0).any(axis=1)
    linear = to_photo[:, :2]
    points = alignment.transform_points(to_photo, plan.points[0].numpy()[used])
    moves = moves[used] @ linear.T
    radii = plan.radii[0].numpy()[used] * np.sqrt(abs(np.linalg.det(linear)))
    owners = owners[used]
    reach = movement.KERNEL_REACH * radii[:, None] + np.linalg.norm(moves, axis=-1, keepdims=True)
    height, width = photo.shape[:2]
    x0, y0 = np.clip(np.floor((points - reach).min(axis=0)).astype(int), 0, [width, height])
    x1, y1 = np.clip(np.ceil((points + reach).max(axis=0)).astype(int) + 1, 0, [width, height])
    if x1 <= x0 or y1 <= y0:
        return photo
    grid = movement.pixel_grid(y1 - y0, x1 - x0, origin=(x0, y0))
    flow = movement.movement_flow(grid, tf.constant(points[None], tf.float32), tf.constant(moves[None], tf.float32),
                                  tf.constant(radii[None], tf.float32), tf.constant(owners))
    flow = flow[0].numpy()
    # Cubic-spline resampling (bilinear would soften every moved pixel: sub-pixel shifts average
    # neighbours), so the moved region stays as sharp as the photo. The spline is fitted to the
    # window and a margin only, not the whole photo (seconds on a 48-megapixel one): the sources lie
    # within the largest move of the window, and a pixel's weight in the fit falls by 0.27 a pixel,
    # so 16 pixels more change no value by 1e-8.
    margin = int(np.ceil(np.abs(flow).max())) + 16
    px0, py0 = max(x0 - margin, 0), max(y0 - margin, 0)
    patch = photo[py0:min(y1 + margin, height), px0:min(x1 + margin, width)].astype(np.float32)
    sources = (grid.numpy() - flow - [px0, py0]).transpose(2, 0, 1)[::-1]  # (y, x) rows for map_coordinates
    sampled = np.stack([ndimage.map_coordinates(patch[..., c], sources, order=3, mode="nearest")
                        for c in range(photo.shape[2])], axis=-1)
    window = photo[y0:y1, x0:x1]
    still = np.all(flow == 0, axis=-1, keepdims=True)
    moved = photo.copy()
    moved[y0:y1, x0:x1] = np.where(still, window, np.clip(np.round(sampled), 0, 255)).astype(np.uint8)
    return moved


def shade_photo(photo: np.ndarray, shade: np.ndarray, to_photo: np.ndarray) -> np.ndarray:
    """The plan's shading [S, S] ([-1, 1] units, made in the crop) warped back by `to_photo` and added
    to the photo's three channels; pixels it does not reach are returned untouched."""
    height, width = photo.shape[:2]
    shade = alignment.warp_image(shade.astype(np.float32), to_photo, (width, height))[..., None]
    if not np.any(shade != 0):
        return photo
    shaded = np.clip(np.round(photo + 127.5 * shade), 0, 255)
    return np.where(shade != 0, shaded, photo).astype(np.uint8)


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
    `refuse_overwriting_photos`). Of a folder, only its regular files are read (a FIFO named x.jpg
    would hang the run); its subfolders are counted in a warning, not entered."""
    for flag, value in (("--image", image), ("--out", out)):
        if not str(value).strip():
            raise UsageError(f"{flag}: an empty path; expected a photo or a folder")
    image, out = Path(image), Path(out)
    if image.is_dir():
        entries = sorted(image.iterdir())
        photos = [p for p in entries if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()]
        if not photos:
            raise UsageError(f"--image {image}: no photos ({', '.join(PHOTO_SUFFIXES)}) in this folder")
        if out.suffix.lower() in PHOTO_SUFFIXES and not out.is_dir():
            raise UsageError(f"--out {out}: a photo file name, but --image {image} is a folder; expected a folder")
        subfolders = sum(p.is_dir() for p in entries)
        if subfolders:
            logging.warning("--image %s: %d subfolder(s) not entered (only the folder's own photos are edited)",
                            image, subfolders)
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
