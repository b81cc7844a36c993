"""JAA-Net's configuration: network width, input and crop size, loss weights, optimiser, schedule.

The `paper` preset is PyTorch-JAANet v1's `train_JAAv1.py` defaults (see docs/paper-notes.md,
"JAA-Net"); `cpu` is a reduced width for a CPU budget; `people` adds smaller faces for a set of
thousands of people on a CPU; `tiny` is for tests.
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar

from lac_gan.common.saved_config import JAANET_CONFIG_FILE, TRAINER_LOGDIRS, SavedConfig
from lac_gan.data import attention
# Region learning partitions the crop, then the crop halved, into 8 x 8 cells; the feature stacks
# after it pool 3 more times, so they need at least 8 x 8 region features (crop 32).
CROP_MULTIPLE = 16
MIN_CROP = 32


@dataclasses.dataclass(frozen=True)
class JaanetConfig(SavedConfig):
    FILE_NAME: ClassVar[str] = JAANET_CONFIG_FILE
    LOGDIR_KIND: ClassVar[str] = TRAINER_LOGDIRS[JAANET_CONFIG_FILE]
    image_size: int = 200  # the aligned faces the records hold
    crop_size: int = 176  # random crop in training, centre crop at test
    unit_dim: int = 8  # width: layers have 4, 8, 12, 16, 20, 64 x unit_dim channels
    batch_size: int = 8
    # SGD with Nesterov momentum, L2 weight decay, step schedule (lr x gamma every decay_steps).
    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_gamma: float = 0.3
    lr_decay_steps: int = 25000  # the port's "every 2 epochs" on a BP4D fold (~100k frames / batch 8)
    # Loss weights: lambda_au (softmax + Dice), lambda_land, lambda_refine; the attention refinement
    # branch's gradients are multiplied by grad_enhance and its own loss divided by it (the port's).
    lambda_au: float = 1.0
    lambda_land: float = 0.5
    lambda_refine: float = 2e-4
    grad_enhance: float = 2.0
    dice_smooth: float = 1.0
    random_flip: bool = True
    spatial_ratio: float = attention.SPATIAL_RATIO
    fill_coefficient: float = attention.FILL_COEFFICIENT

    def __post_init__(self):
        if self.crop_size % CROP_MULTIPLE or self.crop_size < MIN_CROP:
            raise ValueError(f"crop_size must be a multiple of {CROP_MULTIPLE} and at least {MIN_CROP} (8 x 8 "
                             f"region cells at full and half size, then 3 poolings), got {self.crop_size}")
        if self.crop_size > self.image_size:
            raise ValueError(f"crop_size {self.crop_size} exceeds image_size {self.image_size}")
        if self.unit_dim < 1:
            raise ValueError(f"unit_dim must be >= 1, got {self.unit_dim}")
        for name in ("batch_size", "lr_decay_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("learning_rate", "lr_gamma", "grad_enhance", "dice_smooth"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ValueError(f"{name} must be a finite number above 0, got {getattr(self, name)}")
        for name in ("weight_decay", "lambda_au", "lambda_land", "lambda_refine"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ValueError(f"{name} must be finite and at least 0, got {getattr(self, name)}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum}")
        if not 0 < self.spatial_ratio <= 1 or not (math.isfinite(self.fill_coefficient) and self.fill_coefficient > 0):
            raise ValueError(f"spatial_ratio must be in (0, 1] and fill_coefficient above 0, got "
                             f"{self.spatial_ratio} and {self.fill_coefficient}")

    @property
    def map_size(self) -> int:
        """Side of the refined attention maps and of the region features (crop / 4: 44 at 176)."""
        return self.crop_size // 4

    @property
    def initial_map_size(self) -> int:
        """Side of the initial maps: 4 unpadded 3x3 convolutions take it down to map_size."""
        return self.map_size + 8

    @property
    def centre_offset(self) -> int:
        """Top-left corner of the test-time centre crop (torchvision's CenterCrop: 12 at 200 -> 176)."""
        return int(round((self.image_size - self.crop_size) / 2.0))

    def replace(self, **changes) -> "JaanetConfig":
        return dataclasses.replace(self, **changes)


def paper() -> JaanetConfig:
    """PyTorch-JAANet v1's defaults: unit_dim 8, 200 -> 176 crops, batch 8, SGD 0.01."""
    return JaanetConfig()


def cpu() -> JaanetConfig:
    """Same input sizes and losses, a quarter of the width (unit_dim 2, about 1/16 of the compute),
    and the port's "x 0.3 every 2 epochs" counted on a small set (2 epochs of 1,360 frames at batch 8):
    for a CPU run of half an hour."""
    return JaanetConfig(unit_dim=2, lr_decay_steps=340)


def people() -> JaanetConfig:
    """For a labelled set of thousands of people (~8,000 training faces) on 2 shared CPU cores in about
    half an hour: the `cpu` width (unit_dim 2) on faces resized 200 -> 112 and cropped to 96 (the same
    crop / face ratio as 176 / 200 would be 98; 96 is the nearest multiple of 16), about 0.3 of the
    `cpu` preset's compute per face, so several epochs fit; x 0.3 every 2 epochs of 8,000 faces at batch 8."""
    return JaanetConfig(image_size=112, crop_size=96, unit_dim=2, lr_decay_steps=2000)


def tiny() -> JaanetConfig:
    """40 px faces cropped to 32, unit_dim 1, batch 4: a training step in milliseconds, for tests."""
    return JaanetConfig(image_size=40, crop_size=32, unit_dim=1, batch_size=4, lr_decay_steps=10_000)


PRESETS = {"paper": paper, "cpu": cpu, "people": people, "tiny": tiny}


def preset(name: str) -> JaanetConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown JAA-Net preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()
