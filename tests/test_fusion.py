"""Tests for the fusion units S, ST, S+ST and the gated transitions."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from stconv_lite.ops.fusion import FusionLayer, FusionTransition, unit_from_keep


def _randomise_bn(module: nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def _plain_s_st(layer: FusionLayer, x: torch.Tensor) -> torch.Tensor:
    """The S+ST layer written out with functional ops and the layer's own weights."""

    def path(p):
        return F.conv3d(F.relu(p.bn(x)), p.conv.weight, padding=p.conv.padding)

    s, t = layer.paths["S"], layer.paths["ST"]
    mid = F.relu(layer.bn_spatial(path(s) + path(t)))
    return torch.cat([x, F.conv3d(mid, layer.conv_spatial.weight, padding=(0, 1, 1))], 1)


@pytest.fixture
def template_layer():
    torch.manual_seed(0)
    layer = FusionLayer(4, growth=3, bottleneck=5)
    _randomise_bn(layer)
    return layer.eval()


def test_gates_off_equals_plain_s_plus_st(template_layer):
    x = torch.randn(2, 4, 4, 5, 5)
    torch.testing.assert_close(template_layer(x), _plain_s_st(template_layer, x))


@pytest.mark.parametrize("keep,unit", [((1, 0), "S"), ((0, 1), "ST")])
def test_keep_bits_equal_standalone_unit(template_layer, keep, unit):
    alone = FusionLayer(4, growth=3, bottleneck=5, unit=unit).eval()
    alone.paths[unit].load_state_dict(template_layer.paths[unit].state_dict())
    alone.bn_spatial.load_state_dict(template_layer.bn_spatial.state_dict())
    alone.conv_spatial.load_state_dict(template_layer.conv_spatial.state_dict())
    template_layer.paths["S"].gate.set_keep(keep[0])
    template_layer.paths["ST"].gate.set_keep(keep[1])
    x = torch.randn(2, 4, 4, 5, 5)
    torch.testing.assert_close(template_layer(x), alone(x))
    assert unit_from_keep(*keep) == unit
    assert set(alone.paths) == {unit}


def test_s_unit_is_framewise_and_st_is_not():
    torch.manual_seed(0)
    x = torch.randn(1, 2, 5, 4, 4)
    shuffled = x[:, :, torch.tensor([3, 0, 4, 1, 2])]
    s = FusionLayer(2, 2, 4, unit="S").eval()
    st = FusionLayer(2, 2, 4, unit="ST").eval()
    torch.testing.assert_close(s(shuffled), s(x)[:, :, torch.tensor([3, 0, 4, 1, 2])])
    assert not torch.allclose(st(shuffled), st(x)[:, :, torch.tensor([3, 0, 4, 1, 2])])


def test_shapes_and_parameter_counts():
    layer = FusionLayer(6, growth=4, bottleneck=8)
    assert layer(torch.randn(2, 6, 3, 7, 7)).shape == (2, 10, 3, 7, 7)
    trans = FusionTransition(10, 5)
    assert trans(torch.randn(2, 10, 3, 8, 8)).shape == (2, 5, 3, 4, 4)
    weights = sum(
        p.numel() for n, p in layer.named_parameters() if n.endswith("conv.weight") or n == "conv_spatial.weight"
    )
    assert weights == 6 * 8 * 1 + 6 * 8 * 3 + 8 * 4 * 9


def test_relaxed_gates_and_output_gate_option():
    layer = FusionLayer(3, 2, 4, output_gate=True)
    for g in [layer.paths["S"].gate, layer.paths["ST"].gate, layer.output_gate]:
        g.set_mode("relaxed")
    out = layer(torch.randn(4, 3, 2, 4, 4))
    assert out.shape == (4, 5, 2, 4, 4) and torch.isfinite(out).all()


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="fusion unit"):
        FusionLayer(3, 2, 4, unit="T")
    with pytest.raises(ValueError, match=r"FusionLayer expects \(B, 3, T, H, W\)"):
        FusionLayer(3, 2, 4)(torch.randn(2, 4, 2, 4, 4))
    with pytest.raises(ValueError, match="FusionTransition expects"):
        FusionTransition(4, 2)(torch.randn(2, 4, 4, 4))
