"""Conv2Plus1d's fused CPU training route gives the numbers of its layers run one by one.

The reference is ``nn.Sequential.forward``: spatial conv, BN, ReLU and temporal conv called in turn,
which is the definition of the block. The fused route (``r2plus1d_fused.ChannelsLastTrainingBlock``) must match it
in the output, the input gradient, every parameter gradient and the BN bookkeeping (running
statistics, batch counter), for contiguous and channels-last inputs; every case it does not cover
must take the layer-by-layer route.

Both routes sum in different orders (different oneDNN kernels, the temporal weight gradient per
tap), so float32 results agree to rounding: relative 1e-5 of the largest value of each tensor.
"""

import copy

import pytest
import torch
import torch.nn as nn
from torch.testing import assert_close

from stconv_lite.ops import r2plus1d_fused
from stconv_lite.ops.r2plus1d import Conv2Plus1d

FORMATS = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last_3d}
CONFIGS = {
    "default": dict(kernel_size=3),
    "no_time_padding": dict(kernel_size=3, padding=(0, 1, 1)),
    "strided": dict(kernel_size=3, stride=(2, 2, 2)),
    "space_strided": dict(kernel_size=3, stride=(1, 2, 1), padding=(0, 1, 1)),
    "even_time_kernel": dict(kernel_size=(4, 3, 3), padding=(2, 1, 1)),
    "wide_time_padding": dict(kernel_size=3, padding=(2, 1, 1)),
    "5x5_mid_7": dict(kernel_size=(2, 5, 5), padding=(0, 2, 2), mid_channels=7),
}


def _close(actual: torch.Tensor, expected: torch.Tensor) -> None:
    scale = max(1.0, expected.abs().max().item())
    assert_close(actual, expected, rtol=1e-5, atol=1e-5 * scale)


def _block(n_in: int = 6, n_out: int = 5, seed: int = 0, **kwargs) -> Conv2Plus1d:
    """A block with non-trivial BN parameters and running statistics."""
    torch.manual_seed(seed)
    block = Conv2Plus1d(n_in, n_out, **kwargs)
    with torch.no_grad():
        block[1].weight.normal_()
        block[1].bias.normal_()
        block[1].running_mean.normal_()
        block[1].running_var.uniform_(0.5, 2.0)
    return block


class _Spy:
    """Counts the calls of the fused route."""

    def __init__(self, monkeypatch):
        self.calls = 0
        apply = r2plus1d_fused.ChannelsLastTrainingBlock.apply

        def counted(*args):
            self.calls += 1
            return apply(*args)

        monkeypatch.setattr(r2plus1d_fused.ChannelsLastTrainingBlock, "apply", counted)


def _compare(block: nn.Module, x: torch.Tensor, steps: int = 2) -> list[torch.Tensor]:
    """Run ``block`` and a copy layer by layer on ``x`` for ``steps`` steps; compare everything.

    Returns the block's outputs. Parameters that do not require a gradient, and an input that does
    not, must get none.
    """
    reference = copy.deepcopy(block)
    outputs = []
    for step in range(steps):
        xa = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(x.requires_grad)
        xb = x.detach().clone(memory_format=torch.preserve_format).requires_grad_(x.requires_grad)
        ya = block(xa)
        yb = nn.Sequential.forward(reference, xb)
        _close(ya, yb)
        outputs.append(ya)
        if torch.is_grad_enabled() and ya.requires_grad:
            torch.manual_seed(100 + step)
            grad = torch.randn_like(yb)
            ya.backward(grad)
            yb.backward(grad)
            if x.requires_grad:
                _close(xa.grad, xb.grad)
        for (name, pa), pb in zip(block.named_parameters(), reference.parameters(), strict=True):
            assert (pa.grad is None) == (pb.grad is None), name
            if pb.grad is not None:
                _close(pa.grad, pb.grad)
        for (name, ba), bb in zip(block.named_buffers(), reference.buffers(), strict=True):
            assert ba.dtype == bb.dtype, name
            _close(ba, bb) if ba.is_floating_point() else assert_close(ba, bb)
    return outputs


@pytest.mark.parametrize("per_tap", [True, False], ids=["per_tap_weight_grad", "onednn_weight_grad"])
@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("config", CONFIGS)
def test_fused_training_route_matches_the_layers(config, fmt, per_tap, monkeypatch):
    """Both ways of the temporal weight gradient (per tap, or oneDNN's whole kernel for small clips)."""
    monkeypatch.setattr(r2plus1d_fused, "MIN_TAP_ROWS", 0 if per_tap else 10**9)
    spy = _Spy(monkeypatch)
    block = _block(**CONFIGS[config]).train()
    x = torch.randn(3, 6, 5, 9, 8).contiguous(memory_format=FORMATS[fmt]).requires_grad_(True)
    _compare(block, x)
    assert spy.calls == 2


@pytest.mark.parametrize("config", ["default", "strided", "even_time_kernel"])
def test_fused_route_with_channels_last_weights(config, monkeypatch):
    """As ``stconv_lite.analysis.bench --channels-last`` stores them (5D weights channels-last 3D)."""
    spy = _Spy(monkeypatch)
    block = _block(**CONFIGS[config]).train()
    for parameter in block.parameters():
        if parameter.dim() == 5:
            parameter.data = parameter.data.contiguous(memory_format=torch.channels_last_3d)
    x = torch.randn(3, 6, 5, 9, 8).contiguous(memory_format=torch.channels_last_3d).requires_grad_(True)
    _compare(block, x)
    assert spy.calls == 2


def test_fused_route_on_the_benchmark_shape(monkeypatch):
    """The shape of ``stconv_lite.analysis.bench`` (64 -> M=144 -> 64, 8 x 28 x 28 frames).

    Among 1.8 million pre-activations some lie within rounding of 0, where the ReLU of the two
    routes may disagree and pass a gradient or not (a legitimate difference that moves hundreds of
    input gradients). BN's bias of +-3 with weights of 0.25 keeps every pre-activation away from 0:
    half the channels always pass, half never.
    """
    spy = _Spy(monkeypatch)
    block = _block(64, 64).train()
    with torch.no_grad():
        block[1].weight.fill_(0.25)
        block[1].bias.copy_(3.0 * (torch.arange(block.mid_channels) % 2 * 2 - 1))
    (out,) = _compare(block, torch.randn(2, 64, 8, 28, 28, requires_grad=True), steps=1)
    assert spy.calls == 1 and out.is_contiguous(memory_format=torch.channels_last_3d)


@pytest.mark.parametrize(
    "frozen", [("x",), ("0.weight",), ("3.weight",), ("1.weight", "1.bias"), ("x", "0.weight", "3.weight")]
)
def test_fused_route_with_frozen_tensors(frozen, monkeypatch):
    """Only what requires a gradient gets one, and the rest still matches."""
    spy = _Spy(monkeypatch)
    block = _block().train()
    for name, parameter in block.named_parameters():
        parameter.requires_grad_(name not in frozen)
    x = torch.randn(2, 6, 5, 7, 7, requires_grad="x" not in frozen)
    _compare(block, x)
    assert spy.calls == 2


def test_fused_route_without_gradients_updates_the_running_statistics(monkeypatch):
    spy = _Spy(monkeypatch)
    block = _block().train()
    with torch.no_grad():
        _compare(block, torch.randn(2, 6, 5, 7, 7))
    assert spy.calls == 2


def test_cumulative_moving_average_momentum_none(monkeypatch):
    """BN with ``momentum=None`` averages over all batches so far (factor 1 / num_batches_tracked)."""
    spy = _Spy(monkeypatch)
    block = _block().train()
    block[1].momentum = None
    _compare(block, torch.randn(2, 6, 5, 7, 7, requires_grad=True), steps=3)
    assert spy.calls == 3


def _with_hook(block):
    block[0].register_forward_hook(lambda module, inputs, output: None)
    return block


def _no_running_stats(block):
    block[1] = nn.BatchNorm3d(block.mid_channels, track_running_stats=False)
    return block


def _dilated_temporal(block):
    block[3].dilation, block[3].padding = (2, 1, 1), (2, 0, 0)
    return block


def _leaky(block):
    block[2] = nn.LeakyReLU(0.1)
    return block


FALLBACKS = {
    "bias": (lambda block: block, dict(bias=True), torch.float32),
    "float64": (lambda block: block.double(), {}, torch.float64),
    "hook": (_with_hook, {}, torch.float32),
    "no_running_stats": (_no_running_stats, {}, torch.float32),
    "dilated_temporal": (_dilated_temporal, {}, torch.float32),
    "leaky_relu": (_leaky, {}, torch.float32),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", FALLBACKS)
def test_uncovered_cases_take_the_layer_by_layer_route(case, fmt, monkeypatch):
    spy = _Spy(monkeypatch)
    change, kwargs, dtype = FALLBACKS[case]
    block = change(_block(**kwargs)).train()
    x = torch.randn(2, 6, 5, 7, 7, dtype=dtype).contiguous(memory_format=FORMATS[fmt]).requires_grad_(True)
    _compare(block, x)
    assert spy.calls == 0


def test_disabled_onednn_takes_the_layer_by_layer_route(monkeypatch):
    spy = _Spy(monkeypatch)
    block = _block().train()
    monkeypatch.setattr(torch.backends.mkldnn, "enabled", False)
    _compare(block, torch.randn(2, 6, 5, 7, 7, requires_grad=True))
    assert spy.calls == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_eval_matches_the_layers_and_skips_the_fused_route(fmt, monkeypatch):
    spy = _Spy(monkeypatch)
    block = _block(bias=True).eval()
    x = torch.randn(2, 6, 5, 7, 7).contiguous(memory_format=FORMATS[fmt]).requires_grad_(True)
    _compare(block, x)
    assert spy.calls == 0


def test_state_dict_keys_are_torchvisions():
    assert list(_block().state_dict()) == [
        "0.weight",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
        "3.weight",
    ]


@pytest.mark.parametrize("kernel,padding,frames", [(3, 1, 5), (3, 0, 5), (4, 2, 3), (3, 2, 1), (1, 1, 2), (5, 4, 1)])
def test_temporal_weight_grad_per_tap_matches_onednn(kernel, padding, frames):
    """The per-tap weight gradient equals that of the whole ``(t, 1)`` conv, also where taps reach into padding."""
    torch.manual_seed(0)
    channels_last = torch.channels_last
    columns = torch.randn(3, 7, frames, 10).contiguous(memory_format=channels_last)
    weight = torch.randn(4, 7, kernel, 1)
    out_frames = frames + 2 * padding - kernel + 1
    grad = torch.randn(3, 4, out_frames, 10).contiguous(memory_format=channels_last)
    expected = torch.ops.aten.convolution_backward(
        grad, columns, weight, None, (1, 1), (padding, 0), (1, 1), False, (0, 0), 1, (False, True, False)
    )[1]
    _close(r2plus1d_fused._temporal_weight_grad(grad, columns, weight, padding), expected)
