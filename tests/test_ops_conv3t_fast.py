"""3TConv fast paths (issue 19) against the straightforward formulation they replace.

The fast kernel generation writes all slices with one batched product (identity block included),
computes the transforms' tap coordinates without stacking 2x3 matrices, multiplies the per-filter
resampling matrices by broadcasting, and reuses last step's kernel memory in training. Each must
give the numbers of the plain formulation: grid_sample slice by slice, or the interpolation
matrices of the affine matrices multiplied with ``bmm`` and concatenated.
"""

import pickle

import pytest
import torch
import torch.nn.functional as F
from einops import rearrange
from torch.testing import assert_close

from stconv_lite.ops.affine import affine_matrix
from stconv_lite.ops.conv3t import Conv3T, generate_kernel, interpolation_matrices, transform_products


def _transforms(depth: int, filters: int, dtype=torch.float32, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape = (depth - 1, filters)
    return [
        (1 + 0.1 * torch.randn(shape, generator=generator, dtype=dtype)).requires_grad_(),
        (0.3 * torch.randn(shape, generator=generator, dtype=dtype)).requires_grad_(),
        (0.2 * torch.randn(shape, generator=generator, dtype=dtype)).requires_grad_(),
        (0.2 * torch.randn(shape, generator=generator, dtype=dtype)).requires_grad_(),
    ]


def _plain_kernel(first: torch.Tensor, scale, rotation, tx, ty) -> torch.Tensor:
    """The formulation before issue 19: affine matrices, their interpolation matrices, bmm, cat."""
    _, _, height, width = first.shape
    steps = interpolation_matrices(affine_matrix(scale, rotation, tx, ty), height, width)  # (L-1, O, P, P)
    products = [steps[0]]
    for step in steps[1:]:
        products.append(torch.bmm(step, products[-1]))
    flat = rearrange(first, "o i h w -> o i (h w)")
    later = [torch.bmm(flat, rearrange(product, "o p q -> o q p")) for product in products]
    kernel = torch.cat([flat, *later], dim=2)
    return rearrange(kernel, "o i (t h w) -> o i t h w", h=height, w=width)


@pytest.mark.parametrize("depth,size", [(3, 3), (4, 3), (2, 2), (3, (3, 2))])
def test_fast_matrix_generation_equals_the_plain_formulation(depth, size):
    height, width = (size, size) if isinstance(size, int) else size
    torch.manual_seed(0)
    first = torch.randn(5, 4, height, width, requires_grad=True)
    params = _transforms(depth, 5)
    fast = generate_kernel(first, *params, method="matrix")
    plain = _plain_kernel(first, *params)
    assert_close(fast, plain, rtol=1e-5, atol=1e-6)
    weights = torch.randn_like(fast)
    grads_fast = torch.autograd.grad((fast * weights).sum(), [first, *params])
    grads_plain = torch.autograd.grad((plain * weights).sum(), [first, *params])
    for a, b in zip(grads_fast, grads_plain):
        assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_first_slice_is_copied_exactly_through_the_identity_block():
    torch.manual_seed(1)
    first = torch.randn(6, 3, 3, 3)
    kernel = generate_kernel(first, *[p.detach() for p in _transforms(3, 6)], method="matrix")
    assert torch.equal(kernel[:, :, 0], first)


def test_transform_products_equal_the_affine_matrix_route():
    params = [p.detach() for p in _transforms(4, 7, torch.float64)]
    steps = interpolation_matrices(affine_matrix(*params), 3, 3)
    expected = [steps[0]]
    for step in steps[1:]:
        expected.append(torch.bmm(step, expected[-1]))
    assert_close(transform_products(*params, 3, 3), torch.stack(expected, dim=1), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("depth,height,width", [(3, 3, 3), (4, 3, 2), (5, 2, 2)])
def test_gradcheck_of_the_fast_generation_in_float64(depth, height, width):
    torch.manual_seed(2)
    first = torch.randn(3, 2, height, width, dtype=torch.float64, requires_grad=True)
    params = _transforms(depth, 3, torch.float64, seed=2)
    assert torch.autograd.gradcheck(lambda *a: generate_kernel(*a, method="matrix"), (first, *params))


def test_generation_into_given_memory_gives_the_same_kernel_and_uses_it():
    torch.manual_seed(3)
    first = torch.randn(4, 2, 3, 3)
    params = [p.detach() for p in _transforms(3, 4)]
    fresh = generate_kernel(first, *params)
    memory = torch.full((4, 2, 27), float("nan")).untyped_storage()
    reused = generate_kernel(first, *params, out=memory)
    assert torch.equal(reused, fresh)
    assert reused.untyped_storage().data_ptr() == memory.data_ptr()
    small = torch.empty(3).untyped_storage()  # too small: ignored, new memory allocated
    assert torch.equal(generate_kernel(first, *params, out=small), fresh)


def _layer(**kw) -> Conv3T:
    torch.manual_seed(0)
    layer = Conv3T(3, 4, 3, padding=1, **kw)
    with torch.no_grad():
        layer.rotation.normal_(0, 0.2)
        layer.tx.normal_(0, 0.2)
    return layer


def _reference_grads(layer: Conv3T, inputs: list[torch.Tensor]) -> list[torch.Tensor]:
    """Gradients of sum of squares over ``inputs``, with a kernel generated the plain way."""
    params = [layer.first_slice, layer.scale, layer.rotation, layer.tx, layer.ty]
    kernel = _plain_kernel(*params)
    loss = sum(F.conv3d(x, kernel, layer.bias, padding=1).square().sum() for x in inputs)
    return torch.autograd.grad(loss, params)


def test_training_memory_is_reused_only_after_backward():
    layer = _layer()
    x = torch.randn(2, 3, 4, 5, 5)
    layer(x).sum().backward()
    memory = layer._training_memory.data_ptr()
    layer(x).sum().backward()  # the previous kernel is gone: its memory is reused
    assert layer._training_memory.data_ptr() == memory


def test_two_forwards_before_backward_get_separate_kernels():
    layer = _layer()
    inputs = [torch.randn(2, 3, 4, 5, 5), torch.randn(2, 3, 4, 5, 5)]
    layer(torch.randn(2, 3, 4, 5, 5)).sum().backward()  # so that a training memory exists
    layer.zero_grad()
    outputs = [layer(x) for x in inputs]  # the second must not overwrite the first's kernel
    sum(out.square().sum() for out in outputs).backward()
    params = [layer.first_slice, layer.scale, layer.rotation, layer.tx, layer.ty]
    for param, expected in zip(params, _reference_grads(layer, inputs)):
        assert_close(param.grad, expected, rtol=1e-4, atol=1e-5)


def test_a_kept_kernel_is_never_overwritten_and_retain_graph_works():
    layer = _layer()
    x = torch.randn(2, 3, 4, 5, 5)
    out = layer(x)
    out.sum().backward(retain_graph=True)
    layer(x).sum().backward()  # a new kernel while the retained graph holds the old one
    out.sum().backward()
    kept = layer.kernel()
    snapshot = kept.detach().clone()
    with torch.no_grad():
        layer.rotation.add_(0.3)
    layer(x).sum().backward()  # must not write into the kernel someone kept
    assert torch.equal(kept, snapshot)


def test_pickling_and_device_moves_drop_the_training_memory():
    layer = _layer()
    layer(torch.randn(1, 3, 4, 5, 5)).sum().backward()
    copy = pickle.loads(pickle.dumps(layer))
    assert copy._training_memory is None and copy._training_kernel is None
    assert_close(copy.kernel(), layer.kernel())
    assert layer.double()._training_memory is None


@pytest.mark.parametrize(
    "frames,kernel,stride,padding,dilation",
    [
        (1, 3, 1, 1, 1),
        (2, 3, 2, 1, 1),
        (1, 5, 1, 2, 1),
        (2, 5, 1, 2, 1),
        (3, 3, 2, 1, 1),
        (3, 3, 1, 0, 1),
        (8, 3, 1, 1, 1),
        (1, 7, 2, 3, 1),
        (2, 3, 1, 2, 2),
        (3, 3, 2, 2, 2),
    ],
)
def test_slices_that_only_meet_padding_are_skipped_with_the_same_numbers(frames, kernel, stride, padding, dilation):
    torch.manual_seed(4)
    layer = Conv3T(3, 4, (kernel, 3, 3) if kernel < 7 else 7, stride=stride, padding=padding, dilation=(dilation, 1, 1))
    with torch.no_grad():
        layer.rotation.normal_(0, 0.2)
        layer.tx.normal_(0, 0.2)
    size = 7 if kernel == 7 else 5
    x = torch.randn(2, 3, frames, size, size, requires_grad=True)
    out = layer(x)
    params = [x, layer.first_slice, layer.scale, layer.rotation, layer.tx, layer.ty, layer.bias]
    weights = torch.randn_like(out)
    grads = torch.autograd.grad((out * weights).sum(), params)
    full = layer.kernel()
    expected = F.conv3d(x, full, layer.bias, layer.stride, layer.padding, layer.dilation)
    assert_close(out, expected, rtol=1e-5, atol=1e-6)
    for got, want in zip(grads, torch.autograd.grad((expected * weights).sum(), params)):
        assert_close(got, want, rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # the evaluation cache, keyed on the slices too
        assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)


def test_one_frame_clips_use_only_the_middle_slice():
    layer = Conv3T(2, 2, 3, padding=1)
    assert layer._slices_that_see_data(1) == (1, 2)
    assert layer._slices_that_see_data(4) == (0, 3)
    layer = Conv3T(2, 2, 3, stride=2, padding=1)
    assert layer._slices_that_see_data(2) == (1, 3)  # one output frame, read from frames 0 and 1


def test_partial_kernels_equal_slices_of_the_full_kernel():
    torch.manual_seed(5)
    for k in (3, 5):
        first = torch.randn(3, 2, k, k)
        params = [p.detach() for p in _transforms(4, 3)]
        full = generate_kernel(first, *params)
        for start, stop in [(0, 1), (1, 2), (1, 3), (2, 4), (0, 4)]:
            assert_close(generate_kernel(first, *params, slices=(start, stop)), full[:, :, start:stop])


def test_training_after_inference_mode_first_use():
    from stconv_lite.ops import conv3t

    conv3t._base_grid.cache_clear()  # the grid constants are first built under inference mode
    layer = _layer()
    x = torch.randn(1, 3, 4, 5, 5)
    with torch.inference_mode():
        expected = layer(x)
    out = layer(x)
    out.sum().backward()
    assert_close(out.detach(), expected)
    assert layer.rotation.grad is not None


def test_partial_products_give_the_full_gradients_zero_for_unused_steps():
    first = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    params = _transforms(4, 3, torch.float64, seed=6)
    weights = torch.randn(3, 2, 1, 3, 3, dtype=torch.float64)
    for start, stop in [(0, 1), (1, 2), (2, 3)]:
        part = generate_kernel(first, *params, slices=(start, stop))
        full = generate_kernel(first, *params)[:, :, start:stop]
        got = torch.autograd.grad((part * weights).sum(), [first, *params])
        want = torch.autograd.grad((full * weights).sum(), [first, *params])
        for a, b in zip(got, want):
            assert_close(a, b, rtol=1e-10, atol=1e-12)
        assert torch.all(got[1][stop - 1 :] == 0) if stop > 1 else torch.all(got[1] == 0)
    partial = transform_products(*[p.detach() for p in params], 3, 3, steps=2)
    assert_close(partial, transform_products(*[p.detach() for p in params], 3, 3)[:, :2])
