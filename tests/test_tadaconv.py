"""TAdaConv2d: identity at alpha = 1, batched path = grouped trick = per-frame loop, cin/cout,
depthwise, stride and bias, the authors' reference vectors, temporal aggregation, errors."""

from pathlib import Path

import pytest
import torch
import torch.nn as nn
from einops import rearrange
from torch.testing import assert_close

from stconv_lite.authors import convert_authors_state_dict
from stconv_lite.ops.tadaconv import (
    TAdaConv2d,
    TAdaConvWithGenerator,
    tadaconv2d_grouped,
    tadaconv2d_per_frame,
)
from stconv_lite.ops.temporal_aggregation import TemporalAggregation, temporal_avg_pool

REF = Path(__file__).resolve().parents[1].parent / "shared" / "refvectors" / "tadaconv_ref.pt"


def _video(b=2, c=4, t=3, h=6, w=6, seed=0):
    return torch.randn(b, c, t, h, w, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _alpha(b, c, t, seed=1):
    return 1 + 0.5 * torch.randn(b, c, t, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_alpha_one_is_the_framewise_2d_conv():
    conv = TAdaConv2d(4, 5, 3, padding=1).double()
    x = _video()
    reference = nn.Conv2d(4, 5, 3, padding=1).double()
    reference.load_state_dict(conv.state_dict())
    expected = rearrange(reference(rearrange(x, "b c t h w -> (b t) c h w")), "(b t) c h w -> b c t h w", b=2)
    assert_close(conv(x, torch.ones(2, 4, 3, dtype=torch.float64)), expected)
    assert_close(conv(x), expected)


@pytest.mark.parametrize(
    "cin, cout, groups, cal_dim, stride, bias",
    [
        (4, 6, 1, "cin", 1, False),
        (4, 6, 1, "cin", 2, True),
        (4, 4, 1, "cout", 2, True),
        (4, 6, 1, "cout", 1, False),
        (4, 4, 4, "cout", 1, True),  # depthwise, the authors' way
        (4, 4, 4, "cin", 2, True),  # depthwise with input calibration (the authors' trick cannot)
        (4, 6, 2, "cin", 1, True),
    ],
)
def test_batched_equals_grouped_equals_per_frame(cin, cout, groups, cal_dim, stride, bias):
    conv = TAdaConv2d(cin, cout, 3, stride=stride, padding=1, groups=groups, bias=bias, cal_dim=cal_dim).double()
    x = _video(c=cin)
    alpha = _alpha(2, conv.alpha_channels, 3)
    slow = tadaconv2d_per_frame(conv, x, alpha)
    assert_close(conv(x, alpha), slow)
    assert_close(tadaconv2d_grouped(conv, x, alpha), slow)


def test_cin_and_cout_differ_and_match_their_closed_forms():
    conv = TAdaConv2d(4, 4, 3, padding=1, bias=True).double()
    x, alpha = _video(), _alpha(2, 4, 3)
    a = rearrange(alpha, "b c t -> b c t 1 1")
    conv.cal_dim = "cin"
    y_in = conv(x, alpha)
    assert_close(y_in, conv(x * a))
    conv.cal_dim = "cout"
    y_out = conv(x, alpha)
    bias = rearrange(conv.bias, "c -> c 1 1 1")
    assert_close(y_out, a * (conv(x) - bias) + bias)  # bias is not calibrated
    assert (y_in - y_out).abs().max() > 1e-3


def test_calibrated_weights_are_alpha_times_base():
    conv = TAdaConv2d(4, 6, 3, groups=2, bias=False).double()
    alpha = _alpha(2, 4, 3)
    kernels = conv.calibrated_weights(alpha)
    assert kernels.shape == (2, 3, 6, 2, 3, 3)
    # output filter 4 belongs to group 1, so its input slice j is input channel 2 + j
    assert_close(kernels[1, 2, 4, 1], alpha[1, 3, 2] * conv.weight[4, 1])


def test_gradients_flow_to_weight_and_alpha():
    conv = TAdaConv2d(3, 4, 3, padding=1).double()
    x = _video(c=3, t=2, h=4, w=4).requires_grad_()
    alpha = _alpha(2, 3, 2).requires_grad_()
    assert torch.autograd.gradcheck(lambda x, a: conv(x, a), (x, alpha))


def test_with_generator_is_identity_at_init():
    layer = TAdaConvWithGenerator(4, 6, 3, padding=1, stride=2).double()
    x = _video()
    assert_close(layer(x), layer.conv(x))
    layer_out = TAdaConvWithGenerator(4, 6, 3, padding=1, cal_dim="cout").double()
    assert layer_out.generator.out_channels == 6
    assert_close(layer_out(x), layer_out.conv(x))


def test_aggregation_is_bn_relu_at_init_and_pools_with_zero_padding():
    agg = TemporalAggregation(4).double().train()
    assert torch.all(agg.pool_bn.weight == 0) and torch.all(agg.pool_bn.bias == 0)
    x = _video()
    bn = nn.BatchNorm3d(4).double()
    assert_close(agg(x), torch.relu(bn(x)))
    pooled = temporal_avg_pool(x)
    assert_close(pooled[:, :, 0], (x[:, :, 0] + x[:, :, 1]) / 3)
    assert_close(pooled[:, :, 1], x[:, :, :3].mean(dim=2))


def test_bad_inputs_raise_clear_errors():
    conv = TAdaConv2d(4, 4, 3, padding=1)
    with pytest.raises(ValueError, match=r"expects \(B, C, T, H, W\); got \(8, 4, 6, 6\)"):
        conv(torch.randn(8, 4, 6, 6))
    with pytest.raises(ValueError, match="4 input channels"):
        conv(torch.randn(1, 3, 2, 6, 6))
    with pytest.raises(ValueError, match="alpha of shape"):
        conv(torch.randn(1, 4, 2, 6, 6), torch.ones(1, 4, 3))
    with pytest.raises(ValueError, match="cal_dim"):
        TAdaConv2d(4, 4, cal_dim="both")
    with pytest.raises(ValueError, match="divisible by groups"):
        TAdaConv2d(4, 6, groups=4)
    with pytest.raises(ValueError, match="TemporalAggregation expects"):
        TemporalAggregation(4)(torch.randn(2, 4, 6, 6))
    with pytest.raises(ValueError, match="odd kernel_size"):
        TemporalAggregation(4, kernel_size=2)


# ---- the authors' numbers -------------------------------------------------------------------------


def _cases():
    if not REF.exists():
        pytest.skip(f"reference vectors tadaconv_ref.pt not found at {REF}")
    return torch.load(REF, weights_only=True)["cases"]


CONV_CASES = {
    "tadaconv2d_cin": dict(in_channels=8, out_channels=8, kernel_size=3, padding=1, bias=False, cal_dim="cin"),
    "tadaconv2d_cout_bias_s2": dict(
        in_channels=8, out_channels=8, kernel_size=3, stride=2, padding=1, bias=True, cal_dim="cout"
    ),
    "tadaconv2d_cin_8to12": dict(in_channels=8, out_channels=12, kernel_size=3, padding=1, bias=False, cal_dim="cin"),
}


@pytest.mark.parametrize("name", sorted(CONV_CASES))
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_reference_tadaconv2d(name, mode):
    case = _cases()[name]
    conv = TAdaConv2d(**CONV_CASES[name])
    conv.load_state_dict(convert_authors_state_dict("tadaconv", case["state_dict"]))
    conv.train(mode == "train")
    x, alpha = case["inputs"]
    assert_close(conv(x, alpha), case[f"output_{mode}"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_reference_tadaconv_with_generator(mode):
    case = _cases()["tadaconv_with_routefunc"]
    layer = TAdaConvWithGenerator(8, 8, 3, padding=1, bias=False)
    layer.load_state_dict(
        convert_authors_state_dict("tadaconv", case["state_dict"], conv_prefix="b.", generator_prefix="b_rf.")
    )
    layer.train(mode == "train")
    (x,) = case["inputs"]
    assert_close(layer(x), case[f"output_{mode}"], atol=1e-5, rtol=1e-5)


def test_aggregation_variants_of_table_3b():
    x = _video()
    bn = nn.BatchNorm3d(4).double()
    pooled = temporal_avg_pool(x)
    assert_close(TemporalAggregation(4, mode="shortcut").double()(x), torch.relu(bn(x + pooled)))
    assert_close(TemporalAggregation(4, mode="avg").double()(x), torch.relu(bn(pooled)))
    with pytest.raises(ValueError, match="mode must be one of"):
        TemporalAggregation(4, mode="max")


def test_gradcheck_through_generator_and_conv():
    layer = TAdaConvWithGenerator(4, 4, 3, padding=1, stride=2).double().eval()
    torch.nn.init.normal_(layer.generator.expand.weight, std=0.3)
    x = _video(b=1, t=3, h=5, w=5).requires_grad_()
    assert torch.autograd.gradcheck(layer, (x,))
