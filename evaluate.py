r"""Table 1 of the paper (§4.3): the same program as `lacgan evaluate` (flags in lac_gan/commands/evaluate.py).

    python evaluate.py --checkpoint CKPT --data_dir DIR --fold 1 --detector openface \
        --openface_bin /path/to/FeatureExtraction --out_dir results/
"""
import sys

from lac_gan.cli import main

if __name__ == "__main__":
    main([sys.argv[0], "evaluate", *sys.argv[1:]])
