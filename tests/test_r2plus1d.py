"""(2+1)D convolution: the M_i formula, parameter parity with the full 3D conv, shapes, errors."""

import pytest
import torch
import torch.nn as nn
from torch.testing import assert_close

from stconv_lite.ops.r2plus1d import Conv2Plus1d, midplanes


def _weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv3d))


def test_midplanes_values():
    assert midplanes(64, 64) == 144  # 27*64*64 / (9*64 + 3*64) = 144 exactly
    assert midplanes(64, 128) == 230
    assert midplanes(3, 64, t=3, d=7) == 83
    assert midplanes(512, 512) == 1152


@pytest.mark.parametrize(
    "n_in,n_out,t,d", [(64, 64, 3, 3), (64, 128, 3, 3), (3, 64, 3, 7), (7, 5, 2, 3), (256, 512, 3, 3), (1, 8, 5, 5)]
)
def test_parameters_match_the_full_conv_up_to_the_floor(n_in, n_out, t, d):
    """M_i (d^2 N_{i-1} + t N_i) <= t d^2 N_{i-1} N_i, and one more middle channel would exceed it."""
    full = nn.Conv3d(n_in, n_out, (t, d, d), bias=False).weight.numel()
    factorised = _weights(Conv2Plus1d(n_in, n_out, (t, d, d)))
    per_channel = d * d * n_in + t * n_out
    assert factorised <= full < factorised + per_channel
    if full % per_channel == 0:
        assert factorised == full


@pytest.mark.parametrize("t,h,w,stride", [(4, 8, 8, 1), (5, 7, 9, 1), (4, 8, 8, 2), (5, 7, 6, (2, 1, 2))])
def test_shapes_match_conv3d(t, h, w, stride):
    x = torch.randn(2, 3, t, h, w)
    full = nn.Conv3d(3, 6, 3, stride, 1)
    ours = Conv2Plus1d(3, 6, 3, stride)
    assert ours(x).shape == full(x).shape


def test_structure_is_spatial_bn_relu_temporal():
    layer = Conv2Plus1d(4, 8, (3, 5, 5), stride=(2, 2, 2), mid_channels=6)
    assert layer.spatial.kernel_size == (1, 5, 5) and layer.spatial.stride == (1, 2, 2)
    assert layer.temporal.kernel_size == (3, 1, 1) and layer.temporal.stride == (2, 1, 1)
    assert isinstance(layer[1], nn.BatchNorm3d) and isinstance(layer[2], nn.ReLU)
    assert list(layer.state_dict())[0] == "0.weight"  # torchvision's Conv2Plus1D key layout


def test_without_the_middle_nonlinearity_it_is_a_rank_limited_3d_conv():
    """Spatial then temporal conv (identity in between) equals one 3D conv with the outer-product kernel."""
    torch.manual_seed(0)
    layer = Conv2Plus1d(2, 3, 3, mid_channels=4).double().eval()
    layer[1] = nn.Identity()
    layer[2] = nn.Identity()
    spatial, temporal = layer.spatial.weight, layer.temporal.weight  # (M, I, 1, d, d), (O, M, t, 1, 1)
    kernel = torch.einsum("mixhw,omtyz->oithw", spatial, temporal)
    x = torch.randn(1, 2, 5, 6, 6, dtype=torch.float64)
    assert_close(layer(x), nn.functional.conv3d(x, kernel, padding=1))


def test_errors():
    with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
        Conv2Plus1d(3, 4)(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="square"):
        Conv2Plus1d(3, 4, (3, 3, 5))
    with pytest.raises(ValueError, match="positive"):
        midplanes(0, 4)


def test_fast_paths_match_the_plain_sequential_in_train_and_eval():
    """The temporal conv as a 2D conv and the BN folded in eval give the nn.Sequential's numbers."""
    import torch
    import torch.nn as nn
    from torch.testing import assert_close

    torch.manual_seed(0)
    block = Conv2Plus1d(4, 6, 3, stride=(2, 1, 2), bias=True)
    with torch.no_grad():
        block[1].running_mean.normal_()
        block[1].running_var.uniform_(0.5, 2.0)
        block[1].weight.normal_()
    x = torch.randn(2, 4, 5, 7, 7)
    for train in (True, False):
        block.train(train)
        reference = nn.Sequential.forward(block, x)
        assert_close(block(x), reference, rtol=1e-5, atol=1e-5)
