"""OpenFace 2.x as a subprocess, and its CSV output (`../shared/spec/openface.md`).

Both layouts are read by column name: FeatureExtraction (`frame, face_id, timestamp, confidence,
success, AU..._r, AU..._c`, or its full 431/714-column form) and FaceLandmarkImg (`face,
confidence, AU..._r, AU..._c`). Columns carry a leading space, which is stripped.
"""
from __future__ import annotations

import logging
import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from lac_gan.common.errors import DataError, UsageError, UserError
from lac_gan.common.progress import Progress
from lac_gan.data.au_table import AU_NUMBERS, NUM_AUS
from lac_gan.data.image_io import read_rgb, write_rgb

# A row is a detection failure when `success` is 0 or `confidence` is below this (openface.md: a
# 45-degree face was fitted with confidence 0.017 while good fits score about 0.9-0.98).
DEFAULT_MIN_CONFIDENCE = 0.8

# For still images OpenFace needs its static AU models; -aus keeps the CSV to the AU columns.
FEATURE_EXTRACTION_FLAGS = ("-aus", "-au_static")
# FeatureExtraction treats a -fdir folder as a video: it tracks landmarks from frame to frame and,
# after the run, replaces every `_c` by a 7-frame moving majority vote (OpenFace 2.x
# FaceAnalyser::ExtractAllPredictionsOfflineClass), which would mix unrelated images. So each
# image gets its own `-f` (a one-frame sequence: models reset, nothing smoothed), this many a call.
IMAGES_PER_CALL = 500
# Faces with a side under this are enlarged to it (bicubic) before OpenFace reads them. OpenFace 2.0.6
# (CLNF, -au_static), tried on 40 aligned video_au faces at each size (docs/benchmarks.md, "OpenFace on
# small faces"): it aborts (std::length_error, signal 6) on any image with a side under 43 px, finds no
# face in aligned faces under 60 px, and reads them at its full confidence (median 0.98) from 112 px.
MIN_FACE_SIZE = 112
# One call takes about a minute on a CPU; a call still running after this has hung.
DEFAULT_TIMEOUT_S = 1800.0
OUTPUT_LOG_NAME = "FeatureExtraction_output.txt"  # beside the CSVs: everything the calls printed
POLL_S = 0.2  # how often a running FeatureExtraction is checked on
# Columns read as numbers; any other text in them means the file is not detector output.
NUMERIC_COLUMNS = re.compile(r"frame|face_id|face|timestamp|confidence|success|AU\d+_[cr]")


def occurrence_column(au_number: int) -> str:
    """OpenFace's name for the occurrence output of an AU, e.g. 12 -> 'AU12_c'."""
    return f"AU{au_number:02d}_c"


def read_csv(path: str | Path, header_only: bool = False) -> pd.DataFrame:
    """An OpenFace (or OpenFace-like) CSV with column names stripped of their padding; a DataError
    naming the file when it is not a CSV or its numeric columns hold anything but numbers."""
    try:
        table = pd.read_csv(path, skipinitialspace=True, nrows=0 if header_only else None)
    except (ValueError, UnicodeDecodeError) as error:  # pandas' ParserError and EmptyDataError too
        raise DataError(f"{path}: not a readable CSV ({str(error).strip().splitlines()[0]})") from error
    table.columns = [str(c).strip() for c in table.columns]
    for column in filter(NUMERIC_COLUMNS.fullmatch, table.columns):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{path}: column {column} holds {table[column].iloc[row]!r} in data row {row + 1}; "
                            "expected numbers")
        table[column] = values
    return table


def require_occurrence_columns(table: pd.DataFrame, source: str | Path) -> None:
    """A DataError when `table` has no occurrence column of any of the paper's AUs: its AUs would
    all be '-' in Table 1 (e.g. columns named AU01 or AU1 instead of AU01_c)."""
    if covered_aus(table).any():
        return
    au_like = [c for c in table.columns if re.match(r"AU\d", c)]
    found = f"AU columns {au_like[:4]}" if au_like else f"columns {list(table.columns)[:6]}"
    raise DataError(f"{source}: no AU occurrence column; expected {occurrence_column(1)}, {occurrence_column(2)}, "
                    f"... (AU number in 2 digits, then _c), found {found}")


def covered_aus(table: pd.DataFrame) -> np.ndarray:
    """bool [12]: which of the paper's AUs have an occurrence column in `table`."""
    return np.array([occurrence_column(n) in table.columns for n in AU_NUMBERS])


def row_ok(table: pd.DataFrame, min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> np.ndarray:
    """bool [rows]: rows that are a usable detection (success != 0, confidence >= min_confidence).

    A table without `success` or `confidence` columns (a precomputed file of another detector) has
    every row usable; a row with a missing occurrence value is not.
    """
    ok = np.ones(len(table), dtype=bool)
    if "success" in table.columns:
        ok &= table["success"].to_numpy() != 0
    if "confidence" in table.columns:
        ok &= table["confidence"].to_numpy(dtype=np.float64) >= min_confidence
    columns = [occurrence_column(n) for n, c in zip(AU_NUMBERS, covered_aus(table)) if c]
    ok &= table[columns].notna().all(axis=1).to_numpy()
    return ok


def detections(table: pd.DataFrame, image_index: np.ndarray, num_images: int,
               min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """(occurrence float [N, 12] with NaN where not covered or failed, failed bool [N]).

    `image_index` [rows] says which input image each row belongs to. Where an image has several
    usable rows (several faces), the most confident one is taken; an image with no usable row is a
    failure.
    """
    ok = row_ok(table, min_confidence)
    confidence = (table["confidence"].to_numpy(dtype=np.float64) if "confidence" in table.columns
                  else np.ones(len(table)))
    occurrence = np.full((num_images, NUM_AUS), np.nan)
    best = np.full(num_images, -np.inf)
    covered = covered_aus(table)
    values = np.full((len(table), NUM_AUS), np.nan)
    for j in np.flatnonzero(covered):
        values[:, j] = table[occurrence_column(AU_NUMBERS[j])].to_numpy(dtype=np.float64)
    for row in np.flatnonzero(ok):
        image = image_index[row]
        if confidence[row] > best[image]:
            best[image] = confidence[row]
            occurrence[image] = values[row]
    return occurrence, ~np.isfinite(best)


class OpenFaceError(UserError, RuntimeError):
    """OpenFace could not be run or did not produce its output."""


class OpenFaceBinaryError(UsageError, OpenFaceError):
    """No usable FeatureExtraction where --openface_bin / $OPENFACE_BIN points."""


def find_binary(binary: str | None) -> str:
    """The FeatureExtraction executable from the flag, else $OPENFACE_BIN; a clear error if absent."""
    path = binary or os.environ.get("OPENFACE_BIN")
    if not path:
        raise OpenFaceBinaryError("no OpenFace binary: pass --openface_bin /path/to/FeatureExtraction "
                                  "or set OPENFACE_BIN")
    if not (Path(path).is_file() and os.access(path, os.X_OK)):
        raise OpenFaceBinaryError(f"--openface_bin {path}: not an executable file")
    return str(path)


def enlarge_small_faces(image_paths: list[Path], folder: Path) -> tuple[list[Path], list[str]]:
    """(the images to give OpenFace, what was enlarged): each image whose shorter side is under
    MIN_FACE_SIZE is enlarged (bicubic, aspect kept) until that side is MIN_FACE_SIZE and written to
    `folder` under its own name, the others are passed as they are; the second item describes each
    enlargement once ('32x32 -> 112x112') for logs and provenance."""
    given, enlargements = [], {}
    for path in map(Path, image_paths):
        with Image.open(path) as image:
            size = image.size
        if min(size) >= MIN_FACE_SIZE:
            given.append(path)
            continue
        scale = MIN_FACE_SIZE / min(size)
        new_size = tuple(max(MIN_FACE_SIZE, round(side * scale)) for side in size)
        if size not in enlargements:
            enlargements[size] = f"{size[0]}x{size[1]} -> {new_size[0]}x{new_size[1]}"
            logging.info("OpenFace: enlarging %s faces (bicubic) into %s: OpenFace aborts on images under 43 px "
                         "and reads aligned faces at full confidence from %d px", enlargements[size], folder,
                         MIN_FACE_SIZE)
        enlarged = Image.fromarray(read_rgb(path)).resize(new_size, Image.Resampling.BICUBIC)
        given.append(folder / path.name)
        write_rgb(np.asarray(enlarged), given[-1])
    return given, list(enlargements.values())


def feature_extraction_command(binary: str, image_paths: list[Path], out_dir: Path,
                               extra_args: str = "") -> list[str]:
    """One FeatureExtraction call over still images, each its own `-f` (see IMAGES_PER_CALL)."""
    files = [arg for path in image_paths for arg in ("-f", str(path))]
    return [binary, *files, *_options(out_dir, extra_args)]


def describe_run(binary: str, image_paths: list[Path], out_dir: Path, extra_args: str = "") -> str:
    """The FeatureExtraction calls over `image_paths` as logs, errors and results.json show them."""
    return (f"{shlex.join([binary, '-f', str(image_paths[0])])} ... ({len(image_paths)} images, one -f "
            f"each, at most {IMAGES_PER_CALL} a call) {shlex.join(_options(out_dir, extra_args))}")


def _options(out_dir: Path, extra_args: str) -> list[str]:
    return ["-out_dir", str(out_dir), *FEATURE_EXTRACTION_FLAGS, *shlex.split(extra_args)]


def run_feature_extraction(binary: str, image_paths: list[Path], out_dir: Path, extra_args: str = "",
                           timeout_s: float | None = None, label: str = "OpenFace") -> list[Path | None]:
    """Runs FeatureExtraction over `image_paths` in calls of IMAGES_PER_CALL images; returns, per
    image, the CSV it wrote (`out_dir/<image stem>.csv`) or None where it wrote none (a detection
    failure). Progress is logged under `label`; `timeout_s` bounds each call.

    A call that cannot start, exits non-zero, crashes or runs too long raises `OpenFaceError` with
    the command and the tail of its output (OpenFace prints most errors to stdout, so both streams
    are kept), and so does a run that wrote no CSV at all.
    """
    stems = [Path(p).stem for p in image_paths]
    if len(set(stems)) != len(stems):
        raise ValueError("FeatureExtraction names its CSVs after the images: their file names must differ")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_paths = [out_dir / f"{stem}.csv" for stem in stems]
    for path in csv_paths:
        path.unlink(missing_ok=True)  # never read a previous run's output
    progress = Progress(label, len(image_paths))
    log = out_dir / OUTPUT_LOG_NAME
    log.unlink(missing_ok=True)
    for start in range(0, len(image_paths), IMAGES_PER_CALL):
        chunk = slice(start, start + IMAGES_PER_CALL)
        run_openface_call(feature_extraction_command(binary, image_paths[chunk], out_dir, extra_args),
                          describe_run(binary, image_paths[chunk], out_dir, extra_args), timeout_s, log,
                          lambda: progress.advance_to(start + sum(p.is_file() for p in csv_paths[chunk])))
    written = [path if path.is_file() else None for path in csv_paths]
    if image_paths and not any(written):
        raise OpenFaceError(f"`{describe_run(binary, image_paths, out_dir, extra_args)}` exited normally "
                            f"but wrote no CSV in {out_dir}")
    progress.advance_to(len(image_paths))
    return written


def run_openface_call(command: list[str], printable: str, timeout_s: float | None, log: Path,
                      report_progress) -> None:
    """Runs one FeatureExtraction call, its output appended to `log`, calling `report_progress`
    while it runs; one that runs past `timeout_s` is killed with all its children."""
    with log.open("a+") as output:
        start_of_call = output.tell()
        try:
            # Its own process group, so that a wrapper script's children are killed with it.
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)
        except OSError as error:
            raise OpenFaceError(f"could not start `{printable}`: {error}") from error
        start = time.monotonic()
        while process.poll() is None:
            time.sleep(POLL_S)
            if timeout_s is not None and time.monotonic() - start > timeout_s:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise OpenFaceError(f"`{printable}` ran past {timeout_s} s (--detector_timeout) and was killed; "
                                    f"its output is in {log}")
            report_progress()
        output.seek(start_of_call)
        lines = [line.strip() for line in output.read().splitlines() if line.strip()]
    if process.returncode != 0:
        how = (f"was killed by signal {-process.returncode}" if process.returncode < 0
               else f"exited with status {process.returncode}")
        last = f"its last output line: {lines[-1]!r}" if lines else "it printed nothing"
        raise OpenFaceError(f"`{printable}` {how}; {last} (all of it in {log})")


def read_per_image_csvs(csv_paths: list[Path | None]) -> tuple[pd.DataFrame, np.ndarray]:
    """(all rows of the per-image CSVs, int [rows] the image each row belongs to); None entries
    (images without a CSV) contribute no row."""
    tables, index = [], []
    for i, path in enumerate(csv_paths):
        if path is not None:
            tables.append(read_csv(path))
            require_occurrence_columns(tables[-1], path)
            index.extend([i] * len(tables[-1]))
    if not tables:
        raise FileNotFoundError(f"none of the {len(csv_paths)} images has a CSV")
    return pd.concat(tables, ignore_index=True), np.asarray(index, dtype=np.int64)


FILENAME_COLUMNS = ("filename", "file", "image", "path")


def image_index(table: pd.DataFrame, image_paths: list[Path]) -> np.ndarray:
    """int [rows]: the position in `image_paths` of the image each row describes.

    By a filename column (any of FILENAME_COLUMNS, matched on the file name with or without its
    extension) when there is one, else by `frame`: FeatureExtraction -fdir numbers the images of
    the folder from 1 in sorted file-name order, and `image_paths` must be in that order (beware:
    -fdir output is smoothed over neighbouring images, see IMAGES_PER_CALL).
    """
    name_column = next((c for c in FILENAME_COLUMNS if c in table.columns), None)
    if name_column is not None:
        positions = {}
        for i, path in enumerate(image_paths):
            positions[Path(path).name] = positions[Path(path).stem] = i
        names = [Path(str(v)).name for v in table[name_column]]
        missing = sorted({n for n in names if n not in positions and Path(n).stem not in positions})
        if missing:
            raise ValueError(f"{len(missing)} rows name images that are not in this set, e.g. {missing[:3]}")
        return np.array([positions.get(n, positions.get(Path(n).stem)) for n in names], dtype=np.int64)
    if "frame" not in table.columns:
        raise ValueError(f"cannot tell which image a row is for: the CSV needs a `frame` column or one of "
                         f"{FILENAME_COLUMNS}; it has {list(table.columns)[:8]}...")
    index = table["frame"].to_numpy(dtype=np.int64) - 1
    if len(index) and (index.min() < 0 or index.max() >= len(image_paths)):
        raise ValueError(f"frame numbers run {index.min() + 1}..{index.max() + 1} but the set has "
                         f"{len(image_paths)} images")
    return index
