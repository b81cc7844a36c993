"""The paper's §4.3 protocol: a real and a synthetic test set with the same subjects and labels,
both scored by an AU detector (Table 1), plus identity and preservation checks and Fig. 3 / Fig. 5.

Real set: the aligned test-fold frames with their BP4D labels. Synthetic set: for each real frame,
another frame of the same subject (seeded choice) edited by the synthesiser towards the real frame's
labels; it is scored against those labels. Unknown labels (9) stay unknown in both sets, so each
AU is scored on the same frames in both (less each set's own detection failures).

Control (beyond the paper): each pair's unedited source is scored against the same labels (the
`Source` column: what an identity generator would score) and, per AU, the edit success rate. A
source frame that is also a real frame reuses the real set's detection; the others are written to
sets/source and detected there.

The test fold is read twice: once for its labels only (to draw pairs), once streaming the images,
writing each real frame when it passes and synthesising each pair when its source passes, so that
memory stays one batch whatever the fold's size.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import tensorflow as tf

from lac_gan.common.errors import DataError, UsageError, check_output_dir, check_seed
from lac_gan.common.progress import Progress
from lac_gan.common.provenance import package_versions
from lac_gan.data import metrics, record_schema
from lac_gan.data.au_table import AU_NAMES
from lac_gan.data.bp4d import JAANET_FOLD_TEST_PART, fold_parts
from lac_gan.data.dataset import fold_files, make_dataset, read_manifest, readable_shards
from lac_gan.data.image_io import read_rgb, write_rgb
from lac_gan.data.image_range import to_model_range, to_uint8
from lac_gan.evaluation import detectors as detectors_lib, face_identity, report
from lac_gan.evaluation.face_identity import IDENTITY_MODELS, IdentityJudge
from lac_gan.evaluation.openface import DEFAULT_MIN_CONFIDENCE, DEFAULT_TIMEOUT_S
from lac_gan.nets import figures
from lac_gan.nets.synthesis import synthesis_labels

# A synthesiser: (images [B,S,S,3] in [-1,1], attention maps [B,S,S,12], target labels [B,12] 0/1,
# landmarks= [B,49,2], source_labels= [B,12] 0/1/9) -> images [B,S,S,3] in [-1,1]; every editor of
# `lac_gan.nets.synthesis.load_synthesizer` is one.
Synthesizer = Callable[..., tf.Tensor]
SET_NAMES = ("real", "synthetic")
_METADATA_FEATURES = {k: record_schema.FEATURES[k] for k in ("labels", "subject", "task", "frame")}


@dataclass(frozen=True)
class EvaluationConfig:
    """Everything `python evaluate.py` takes; recorded in results.json."""
    data_dir: str
    out_dir: str
    checkpoint: str | None = None
    editor: str | None = None  # "warp": the fixed warp, no checkpoint
    fold: int = 1
    detector: str = "openface"
    openface_bin: str | None = None
    openface_args: str = ""
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    precomputed_real: str | None = None
    precomputed_synthetic: str | None = None
    precomputed_source: str | None = None
    max_frames: int | None = None
    seed: int = 0
    batch_size: int = 16
    identity_weights: str | None = None
    identity_model: str = "vggface"
    figure_faces: int = 3
    detector_timeout: float = DEFAULT_TIMEOUT_S
    skip_bad_records: bool = False
    detector_checkpoint: str | None = None
    subjects: str | None = None  # a regular expression: only test subjects whose id matches it

    def check(self) -> None:
        """Values that cannot work, refused before anything is read or built."""
        if self.fold not in JAANET_FOLD_TEST_PART:
            raise UsageError(f"--fold {self.fold}: expected one of {sorted(JAANET_FOLD_TEST_PART)}")
        for name, smallest in (("max_frames", 1), ("batch_size", 1), ("figure_faces", 0)):
            value = getattr(self, name)
            if value is not None and value < smallest:
                raise UsageError(f"--{name} {value}: expected a whole number, at least {smallest}")
        if self.identity_model not in IDENTITY_MODELS:
            raise UsageError(f"--identity_model {self.identity_model}: expected one of {', '.join(IDENTITY_MODELS)}")
        if not 0 <= self.min_confidence <= 1:
            raise UsageError(f"--min_confidence {self.min_confidence}: expected a value in [0, 1]")
        if not (math.isfinite(self.detector_timeout) and self.detector_timeout > 0):
            raise UsageError(f"--detector_timeout {self.detector_timeout}: expected seconds, more than 0")
        check_seed(self.seed)
        if self.subjects is not None:
            try:
                re.compile(self.subjects)
            except re.error as error:
                raise UsageError(f"--subjects {self.subjects!r}: not a regular expression ({error})") from error
        check_output_dir("--out_dir", self.out_dir)


DETECTOR_NAMES = ("openface", "precomputed", "jaanet", "none")


# What one evaluation writes into --out_dir. An earlier run's are removed as a whole before a new run
# writes its first image: two runs never mix (sets of 8 and of 2 pairs, an old table1.md beside a new
# results.json).
RUN_OUTPUTS = ("sets", "figures", "detector", "table1.md", "table1.csv", "results.json")


def replace_earlier_run(out_dir: Path) -> None:
    earlier = [name for name in RUN_OUTPUTS if (out_dir / name).exists() or (out_dir / name).is_symlink()]
    if earlier:
        logging.warning("%s: replacing the earlier evaluation there (%s)", out_dir, ", ".join(earlier))
    for name in earlier:
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def build_detector(name: str, *, work_dir: str | Path, openface_bin: str | None = None,
                   openface_args: str = "", precomputed_real: str | None = None,
                   precomputed_synthetic: str | None = None, precomputed_source: str | None = None,
                   min_confidence: float = DEFAULT_MIN_CONFIDENCE, timeout_s: float = DEFAULT_TIMEOUT_S,
                   detector_checkpoint: str | None = None) -> detectors_lib.AUDetector | None:
    """The detector named on the command line; None for 'none' (write the sets, score nothing)."""
    if name == "openface":
        return detectors_lib.OpenFaceDetector(openface_bin, work_dir, openface_args, min_confidence, timeout_s)
    if name == "precomputed":
        if not (precomputed_real and precomputed_synthetic):
            raise UsageError("--detector precomputed needs --precomputed_real and --precomputed_synthetic")
        # Source detections (Table 1's control) are needed only for sources outside the real set.
        extra = {"source": precomputed_source} if precomputed_source else {}
        return detectors_lib.PrecomputedDetector(
            {"real": precomputed_real, "synthetic": precomputed_synthetic, **extra}, min_confidence)
    if name == "jaanet":
        if not detector_checkpoint:
            raise UsageError("--detector jaanet needs --detector_checkpoint (a `lacgan train-detector` logdir, "
                             "or one made by `lacgan convert-jaanet`)")
        from lac_gan.evaluation.jaanet_detector import JaanetDetector  # the JAA-Net model code, only when asked for
        return JaanetDetector(detector_checkpoint)
    if name == "none":
        return None
    raise ValueError(f"unknown detector {name!r}; choose one of {', '.join(DETECTOR_NAMES)}")


# ---------------------------------------------------------------------------------------------
# Pairing


def read_frame_index(files: list[str]) -> pd.DataFrame:
    """subject, task, frame and the 12 labels of every record, sorted by (subject, task, frame)."""
    dataset = tf.data.TFRecordDataset(files).batch(4096).map(
        lambda s: tf.io.parse_example(s, _METADATA_FEATURES))
    parts = []
    for batch in dataset.as_numpy_iterator():
        part = pd.DataFrame({"subject": [s.decode() for s in batch["subject"]],
                             "task": [t.decode() for t in batch["task"]], "frame": batch["frame"]})
        part[list(AU_NAMES)] = batch["labels"]
        parts.append(part)
    index = pd.concat(parts, ignore_index=True).sort_values(["subject", "task", "frame"], ignore_index=True)
    duplicated = index.duplicated(["subject", "task", "frame"])
    if duplicated.any():
        raise DataError(f"the test fold holds {int(duplicated.sum())} duplicate (subject, task, frame) records")
    return index


def choose_pairs(index: pd.DataFrame, seed: int, max_frames: int | None = None) -> pd.DataFrame:
    """One row per evaluated real frame: `target` (its row in `index`) and `source` (another frame
    of the same subject, drawn uniformly with `seed`). With `max_frames`, that many targets are
    drawn first (seeded, without replacement). Subjects with a single frame have no source and
    are left out."""
    rng = np.random.default_rng(seed)
    by_subject = {s: np.asarray(rows) for s, rows in index.groupby("subject").indices.items()}
    candidates = np.concatenate([rows for rows in by_subject.values() if len(rows) > 1] or [np.empty(0, int)])
    candidates.sort()
    if max_frames is not None and max_frames < len(candidates):
        candidates = np.sort(rng.choice(candidates, size=max_frames, replace=False))
    subjects = index["subject"].to_numpy()
    sources = np.empty(len(candidates), dtype=np.int64)
    for i, target in enumerate(candidates):
        rows = by_subject[subjects[target]]
        pick = rng.integers(len(rows) - 1)  # among the other frames: skip over the target itself
        sources[i] = rows[pick + (rows[pick] >= target)]
    return pd.DataFrame({"target": candidates, "source": sources})


UNKNOWN_LABEL_RULE = ("synthesis target = the real frame's label; where that is 9 the source keeps its own "
                      "label (0 when unknown too); 9s stay 9 in both sets and are not scored")


def source_images(pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Where the detector sees each pair's unedited source: (set name, image number) per pair.

    ('real', q) when the source frame is pair q's real frame (its detection is reused), else
    ('source', r): sets/source/<r>.png, written once per frame, r = the first pair with that source.
    """
    pair_of_target = dict(zip(pairs["target"], pairs.index))
    first_pair_of_source: dict[int, int] = {}
    set_names, images = [], []
    for pair, source in zip(pairs.index, pairs["source"]):
        if source in pair_of_target:
            set_names.append("real")
            images.append(pair_of_target[source])
        else:
            set_names.append("source")
            images.append(first_pair_of_source.setdefault(source, pair))
    return np.asarray(set_names, dtype=object), np.asarray(images, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# Synthesis


@dataclass
class Preservation:
    """Sums of |synthetic - source| (in [-1, 1] units) outside all AU regions and inside them."""
    outside_sum: float = 0.0
    outside_values: int = 0
    inside_sum: float = 0.0
    inside_values: int = 0

    def add(self, synthetic: np.ndarray, source: np.ndarray, attention_maps: np.ndarray) -> None:
        error = np.abs(synthetic.astype(np.float64) - source)
        outside = np.broadcast_to(attention_maps.sum(-1, keepdims=True) == 0, error.shape)
        self.outside_sum += float(error[outside].sum())
        self.outside_values += int(outside.sum())
        self.inside_sum += float(error[~outside].sum())
        self.inside_values += int((~outside).sum())

    def summary(self) -> dict:
        """Mean absolute errors in 0-255 grey levels (the outside one is 0 for the CARGs by Eq. 2; the
        moving editors' reach is larger than the maps, docs/paper-notes.md)."""
        def mae(total, count):
            return 127.5 * total / count if count else None
        return {"mae_outside_au_regions": mae(self.outside_sum, self.outside_values),
                "mae_inside_au_regions": mae(self.inside_sum, self.inside_values),
                "unit": "grey levels (0-255), synthetic vs its source, before quantisation to uint8",
                "values_outside": self.outside_values, "values_inside": self.inside_values}


@dataclass
class SynthesisOutcome:
    preservation: Preservation
    identity_scores: list[float]
    figure_faces: list[figures.Face]


class _PairSynthesiser:
    """Batches the pairs whose source has been read, synthesises them and writes their PNGs."""

    def __init__(self, synthesizer: Synthesizer, out_dir: Path, batch_size: int,
                 judge: IdentityJudge | None, total: int):
        self.synthesizer, self.out_dir, self.batch_size, self.judge = synthesizer, out_dir, batch_size, judge
        self.pending: list[tuple] = []
        self.preservation = Preservation()
        self.identity_scores: list[float] = []
        self.progress = Progress("synthesised", total)

    def add(self, pair: int, image: np.ndarray, attention_maps: np.ndarray, landmarks: np.ndarray,
            labels: np.ndarray, source_labels: np.ndarray) -> None:
        self.pending.append((pair, image, attention_maps, landmarks, labels, source_labels))
        if len(self.pending) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        pairs, images, maps, landmarks, labels, source_labels = (list(x) for x in zip(*self.pending))
        self.pending = []
        images, maps = np.stack(images), np.stack(maps)
        synthetic = np.asarray(self.synthesizer(tf.constant(images), tf.constant(maps),
                                                tf.constant(np.stack(labels), tf.float32),
                                                landmarks=tf.constant(np.stack(landmarks)),
                                                source_labels=tf.constant(np.stack(source_labels))))
        for pair, image in zip(pairs, to_uint8(synthetic).numpy()):
            write_rgb(image, set_path(self.out_dir, "synthetic", pair))
        for k in range(len(pairs)):
            self.preservation.add(synthetic[k], images[k], maps[k])
        if self.judge is not None:
            self.identity_scores.extend(self.judge.score(synthetic, images).tolist())
        self.progress.update(len(pairs))


def set_path(out_dir: Path, set_name: str, pair: int) -> Path:
    """Where image `pair` of a set is written: sets/<set>/<pair:06d>.png (sorted = pair order)."""
    return out_dir / "sets" / set_name / f"{pair:06d}.png"


def synthesise_sets(files: list[str], image_size: int, index: pd.DataFrame, pairs: pd.DataFrame,
                    synthesizer: Synthesizer, out_dir: Path, batch_size: int,
                    judge: IdentityJudge | None, figure_faces: int) -> SynthesisOutcome:
    """One streaming pass over the test fold: write the real set, synthesise the synthetic set."""
    for set_name in SET_NAMES:
        (out_dir / "sets" / set_name).mkdir(parents=True, exist_ok=True)
    position = {key: i for i, key in enumerate(zip(index["subject"], index["task"], index["frame"]))}
    labels = index[list(AU_NAMES)].to_numpy()
    pair_of_target = dict(zip(pairs["target"], pairs.index))
    pairs_of_source = pairs.groupby("source").groups
    source_sets, source_numbers = source_images(pairs)
    own_source = {int(pairs.at[pair, "source"]): int(pair) for pair in source_numbers[source_sets == "source"]}
    if own_source:
        (out_dir / "sets" / "source").mkdir(parents=True, exist_ok=True)
    figure_rows = set(pairs["target"][:figure_faces])
    faces: dict[int, figures.Face] = {}
    writer = _PairSynthesiser(synthesizer, out_dir, batch_size, judge, len(pairs))
    dataset = make_dataset(files, image_size, batch_size, shuffle=False, repeat=False, drop_remainder=False)
    for batch in dataset.as_numpy_iterator():
        for k, key in enumerate(zip(batch["subject"], batch["task"], batch["frame"])):
            row = position.get((key[0].decode(), key[1].decode(), int(key[2])))
            if row is None:  # a subject left out by --subjects
                continue
            if row in pair_of_target:
                write_rgb(to_uint8(batch["image"][k]).numpy(), set_path(out_dir, "real", pair_of_target[row]))
            if row in own_source:  # a source that is no real frame: detected on its own for the control
                write_rgb(to_uint8(batch["image"][k]).numpy(), set_path(out_dir, "source", own_source[row]))
            if row in figure_rows:
                faces[row] = figures.Face(batch["image"][k], batch["attention_maps"][k], labels[row],
                                          "{}/{}/{}".format(*index.loc[row, ["subject", "task", "frame"]]),
                                          batch["face_landmarks"][k])
            for pair in pairs_of_source.get(row, ()):
                target_labels = synthesis_labels(labels[pairs.at[pair, "target"]], labels[row])
                writer.add(int(pair), batch["image"][k], batch["attention_maps"][k], batch["face_landmarks"][k],
                           target_labels, labels[row])
    writer.flush()
    return SynthesisOutcome(writer.preservation, writer.identity_scores,
                            [faces[row] for row in pairs["target"][:figure_faces]])


# ---------------------------------------------------------------------------------------------
# Detection and the whole run


def detect_and_score(detector: detectors_lib.AUDetector, out_dir: Path, labels: np.ndarray,
                     source_labels: np.ndarray | None = None,
                     sources: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Runs the detector on both sets and scores each against `labels` (the same for both).

    With `source_labels` (the source frames' own labels) and `sources` (`source_images(pairs)`),
    also the control: the unedited sources scored against `labels` ("source") and the per-AU edit
    success ("edit_success").
    """
    scored, found = {}, {}
    for set_name in SET_NAMES:
        paths = [set_path(out_dir, set_name, i) for i in range(len(labels))]
        found[set_name] = detector.predict(paths, set_name)
        scores = metrics.au_scores(labels, found[set_name].occurrence, found[set_name].failed,
                                   found[set_name].covered)
        scored[set_name] = {"scores": scores, "detection_failures": found[set_name].num_failed,
                            "frames": len(labels), "provenance": found[set_name].provenance}
    if sources is None:
        return scored
    source = source_detections(detector, out_dir, sources, found["real"])
    scored["source"] = {
        "scores": metrics.au_scores(labels, source.occurrence, source.failed, source.covered),
        "detection_failures": source.num_failed, "frames": len(labels), "provenance": source.provenance,
        "reused_real_detections": int(np.sum(sources[0] == "real")),
        "detected_separately": int(np.sum(sources[0] == "source")),
        "what": "the unedited source of each pair scored against the pair's target (real frame's) labels"}
    synthetic = found["synthetic"]
    scored["edit_success"] = metrics.edit_success(labels, source_labels, synthetic.occurrence, synthetic.failed,
                                                  synthetic.covered & source.covered, source.occurrence,
                                                  source.failed)
    return scored


def source_detections(detector: detectors_lib.AUDetector, out_dir: Path,
                      sources: tuple[np.ndarray, np.ndarray],
                      real: detectors_lib.Detections) -> detectors_lib.Detections:
    """The detector's output on each pair's unedited source: the real set's detection of that frame
    where it is one, the detector run on sets/source for the others."""
    set_names, numbers = sources
    reused = set_names == "real"
    occurrence = np.full((len(numbers), real.occurrence.shape[1]), np.nan)
    failed = np.zeros(len(numbers), dtype=bool)
    occurrence[reused] = real.occurrence[numbers[reused]]
    failed[reused] = real.failed[numbers[reused]]
    covered, provenance = real.covered, f"the real set's detections ({real.provenance})"
    own = sorted(set(numbers[~reused].tolist()))
    if own:
        extra = detector.predict([set_path(out_dir, "source", n) for n in own], "source")
        position = {n: i for i, n in enumerate(own)}
        rows = [position[n] for n in numbers[~reused]]
        occurrence[~reused] = extra.occurrence[rows]
        failed[~reused] = extra.failed[rows]
        covered = covered & extra.covered
        provenance = f"{provenance} and sets/source ({extra.provenance})"
    return detectors_lib.Detections(occurrence, failed, covered, provenance)


def real_vs_source_scores(judge: IdentityJudge, out_dir: Path, pairs: pd.DataFrame, batch_size: int) -> list[float]:
    """The identity judge on each pair's real target frame vs its source frame, read back from the
    written sets: two real frames of the same person, the scale for the synthetic-vs-source score."""
    source_sets, source_numbers = source_images(pairs)
    scores = []
    for start in range(0, len(pairs), batch_size):
        rows = range(start, min(start + batch_size, len(pairs)))
        targets = [read_rgb(set_path(out_dir, "real", int(pairs.index[r]))) for r in rows]
        sources = [read_rgb(set_path(out_dir, source_sets[r], int(source_numbers[r]))) for r in rows]
        scores.extend(judge.score(to_model_range(np.stack(targets)).numpy(),
                                  to_model_range(np.stack(sources)).numpy()).tolist())
    return scores


def identity_judge(config: EvaluationConfig, image_size: int) -> IdentityJudge | None:
    if config.identity_model == "dlib":
        return face_identity.dlib_judge()
    return face_identity.vggface_judge(config.identity_weights, image_size) if config.identity_weights else None


def run_evaluation(config: EvaluationConfig, *, synthesizer: Synthesizer | None = None,
                   image_size: int | None = None, detector: detectors_lib.AUDetector | None = None,
                   judge: IdentityJudge | None = None) -> dict:
    """The whole protocol; writes table1.md, table1.csv, results.json, the sets and the figures
    under `config.out_dir` and returns what results.json holds.

    `synthesizer` (and its `image_size`, read from its config when not given), `detector` and the
    identity `judge` are built from `config` unless given (tests inject small ones).
    """
    started = time.time()
    config.check()
    out_dir = Path(config.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(config.data_dir)
    # Everything that can fail on a flag or on the data is checked before the model is built.
    files, skipped_records, _ = readable_shards(fold_files(config.data_dir, config.fold, "test"),
                                                config.skip_bad_records, out_dir)
    if detector is None:
        detector = build_detector(
            config.detector, work_dir=out_dir / "detector", openface_bin=config.openface_bin,
            openface_args=config.openface_args, precomputed_real=config.precomputed_real,
            precomputed_synthetic=config.precomputed_synthetic, precomputed_source=config.precomputed_source,
            min_confidence=config.min_confidence, timeout_s=config.detector_timeout,
            detector_checkpoint=config.detector_checkpoint)
    if synthesizer is None:
        from lac_gan.nets.synthesis import load_synthesizer  # the model code, only when needed
        synthesizer = load_synthesizer(config.checkpoint, config.editor)
    image_size = image_size or synthesizer.image_size
    if image_size != manifest["image_size"]:
        logging.info("%s holds %dpx faces: real and synthetic faces are judged at the synthesiser's %dpx",
                     config.data_dir, manifest["image_size"], image_size)
    if judge is None:
        judge = identity_judge(config, image_size)

    index = read_frame_index(files)
    if config.subjects is not None:
        chosen = index["subject"].str.fullmatch(config.subjects)
        if not chosen.any():
            raise UsageError(f"--subjects {config.subjects!r} matches none of fold {config.fold}'s test subjects "
                             f"({', '.join(index['subject'].unique()[:5])}, ...)")
        index = index[chosen].reset_index(drop=True)
    pairs = choose_pairs(index, config.seed, config.max_frames)
    if pairs.empty:
        raise DataError(f"no frame of fold {config.fold}'s test part has a second frame of its subject")
    logging.info("%d test frames, %d evaluated pairs (seed %d)", len(index), len(pairs), config.seed)
    sources = source_images(pairs)
    if (isinstance(detector, detectors_lib.PrecomputedDetector) and "source" not in detector.path_by_set
            and np.any(sources[0] == "source")):
        raise UsageError(f"{int(np.sum(sources[0] == 'source'))} pairs' source frames are not real-set frames "
                         "(a --max_frames subsample): run your detector on sets/source as well and pass "
                         "--precomputed_source")
    replace_earlier_run(out_dir)
    outcome = synthesise_sets(files, image_size, index, pairs, synthesizer, out_dir, config.batch_size,
                              judge, config.figure_faces)
    figure_paths = figures.write_figures(outcome.figure_faces, synthesizer, out_dir / "figures")
    labels = index[list(AU_NAMES)].to_numpy()[pairs["target"].to_numpy()]
    source_labels = index[list(AU_NAMES)].to_numpy()[pairs["source"].to_numpy()]
    scored = (detect_and_score(detector, out_dir, labels, source_labels, sources)
              if detector is not None else None)

    results = {
        "protocol": {**dataclasses.asdict(config), **protocol_facts(config, manifest, index, pairs, image_size)},
        "detector": None if detector is None else {
            "name": detector.name, "covered_aus": [n for n, c in zip(AU_NAMES, detector.covered_aus) if c],
            "min_confidence": config.min_confidence,
            "provenance": {s: scored[s]["provenance"] for s in SET_NAMES}},
        "preservation": outcome.preservation.summary(),
        "identity": (judge.summary(outcome.identity_scores, real_vs_source_scores(judge, out_dir, pairs,
                                                                                  config.batch_size))
                     if judge is not None else
                     {"skipped": "no --identity_weights (VGG-Face weights file) given; --identity_model dlib "
                                 "needs none"}),
        "figures": [str(p.relative_to(out_dir)) for p in figure_paths],
        "pairs": pair_records(index, pairs),
        "skipped_records": skipped_records,
        "versions": package_versions(),
        "seconds": round(time.time() - started, 1),
    }
    report.write_report(out_dir, results, scored)
    return results


def protocol_facts(config: EvaluationConfig, manifest: dict, index: pd.DataFrame, pairs: pd.DataFrame,
                   image_size: int) -> dict:
    """What the run evaluated, beyond its settings."""
    frames_per_subject = index.groupby("subject")["frame"].transform("size")
    return {"test_part": fold_parts(config.fold, manifest["parts"])[1], "image_size": image_size,
            "frames_in_test_part": len(index), "frames_without_partner": int((frames_per_subject == 1).sum()),
            "pairs": len(pairs), "unknown_label_rule": UNKNOWN_LABEL_RULE}


def pair_records(index: pd.DataFrame, pairs: pd.DataFrame) -> list[dict]:
    """Each pair as results.json lists it: image file, real frame, source frame, labels."""
    labels = index[list(AU_NAMES)].to_numpy()
    keys = [f"{s}/{t}/{f}" for s, t, f in zip(index["subject"], index["task"], index["frame"])]
    source_sets, source_numbers = source_images(pairs)
    records = []
    for pair, (target, source) in enumerate(zip(pairs["target"], pairs["source"])):
        records.append({"image": f"{pair:06d}.png", "real": keys[target], "source": keys[source],
                        "source_image": f"{source_sets[pair]}/{source_numbers[pair]:06d}.png",
                        "labels": labels[target].tolist(),
                        "synthesis_labels": synthesis_labels(labels[target], labels[source]).tolist()})
    return records
