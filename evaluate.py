r"""Table 1 of the paper (§4.3): AU detection on real vs synthetic test faces.

    python evaluate.py --checkpoint CKPT --data_dir DIR --fold 1 --detector openface \
        --openface_bin /path/to/FeatureExtraction --out_dir results/

The same program as `lacgan evaluate`: flags in lac_gan/commands/evaluate.py, the work in
lac_gan.evaluation.protocol.run_evaluation.
"""
from absl import app, flags

from lac_gan.commands import evaluate

if __name__ == "__main__":
    flags.adopt_module_key_flags(evaluate)
    app.run(evaluate.main)
