"""The one configuration of a LAC-GAN model and its training, with the paper's values as defaults.

Values the paper gives (§4.1) are marked "paper"; the rest are our choices, recorded with their
reasons in docs/paper-notes.md. `tiny()` is a small preset for tests and quick CPU runs.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import ClassVar

from lac_gan.common.saved_config import LACGAN_CONFIG_FILE, TRAINER_LOGDIRS, SavedConfig
from lac_gan.data.au_table import AU_NAMES, NUM_AUS

GENERATORS = ("cargs", "region")

# Paper §3.1 / §4.1: VGG-Face layers of Eq. 4 and their weights alpha_1..alpha_5.
PAPER_IDENTITY_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")
PAPER_IDENTITY_LAYER_WEIGHTS = (0.5, 0.9, 0.75, 1.0, 1.0)


@dataclass(frozen=True)
class LacGanConfig(SavedConfig):
    FILE_NAME: ClassVar[str] = LACGAN_CONFIG_FILE
    LOGDIR_KIND: ClassVar[str] = TRAINER_LOGDIRS[LACGAN_CONFIG_FILE]
    # As JSON: a region editor trained before these fields existed shaded every AU and moved its
    # points' residuals freely on each side.
    VALUES_BEFORE_FIELDS: ClassVar[dict] = {"region_unshaded_aus": [], "region_symmetric_residuals": False}
    # Data and latent space.
    image_size: int = 200  # paper: 200 x 200 x 3 aligned faces
    z_dim: int = 60  # paper: N_z = 60, and the tiled label is 60-dimensional too
    # Widths (the paper is silent). Encoder: 5 convs 5x5 stride 2 (paper), then FC -> z.
    encoder_channels: tuple[int, ...] = (32, 64, 128, 256, 512)
    # Decoder: FC -> [s, s, decoder_channels[0]], then 5 deconvs 5x5 stride 2 (paper) whose outputs
    # are decoder_channels[1:] and finally 3 (RGB, tanh).
    decoder_channels: tuple[int, ...] = (512, 256, 128, 64, 32)
    latent_disc_units: tuple[int, ...] = (64, 32, 16)  # + a final unit: 4 FC layers (paper)
    local_disc_channels: tuple[int, ...] = (16, 32, 64, 128)  # 4 convs shared with R (paper)
    global_disc_channels: tuple[int, ...] = (32, 64, 128, 256, 512)
    kernel_size: int = 5  # paper
    # Loss weights, Eq. 7, 9, 10 (paper).
    lambda_latent_adv: float = 0.01  # lambda_1
    lambda_au_adv: float = 0.1  # lambda_2
    lambda_identity: float = 1.0  # lambda_3
    lambda_tv: float = 0.001  # lambda_4
    lambda_au_label: float = 10.0  # lambda_AU
    lambda_image_adv: float = 1.0  # Eq. 3's weight: the paper's Eq. 10 omits the term (paper-notes)
    # Eq. 5 as the paper's l1 norm ("sum" over the ROI) or per ROI pixel ("roi_mean"); see paper-notes.
    pixel_loss_reduction: str = "sum"
    # What R^i regresses in the discriminator step: "real" ROIs with their source labels (ACGAN /
    # StarGAN), "generated" ROIs with the target labels (Eq. 8 read literally), or "both".
    regressor_data: str = "real"
    au_loss_weights: tuple[float, ...] = (1.0,) * NUM_AUS  # beta_i
    identity_layers: tuple[str, ...] = PAPER_IDENTITY_LAYERS
    identity_layer_weights: tuple[float, ...] = PAPER_IDENTITY_LAYER_WEIGHTS
    # Optimisation: Adam, lr 2e-4 (paper), beta_1 0.5 (the DCGAN/CAAE value; the paper's "alpha"
    # list is the identity weights, not Adam's betas), beta_2 Keras' default.
    learning_rate: float = 2e-4
    adam_beta_1: float = 0.5
    adam_beta_2: float = 0.999
    batch_size: int = 16  # global batch; the paper is silent
    # AUs whose CARG the training data cannot teach (no frame with the AU present, or none with it
    # absent, among the training parts): set by training from the manifest. Eq. 2 leaves their
    # regions to X^s and Eq. 10 gives their CARG loss weight 0 (see paper-notes).
    untrained_aus: tuple[str, ...] = ()
    # The generator family (lac_gan/nets/synthesis.py:GENERATOR_FAMILIES): "cargs", the paper's 12
    # CARGs; or "region", the region editor beyond the paper (lac_gan/nets/region_editor.py), which
    # moves each AU's landmarks and adds a smooth, sparse colour change. The fields below are its.
    generator: str = "cargs"
    region_crop_size: int = 48  # side of the crop around each region's landmarks that its net sees
    region_channels: tuple[int, ...] = (32, 64, 96)  # its 3 stride-2 convolutions
    region_colour_grid: int = 12  # side of the coarse shading grid over a region's crop
    # An AU's movement is its requested change x (1 + g) x its table movement, g in [min, max]: the
    # table's movement is the floor, as the critics shrink it (AU1's to half, read in 23 %; at -0.1,
    # five retrainings put every gain at -0.1 and read AU1 in 53-61 %, the warp 76 %: paper-notes).
    region_max_gain: float = 0.5
    region_min_gain: float = 0.0
    # AUs drawn by movement alone, no learned shading: OpenFace reads AU1 from the brows' lift, and the
    # brows' shading the critics ask for cost it 3 and 8 points on two trained models (paper-notes).
    region_unshaded_aus: tuple[str, ...] = ("AU1",)
    region_max_residual: float = 0.05  # IOD: how far a control point may move off its table direction
    region_symmetric_residuals: bool = True  # the residual moves mirrored on both sides of the face
    region_max_shade: float = 0.3  # how much lighter or darker the shading may make the skin ([-1, 1] units)
    flow_stride: int = 4  # training computes the flow and colour every K pixels and resizes them (both smooth)
    region_disc_crop: int = 40  # D^i / R^i of the region trainer see each AU's ROI cropped to this side
    lambda_cycle: float = 10.0  # edit to the target and back (and an edit to the source's own labels)
    lambda_shade: float = 2.0  # the shading kept sparse: the mean of |shading| per AU
    lambda_residual: float = 10.0  # squared residual moves (IOD^2): the movement stays the AU's
    # The measured movement as a prior: the squared gain g (0: the table's movement, as the warp).
    lambda_gain: float = 1.0

    def __post_init__(self):
        self._check_numbers()
        if self.z_dim % 2:
            raise ValueError(f"z_dim must be even (the 2-way label one-hot is tiled to it), got {self.z_dim}")
        if len(self.encoder_channels) != 5 or len(self.decoder_channels) != 5:
            raise ValueError("the paper's encoder and decoder have 5 (de)convolution layers each")
        if len(self.au_loss_weights) != NUM_AUS:
            raise ValueError(f"au_loss_weights needs {NUM_AUS} values")
        if self.pixel_loss_reduction not in ("sum", "roi_mean"):
            raise ValueError(f"pixel_loss_reduction must be sum or roi_mean, got {self.pixel_loss_reduction!r}")
        if self.regressor_data not in ("real", "generated", "both"):
            raise ValueError(f"regressor_data must be real, generated or both, got {self.regressor_data!r}")
        for name in ("untrained_aus", "region_unshaded_aus"):
            unknown_aus = sorted(set(getattr(self, name)) - set(AU_NAMES))
            if unknown_aus:
                raise ValueError(f"{name} names unknown AUs {unknown_aus}; AUs are {list(AU_NAMES)}")
        if self.generator not in GENERATORS:
            raise ValueError(f"generator must be one of {', '.join(GENERATORS)}, got {self.generator!r}")
        if len(self.region_channels) != 3:
            raise ValueError(f"region_channels needs 3 values (its 3 convolutions), got {self.region_channels}")
        if len(self.identity_layers) != len(self.identity_layer_weights):
            raise ValueError("identity_layers and identity_layer_weights differ in length")

    def _check_numbers(self) -> None:
        """Values no model can have or train with (a NaN weight is only found as a NaN loss after the
        model is built); batch_size is checked by training, against the data."""
        for name in ("image_size", "z_dim", "kernel_size", "region_crop_size", "region_colour_grid", "flow_stride",
                     "region_disc_crop"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("encoder_channels", "decoder_channels", "latent_disc_units", "local_disc_channels",
                     "global_disc_channels", "region_channels"):
            if min(getattr(self, name), default=1) < 1:
                raise ValueError(f"{name} must all be at least 1, got {getattr(self, name)}")
        weights = ("lambda_latent_adv", "lambda_au_adv", "lambda_identity", "lambda_tv", "lambda_au_label",
                   "lambda_image_adv", "au_loss_weights", "identity_layer_weights", "lambda_cycle", "lambda_shade", "region_max_shade",
                   "lambda_residual", "lambda_gain", "region_max_gain", "region_max_residual")
        for name in weights:
            values = getattr(self, name) if isinstance(getattr(self, name), tuple) else (getattr(self, name),)
            if not all(math.isfinite(v) and v >= 0 for v in values):
                raise ValueError(f"{name} must be finite and at least 0, got {getattr(self, name)}")
        if not (math.isfinite(self.region_min_gain) and -1 < self.region_min_gain <= 0):
            raise ValueError(f"region_min_gain must be in (-1, 0] (1 + g > 0: a movement keeps its direction), "
                             f"got {self.region_min_gain}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be a finite number above 0, got {self.learning_rate}")
        for name in ("adam_beta_1", "adam_beta_2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)}")

    @property
    def label_tile(self) -> int:
        """How many times each entry of an AU's 2-way one-hot is repeated (CAAE-style tiling)."""
        return self.z_dim // 2

    @property
    def active_au_mask(self) -> tuple[float, ...]:
        """1.0 for each AU whose CARG is trained and composed into the face, 0.0 for untrained ones."""
        return tuple(0.0 if au in self.untrained_aus else 1.0 for au in AU_NAMES)

    def replace(self, **changes) -> "LacGanConfig":
        return dataclasses.replace(self, **changes)

    def with_overrides(self, spec: str) -> "LacGanConfig":
        """`"lambda_au_label=100,pixel_loss_reduction=roi_mean"` -> a copy with those fields changed,
        each value parsed as its field's type (tuples as `a:b:c`). ValueError names a bad item."""
        fields = {f.name: f for f in dataclasses.fields(self)}
        changes = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, _, text = item.partition("=")
            name, text = name.strip(), text.strip()
            if name not in fields or not text:
                raise ValueError(f"{item!r}: expected FIELD=VALUE with FIELD one of {sorted(fields)}")
            current = getattr(self, name)
            try:
                if isinstance(current, tuple):
                    kind = type(current[0]) if current else str
                    changes[name] = tuple(kind(v) for v in text.split(":") if v)
                elif isinstance(current, bool):
                    changes[name] = {"true": True, "false": False}[text.lower()]
                else:
                    changes[name] = type(current)(text)
            except (ValueError, KeyError) as error:
                raise ValueError(f"{item!r}: {name} takes a {type(current).__name__}") from error
        return self.replace(**changes)


def paper() -> LacGanConfig:
    """The paper's model at 200 x 200 (the defaults)."""
    return LacGanConfig()


def tiny() -> LacGanConfig:
    """32 x 32 faces, a few channels per layer, batch 4: builds and trains in seconds on a CPU.

    Same topology and loss weights as the paper preset (5 convs, 5 deconvs, N_z = 60, 4-layer
    discriminators); image size, widths and batch size shrink, and the learning rate is 1e-3 so that
    a test's ~100 steps show learning (at 2e-4 the pixel loss moves too little to assert on).
    """
    return LacGanConfig(image_size=32, encoder_channels=(4, 8, 8, 16, 16),
                        decoder_channels=(16, 16, 8, 8, 4), latent_disc_units=(16, 8, 4),
                        local_disc_channels=(4, 8, 8, 16), global_disc_channels=(4, 8, 16, 16, 32),
                        batch_size=4, learning_rate=1e-3)


def small() -> LacGanConfig:
    """128 x 128 faces, half the paper's widths, batch 8, the paper's loss weights and learning rate:
    for training on real AU-labelled data on a CPU (e.g. ../shared/datasets/video_au)."""
    return LacGanConfig(image_size=128, encoder_channels=(16, 32, 64, 128, 256),
                        decoder_channels=(256, 128, 64, 32, 16), latent_disc_units=(64, 32, 16),
                        local_disc_channels=(8, 16, 32, 64), global_disc_channels=(16, 32, 64, 128, 256),
                        batch_size=8)


def region() -> LacGanConfig:
    """The region editor (beyond the paper) at 128 x 128, sized to train in 90 min on 2 CPU cores:
    its three region nets, the paper's local D^i / R^i and global D at the `small` preset's widths,
    batch 16."""
    return small().replace(generator="region", batch_size=16)


def tiny_region() -> LacGanConfig:
    """The region editor at the tiny preset's 32 x 32 and widths, for tests."""
    return tiny().replace(generator="region", region_crop_size=16, region_channels=(4, 8, 8), region_colour_grid=4,
                          flow_stride=2, region_disc_crop=16)


PRESETS = {"paper": paper, "small": small, "tiny": tiny, "region": region, "tiny_region": tiny_region}


def preset(name: str) -> LacGanConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
    return PRESETS[name]()
