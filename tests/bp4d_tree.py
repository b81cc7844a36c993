"""A tiny BP4D-layout tree built from real faces, with the flaws real copies have (for any test).

    tree = build_bp4d_tree(tmp_path, astronaut, shared_dir_or_None)
    python -m tfrecords_tools.convert --bp4d_root tree.images --labels_root tree.labels ...

Videos (subjects chosen so that each JAA-Net part has one):
- F001/T1 (part1): astronaut frames 2440-2443 and greyscale / RGBA / corrupt / faceless frames, an
  unlabelled extra image, a CSV row without image, a non-numeric row; CRLF, stray spaces, 9s, AU 40.
- M011/T2 (part2): the fixtures/sequence frames 1-4 when ../shared is there, else astronaut.
- F007/T3 (part3): astronaut, mirrored.
- F099/T1: a subject in no part. F001/T2: images without CSV. F002_T1.csv: CSV without images.
  F003/T1: a CSV lacking AU columns.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from lac_gan.data.au_table import AU_NUMBERS

# Columns of a real BP4D AU_OCC CSV: frame, then AUs 1..28 (not all), and 40+ which are all 9.
CSV_AUS = (1, 2, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 22, 23, 24, 27, 28, 40, 41)


@dataclass
class Bp4dTree:
    images: Path
    labels: Path
    # (subject, task, frame) -> the 12 labels, for every labelled frame that has an image file
    expected_labels: dict[tuple[str, str, int], tuple[int, ...]] = field(default_factory=dict)
    # the labelled frames (with image file) that cannot be written: corrupt image, no face
    unwritable: set[tuple[str, str, int]] = field(default_factory=set)
    # frame-level skip reasons -> count, video-level reasons -> count
    frame_skips: dict[str, int] = field(default_factory=dict)
    video_skips: dict[str, int] = field(default_factory=dict)
    unlabelled_images: int = 0


def _labels_for(frame: int) -> dict[int, int]:
    """A deterministic, varied 0/1/9 coding of all CSV columns for one frame."""
    rng = np.random.default_rng(frame)
    coding = {au: int(rng.choice([0, 1, 9], p=[0.5, 0.35, 0.15])) for au in CSV_AUS}
    coding.update({40: 9, 41: 9})
    return coding


def _write_csv(path: Path, rows: list[str], header: tuple[int, ...] = CSV_AUS) -> None:
    lines = [",".join(["0", *(str(au) for au in header)])] + rows
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())  # CRLF, as in copies made on Windows


def _csv_row(frame: int, coding: dict[int, int], header: tuple[int, ...] = CSV_AUS) -> str:
    return ",".join([f" {frame}", *(f"{coding[au]} " for au in header)])  # stray whitespace


def _save(image: np.ndarray | Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    (image if isinstance(image, Image.Image) else Image.fromarray(image)).save(path)


def _labelled_video(tree: Bp4dTree, subject: str, task: str, frames: dict[int, np.ndarray]) -> list[str]:
    rows = []
    for frame, image in frames.items():
        _save(image, tree.images / subject / task / f"{frame}.jpg")
        coding = _labels_for(frame)
        tree.expected_labels[(subject, task, frame)] = tuple(coding[au] for au in AU_NUMBERS)
        rows.append(_csv_row(frame, coding))
    return rows


def build_bp4d_tree(root: Path, astronaut: np.ndarray, shared_dir: Path | None = None) -> Bp4dTree:
    tree = Bp4dTree(images=root / "images", labels=root / "labels")
    tree.labels.mkdir(parents=True)
    face = np.asarray(Image.fromarray(astronaut).resize((256, 256)))  # small: keeps MTCNN fast

    # F001/T1: good frames plus every per-frame flaw.
    rows = _labelled_video(tree, "F001", "T1", {f: face for f in range(2440, 2444)})
    video = tree.images / "F001" / "T1"
    _save(Image.fromarray(face).convert("L"), video / "2444.jpg")
    _save(Image.fromarray(face).convert("RGBA"), video / "2445.png")
    buffer = io.BytesIO()
    Image.fromarray(face).save(buffer, format="JPEG")
    (video / "2446.jpg").write_bytes(buffer.getvalue()[:600])  # truncated: a corrupt JPEG
    _save(np.full((256, 256, 3), 128, np.uint8), video / "2447.jpg")  # no face
    _save(face, video / "2450.jpg")  # an image the CSV does not list
    for frame in (2444, 2445, 2446, 2447):
        rows.append(_csv_row(frame, _labels_for(frame)))
        tree.expected_labels[("F001", "T1", frame)] = tuple(_labels_for(frame)[au] for au in AU_NUMBERS)
    tree.unwritable = {("F001", "T1", 2446), ("F001", "T1", 2447)}
    rows.append(_csv_row(2448, _labels_for(2448)))  # a row without image
    rows.append(",".join(["2449", "x", *["0"] * (len(CSV_AUS) - 1)]))  # non-numeric cell
    _write_csv(tree.labels / "F001_T1.csv", rows)
    tree.frame_skips = {"unreadable_image": 1, "no_face": 1, "missing_image": 1, "bad_csv_row": 1}
    tree.unlabelled_images = 1

    # M011/T2: real consecutive video frames when the shared fixtures are there.
    sequence = sorted((shared_dir / "fixtures" / "sequence").glob("*.jpg"))[:4] if shared_dir else []
    frames = {10 + i: np.asarray(Image.open(p).convert("RGB")) for i, p in enumerate(sequence)}
    _write_csv(tree.labels / "M011_T2.csv", _labelled_video(tree, "M011", "T2", frames or {10: face, 11: face}))
    _write_csv(tree.labels / "F007_T3.csv", _labelled_video(tree, "F007", "T3", {5: face[:, ::-1], 6: face}))

    # Video-level flaws.
    _write_csv(tree.labels / "F099_T1.csv", _labelled_video(tree, "F099", "T1", {1: face}))
    _save(face, tree.images / "F001" / "T2" / "1.jpg")
    _write_csv(tree.labels / "F002_T1.csv", [_csv_row(1, _labels_for(1))])
    _save(face, tree.images / "F003" / "T1" / "1.jpg")
    short_header = CSV_AUS[:5]
    _write_csv(tree.labels / "F003_T1.csv", [_csv_row(1, _labels_for(1), short_header)], short_header)
    tree.video_skips = {"subject_not_in_any_part": 1, "images_without_csv": 1, "csv_without_images": 1,
                        "csv_missing_au_columns": 1}
    return tree
