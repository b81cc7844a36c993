"""JAA-Net v1 (Shao et al., ECCV 2018), the paper's second AU detector, as Keras models.

- `config`: `JaanetConfig` and its presets (paper, cpu, tiny);
- `model`: the network (hierarchical multi-scale region learning, face alignment, adaptive
  attention, local AU branches, global feature, AU output);
- `losses`: the weighted multi-label softmax + Dice loss, the landmark and attention losses;
- `data`: random crop + mirror in training, centre crop at test, training-set label counts;
- `training`: `lacgan train-detector`'s loop, checkpoints, resume, TensorBoard, validation F1;
- `official_weights`: PyTorch-JAANet v1 state dicts (.pth) -> our checkpoint (torch optional).

The AU centres and attention maps come from `lac_gan.data.attention` (one definition for the project).
The trained model behind the evaluation's `AUDetector` interface is lac_gan/evaluation/jaanet_detector.py.

May import: lac_gan.training, lac_gan.nets, lac_gan.data, lac_gan.common (not lac_gan.evaluation,
which uses it).
"""
