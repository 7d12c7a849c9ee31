"""CT module and tensor excitation: the authors' reference vectors, degenerate cases, interaction field."""

import copy
import math

import pytest
import torch
import torch.nn as nn
from einops import rearrange
from refvectors import load_refvectors

from stconv_lite.analysis.interaction import interaction_field
from stconv_lite.authors import convert_authors_state_dict
from stconv_lite.ops.ctconv import (
    CTModule,
    TensorSeparableConv3d,
    make_module,
)
from stconv_lite.ops.tensor_excitation import TensorExcitation


def load_reference() -> dict:
    return load_refvectors("ctnet_ref.pt")


def _frames(module: nn.Module, frames: torch.Tensor, t: int) -> torch.Tensor:
    """Run a (B, C, T, H, W) module on the authors' '(n t) c h w' frame batches."""
    video = rearrange(frames, "(n t) c h w -> n c t h w", t=t)
    return rearrange(module(video), "n c t h w -> (n t) c h w")


INTERACTION_CASES = [
    "ct_interaction_c64_t8",
    "ct_interaction_c64_t8_init",
    "ct_interaction_c128_t8",
    "ct_interaction_c128_t8_init",
    "ct_interaction_c32_t4",
    "ct_interaction_c32_t4_init",
]


@pytest.mark.parametrize("name", INTERACTION_CASES)
def test_ct_module_reproduces_authors_vectors(name):
    case = load_reference()["cases"][name]
    frames = case["inputs"][0]
    t = int(name.split("_t")[1].split("_")[0])
    module = CTModule(frames.shape[1], factors="pow2")
    module.load_state_dict(convert_authors_state_dict("ct_module", case["state_dict"]))
    module.eval()
    with torch.no_grad():
        torch.testing.assert_close(_frames(module, frames, t), case["output_eval"], atol=1e-5, rtol=1e-5)
        training = copy.deepcopy(module).train()
        torch.testing.assert_close(_frames(training, frames, t), case["output_train"], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["Spatial", "Temporal", "Channel"])
def test_tensor_excitation_reproduces_authors_vectors(kind):
    case = load_reference()["cases"][f"te_{kind}GroupAttention_c64_g8"]
    module = TensorExcitation(64, groups=8, kind=kind.lower())
    module.load_state_dict(convert_authors_state_dict("ct_module", case["state_dict"]))
    x = case["inputs"][0]
    with torch.no_grad():
        torch.testing.assert_close(module.eval()(x), case["output_eval"], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(module.train()(x), case["output_train"], atol=1e-5, rtol=1e-5)


def _randomise(module: nn.Module) -> nn.Module:
    """Random weights and BN statistics, so that no identity init hides a mismatch."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if tensor.is_floating_point():
                fresh = (
                    torch.rand(tensor.shape, generator=generator) + 0.5
                    if "var" in name
                    else torch.randn(tensor.shape, generator=generator) * 0.3
                )
                tensor.copy_(fresh)
    return module.eval()


def _cbr(c: int, kernel, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv3d(c, c, kernel, padding=tuple(k // 2 for k in kernel), groups=groups, bias=False),
        nn.BatchNorm3d(c),
        nn.ReLU(),
    ]


def _copy_sequential_into_ct(reference: nn.Sequential, ct: CTModule) -> None:
    """Copy conv/BN weights of reference (conv, bn, relu)* into the CT sub-operations, in order."""
    convs = [m for m in reference if isinstance(m, nn.Conv3d)]
    norms = [m for m in reference if isinstance(m, nn.BatchNorm3d)]
    for stage, conv, norm in zip(ct.stages, convs, norms, strict=True):
        stage.branches[0].conv.load_state_dict(conv.state_dict())
        stage.branches[0].norm.load_state_dict(norm.state_dict())


DEGENERATE = {
    # name: (CTModule options, reference layers), C = 12
    "c3d": (dict(factors=(12,), order=(0,), kernels=[((3, 3, 3),)]), lambda c: _cbr(c, (3, 3, 3))),
    "r2plus1d": (
        dict(factors=(12,), order=(0, 0), kernels=[((1, 3, 3),), ((3, 1, 1),)]),
        lambda c: _cbr(c, (1, 3, 3)) + _cbr(c, (3, 1, 1)),
    ),
    "csn": (
        dict(factors=(12, 1), order=(0, 1), kernels=[((1, 1, 1),), ((3, 3, 3),)]),
        lambda c: _cbr(c, (1, 1, 1)) + _cbr(c, (3, 3, 3), groups=c),
    ),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
def test_degenerate_cases_equal_classic_modules(name):
    options, layers = DEGENERATE[name]
    reference = _randomise(nn.Sequential(*layers(12)))
    ct = CTModule(12, pointwise=False, excitation=False, **options).eval()
    packaged = make_module(name, 12)  # the named configuration is the same module
    assert [type(m) for m in packaged.modules()] == [type(m) for m in ct.modules()]
    assert packaged.load_state_dict(ct.state_dict()) is not None
    _copy_sequential_into_ct(reference, ct)
    assert sum(p.numel() for p in ct.parameters()) == sum(p.numel() for p in reference.parameters())
    x = torch.randn(2, 12, 5, 6, 6)
    torch.testing.assert_close(ct(x), reference(x))


def test_tensor_separable_conv_is_blockwise_full_conv():
    """Eq. (2): along sub-dimension k, each fibre of C_k channels gets its own full 3D convolution."""
    factors, c = (3, 4), 12
    op = TensorSeparableConv3d(c, factors, dim=0, kernels=((3, 3, 3),), norm=False, activation=False)
    x = torch.randn(1, c, 4, 5, 5)
    y = op(x)
    tx = rearrange(x, "b (c1 c2) t h w -> b c1 c2 t h w", c1=3)
    ty = rearrange(y, "b (c1 c2) t h w -> b c1 c2 t h w", c1=3)
    weight = rearrange(op.branches[0].conv.weight, "(c2 o) i kt kh kw -> c2 o i kt kh kw", c2=4)
    for j in range(4):  # fibre: fixed c2 = j, the 3 channels of c1 interact
        expected = nn.functional.conv3d(tx[:, :, j], weight[j], padding=1)
        torch.testing.assert_close(ty[:, :, j], expected)


@pytest.mark.parametrize("factors", [(4, 4), (2, 2, 4), (2, 3, 2, 2)])
def test_interaction_field_grows_per_sub_operation(factors):
    c = math.prod(factors)
    module = CTModule(c, factors=factors, pointwise=False, excitation=False)
    for k in range(1, len(factors) + 1):
        field = interaction_field(nn.Sequential(*module.stages[:k]), c, size=(11, 11, 11))
        channels = field.any(dim=(1, 2, 3))
        mixed = [factors[d] for d in module.order[:k]]
        assert int(channels.sum()) == math.prod(mixed)  # C_K x ... channels have interacted
        for axis in (1, 2, 3):
            extent = field.any(dim=tuple(a for a in (0, 1, 2, 3) if a != axis)).nonzero()
            assert int(extent.max() - extent.min()) + 1 == 2 * k + 1  # (2k+1) in t, h and w


def test_full_ct_module_shapes_any_k_and_gradcheck():
    for factors in [2, 3, (4, 6), "pow2"]:
        module = CTModule(64 if factors != (4, 6) else 24, factors=factors, excitation=factors != (4, 6))
        x = torch.randn(2, module.channels, 4, 6, 6)
        assert module(x).shape == x.shape
    small = CTModule(8, factors=(2, 4), excitation=False).double().eval()
    x = torch.randn(1, 8, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(small, (x,))


def test_bad_inputs_raise_clear_errors():
    module = CTModule(16, factors=(4, 4))
    with pytest.raises(ValueError, match=r"expects \(B, 16, T, H, W\); got \(2, 16, 8, 8\)"):
        module(torch.zeros(2, 16, 8, 8))
    with pytest.raises(ValueError, match="got"):
        module(torch.zeros(2, 8, 4, 8, 8))
    with pytest.raises(ValueError, match="multiple of reduction"):
        CTModule(12, factors=(2, 6), excitation=True)  # C_k = 2 is too small for hidden width C/4
    with pytest.raises(ValueError, match="kernel sets"):
        CTModule(16, factors=(4, 4), kernels=[((1, 3, 3),)] * 3)
    with pytest.raises(ValueError, match="odd"):
        TensorSeparableConv3d(16, (4, 4), 0, kernels=((2, 3, 3),))
    with pytest.raises(ValueError, match="kind"):
        TensorExcitation(16, 4, kind="depth")
    with pytest.raises(ValueError, match="kind must be one of"):
        make_module("p3d", 16)


@pytest.mark.parametrize("kernel", [(1, 3, 3), (3, 1, 1), (5, 1, 1), (3, 3, 3)])
def test_branch_convolution_equals_its_conv3d_with_gradients(kernel):
    """The 2D route for a temporal kernel (``_Branch._convolve``) is the grouped Conv3d, forward and backward."""
    op = TensorSeparableConv3d(12, (3, 4), dim=0, kernels=(kernel,))
    branch = op.branches[0]
    z = torch.randn(2, 12, 5, 6, 7, requires_grad=True)
    fast = branch._convolve(z)
    reference = branch.conv(z)
    torch.testing.assert_close(fast, reference)
    probe = torch.randn_like(reference)
    fast_grads = torch.autograd.grad(fast, (z, branch.conv.weight), probe)
    reference_grads = torch.autograd.grad(reference, (z, branch.conv.weight), probe)
    for got, expected in zip(fast_grads, reference_grads):
        torch.testing.assert_close(got, expected)
