"""The reader: TFRecord files written by `tfrecords_tools.convert` -> batched `tf.data.Dataset`."""
from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from lac_gan import record_schema
from lac_gan.bp4d import fold_parts

MANIFEST_NAME = "manifest.json"


def read_manifest(data_dir: str | Path) -> dict:
    """The converter's manifest.json of `data_dir`, with a clear error when it is missing or stale."""
    path = Path(data_dir) / MANIFEST_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest; is {data_dir} the --out_dir of "
                                "`python -m tfrecords_tools.convert`?")
    manifest = json.loads(path.read_text())
    if manifest.get("schema_version") != record_schema.SCHEMA_VERSION:
        raise ValueError(f"{path}: schema version {manifest.get('schema_version')}, this code reads "
                         f"{record_schema.SCHEMA_VERSION}; convert the data again")
    return manifest


def part_files(data_dir: str | Path, parts: list[str] | tuple[str, ...]) -> list[str]:
    """Sorted shard paths of the given parts; an error naming the folder when a part has none."""
    files = []
    for part in parts:
        found = sorted(str(p) for p in (Path(data_dir) / part).glob("*.tfrecord"))
        if not found:
            raise FileNotFoundError(f"{Path(data_dir) / part}: no .tfrecord shards for part {part!r}")
        files.extend(found)
    return files


def fold_files(data_dir: str | Path, fold: int, split: str) -> list[str]:
    """Shards of fold `fold` (1-3), `split` 'train' or 'test', under the parts of the manifest."""
    manifest = read_manifest(data_dir)
    train_parts, test_part = fold_parts(fold, manifest["parts"])
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return part_files(data_dir, train_parts if split == "train" else [test_part])


def make_dataset(files: list[str], image_size: int, batch_size: int, *, shuffle: bool = True,
                 repeat: bool = True, seed: int | None = None, shuffle_buffer: int = 2048,
                 drop_remainder: bool = True, skip_examples: int = 0) -> tf.data.Dataset:
    """Batches of `record_schema.parse_example` dicts with interleaved reads, parallel decode, prefetch.

    `skip_examples` drops that many examples of the (seeded) stream before decoding: a resumed
    training run skips what it already consumed without decoding it again.
    """
    if not files:
        raise ValueError("make_dataset needs at least one TFRecord file")
    dataset = tf.data.Dataset.from_tensor_slices(list(files))
    if shuffle:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.interleave(tf.data.TFRecordDataset, cycle_length=min(len(files), 8),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=not shuffle or seed is not None)
    if shuffle:
        dataset = dataset.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    dataset = dataset.skip(skip_examples)
    dataset = dataset.map(lambda s: record_schema.parse_example(s, image_size),
                          num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None or not shuffle)
    return dataset.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)
