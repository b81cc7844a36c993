"""What the stand-in OpenFace binaries (FaceLandmarkImg, FeatureExtraction -fdir) say about a photo,
with the standard library only (they run under whatever python3 is on PATH).

Faces are decided by the photo's file name (through links: the labeller passes links): `noface` in
it gives no face, `lowconf` a face fitted with confidence 0.3, `crowd` three faces of which the
centred one is the least confident, `crash` makes the whole call fail as OpenFace does on a file it
cannot open. Everything else is one face centred in the photo. AU outputs are drawn from the file's
bytes, so the same photo always gets the same labels and tests can recompute them.
"""
import os
import struct
import sys
import zlib
from pathlib import Path

AUS_R = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 45)
AUS_C = (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 25, 26, 28, 45)
LANDMARK_COLUMNS = [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
AU_COLUMNS = [f"AU{n:02d}_r" for n in AUS_R] + [f"AU{n:02d}_c" for n in AUS_C]


def image_size(path):
    """(width, height) from a PNG or JPEG header; None for anything else (OpenFace cannot open it)."""
    data = Path(path).read_bytes()
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return struct.unpack(">II", data[16:24])
    if data.startswith(b"\xff\xd8"):
        i = 2
        while i + 9 < len(data):
            marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
            if marker in (0xC0, 0xC1, 0xC2):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


def occurrences(path):
    """The 18 AUxx_c values OpenFace 'finds' in this file."""
    seed = zlib.crc32(Path(path).read_bytes())
    return [float((seed >> (i + 3)) & 1) for i in range(len(AUS_C))]


def landmarks(cx, cy, scale):
    """68 points on a 10x10 grid around (cx, cy): x_0..x_67 then y_0..y_67."""
    xs = [cx + scale * ((i % 10) - 4.5) for i in range(68)]
    ys = [cy + scale * ((i // 10) - 3.0) for i in range(68)]
    return xs + ys


def faces(path):
    """[(confidence, landmarks)] of the faces in a photo (see the module docstring)."""
    name = os.path.basename(os.path.realpath(path))
    width, height = image_size(path)
    centred = landmarks(width / 2, height / 2, width / 20)
    if "noface" in name:
        return []
    if "lowconf" in name:
        return [(0.3, centred)]
    if "crowd" in name:
        return [(0.98, landmarks(width / 8, height / 8, width / 40)), (0.9, centred),
                (0.95, landmarks(width * 7 / 8, height / 2, width / 40))]
    return [(0.98, centred)]


def values_text(values):
    return ", ".join(f"{v:.1f}" for v in values)


def refuse_if_unreadable(path):
    if image_size(path) is None or "crash" in os.path.basename(os.path.realpath(path)):
        print(f"Error: Could not open the image: {path}")
        sys.exit(1)
