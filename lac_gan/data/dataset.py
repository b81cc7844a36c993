"""The reader: TFRecord files written by `tfrecords_tools.convert` -> batched `tf.data.Dataset`."""
from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import tensorflow as tf

from lac_gan.common.errors import DataError, UsageError, fault_message
from lac_gan.common.json_files import write_json_atomic
from lac_gan.data import record_schema
from lac_gan.data.bp4d import fold_parts

MANIFEST_NAME = "manifest.json"
SKIPPED_RECORDS_NAME = "skipped_records.json"
READABLE_SHARDS_DIR = "readable_shards"
CHECK_BATCH = 512  # records parsed together while checking a shard


def read_manifest(data_dir: str | Path) -> dict:
    """The converter's manifest.json of `data_dir`, with a clear error when it is missing or stale."""
    path = Path(data_dir) / MANIFEST_NAME
    if not path.is_file():
        raise UsageError(f"--data_dir {data_dir}: no {MANIFEST_NAME} there; expected the --out_dir of "
                         "`lacgan convert`")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as error:
        raise DataError(f"{path}: not valid JSON ({error}); run the converter again on the same --out_dir "
                        "to rebuild it") from error
    if not isinstance(manifest, dict) or manifest.get("schema_version") is None:
        raise DataError(f"{path}: not a converter manifest (no schema_version)")
    if manifest.get("schema_version") != record_schema.SCHEMA_VERSION:
        raise DataError(f"{path}: schema version {manifest.get('schema_version')}, this code reads "
                         f"{record_schema.SCHEMA_VERSION}; convert the data again")
    return manifest


def part_files(data_dir: str | Path, parts: list[str] | tuple[str, ...]) -> list[str]:
    """Sorted shard paths of the given parts; an error naming the folder when a part has none."""
    files = []
    for part in parts:
        found = sorted(str(p) for p in (Path(data_dir) / part).glob("*.tfrecord"))
        if not found:
            raise DataError(f"{Path(data_dir) / part}: no .tfrecord shards for part {part!r}, which the fold needs")
        files.extend(found)
    return files


def fold_files(data_dir: str | Path, fold: int, split: str) -> list[str]:
    """Shards of fold `fold` (1-3), `split` 'train' or 'test', under the parts of the manifest."""
    manifest = read_manifest(data_dir)
    train_parts, test_part = fold_parts(fold, manifest["parts"])
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return part_files(data_dir, train_parts if split == "train" else [test_part])


@dataclasses.dataclass
class ShardCheck:
    """What reading one shard found: `good` readable LAC-GAN examples; `bad` (record number, byte
    offset, reason) of records that are not, where a damaged record (truncated, bad checksum) ends
    the readable part of the shard, as TFRecord has no way to find the next record after it."""
    shard: str
    good: int = 0
    bad: list[tuple[int, int, str]] = dataclasses.field(default_factory=list)

    def describe(self, limit: int = 3) -> str:
        listed = "; ".join(f"record {n} at byte {offset}: {reason}" for n, offset, reason in self.bad[:limit])
        more = f"; and {len(self.bad) - limit} more" if len(self.bad) > limit else ""
        return f"{self.shard}: {listed}{more}"


def check_shard(path: str, write_good_to: Path | None = None) -> ShardCheck:
    """Reads every record of a shard (checksums) and parses it as an example of record_schema;
    with `write_good_to`, the readable examples are copied there."""
    check = ShardCheck(path)
    writer = None
    if write_good_to is not None:
        write_good_to.parent.mkdir(parents=True, exist_ok=True)
        writer = tf.io.TFRecordWriter(str(write_good_to))

    def parse(chunk: list[tuple[int, int, bytes]]) -> None:
        try:
            tf.io.parse_example([record for _, _, record in chunk], record_schema.FEATURES)
            good = [record for _, _, record in chunk]
        except tf.errors.InvalidArgumentError:  # only a failing batch is parsed one by one
            good = []
            for number, offset, record in chunk:
                try:
                    tf.io.parse_single_example(record, record_schema.FEATURES)
                    good.append(record)
                except tf.errors.InvalidArgumentError as error:
                    check.bad.append((number, offset, f"not a LAC-GAN example ({fault_message(error)})"))
        check.good += len(good)
        for record in good if writer else ():
            writer.write(record)

    chunk, number, offset = [], 0, 0
    records = tf.data.TFRecordDataset(path).as_numpy_iterator()
    try:
        while True:
            try:
                record = next(records)
            except StopIteration:
                break
            except tf.errors.DataLossError as error:
                check.bad.append((number, offset, f"damaged record, the rest of the shard is unreadable "
                                                  f"({fault_message(error)})"))
                break
            chunk.append((number, offset, record))
            number, offset = number + 1, offset + len(record) + 16  # length, its CRC, data, data CRC
            if len(chunk) == CHECK_BATCH:
                parse(chunk)
                chunk = []
        if chunk:
            parse(chunk)
    finally:
        if writer is not None:
            writer.close()
    check.bad.sort()
    return check


def readable_shards(files: list[str], skip_bad_records: bool, work_dir: Path, flag: str = "--skip_bad_records"
                    ) -> tuple[list[str], dict, int]:
    """Checks every shard before the long work starts: (shards to read, what was skipped, how many
    readable examples they hold).

    A bad record is a DataError naming the shard, record and byte offset, unless `skip_bad_records`:
    then each damaged shard is replaced by a copy of its readable examples under
    `work_dir/readable_shards` (the data itself is never changed), and the skipped records are
    counted in the returned dict, also written to `work_dir/skipped_records.json`.
    """
    checks = [check_shard(f) for f in files]
    damaged = [c for c in checks if c.bad]
    examples = sum(c.good for c in checks)
    if not damaged:
        return list(files), {"records": 0, "shards": []}, examples
    if not skip_bad_records:
        raise DataError(f"{damaged[0].describe()} ({len(damaged)} damaged shard(s) in all); pass {flag} to go on "
                        "without the bad records (counted), or convert those videos again")
    replaced = {}
    for check in damaged:
        copy = work_dir / READABLE_SHARDS_DIR / Path(check.shard).parent.name / Path(check.shard).name
        check_shard(check.shard, write_good_to=copy)
        replaced[check.shard] = str(copy)
    skipped = {"records": sum(len(c.bad) for c in damaged),
               "shards": [{"shard": c.shard, "readable_copy": replaced[c.shard], "examples_kept": c.good,
                           "bad_records": [{"record": n, "offset": o, "reason": r} for n, o, r in c.bad]}
                          for c in damaged]}
    write_json_atomic(work_dir / SKIPPED_RECORDS_NAME, skipped)
    logging.warning("%s: skipped %d unreadable record(s) in %d shard(s), reading their readable examples from "
                    "%s; details in %s", flag, skipped["records"], len(damaged), work_dir / READABLE_SHARDS_DIR,
                    work_dir / SKIPPED_RECORDS_NAME)
    return [replaced.get(f, f) for f in files], skipped, examples


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
