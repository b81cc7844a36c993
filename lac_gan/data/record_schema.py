"""The TFRecord schema: the one place, with its writer and reader, that knows how an example is stored.

One `tf.train.Example` per aligned frame:

| key | type | content |
|---|---|---|
| `image/encoded` | bytes | aligned RGB face, JPEG (quality 95), `image/size` x `image/size` |
| `image/size` | int64 | side of the square image |
| `labels` | int64[12] | AU occurrence as coded in BP4D: 0, 1, or 9 = not coded (kept as 9) |
| `known_mask` | int64[12] | 1 where the label is 0 or 1, 0 where it was 9 |
| `subject`, `task` | bytes | e.g. `F001`, `T1` |
| `frame` | int64 | BP4D frame number |
| `landmarks5` | float[10] | eye centres, nose tip, mouth corners (x, y) in the aligned image |
| `landmarks49` | float[98] | the frame's own 49 points in the aligned image, when supplied |
| `has_landmarks49` | int64 | 1 when `landmarks49` holds real points, 0 when it is all zeros |
| `au_centres` | float[48] | [12 AUs, 2 centres, (x, y)] in the aligned image |
| `attention_maps/encoded` | bytes | zlib of uint8 [12, S, S] = round(255 * A_i), channel first |

Channel-first zlib keeps each map's long runs of zeros together: about 3 KB per example against
480 KB raw, and it decodes with core TF ops (`tf.io.decode_compressed`).
"""
from __future__ import annotations

import zlib

import numpy as np
import tensorflow as tf

from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.data.au_table import NUM_AUS

SCHEMA_VERSION = 1
JPEG_QUALITY = 95
MAP_ENCODING = "zlib-uint8-chw"


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel()))


def encode_attention_maps(attention_maps: np.ndarray) -> bytes:
    """[S, S, 12] float maps in [0, 1] -> the compact stored form (see module docstring)."""
    quantised = np.round(np.clip(attention_maps, 0.0, 1.0) * 255).astype(np.uint8)
    return zlib.compress(np.ascontiguousarray(quantised.transpose(2, 0, 1)).tobytes(), 6)


def encode_example(*, image: np.ndarray, labels: np.ndarray, subject: str, task: str, frame: int,
                   landmarks5: np.ndarray, au_centres: np.ndarray, attention_maps: np.ndarray,
                   landmarks49: np.ndarray | None = None) -> bytes:
    """Serialise one aligned frame. `image` is uint8 [S, S, 3]; `labels` holds 0/1/9 per AU."""
    size = image.shape[0]
    if image.shape != (size, size, 3) or image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 [S, S, 3], got {image.dtype} {image.shape}")
    if attention_maps.shape != (size, size, NUM_AUS):
        raise ValueError(f"attention maps must be [{size}, {size}, {NUM_AUS}], got {attention_maps.shape}")
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (NUM_AUS,) or not np.isin(labels, (0, 1, 9)).all():
        raise ValueError(f"labels must be {NUM_AUS} values in {{0, 1, 9}}, got {labels.tolist()}")
    has49 = landmarks49 is not None
    feature = {
        "image/encoded": _bytes([tf.io.encode_jpeg(image, quality=JPEG_QUALITY).numpy()]),
        "image/size": _ints([size]),
        "labels": _ints(labels),
        "known_mask": _ints(labels != 9),
        "subject": _bytes([subject.encode()]),
        "task": _bytes([task.encode()]),
        "frame": _ints([frame]),
        "landmarks5": _floats(landmarks5),
        "landmarks49": _floats(landmarks49 if has49 else np.zeros((49, 2))),
        "has_landmarks49": _ints([has49]),
        "au_centres": _floats(au_centres),
        "attention_maps/encoded": _bytes([encode_attention_maps(attention_maps)]),
    }
    # deterministic: the same frame gives the same bytes in any process, so reruns are byte-identical.
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


FEATURES = {
    "image/encoded": tf.io.FixedLenFeature([], tf.string),
    "image/size": tf.io.FixedLenFeature([], tf.int64),
    "labels": tf.io.FixedLenFeature([NUM_AUS], tf.int64),
    "known_mask": tf.io.FixedLenFeature([NUM_AUS], tf.int64),
    "subject": tf.io.FixedLenFeature([], tf.string),
    "task": tf.io.FixedLenFeature([], tf.string),
    "frame": tf.io.FixedLenFeature([], tf.int64),
    "landmarks5": tf.io.FixedLenFeature([10], tf.float32),
    "landmarks49": tf.io.FixedLenFeature([98], tf.float32),
    "has_landmarks49": tf.io.FixedLenFeature([], tf.int64),
    "au_centres": tf.io.FixedLenFeature([NUM_AUS * 4], tf.float32),
    "attention_maps/encoded": tf.io.FixedLenFeature([], tf.string),
}


def parse_example(serialized: tf.Tensor, image_size: int) -> dict[str, tf.Tensor]:
    """One serialised example -> tensors ready for the model, at `image_size`.

    image: float32 [S, S, 3] in [-1, 1]; labels: int32 [12] (0, 1, or 9 = unknown); known_mask:
    bool [12]; attention_maps: float32 [S, S, 12] in [0, 1]; face_landmarks [49, 2]: landmarks49, or the
    canonical face's where the record has none; plus the metadata of the table above.
    Records stored at another size are resized here (area-averaged image and maps, point coordinates
    scaled), so one conversion serves every preset.
    """
    raw = tf.io.parse_single_example(serialized, FEATURES)
    stored = tf.cast(raw["image/size"], tf.int32)
    image = tf.cast(tf.io.decode_jpeg(raw["image/encoded"], channels=3), tf.float32) / 127.5 - 1.0
    maps = tf.io.decode_raw(tf.io.decode_compressed(raw["attention_maps/encoded"], "ZLIB"), tf.uint8)
    # Transposed as float32, after the division: oneDNN's Transpose takes no uint8 (it logs an ERROR
    # line saying so), and Grappler moves a Cast that a Transpose directly follows past it.
    maps = tf.transpose(tf.cast(tf.reshape(maps, [NUM_AUS, stored, stored]), tf.float32) / 255.0, [1, 2, 0])
    image, maps = tf.cond(tf.equal(stored, image_size), lambda: (image, maps),
                          lambda: (tf.image.resize(image, [image_size, image_size], "area"),
                                   tf.image.resize(maps, [image_size, image_size], "area")))
    scale = tf.cast(image_size, tf.float32) / tf.cast(stored, tf.float32)

    def points(values, shape):  # 0-based pixel-centre coordinates: (p + 0.5) * scale - 0.5
        return tf.reshape((values + 0.5) * scale - 0.5, shape)
    landmarks49 = points(raw["landmarks49"], [49, 2])
    has49 = raw["has_landmarks49"] > 0
    return {
        "image": tf.ensure_shape(image, [image_size, image_size, 3]),
        "labels": tf.cast(raw["labels"], tf.int32),
        "known_mask": raw["known_mask"] > 0,
        "attention_maps": tf.ensure_shape(maps, [image_size, image_size, NUM_AUS]),
        "subject": raw["subject"],
        "task": raw["task"],
        "frame": raw["frame"],
        "landmarks5": points(raw["landmarks5"], [5, 2]),
        "landmarks49": landmarks49,
        "has_landmarks49": has49,
        # The face's own 49 points, or the canonical face's (whose AU centres such a frame got).
        "face_landmarks": tf.where(has49, landmarks49, tf.constant(canonical_landmarks49(image_size), tf.float32)),
        "au_centres": points(raw["au_centres"], [NUM_AUS, 2, 2]),
    }
