"""3TConv: kernel generation geometry, gradients, parameter count, the authors' reference vectors."""

from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.testing import assert_close

from stconv_lite.authors import convert_authors_state_dict
from stconv_lite.ops.conv3t import Conv3T, generate_kernel

REF = Path(__file__).resolve().parents[1].parent / "shared" / "refvectors" / "3tconv_ref.pt"


def _layer(c_in=2, c_out=3, k=(3, 5, 5), **kw) -> Conv3T:
    torch.manual_seed(0)
    return Conv3T(c_in, c_out, k, **kw)


def test_identity_init_gives_equal_slices():
    layer = _layer(k=(4, 5, 5))
    kernel = layer.kernel()
    assert kernel.shape == (3, 2, 4, 5, 5)
    for t in range(4):
        assert_close(kernel[:, :, t], layer.first_slice.detach(), rtol=0, atol=1e-6)


def test_one_pixel_translation_shifts_interior_by_one_pixel():
    layer = _layer(k=(2, 5, 5)).set_transforms(tx_px=1.0)
    kernel = layer.kernel().detach()
    # tx > 0 moves the content left by tx taps: the new column j is the old column j + 1
    assert_close(kernel[..., 1, :, :-1], kernel[..., 0, :, 1:], rtol=0, atol=1e-6)
    assert torch.all(kernel[..., 1, :, -1] == 0)  # zeros come in from outside the kernel
    layer = _layer(k=(2, 5, 5)).set_transforms(ty_px=-1.0)
    kernel = layer.kernel().detach()
    assert_close(kernel[..., 1, 1:, :], kernel[..., 0, :-1, :], rtol=0, atol=1e-6)  # moves down


def test_ninety_degree_rotation_is_exact_on_the_grid():
    layer = _layer(k=(3, 5, 5)).set_transforms(rotation_deg=90.0)
    kernel = layer.kernel().detach()
    first = layer.first_slice.detach()
    # r > 0 turns the content counter-clockwise on screen, as torch.rot90 with k=1 does
    assert_close(kernel[:, :, 1], torch.rot90(first, 1, dims=(-2, -1)), rtol=0, atol=1e-5)
    assert_close(kernel[:, :, 2], torch.rot90(first, 2, dims=(-2, -1)), rtol=0, atol=1e-5)


def test_transforms_are_per_output_filter_and_sequential():
    layer = _layer(c_out=2, k=(3, 5, 5))
    with torch.no_grad():
        layer.tx[:, 1] = 0.5  # only filter 1 moves, one tap per step
    kernel = layer.kernel().detach()
    assert_close(kernel[0, :, 2], kernel[0, :, 0], rtol=0, atol=1e-6)
    assert_close(kernel[1, :, 2, :, :-2], kernel[1, :, 0, :, 2:], rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["matrix", "grid_sample"])
def test_gradcheck_reaches_all_parameters_in_float64(method):
    torch.manual_seed(1)
    first = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    # generic (off-grid) transforms: bilinear sampling has kinks exactly on the grid
    params = [
        (1.0 + 0.1 * torch.randn(2, 2, dtype=torch.float64)).requires_grad_(),
        (0.3 * torch.randn(2, 2, dtype=torch.float64)).requires_grad_(),
        (0.2 * torch.randn(2, 2, dtype=torch.float64)).requires_grad_(),
        (0.2 * torch.randn(2, 2, dtype=torch.float64)).requires_grad_(),
    ]
    x = torch.randn(1, 2, 4, 5, 5, dtype=torch.float64, requires_grad=True)

    def run(x, first, s, r, tx, ty):
        return F.conv3d(x, generate_kernel(first, s, r, tx, ty, method=method), padding=1)

    assert torch.autograd.gradcheck(run, (x, first, *params))


@pytest.mark.parametrize("k", [3, 5])
def test_matrix_and_grid_sample_methods_agree_in_value_and_gradient(k):
    torch.manual_seed(3)
    first = torch.randn(4, 3, k, k, requires_grad=True)
    params = [(1 + 0.1 * torch.randn(k - 1, 4)).requires_grad_()]
    params += [(0.3 * torch.randn(k - 1, 4)).requires_grad_() for _ in range(3)]
    kernels = [generate_kernel(first, *params, method=m) for m in ("matrix", "grid_sample")]
    assert_close(kernels[0], kernels[1], rtol=1e-5, atol=1e-6)
    weights = torch.randn_like(kernels[0])
    grads = [torch.autograd.grad((k * weights).sum(), [first, *params]) for k in kernels]
    for a, b in zip(*grads):
        assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_gradients_are_nonzero_at_identity_init():
    layer = _layer(k=(3, 3, 3))
    layer(torch.randn(2, 2, 5, 6, 6)).square().sum().backward()
    for name in ("first_slice", "scale", "rotation", "tx", "ty"):
        assert getattr(layer, name).grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    "c_in,c_out,k,groups,bias", [(3, 4, (3, 5, 5), 1, True), (8, 6, (7, 7, 7), 2, False), (1, 6, (5, 5, 5), 1, True)]
)
def test_parameter_formula(c_in, c_out, k, groups, bias):
    layer = Conv3T(c_in, c_out, k, groups=groups, bias=bias)
    l, n, m = k
    expected = c_out * (c_in // groups) * n * m + 4 * (l - 1) * c_out + (c_out if bias else 0)
    assert sum(p.numel() for p in layer.parameters()) == expected


def test_reproduces_authors_reference_vectors():
    if not REF.exists():
        pytest.skip(f"reference vectors not found at {REF}")
    ref = torch.load(REF, weights_only=True)
    layer = Conv3T(3, 4, (3, 5, 5), padding=(1, 2, 2))
    layer.load_state_dict(convert_authors_state_dict("conv3t", ref["state_dict"]))
    assert_close(layer.kernel(), ref["kernel"], rtol=1e-5, atol=1e-5)
    assert_close(layer(ref["inputs"][0]), ref["output"], rtol=1e-5, atol=1e-5)


def test_readable_units_round_trip():
    layer = _layer(k=(3, 5, 5)).set_transforms(scale=1.1, rotation_deg=30.0, tx_px=1.0, ty_px=-2.0)
    assert_close(layer.tx.detach(), torch.full((2, 3), 0.5))  # 1 tap = 2 / (5 - 1) / 2 normalised
    readable = layer.readable_parameters()
    assert_close(readable["rotation_deg"], torch.full((2, 3), 30.0))
    assert_close(readable["tx_px"], torch.full((2, 3), 1.0))
    assert_close(readable["ty_px"], torch.full((2, 3), -2.0))
    assert_close(readable["scale"], torch.full((2, 3), 1.1))


def test_depth_one_is_a_per_frame_conv2d():
    layer = _layer(k=(1, 3, 3), padding=(0, 1, 1))
    x = torch.randn(2, 2, 4, 6, 6)
    per_frame = torch.stack([F.conv2d(x[:, :, t], layer.first_slice, layer.bias, padding=1) for t in range(4)], dim=2)
    assert_close(layer(x), per_frame, rtol=1e-5, atol=1e-5)


def test_from_conv2d_static_clip_gives_depth_times_2d_response():
    torch.manual_seed(2)
    conv = nn.Conv2d(3, 5, 3, padding=1, bias=False)
    layer = Conv3T.from_conv2d(conv)
    assert layer.kernel_size == (3, 3, 3) and layer.padding == (1, 1, 1)
    frame = torch.randn(2, 3, 7, 7)
    clip = frame.unsqueeze(2).expand(-1, -1, 6, -1, -1)
    out = layer(clip)
    assert_close(out[:, :, 1:-1], 3 * conv(frame).unsqueeze(2).expand(-1, -1, 4, -1, -1), rtol=1e-5, atol=1e-5)


def test_bad_input_raises_value_error():
    layer = _layer()
    with pytest.raises(ValueError, match=r"Conv3T expects \(B, 2, T, H, W\); got \(2, 2, 6, 6\)"):
        layer(torch.randn(2, 2, 6, 6))
    with pytest.raises(ValueError, match="got \\(1, 3, 4, 6, 6\\)"):
        layer(torch.randn(1, 3, 4, 6, 6))
    with pytest.raises(ValueError, match="divisible by groups"):
        Conv3T(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv3T(3, 4, (3, 3))
    with pytest.raises(ValueError, match="nn.Conv2d"):
        Conv3T.from_conv2d(nn.Conv3d(1, 1, 3))


def test_param_groups_separate_the_transforms():
    from stconv_lite.ops.conv3t import param_groups

    model = nn.Sequential(Conv3T(1, 2, 3), nn.ReLU(), nn.Conv3d(2, 2, 1))
    groups = param_groups(model, lr=1e-3, transform_lr=1e-2)
    assert [g["lr"] for g in groups] == [1e-3, 1e-2]
    assert len(groups[1]["params"]) == 4 and len(groups[0]["params"]) == 4  # K1, bias, conv w, b
    assert len(param_groups(nn.Conv3d(1, 1, 1), lr=1e-3)) == 1


# ---------------------------------------------------------------- speed-related behaviour
def _count_ops(fn) -> int:
    """How many ATen operators ``fn`` dispatches (each is at least one kernel launch on a GPU)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Counter(TorchDispatchMode):
        calls = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            Counter.calls += 1
            return func(*args, **(kwargs or {}))

    with Counter():
        fn()
    return Counter.calls


def test_matrix_generation_launches_the_same_few_ops_whatever_the_layer_size():
    def generate(channels):
        layer = Conv3T(channels, channels, 3)
        return lambda: layer.kernel().sum().backward()

    small, large = _count_ops(generate(4)), _count_ops(generate(64))
    assert small == large  # independent of channels: nothing loops over filters or channels
    assert small < 220  # forward + backward, views included (the one-hot version dispatched 312)


def test_eval_kernel_is_cached_until_a_parameter_changes():
    layer = _layer(k=(3, 3, 3)).eval()
    x = torch.randn(1, 2, 4, 5, 5)
    with torch.no_grad():
        first = layer.kernel()
        assert layer.kernel() is first  # no regeneration while nothing changed
        layer.set_transforms(rotation_deg=20.0)  # in-place change bumps the version counter
        rotated = layer.kernel()
        assert rotated is not first
        assert_close(rotated, generate_kernel(layer.first_slice, layer.scale, layer.rotation, layer.tx, layer.ty))
        out = layer(x)
    assert_close(out, F.conv3d(x, layer.kernel().detach(), layer.bias))


def test_cache_follows_load_state_dict_dtype_changes_and_optimiser_steps():
    layer = _layer(k=(3, 3, 3))
    other = _layer(k=(3, 3, 3)).set_transforms(tx_px=0.5)
    with torch.no_grad():
        torch.nn.init.normal_(other.first_slice)
        before = layer.kernel()
        layer.load_state_dict(other.state_dict())
        assert_close(layer.kernel(), other.kernel())
        assert not torch.equal(layer.kernel(), before)
        assert layer.double().kernel().dtype == torch.float64  # .to() drops the cache
    layer.float()
    optimiser = torch.optim.SGD(layer.parameters(), lr=0.1)
    layer(torch.randn(1, 2, 4, 5, 5)).square().sum().backward()
    with torch.no_grad():
        stale = layer.kernel()
    optimiser.step()
    with torch.no_grad():
        fresh = layer.kernel()
    assert not torch.equal(fresh, stale)
    assert_close(fresh, generate_kernel(layer.first_slice, layer.scale, layer.rotation, layer.tx, layer.ty).detach())


def test_training_kernel_keeps_its_graph():
    layer = _layer(k=(3, 3, 3))
    with torch.no_grad():
        layer.kernel()  # a cached entry must not leak into training
    kernel = layer.kernel()
    assert kernel.requires_grad and kernel.grad_fn is not None


def test_failed_compilation_falls_back_to_eager(monkeypatch):
    from stconv_lite.ops import conv3t

    def broken_compile(fn, **kwargs):
        def run(*args):
            raise RuntimeError("no compiler here")

        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    try:
        assert conv3t.compile_generation(True)
        layer = _layer(k=(3, 3, 3)).set_transforms(rotation_deg=10.0)
        with pytest.warns(RuntimeWarning, match="eager"):
            kernel = layer.kernel()
        assert_close(
            kernel,
            generate_kernel(layer.first_slice, layer.scale, layer.rotation, layer.tx, layer.ty, method="grid_sample"),
        )
    finally:
        conv3t.compile_generation(False)
