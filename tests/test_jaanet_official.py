"""The converter from PyTorch-JAANet v1 state dicts: the official architecture (rebuilt here in
PyTorch, random weights, non-trivial batch-norm statistics) and our converted model give the same
landmarks, attention maps and AU probabilities. Skips when PyTorch (an optional extra) is absent."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lac_gan.common.errors import DataError, UsageError
from lac_gan.data import attention
from lac_gan.data.alignment import canonical_landmarks49
from lac_gan.evaluation.jaanet_detector import load_jaanet
from lac_gan.jaanet.official_weights import MODULE_FILES, convert_official_weights

torch = pytest.importorskip("torch", reason="PyTorch is an optional extra (pip install torch): converter not tested")
nn = torch.nn
F = torch.nn.functional

UNIT = 1  # the port's unit_dim 8 takes minutes on a CPU; every shape rule is the same at 1
CROP, MAP = 176, 44
FLAT = 20 * UNIT * 5 * 5  # the port hard-codes 4000 = 20 * 8 * 5 * 5


# ---- PyTorch-JAANet v1 network.py, rewritten module for module (names and layouts are what matter) ----

class LocalConv2dReLU(nn.Module):
    def __init__(self, h, w, cin, cout):
        super().__init__()
        self.h, self.w = h, w
        self.bns = nn.ModuleList([nn.BatchNorm2d(cin) for _ in range(h * w)])
        self.relus = nn.ModuleList([nn.ReLU() for _ in range(h * w)])
        self.convs = nn.ModuleList([nn.Conv2d(cin, cout, 3, 1, 1) for _ in range(h * w)])

    def forward(self, x):
        rows = torch.split(x, x.size(2) // self.h, 2)
        out = []
        for i, row in enumerate(rows):
            cells = torch.split(row, row.size(3) // self.w, 3)
            out.append(torch.cat([self.convs[i * self.w + j](self.relus[i * self.w + j](self.bns[i * self.w + j](c)))
                                  for j, c in enumerate(cells)], 3))
        return torch.cat(out, 2)


class HierarchicalMultiScaleRegionLayer(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, 1, 1)
        self.local_conv_branch1 = LocalConv2dReLU(8, 8, cout, cout // 2)
        self.local_conv_branch2 = LocalConv2dReLU(4, 4, cout // 2, cout // 4)
        self.local_conv_branch3 = LocalConv2dReLU(2, 2, cout // 4, cout // 4)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()

    def forward(self, x):
        x = self.conv(x)
        b1 = self.local_conv_branch1(x)
        b2 = self.local_conv_branch2(b1)
        b3 = self.local_conv_branch3(b2)
        return self.relu(self.bn(x + torch.cat((b1, b2, b3), 1)))


class HLFeatExtractor(nn.Module):
    def __init__(self, cin, u):
        super().__init__()
        layers, width = [], cin
        for k, units in enumerate((12, 12, 16, 16, 20, 20)):
            layers += [nn.Conv2d(width, units * u, 3, 1, 1), nn.BatchNorm2d(units * u), nn.ReLU()]
            width = units * u
            if k % 2:
                layers.append(nn.MaxPool2d(2, 2))
        self.feat_extract = nn.Sequential(*layers)

    def forward(self, x):
        return self.feat_extract(x)


class HMRegionLearning(nn.Module):
    def __init__(self, u):
        super().__init__()
        self.multiscale_feat = nn.Sequential(HierarchicalMultiScaleRegionLayer(3, 4 * u), nn.MaxPool2d(2, 2),
                                             HierarchicalMultiScaleRegionLayer(4 * u, 8 * u), nn.MaxPool2d(2, 2))

    def forward(self, x):
        return self.multiscale_feat(x)


def generate_map(out, crop_size, map_size, ratio, coeff, x1, y1, x2, y2):
    scale = float(map_size) / crop_size
    half = round((map_size - 1) / 2.0 * ratio)
    for cx, cy in ((x1, y1), (x2, y2)):
        cx, cy = round(cx * scale), round(cy * scale)
        h0, h1 = min(max(cy - half, 0), map_size - 1), min(max(cy + half, 0), map_size - 1)
        w0, w1 = min(max(cx - half, 0), map_size - 1), min(max(cx + half, 0), map_size - 1)
        for h in range(int(h0), int(h1) + 1):
            for w in range(int(w0), int(w1) + 1):
                out[h, w] = max(1 - (abs(h - cy) + abs(w - cx)) * coeff / (map_size * ratio), out[h, w])


class AlignNet(nn.Module):
    def __init__(self, u):
        super().__init__()
        self.align_feat = HLFeatExtractor(8 * u, u)
        self.align_output = nn.Sequential(nn.Linear(FLAT, 64 * u), nn.Linear(64 * u, 98))

    def forward(self, x):
        feat = self.align_feat(x)
        land = self.align_output(feat.view(feat.size(0), -1))
        maps = torch.zeros((land.size(0), 12, MAP + 8, MAP + 8))
        for i in range(land.size(0)):
            a = land[i].detach().numpy().astype(np.float64)
            xs, ys = a[0::2], a[1::2]
            ruler = abs(xs[22] - xs[25])
            rules = [(4, 5, -ruler / 2), (1, 8, -ruler / 3), (2, 7, ruler / 3), (24, 29, ruler), (21, 26, 0),
                     (43, 45, 0), (31, 37, 0), (31, 37, 0), (31, 37, 0), (39, 41, ruler / 2), (34, 40, 0), (34, 40, 0)]
            for k, (p, q, dy) in enumerate(rules):
                generate_map(maps[i, k], CROP, MAP + 8, 0.14, 0.56, xs[p], ys[p] + dy, xs[q], ys[q] + dy)
        return feat, land, maps


class LocalAttentionRefine(nn.Module):
    def __init__(self, u):
        super().__init__()
        self.local_aus_attention = nn.ModuleList([nn.Sequential(
            nn.Conv2d(1, 8 * u, 3), nn.BatchNorm2d(8 * u), nn.ReLU(), nn.Conv2d(8 * u, 8 * u, 3), nn.BatchNorm2d(8 * u),
            nn.ReLU(), nn.Conv2d(8 * u, 8 * u, 3), nn.BatchNorm2d(8 * u), nn.ReLU(), nn.Conv2d(8 * u, 1, 3), nn.Sigmoid())
            for _ in range(12)])

    def forward(self, x):
        return torch.cat([m(x[:, i:i + 1]) for i, m in enumerate(self.local_aus_attention)], 1)


class LocalAUNetv1(nn.Module):
    def __init__(self, u):
        super().__init__()
        self.local_aus_branch = nn.ModuleList([HLFeatExtractor(8 * u, u) for _ in range(12)])

    def forward(self, feat, maps):
        return sum(b(feat * maps[:, i:i + 1]) for i, b in enumerate(self.local_aus_branch)) / 12.0


class AUNet(nn.Module):
    def __init__(self, u):
        super().__init__()
        self.au_output = nn.Sequential(nn.Linear(3 * FLAT, 64 * u), nn.Linear(64 * u, 24))

    def forward(self, x):
        out = self.au_output(x.view(x.size(0), -1))
        return F.log_softmax(out.view(out.size(0), 2, 12), dim=1)


def official_forward(modules, crops):
    region_learning, align_net, refine, local_au_net, global_au_feat, au_net = modules
    region = region_learning(crops)
    align_feat, land, maps = align_net(region)
    refined = refine(maps.detach())
    local = local_au_net(region, refined)
    out = au_net(torch.cat((align_feat, global_au_feat(region), local), 1))
    return out[:, 1, :].exp(), land, maps, refined


def randomise_batch_norms(module, generator):
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=generator) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=generator) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=generator) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=generator) * 0.1)


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """The six modules (random weights, landmark bias on the mean face so the maps land on it),
    saved as the port saves them (epoch 3)."""
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    modules = [HMRegionLearning(UNIT), AlignNet(UNIT), LocalAttentionRefine(UNIT), LocalAUNetv1(UNIT),
               HLFeatExtractor(8 * UNIT, UNIT), AUNet(UNIT)]
    with torch.no_grad():
        for module in modules:
            randomise_batch_norms(module, generator)
            module.eval()
        mean_face = canonical_landmarks49(200) - 12
        modules[1].align_output[1].bias.copy_(torch.tensor(mean_face.ravel(), dtype=torch.float32))
        modules[1].align_output[1].weight.mul_(0.05)
    pth_dir = tmp_path_factory.mktemp("pth")
    for name, module in zip(MODULE_FILES, modules):
        torch.save(module.state_dict(), pth_dir / f"{name}_3.pth")
    return modules, pth_dir


def test_converted_weights_give_the_official_outputs(official, tmp_path):
    modules, pth_dir = official
    convert_official_weights(pth_dir, 3, tmp_path / "converted")
    model, config, path = load_jaanet(tmp_path / "converted")
    assert path.endswith("ckpt-3") and config.unit_dim == UNIT and config.crop_size == CROP

    crops = np.random.default_rng(0).uniform(-1, 1, (2, CROP, CROP, 3)).astype(np.float32)
    with torch.no_grad():
        channels_first = torch.from_numpy(np.ascontiguousarray(crops.transpose(0, 3, 1, 2)))
        probability, land, maps, refined = official_forward(modules, channels_first)
    ours = model(tf.constant(crops), training=False)
    np.testing.assert_allclose(ours["landmarks"].numpy(), land.numpy(), atol=0.02)  # pixels; float32 sums differ
    np.testing.assert_allclose(ours["initial_maps"].numpy(), maps.numpy().transpose(0, 2, 3, 1), atol=1e-5)
    assert maps.numpy().max() == pytest.approx(1.0)  # the maps are on the face, not clipped away
    np.testing.assert_allclose(ours["refined_maps"].numpy(), refined.numpy().transpose(0, 2, 3, 1), atol=1e-5)
    np.testing.assert_allclose(np.exp(ours["au_log_probs"].numpy()[:, 1, :]), probability.numpy(), atol=1e-5)
    # The port's map code and the project's attention module agree on the centre rules.
    expected = attention.au_attention_maps(
        attention.au_centres(land.numpy()[0].reshape(49, 2).astype(np.float64)) * (MAP + 8) / CROP, MAP + 8)
    np.testing.assert_allclose(maps.numpy()[0].transpose(1, 2, 0), expected, atol=1e-6)


def test_a_missing_or_foreign_file_is_named(official, tmp_path):
    _, pth_dir = official
    with pytest.raises(UsageError, match=r"region_learning_4\.pth: no such file"):
        convert_official_weights(pth_dir, 4, tmp_path / "a")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    for name in MODULE_FILES:
        (foreign / f"{name}_3.pth").write_bytes((pth_dir / f"{name}_3.pth").read_bytes())
    torch.save({"au_output.0.weight": torch.zeros(64 * UNIT, 10)}, foreign / "au_net_3.pth")
    with pytest.raises(DataError, match=r"au_net: au_output.0.weight: shape \(10, 64\) does not fit"):
        convert_official_weights(foreign, 3, tmp_path / "b")
