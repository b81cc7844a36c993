"""AU occurrence labels and 49 landmarks for any photo collection or video frames, by OpenFace 2.x,
written in BP4D's layout so that `lacgan convert` reads them (`lacgan label`).

    python -m tfrecords_tools.label --mode photos --images PEOPLE_DIR --out_dir OUT \\
        --openface_bin /path/to/OpenFace/FeatureExtraction
    python -m tfrecords_tools.convert --bp4d_root OUT/images --labels_root OUT/AU_OCC \\
        --landmarks_root OUT/landmarks_49 --folds OUT/folds.json --out_dir RECORDS

`--mode photos`: one folder per person, photos (jpg, jpeg, png, any case) inside; each person is one
subject (generated ids S0001..., `sources.csv` maps them back) with one task T1, frames numbered
1..n in sorted file order. Each photo is labelled by OpenFace's `FaceLandmarkImg -aus -2Dfp`
(static AU models: a photo gives OpenFace no video to calibrate on); of several faces, the named
person is the one nearest the photo's centre. `--mode frames`: a BP4D-layout tree
`<Subject>/<Task>/<frame>.jpg`; each task is one video for `FeatureExtraction -fdir` (sequence mode:
OpenFace tracks and calibrates per person). `--combine A,B` joins labelled folders into one.

Output: `images/<Subject>/<Task>/<n>.<ext>` (links to the inputs), `AU_OCC/<Subject>_<Task>.csv` (the
paper's 12 AUs from OpenFace's `AUxx_c`; AU24, which OpenFace lacks, coded 9),
`landmarks_49/<Subject>/<Task>/<n>.txt` (OpenFace's 68 points in the 49-point scheme, 1-based pixels),
`sources.csv`, `folds.json` (three subject-exclusive parts) and `label_manifest.json` (command,
OpenFace binaries and flags, counts by reason with the first files of each, AU positive rates).

Bad input never stops the run; it is counted by reason. Work is done in units (a chunk of photos or
one video), each unit's result saved atomically under `.label_work/`: a killed run continues where
it stopped, and the outputs are rebuilt from the saved units at the end, each file renamed into place.

This module holds the command's flags; the work: labeller.py (the run), openface_runs.py (OpenFace
over the units), label_layout.py (BP4D's layout).
"""
from __future__ import annotations

import sys

if __name__ == "__main__":  # `python -m tfrecords_tools.label`: through `lacgan label`'s quiet start (lac_gan/cli.py)
    from lac_gan.cli import main
    main([sys.argv[0], "label", *sys.argv[1:]])  # exits

import os
import shlex
from pathlib import Path

from absl import flags

from lac_gan.common.errors import UsageError
from lac_gan.evaluation.openface import DEFAULT_MIN_CONFIDENCE
from tfrecords_tools.label_layout import MANIFEST_NAME
from tfrecords_tools.labeller import combine, label
from tfrecords_tools.openface_runs import MODE_FRAMES, MODE_PHOTOS

FLAGS = flags.FLAGS
flags.DEFINE_enum("mode", MODE_PHOTOS, (MODE_PHOTOS, MODE_FRAMES),
                  "photos: --images holds one folder per person with photos inside; frames: --images is "
                  "BP4D's layout <Subject>/<Task>/<frame>.jpg, each task one video.")
flags.DEFINE_string("images", None, "The photos or frames to label (see --mode).")
flags.DEFINE_string("out_dir", None, "Output folder in BP4D's layout (images/, AU_OCC/, landmarks_49/), "
                    "sources.csv, folds.json and label_manifest.json.")
flags.DEFINE_string("openface_bin", None, "OpenFace 2.x FeatureExtraction (or set OPENFACE_BIN); the "
                    "FaceLandmarkImg of the same build must be in the same folder (--mode photos uses it).")
flags.DEFINE_float("min_confidence", DEFAULT_MIN_CONFIDENCE, "Faces OpenFace fits with a lower confidence "
                   "are left out (counted as low_confidence), never labelled 0.")
flags.DEFINE_integer("workers", os.cpu_count(), "OpenFace processes run in parallel.")
flags.DEFINE_integer("photos_per_call", 100, "Photos per FaceLandmarkImg call (and per saved unit of work).")
flags.DEFINE_string("folds", None, "--mode frames: a JSON file {\"part\": [subjects]} whose parts are kept "
                    "in folds.json; without it (and in photos mode) subjects are spread over three parts.")
flags.DEFINE_string("subject_prefix", "S", "--mode photos: generated subject ids are this prefix and a number.")
flags.DEFINE_string("openface_args", "", "Extra arguments passed to OpenFace (e.g. '-mloc model/...').")
flags.DEFINE_float("openface_timeout", 1800.0, "Seconds one OpenFace call may run before it is killed.")
flags.DEFINE_list("combine", None, "Join labelled folders (outputs of this command) into --out_dir, by "
                  "links; subject ids must differ between them.")


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {argv[1:]}")
    if not FLAGS.out_dir:
        raise UsageError("--out_dir is required")
    command = f"{sys.argv[0]} {shlex.join(sys.argv[1:])}"  # `lacgan label` (lac_gan/cli.py) or the module's path
    if FLAGS.combine:
        manifest = combine(FLAGS.combine, FLAGS.out_dir, command)
        print(f"[label] combined {manifest['counts']['labelled']} labelled frames of "
              f"{manifest['counts']['subjects_labelled']} subjects into {FLAGS.out_dir}", file=sys.stderr)
        return
    if not FLAGS.images:
        raise UsageError("--images is required (or --combine)")
    manifest = label(FLAGS.images, FLAGS.out_dir, FLAGS.openface_bin, mode=FLAGS.mode,
                     min_confidence=FLAGS.min_confidence, workers=FLAGS.workers,
                     photos_per_call=FLAGS.photos_per_call, folds=FLAGS.folds, subject_prefix=FLAGS.subject_prefix,
                     openface_args=FLAGS.openface_args, openface_timeout=FLAGS.openface_timeout, command=command)
    counts = manifest["counts"]
    print(f"[label] labelled {counts['labelled']} of {counts['inputs']} {FLAGS.mode} "
          f"({counts['subjects_labelled']} subjects); skipped {counts['skipped']['counts']}; "
          f"manifest: {Path(FLAGS.out_dir) / MANIFEST_NAME}", file=sys.stderr)
