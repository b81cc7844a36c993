"""lacgan evaluate / python evaluate.py: flags of the Table 1 protocol (lac_gan/evaluation/protocol.py)."""
from absl import flags, logging

from lac_gan.commands.editor_flags import define_editor_flags
from lac_gan.evaluation.face_identity import IDENTITY_MODELS
from lac_gan.evaluation.openface import DEFAULT_MIN_CONFIDENCE, DEFAULT_TIMEOUT_S
from lac_gan.evaluation.protocol import DETECTOR_NAMES, EvaluationConfig, run_evaluation

define_editor_flags()
flags.DEFINE_string("data_dir", None, "TFRecord folder written by tfrecords_tools.convert.")
flags.DEFINE_integer("fold", 1, "JAA-Net fold (1-3); its test part is evaluated.")
flags.DEFINE_enum("detector", "openface", DETECTOR_NAMES,
                  "AU detector: openface, precomputed (your detector's CSVs), jaanet (a JAA-Net checkpoint: "
                  "--detector_checkpoint), or none (write the sets only).")
flags.DEFINE_string("openface_bin", None, "OpenFace 2.x FeatureExtraction executable (else $OPENFACE_BIN).")
flags.DEFINE_string("openface_args", "", "Extra FeatureExtraction arguments (shell-split), e.g. "
                    "'-mloc model/main_clnf_general.txt'.")
flags.DEFINE_float("min_confidence", DEFAULT_MIN_CONFIDENCE,
                   "Detections below this confidence (or with success 0) are counted as failures.")
flags.DEFINE_string("precomputed_real", None, "Detector outputs on the real set (--detector precomputed): "
                    "one CSV, or a folder of per-image CSVs (see PrecomputedDetector).")
flags.DEFINE_string("precomputed_synthetic", None, "The same for the synthetic set.")
flags.DEFINE_string("precomputed_source", None, "The same for sets/source (unedited source frames that are not "
                    "real-set frames, written only by --max_frames runs): needed there for the Source column.")
flags.DEFINE_string("detector_checkpoint", None, "--detector jaanet: a `lacgan train-detector` logdir or "
                    "checkpoint (or a `lacgan convert-jaanet` output).")
flags.DEFINE_string("out_dir", None, "Where table1.md, table1.csv, results.json, sets/ and figures/ go.")
flags.DEFINE_string("subjects", None, "Evaluate only the test subjects whose id matches this regular expression, "
                    "e.g. 'S.*' for the photo people of a `lacgan label` set, 'P.*' for video_au's.")
flags.DEFINE_integer("max_frames", None, "Evaluate this many test frames (seeded subsample) for a quick run.")
flags.DEFINE_integer("seed", 0, "Seed of the subsample and of the source-frame choice.")
flags.DEFINE_integer("batch_size", 16, "Synthesis batch size.")
flags.DEFINE_string("identity_weights", None, "VGG-Face weights (rcmalli_vggface_tf_notop_vgg16.h5) for the "
                    "identity metric of --identity_model vggface; skipped without.")
flags.DEFINE_enum("identity_model", "vggface", IDENTITY_MODELS, "Identity metric: vggface (cosine similarity of "
                  "VGG-Face features, needs --identity_weights) or dlib (distance of dlib's face-recognition "
                  "descriptors; the model ships with the landmark model, nothing to download).")
flags.DEFINE_integer("figure_faces", 3, "Test faces shown in Fig. 3 and Fig. 5.")
flags.DEFINE_float("detector_timeout", DEFAULT_TIMEOUT_S, "Seconds one call of an external detector (OpenFace: "
                   "one FeatureExtraction run over at most 500 images) may take before it is killed.")
flags.DEFINE_bool("skip_bad_records", False, "Evaluate without the unreadable records of damaged test shards "
                  "(counted in results.json) instead of stopping with their shard and offset.")
flags.mark_flags_as_required(["data_dir", "out_dir"])

FLAGS = flags.FLAGS


def main(argv):
    del argv
    config = EvaluationConfig(**{name: FLAGS[name].value for name in EvaluationConfig.__dataclass_fields__})
    results = run_evaluation(config)
    logging.info("wrote %s/results.json (%d pairs)", config.out_dir, results["protocol"]["pairs"])

