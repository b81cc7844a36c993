"""The paper's Fig. 3 (each AU switched absent / present) and Fig. 5 (AU combinations) as PNG grids
with labelled rows and columns, drawn with Pillow."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tensorflow as tf
from PIL import Image, ImageDraw, ImageFont

from lac_gan.common.errors import naming_path
from lac_gan.data.au_table import AU_NAMES, EXPRESSIONS, NUM_AUS, au_index
from lac_gan.data.bp4d import UNKNOWN_LABEL
from lac_gan.data.image_range import to_uint8

# Fig. 5's combinations: the usual happy and the paper's angry (au_table.EXPRESSIONS), and the
# paper's own happy, AU2+AU6+AU7+AU12 (§4.2).
COMBINATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("happy AU6+AU12", EXPRESSIONS["happy"]),
    ("happy (paper) AU2+AU6+AU7+AU12", ("AU2", "AU6", "AU7", "AU12")),
    ("angry AU4+AU23", EXPRESSIONS["angry"]),
)
PADDING = 6
BACKGROUND = (255, 255, 255)
TEXT = (0, 0, 0)


@dataclass
class Face:
    """A test face to edit: image [S,S,3] in [-1,1], attention maps [S,S,12], BP4D labels (0/1/9),
    its 49 landmarks [49, 2] in the image (the editors that move them need them)."""
    image: np.ndarray
    attention_maps: np.ndarray
    labels: np.ndarray
    caption: str
    landmarks: np.ndarray | None = None

    def known_labels(self) -> np.ndarray:
        """Its labels with unknown (9) read as absent: the state the edits start from."""
        return np.where(self.labels == UNKNOWN_LABEL, 0, self.labels).astype(np.int32)


def synthesise(synthesizer, face: Face, targets: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """uint8 [T,S,S,3]: `face` edited towards each row of `targets` [T,12], changing only the AUs
    of the same row of `chosen` [T,12] (as `lacgan edit --set` does)."""
    count = len(targets)
    images = tf.constant(np.repeat(face.image[None], count, 0))
    maps = tf.constant(np.repeat(face.attention_maps[None], count, 0))
    landmarks = None if face.landmarks is None else tf.constant(np.repeat(face.landmarks[None], count, 0))
    sources = np.repeat(face.labels[None], count, 0)
    return to_uint8(synthesizer(images, maps, tf.constant(targets, tf.float32), landmarks=landmarks,
                                chosen=tf.constant(chosen, tf.float32), source_labels=sources)).numpy()


def single_au_grid(faces: list[Face], synthesizer) -> tuple[list[list[np.ndarray]], list[str], list[str]]:
    """Fig. 3: per face two rows (every AU in turn set absent, then present), one column per AU."""
    rows, row_labels = [], []
    for face in faces:
        source = face.known_labels()
        for state, state_name in ((0, "absent"), (1, "present")):
            targets = np.repeat(source[None], NUM_AUS, 0)
            targets[np.arange(NUM_AUS), np.arange(NUM_AUS)] = state
            rows.append([to_uint8(face.image).numpy(), *synthesise(synthesizer, face, targets, np.eye(NUM_AUS))])
            row_labels.append(f"{face.caption}  AU {state_name}")
    return rows, row_labels, ["input", *AU_NAMES]


def combination_grid(faces: list[Face], synthesizer) -> tuple[list[list[np.ndarray]], list[str], list[str]]:
    """Fig. 5: per face one row; each combination switches its AUs on, the others left as they are."""
    targets = np.zeros((len(COMBINATIONS), NUM_AUS), dtype=np.int32)
    for i, (_, aus) in enumerate(COMBINATIONS):
        targets[i, [au_index(a) for a in aus]] = 1
    rows = [[to_uint8(face.image).numpy(), *synthesise(synthesizer, face, targets, targets)] for face in faces]
    return rows, [face.caption for face in faces], ["input", *(name for name, _ in COMBINATIONS)]


def draw_grid(rows: list[list[np.ndarray]], row_labels: list[str], column_labels: list[str]) -> Image.Image:
    """Cells (uint8 [S,S,3], all the same size) laid out with a label left of each row and above
    each column."""
    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    def text_size(text):
        left, top, right, bottom = measure.textbbox((0, 0), text, font=font)
        return right - left, bottom - top
    cell = rows[0][0].shape[0]
    column = max(cell, *(text_size(t)[0] for t in column_labels)) + PADDING  # labels must fit
    label_width = max(text_size(t)[0] for t in row_labels) + 2 * PADDING
    header = max(text_size(t)[1] for t in column_labels) + 2 * PADDING
    width = label_width + len(column_labels) * column
    height = header + len(rows) * (cell + PADDING)
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for c, text in enumerate(column_labels):
        x = label_width + c * column
        draw.text((x + (column - PADDING - text_size(text)[0]) // 2, PADDING), text, fill=TEXT, font=font)
    for r, (row, text) in enumerate(zip(rows, row_labels)):
        y = header + r * (cell + PADDING)
        draw.text((PADDING, y + (cell - text_size(text)[1]) // 2), text, fill=TEXT, font=font)
        for c, image in enumerate(row):
            canvas.paste(Image.fromarray(image), (label_width + c * column + (column - PADDING - cell) // 2, y))
    return canvas


def write_figures(faces: list[Face], synthesizer, out_dir: Path) -> list[Path]:
    """fig3_single_aus.png and fig5_combinations.png under `out_dir`; none without faces."""
    if not faces:
        return []
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, grid in (("fig3_single_aus.png", single_au_grid), ("fig5_combinations.png", combination_grid)):
        with naming_path(out_dir / name):
            draw_grid(*grid(faces, synthesizer)).save(out_dir / name)
        paths.append(out_dir / name)
    return paths
