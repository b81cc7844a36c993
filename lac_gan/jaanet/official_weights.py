"""PyTorch-JAANet v1 weights -> a JAA-Net checkpoint of ours (what `evaluate --detector jaanet` reads).

The port saves one state dict per module and epoch: `region_learning_<N>.pth`, `align_net_<N>.pth`,
`local_attention_refine_<N>.pth`, `local_au_net_<N>.pth`, `global_au_feat_<N>.pth`, `au_net_<N>.pth`
(the files the authors share). Reading them needs PyTorch, an optional extra (`pip install torch`);
they are loaded with `weights_only=True` (tensors only, no pickled code). Every tensor of the six
files must find its place and every weight of ours must be filled, or the conversion stops naming
the file and key.

Mapping: conv [out, in, kh, kw] -> [kh, kw, in, out]; the per-cell and per-AU module lists become
the groups of one grouped convolution (module k = group k = output channels k*n .. k*n + n - 1, see
lac_gan/jaanet/model.py), their batch norms concatenated likewise; linear [out, in] -> [in, out]
(both flatten channel-first, so no reordering); BN weight/bias/running_mean/running_var ->
gamma/beta/moving_mean/moving_variance.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf

from lac_gan.common.errors import DataError, UsageError, UserError, check_output_dir
from lac_gan.data.au_table import NUM_AUS
from lac_gan.jaanet import config as config_lib
from lac_gan.jaanet.model import HEAD_UNITS, JaaNet, build_model
from lac_gan.nets.restore import CHECKPOINT_PREFIX
from lac_gan.training.checkpoints import save_checkpoint

MODULE_FILES = ("region_learning", "align_net", "local_attention_refine", "local_au_net", "global_au_feat", "au_net")
# Positions of the convolutions and batch norms in the port's nn.Sequential modules.
FEATURE_STACK_CONVS = (0, 3, 7, 10, 14, 17)
FEATURE_STACK_NORMS = (1, 4, 8, 11, 15, 18)
REFINE_CONVS = (0, 3, 6, 9)
REFINE_NORMS = (1, 4, 7)
REGION_LAYER_POSITIONS = (0, 2)  # HMRegionLearning.multiscale_feat: region layer, pool, region layer, pool


def module_paths(pth_dir: str | Path, epoch: int) -> dict[str, Path]:
    """The six .pth files of one epoch by module name; a UsageError naming the flag or file when
    they are not all there (checked before PyTorch is needed)."""
    if epoch < 0:
        raise UsageError(f"--epoch {epoch}: expected the epoch number in the file names, 0 or more")
    if not Path(pth_dir).is_dir():
        raise UsageError(f"--pth_dir {pth_dir}: not a directory; expected the folder of PyTorch-JAANet v1's "
                         f"{', '.join(f'{m}_<epoch>.pth' for m in MODULE_FILES)}")
    paths = {module: Path(pth_dir) / f"{module}_{epoch}.pth" for module in MODULE_FILES}
    for path in paths.values():
        if not path.is_file():
            raise UsageError(f"{path}: no such file; expected PyTorch-JAANet v1's six files "
                             f"{', '.join(f'{m}_{epoch}.pth' for m in MODULE_FILES)} in {pth_dir}")
    return paths


def load_state_dicts(pth_dir: str | Path, epoch: int) -> dict[str, dict[str, np.ndarray]]:
    """The six state dicts of one epoch as numpy arrays, by module name."""
    paths = module_paths(pth_dir, epoch)
    try:
        import torch
    except ImportError as error:
        raise UserError("reading PyTorch-JAANet .pth files needs PyTorch, an optional extra: "
                        "`pip install torch` (CPU is enough)") from error
    state_dicts = {}
    for module, path in paths.items():
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises pickle, zip and runtime errors alike
            raise DataError(f"{path}: not a readable PyTorch state dict ({str(error).splitlines()[0]})") from error
        state_dicts[module] = {key: value.detach().cpu().numpy() for key, value in state.items()}
    return state_dicts


class _StateReader:
    """One module's state dict, handing out tensors and remembering which were used."""

    def __init__(self, module: str, state: dict[str, np.ndarray]):
        self.module, self.state, self.used = module, state, set()

    def take(self, key: str) -> np.ndarray:
        if key not in self.state:
            raise DataError(f"{self.module}: no `{key}` in the state dict; is it PyTorch-JAANet v1's "
                            f"(LocalAUNetv1, 12 AUs, 49 landmarks)?")
        self.used.add(key)
        return self.state[key]

    def unused(self) -> list[str]:
        return sorted(k for k in set(self.state) - self.used if not k.endswith("num_batches_tracked"))


def _assign(variable, value: np.ndarray, where: str) -> None:
    if tuple(variable.shape) != value.shape:
        raise DataError(f"{where}: shape {value.shape} does not fit {variable.path} {tuple(variable.shape)}")
    variable.assign(value.astype(np.float32))


def _conv(layer, reader: _StateReader, prefixes: list[str]) -> None:
    kernels = [reader.take(f"{p}.weight").transpose(2, 3, 1, 0) for p in prefixes]
    _assign(layer.kernel, np.concatenate(kernels, axis=-1), f"{reader.module}: {prefixes[0]}.weight")
    _assign(layer.bias, np.concatenate([reader.take(f"{p}.bias") for p in prefixes]), f"{reader.module}: {prefixes[0]}.bias")


def _norm(layer, reader: _StateReader, prefixes: list[str]) -> None:
    for ours, theirs in (("gamma", "weight"), ("beta", "bias"), ("moving_mean", "running_mean"),
                         ("moving_variance", "running_var")):
        values = np.concatenate([reader.take(f"{p}.{theirs}") for p in prefixes])
        _assign(getattr(layer, ours), values, f"{reader.module}: {prefixes[0]}.{theirs}")


def _dense(layer, reader: _StateReader, prefix: str) -> None:
    _assign(layer.kernel, reader.take(f"{prefix}.weight").T, f"{reader.module}: {prefix}.weight")
    _assign(layer.bias, reader.take(f"{prefix}.bias"), f"{reader.module}: {prefix}.bias")


def _feature_stack(stack, reader: _StateReader, prefixes: list[str]) -> None:
    for conv, norm, conv_at, norm_at in zip(stack.convs, stack.norms, FEATURE_STACK_CONVS, FEATURE_STACK_NORMS):
        _conv(conv, reader, [f"{p}.{conv_at}" for p in prefixes])
        _norm(norm, reader, [f"{p}.{norm_at}" for p in prefixes])


def assign_official_weights(model: JaaNet, state_dicts: dict[str, dict[str, np.ndarray]]) -> None:
    """Fill every weight of `model` (built) from the port's six state dicts."""
    readers = {module: _StateReader(module, state_dicts[module]) for module in MODULE_FILES}
    region = readers["region_learning"]
    for layer, position in zip(model.region_layers, REGION_LAYER_POSITIONS):
        prefix = f"multiscale_feat.{position}"
        _conv(layer.conv, region, [f"{prefix}.conv"])
        for k, branch in enumerate(layer.branches, start=1):
            cells = range(branch.grid ** 2)
            _norm(branch.norm, region, [f"{prefix}.local_conv_branch{k}.bns.{c}" for c in cells])
            _conv(branch.conv, region, [f"{prefix}.local_conv_branch{k}.convs.{c}" for c in cells])
        _norm(layer.norm, region, [f"{prefix}.bn"])
    align = readers["align_net"]
    _feature_stack(model.align_features, align, ["align_feat.feat_extract"])
    _dense(model.align_hidden, align, "align_output.0")
    _dense(model.align_output, align, "align_output.1")
    refine = readers["local_attention_refine"]
    refine_convs = [*model.refinement.convs, model.refinement.output_conv]
    for conv, position in zip(refine_convs, REFINE_CONVS):
        _conv(conv, refine, [f"local_aus_attention.{i}.{position}" for i in range(NUM_AUS)])
    for norm, position in zip(model.refinement.norms, REFINE_NORMS):
        _norm(norm, refine, [f"local_aus_attention.{i}.{position}" for i in range(NUM_AUS)])
    _feature_stack(model.local_features, readers["local_au_net"],
                   [f"local_aus_branch.{i}.feat_extract" for i in range(NUM_AUS)])
    _feature_stack(model.global_features, readers["global_au_feat"], ["feat_extract"])
    au = readers["au_net"]
    _dense(model.au_hidden, au, "au_output.0")
    _dense(model.au_output, au, "au_output.1")
    for reader in readers.values():
        if reader.unused():
            raise DataError(f"{reader.module}: tensors with no place in JAA-Net v1: {reader.unused()[:5]}")


def unit_dim_of(state_dicts: dict[str, dict[str, np.ndarray]]) -> int:
    """The port's unit_dim, from the hidden width (64 x unit_dim) of its AU output layer."""
    hidden = state_dicts["au_net"].get("au_output.0.weight")
    if hidden is None or hidden.shape[0] % HEAD_UNITS:
        raise DataError("au_net: no `au_output.0.weight` of 64 x unit_dim rows; is it PyTorch-JAANet v1's au_net?")
    return hidden.shape[0] // HEAD_UNITS


def convert_official_weights(pth_dir: str | Path, epoch: int, out_dir: str | Path,
                             base: config_lib.JaanetConfig | None = None) -> str:
    """Write `out_dir/jaanet_config.json` and `out_dir/ckpt-<epoch>`; returns the checkpoint path.

    `base` (default: the paper preset, 200 px faces cropped to 176) gives the sizes; unit_dim is read
    from the weights."""
    out_dir = check_output_dir("--out_dir", out_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        raise UsageError(f"--out_dir {out_dir}: not empty; convert into a new folder")
    state_dicts = load_state_dicts(pth_dir, epoch)
    config = (base or config_lib.paper()).replace(unit_dim=unit_dim_of(state_dicts))
    model = build_model(config)
    assign_official_weights(model, state_dicts)
    config.save(out_dir)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(out_dir), 1,
                                         checkpoint_name=CHECKPOINT_PREFIX)
    return save_checkpoint(manager, epoch)
