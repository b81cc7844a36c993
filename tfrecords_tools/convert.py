"""BP4D frames + AU occurrence labels -> aligned faces with AU attention maps, as TFRecord shards.

    python -m tfrecords_tools.convert --bp4d_root /data/BP4D/images \\
        --labels_root /data/BP4D/AUCoding/AU_OCC --out_dir /data/bp4d_tfrecords

One shard per video, `<out_dir>/<part>/<Subject>_<Task>.tfrecord`, grouped by subject-exclusive part
(JAA-Net's three by default); a fold is a choice of parts. A shard is written under a temporary name
and renamed only when complete, after its stats sidecar `<Subject>_<Task>.stats.json`: finished
shards are never redone, so re-running after a kill completes the set. `manifest.json` is rebuilt
from all sidecars at the end. Bad input is counted by reason, never fatal; a misconfiguration is
fatal at once with a message saying what was expected where. One converter at a time writes to an
out_dir (a lock file), and worker processes end when the converter dies, even by kill -9.

This module holds the command's flags (`lacgan convert`); the work is lac_gan/data/conversion.py
(shards, workers, manifest) and lac_gan/data/frame_pipeline.py (one frame -> one example).
"""
from __future__ import annotations

import sys

if __name__ == "__main__":  # `python -m tfrecords_tools.convert`: through `lacgan convert`'s quiet start (lac_gan/cli.py)
    from lac_gan.cli import main
    main([sys.argv[0], "convert", *sys.argv[1:]])  # exits

import os
import shlex
from pathlib import Path

from absl import flags

from lac_gan.common.errors import UsageError
from lac_gan.data import attention
from lac_gan.data.conversion import convert
from lac_gan.data.dataset import MANIFEST_NAME
from lac_gan.data.frame_pipeline import LANDMARK_SOURCES, Settings

FLAGS = flags.FLAGS
flags.DEFINE_string("bp4d_root", None, "Frames: <bp4d_root>/<Subject>/<Task>/<frame>.jpg (or .png).")
flags.DEFINE_string("labels_root", None, "AU occurrence CSVs: <labels_root>/<Subject>_<Task>.csv.")
flags.DEFINE_string("out_dir", None, "Output: <out_dir>/<part>/<Subject>_<Task>.tfrecord + manifest.json.")
flags.DEFINE_string("landmarks_root", None, "Optional 49-point landmarks: <landmarks_root>/<Subject>/<Task>/"
                    "<frame>.txt, 98 numbers x1 y1 ... x49 y49, 1-based pixels. Frames with a file are "
                    "aligned by JAA-Net's rule, the others by MTCNN.")
flags.DEFINE_enum("landmarks", None, LANDMARK_SOURCES, "Where each frame's 49 landmarks (alignment, AU centres "
                  "and maps) come from: 'files' (--landmarks_root), 'fitted' (on MTCNN's face: dlib's 68 points and "
                  "MediaPipe's face mesh, mapped to OpenFace's 49; README 'Per-face landmarks'), "
                  "'mtcnn_canonical' (none: MTCNN's 5 points onto the canonical face, its centres for every "
                  "frame). Default: 'files' with --landmarks_root, else 'fitted'.")
flags.DEFINE_integer("workers", os.cpu_count(), "Worker processes (one MTCNN each); 1 = in this process.")
flags.DEFINE_string("folds", "jaanet", "'jaanet' (JAA-Net's 3 subject parts) or a JSON file "
                    "{\"part name\": [subjects, ...], ...}.")
flags.DEFINE_integer("image_size", 200, "Side of the aligned square face.")
flags.DEFINE_float("spatial_ratio", attention.SPATIAL_RATIO, "Attention map r: AU square half side / image.")
flags.DEFINE_float("fill_coefficient", attention.FILL_COEFFICIENT, "Attention map c: Manhattan decay.")
flags.DEFINE_integer("redetect_every", 10, "Full MTCNN detection every K frames; in between, only ONet "
                     "refines the previous face (1 = full detection on every frame).")
flags.DEFINE_integer("detect_size", 480, "Longest side of the downscaled copy MTCNN runs on.")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {argv[1:]}")
    for name in ("bp4d_root", "labels_root", "out_dir"):
        if not FLAGS[name].value:
            raise UsageError(f"--{name} is required")
    settings = Settings(image_size=FLAGS.image_size, spatial_ratio=FLAGS.spatial_ratio,
                        fill_coefficient=FLAGS.fill_coefficient, redetect_every=FLAGS.redetect_every,
                        detect_size=FLAGS.detect_size, landmarks=FLAGS.landmarks)
    manifest = convert(FLAGS.bp4d_root, FLAGS.labels_root, FLAGS.out_dir, landmarks_root=FLAGS.landmarks_root,
                       workers=FLAGS.workers, folds=FLAGS.folds, settings=settings,
                       command=shlex.join([sys.executable, "-m", "tfrecords_tools.convert", *sys.argv[1:]]))
    frames = manifest["frames"]
    print(f"[convert] wrote {frames['written']} of {frames['labelled_with_image']} labelled frames; skipped "
          f"{frames['skipped']['counts']}; manifest: {Path(FLAGS.out_dir) / MANIFEST_NAME}", file=sys.stderr)
