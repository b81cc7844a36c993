r"""Train LAC-GAN: the same program as `lacgan train` (flags in lac_gan/commands/train.py).

    python train.py --data_dir DATA --logdir runs/fold1 --preset paper --fold 1 --steps 100000 \
        --identity_weights rcmalli_vggface_tf_notop_vgg16.h5
    python train.py --demo    # the whole path on a bundled face, no dataset needed
"""
import sys

from lac_gan.cli import main

if __name__ == "__main__":
    main([sys.argv[0], "train", *sys.argv[1:]])
