"""Reading and writing photos: one reader for the converter, the editor and the demo."""
from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from lac_gan.common.errors import DataError, naming_path

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class ImageReadError(DataError):
    """A file that is not a readable image; the message names the file."""


# Modes of 16-bit greyscale (PNG, TIFF): Pillow's convert("RGB") clips them at 255, all but white.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I;16L", "I")


def read_rgb(path: str | Path | BinaryIO, name: str | None = None, max_pixels: int | None = None) -> np.ndarray:
    """uint8 [H, W, 3] of an image in any mode (greyscale, 16-bit greyscale, RGBA, palette...),
    converted to RGB, turned upright by its EXIF orientation (a phone's photo shown upright everywhere
    is stored on its side; OpenCV, and so OpenFace, applies the tag too). `path` may be an open binary
    file (an upload); errors name the image by `name`, default the path. An image of more than
    `max_pixels` is an ImageReadError naming its size, found before its pixels are decoded."""
    name = path if name is None else name
    try:
        with Image.open(path) as stored:
            width, height = stored.size
            if max_pixels is not None and width * height > max_pixels:
                raise ImageReadError(f"{name}: {width} x {height} px is larger than the {max_pixels / 1e6:g} "
                                     "megapixels accepted here; downscale it first")
            image = ImageOps.exif_transpose(stored)
            if image.mode in SIXTEEN_BIT_MODES:
                grey = np.round(np.asarray(image, np.float64) / 257.0)  # 0..65535 -> 0..255
                return np.repeat(np.clip(grey, 0, 255).astype(np.uint8)[..., None], 3, axis=-1)
            return np.asarray(image.convert("RGB"))
    except ImageReadError:  # a DataError, so a ValueError: not to be taken for an unreadable file below
        raise
    except FileNotFoundError as error:
        raise ImageReadError(f"{name}: no such file") from error
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        detail = str(error).replace(repr(path), repr(str(name)))  # an open file's repr means nothing to the user
        raise ImageReadError(f"{name}: not a readable image ({detail})") from error


def photo_extras(path: str | Path) -> tuple[np.ndarray | None, bytes | None]:
    """What read_rgb drops and an edited photo should keep: the alpha channel [H, W] (upright, as
    read_rgb turns the photo) or None, and the embedded ICC colour profile or None."""
    with Image.open(path) as stored:
        profile = stored.info.get("icc_profile")
        has_alpha = stored.mode in ("RGBA", "LA", "PA") or (stored.mode == "P" and "transparency" in stored.info)
        if not has_alpha:
            return None, profile
        return np.asarray(ImageOps.exif_transpose(stored).convert("RGBA"))[..., 3].copy(), profile


def write_rgb(image: np.ndarray, path: str | Path, alpha: np.ndarray | None = None,
              icc_profile: bytes | None = None) -> None:
    """Write uint8 RGB (RGBA with `alpha`, where the format has it), with `icc_profile` embedded if
    given; the format follows the suffix. Written to a temporary name, then renamed, so an
    interrupted write never leaves a truncated photo under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial{path.suffix}")
    jpeg = path.suffix.lower() in (".jpg", ".jpeg")
    options = {"quality": 95} if jpeg else {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    picture = Image.fromarray(image)
    if alpha is not None and not jpeg:  # JPEG has no alpha channel
        picture.putalpha(Image.fromarray(alpha))
    try:
        with naming_path(path):
            picture.save(temporary, **options)
            temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)  # a failed write (disk full...) leaves nothing behind
