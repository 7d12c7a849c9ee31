r"""3TConv: a 3D kernel grown from one 2D slice by learned affine transforms (Ras et al.).

A 3D convolution learns every tap of its $l \times n \times m$ kernel. 3TConv learns only the first
slice $K_{:,:,1}$ (eq. 3 of the paper) and, for every output filter, $l-1$ sets of four numbers
$(s, r, t_x, t_y)$. Slice $b+1$ is slice $b$ resampled under the 2x3 matrix
$\Theta_b = sR(r)[I \mid t]$ (appendix A, eq. 6-9; built by :func:`stconv_lite.ops.affine.affine_matrix`):

$$K_{:,:,b+1} = f(K_{:,:,b}, \Theta_b),\qquad K = \{K_{:,:,1}, \dots, K_{:,:,l}\},$$

and the layer is an ordinary 3D convolution with that kernel (eq. 5). Parameters per layer:
$C_\text{out} C_\text{in} n m + 4(l-1) C_\text{out}$ (+ bias) instead of $C_\text{out} C_\text{in} n m l$.

Conventions (the authors' code, so that their reference numbers are reproduced):

* one transform per output filter and slice step, shared by all input channels;
* the transforms compose by *repeated resampling* (bilinear, zeros outside, ``align_corners=True``),
  not by multiplying matrices, so interpolation blur and mass leaving the border accumulate over time;
* rotation in radians, translation in normalised kernel coordinates (1.0 = $(k-1)/2$ taps);
  :meth:`Conv3T.readable_parameters` converts to degrees and taps (pixels of the kernel grid);
* identity at initialisation, so the kernel is $K_{:,:,1}$ stacked $l$ times.

Efficiency (issue 19): the resampling matrices of all filters and steps and their running
products come from one autograd function with a written-out backward (:class:`_TransformProducts`,
a few dozen element-wise operations whatever the layer size: no loop over filters, no one-hot
scatter, no host synchronisation), and all slices of the kernel from one batched matrix product
whose identity block copies the first slice (:class:`_ResampleFirstSlice`); then a single
``conv3d`` runs. :func:`compile_generation` can fuse the small operations on a GPU. With gradients
off (evaluation) the kernel is generated once and cached until a parameter changes; in training,
last step's kernel memory is reused once that kernel has been released. Kernel slices that only
ever meet the zero padding (a 1-frame clip and a 3-deep kernel) are neither generated nor
convolved: their contribution and their gradient are exactly zero. What remains is memory
traffic: the generated kernel is written once and its gradient read back, which matters only where
the activations are as small as the kernel (deep layers on tiny clips).
"""

from __future__ import annotations

import functools
import math
import warnings
import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange, reduce
from torch import Tensor
from torch.autograd.function import once_differentiable

from stconv_lite.ops.affine import affine_matrix, normalised_to_pixels, pixels_to_normalised
from stconv_lite.ops.arguments import Triple, conv_clip_spec
from stconv_lite.ops.arguments import check_video_input as _check_input
from stconv_lite.ops.arguments import triple as _triple

__all__ = [
    "Conv3T",
    "generate_kernel",
    "interpolation_matrices",
    "transform_products",
    "compile_generation",
    "TRANSFORM_NAMES",
    "param_groups",
]

TRANSFORM_NAMES = ("scale", "rotation", "tx", "ty")


def _sampling_grids(thetas: Tensor, height: int, width: int) -> Tensor:
    """Where every tap of every (step, filter) reads from: ``affine_grid`` in one call.

    Shapes:
        thetas: (L-1, O, 2, 3) -> grids (L-1, O, H, W, 2) in normalised (x, y).
    """
    steps = thetas.shape[0]
    grids = F.affine_grid(
        rearrange(thetas, "l o i j -> (l o) i j"),
        [thetas.shape[0] * thetas.shape[1], 1, height, width],
        align_corners=True,
    )
    return rearrange(grids, "(l o) h w xy -> l o h w xy", l=steps)


def _tent_weights(coord: Tensor, taps: Tensor) -> Tensor:
    """Bilinear weights along one axis: how much a sample at ``coord`` takes from each tap.

    The sample lies between taps ``floor(coord)`` and ``floor(coord) + 1`` and takes ``1 - frac`` and
    ``frac`` from them; every other tap, and every tap outside the kernel, gets 0 (zero padding).
    Written with ``floor`` (not ``max(0, 1 - |coord - j|)``) so that the gradient is the one-sided
    one of ``grid_sample``: the tent's kink would give a zero subgradient exactly at the identity.
    Pure element-wise arithmetic: no one-hot scatter, no index tensors, no host synchronisation.

    Shapes:
        coord: (...) in tap units; taps: (size,) = 0, 1, ..., size-1 -> (..., size)
    """
    lower = torch.floor(coord).detach()
    frac = rearrange(coord - lower, "... -> ... 1")
    offset = taps - rearrange(lower, "... -> ... 1")  # 0: the lower neighbour, 1: the upper one
    zero = torch.zeros((), dtype=coord.dtype, device=coord.device)
    return torch.where(offset == 0, 1 - frac, torch.where(offset == 1, frac, zero))


@functools.lru_cache(maxsize=64)
def _base_grid(height: int, width: int, dtype: torch.dtype, device: torch.device) -> tuple[Tensor, ...]:
    """The kernel grid: normalised (u, v) of every tap (``align_corners=True``) and the tap indices.

    Constants of the kernel size, built once per (size, dtype, device) and shared (never written),
    as ordinary tensors even when first asked for under ``torch.inference_mode()``.

    Shapes:
        -> u (H, W), v (H, W), columns (W,), rows (H,)
    """
    with torch.inference_mode(False), torch.no_grad():
        identity = torch.eye(2, 3, dtype=dtype, device=device).unsqueeze(0)
        uv = F.affine_grid(identity, [1, 1, height, width], align_corners=True)[0]  # (H, W, 2)
        columns = torch.arange(width, dtype=dtype, device=device)
        return uv[..., 0], uv[..., 1], columns, torch.arange(height, dtype=dtype, device=device)


def _matrices_from_coordinates(x: Tensor, y: Tensor, columns: Tensor, rows: Tensor) -> Tensor:
    """The interpolation matrices, given where every output tap reads from (in tap units).

    Shapes:
        x, y: (L-1, O, H, W); columns (W,), rows (H,) -> (L-1, O, H*W, H*W)
    """
    along_x = _tent_weights(x, columns)  # (L-1, O, H, W, j)
    along_y = _tent_weights(y, rows)  # (L-1, O, H, W, i)
    matrix = rearrange(along_y, "... i -> ... i 1") * rearrange(along_x, "... j -> ... 1 j")
    return rearrange(matrix, "l o h w i j -> l o (h w) (i j)")


def interpolation_matrices(thetas: Tensor, height: int, width: int) -> Tensor:
    r"""The bilinear resampling of appendix A (eq. 7-9) as one matrix per (step, filter).

    Entry $[p, q]$ is the weight that output tap $p$ gives input tap $q$: the tent function
    $\max(0, 1-|G_x - j|)\max(0, 1-|G_y - i|)$ of eq. 9. It factorises into a weight along x times a
    weight along y (:func:`_tent_weights`), so all matrices of all steps and filters come from one
    outer product, with the one-sided gradient of ``grid_sample`` at the grid points. Taps that read
    outside the kernel get no weight (zero padding).

    Shapes:
        thetas: (L-1, O, 2, 3) -> (L-1, O, H*W, H*W)
    """
    u, v, columns, rows = _base_grid(height, width, thetas.dtype, thetas.device)
    base = torch.stack([u, v, torch.ones_like(u)], dim=-1)  # (H, W, 3): homogeneous coordinates
    # where every output tap reads from, normalised: affine_grid's formula, Theta [u, v, 1]^T
    grids = torch.einsum("lorc,hwc->lohwr", thetas, base)
    x = (grids[..., 0] + 1) * (columns[-1] / 2)  # normalised -> tap units (align_corners=True)
    y = (grids[..., 1] + 1) * (rows[-1] / 2)
    return _matrices_from_coordinates(x, y, columns, rows)


def _tent_weights_and_slopes(coord: Tensor, taps: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`_tent_weights` and their one-sided derivative in ``coord``, computed together.

    The lower neighbour takes ``1 - frac`` (slope -1), the upper one ``frac`` (slope +1), every
    other tap 0 (slope 0): so weights = [lower] + slope * frac, the same numbers exactly.

    Shapes:
        coord: (...); taps: (size,) -> weights, slopes (..., size)
    """
    lower = torch.floor(coord)
    offset = taps - rearrange(lower, "... -> ... 1")  # 0: the lower neighbour, 1: the upper one
    below = (offset == 0).to(coord.dtype)
    slopes = (offset == 1).to(coord.dtype) - below
    return below + slopes * rearrange(coord - lower, "... -> ... 1"), slopes


class _TransformProducts(torch.autograd.Function):
    r"""The resampling matrices of every slice step and their running products, with a written-out backward.

    Forward: the source of output tap $(u, v)$ is $s R(r) (u + t_x, v + t_y)$ (affine_grid's
    $\Theta [u, v, 1]^\top$ with $\Theta = s R(r) [I \mid t]$ multiplied out), in tap units
    $x = (c (u + t_x) - n (v + t_y) + 1)\,\frac{W-1}{2}$ and $y = (n (u + t_x) + c (v + t_y) + 1)\,\frac{H-1}{2}$
    with $c = s\cos r$, $n = s\sin r$; the matrix of a step is the outer product of the bilinear
    weights along y and x (:func:`_matrices_from_coordinates`), and $C_1 = A_1$, $C_b = A_b C_{b-1}$.

    Backward, by the chain rule through the same steps: the running products backwards
    ($\partial A_b = \bar C_b C_{b-1}^\top$, $\bar C_{b-1} \mathrel{+}= A_b^\top \bar C_b$), then
    $\partial x = \sum_{ij} \partial A_{p,ij} Y_i X'_j$ and $\partial y = \sum_{ij} \partial A_{p,ij} Y'_i X_j$
    with the one-sided tent slopes $X', Y'$ (:func:`_tent_weights_and_slopes`), then the four parameters from
    the formulas for $x$ and $y$. The same gradients as autograd through the forward (tested), in
    about 40 operations instead of some 150 autograd would record: on small layers the dispatch of
    each tiny operation, not arithmetic, is what generation costs.

    Shapes:
        scale, rotation, tx, ty: (L-1, O); u, v: (H, W); columns (W,), rows (H,) -> (O, L-1, H*W, H*W)
    """

    @staticmethod
    def forward(ctx, scale, rotation, tx, ty, u, v, columns, rows, needed):
        # only the first `needed` steps (the later slices are not asked for): the rest of the
        # transforms get an exactly zero gradient, as they would through the unused products
        ctx.steps = scale.shape[0]
        scale, rotation, tx, ty = scale[:needed], rotation[:needed], tx[:needed], ty[:needed]
        per_filter = "l o -> l o 1 1"  # broadcast each (step, filter) value over the H x W taps
        cos, sin = torch.cos(rotation), torch.sin(rotation)
        c, n = rearrange(scale * cos, per_filter), rearrange(scale * sin, per_filter)
        shifted_u, shifted_v = u + rearrange(tx, per_filter), v + rearrange(ty, per_filter)
        half_w, half_h = columns[-1] / 2, rows[-1] / 2  # normalised -> tap units (align_corners=True)
        x = (c * shifted_u - n * shifted_v + 1) * half_w
        y = (n * shifted_u + c * shifted_v + 1) * half_h
        along_x, slope_x = _tent_weights_and_slopes(x, columns)  # (L-1, O, H, W, j)
        along_y, slope_y = _tent_weights_and_slopes(y, rows)  # (L-1, O, H, W, i)
        matrix = rearrange(along_y, "... i -> ... i 1") * rearrange(along_x, "... j -> ... 1 j")
        steps = rearrange(matrix, "l o h w i j -> l o (h w) (i j)")  # as _matrices_from_coordinates
        products = [steps[0]]
        for step in steps[1:]:  # sequential: slice b+1 is slice b resampled, not slice 1
            products.append(torch.bmm(step, products[-1]))  # (P x P) @ (P x P) for every filter
        ctx.save_for_backward(
            cos, sin, c, n, shifted_u, shifted_v, half_w, half_h, along_x, along_y,
            slope_x, slope_y, steps, *products,
        )  # fmt: skip
        return torch.stack(products, dim=1)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        cos, sin, c, n, shifted_u, shifted_v, half_w, half_h, along_x, along_y, slope_x, slope_y, steps, *products = (
            ctx.saved_tensors
        )
        grad = grad.contiguous()  # bmm takes its slow per-matrix path on broadcast (stride-0) gradients
        # through the running products, last step first
        carried = grad[:, -1]  # d loss / d C_b, accumulated
        grad_steps = [None] * len(products)
        for b in range(len(products) - 1, 0, -1):
            grad_steps[b] = torch.bmm(carried, rearrange(products[b - 1], "o p q -> o q p"))
            carried = grad[:, b - 1] + torch.bmm(rearrange(steps[b], "o p q -> o q p"), carried)
        grad_steps[0] = carried
        height, width = shifted_u.shape[-2:]
        grad_matrix = rearrange(
            torch.stack(grad_steps), "l o (h w) (i j) -> l o h w i j", h=height, i=along_y.shape[-1]
        )
        # through the outer product of the tent weights, to the tap coordinates (L-1, O, H, W)
        grad_x = ((grad_matrix * rearrange(along_y, "... i -> ... i 1")).sum(-2) * slope_x).sum(-1) * half_w
        grad_y = ((grad_matrix * rearrange(along_x, "... j -> ... 1 j")).sum(-1) * slope_y).sum(-1) * half_h
        # through x = (c U - n V + 1) W', y = (n U + c V + 1) H', summed over the taps
        taps = "l o h w -> l o"
        grad_c = reduce(grad_x * shifted_u + grad_y * shifted_v, taps, "sum")
        grad_n = reduce(grad_y * shifted_u - grad_x * shifted_v, taps, "sum")
        grad_tx = reduce(grad_x * c + grad_y * n, taps, "sum")
        grad_ty = reduce(grad_y * c - grad_x * n, taps, "sum")
        # through c = s cos r, n = s sin r
        grad_scale = grad_c * cos + grad_n * sin
        grad_rotation = grad_n * c[..., 0, 0] - grad_c * n[..., 0, 0]
        missing = ctx.steps - grad_c.shape[0]  # steps that were not needed: zero gradient
        grads = [F.pad(g, (0, 0, 0, missing)) if missing else g for g in (grad_scale, grad_rotation, grad_tx, grad_ty)]
        return *grads, None, None, None, None, None


def _products_on_grid(
    scale: Tensor,
    rotation: Tensor,
    tx: Tensor,
    ty: Tensor,
    u: Tensor,
    v: Tensor,
    columns: Tensor,
    rows: Tensor,
    needed: int,
) -> Tensor:
    """:func:`transform_products` with the kernel grid given as tensors: what gets compiled."""
    return _TransformProducts.apply(scale, rotation, tx, ty, u, v, columns, rows, needed)


_products = _products_on_grid  # replaced by a compiled version by compile_generation()


def transform_products(
    scale: Tensor,
    rotation: Tensor,
    tx: Tensor,
    ty: Tensor,
    height: int,
    width: int,
    steps: int | None = None,
) -> Tensor:
    r"""The resampling matrices that map the first slice to every later slice, $\Theta_b\cdots\Theta_1$.

    Everything that depends on the transforms but not on the channels: the affine matrices, the
    interpolation matrices of every step (one closed-form outer product) and their running product
    over the steps (eq. 5). A few dozen element-wise operations on (L-1) x O tiny matrices, the
    same count for every layer size; :func:`compile_generation` can fuse them into a handful of
    kernels on a GPU.

    ``steps`` < L-1 computes only the first ``steps`` products (slices 2..steps+1); the later
    transforms then get an exactly zero gradient, as when their products are computed and unused.

    Shapes:
        scale, rotation, tx, ty: (L-1, O) -> (O, steps or L-1, H*W, H*W); row b is the product of
        steps 1..b+1.
    """
    grid = _base_grid(height, width, scale.dtype, scale.device)
    needed = scale.shape[0] if steps is None else steps
    if not 1 <= needed <= scale.shape[0]:
        raise ValueError(f"steps must be in 1..{scale.shape[0]}; got {steps}")
    return _products(scale, rotation, tx, ty, *grid, needed)


def compile_generation(enabled: bool = True) -> bool:
    """Fuse :func:`transform_products` with ``torch.compile`` (for GPUs); ``False`` restores eager.

    Optional and off by default: eager mode is what runs on CPUs, in tests and wherever a compiler
    is missing; compiling costs seconds on the first call (shapes are dynamic, so layers of other
    widths reuse it). If compilation fails when first used, a warning is issued and eager mode is
    restored. Returns whether it is on.
    """
    global _products
    if not enabled:
        _products = _products_on_grid
        return False
    rearrange(torch.zeros(1), "a -> a")  # register einops' torch backend before tracing (else a recompile)
    compiled = torch.compile(_products_on_grid, dynamic=True)

    def guarded(*args):
        global _products
        try:
            # views, not the Parameters themselves: dynamo keeps parameter shapes static, which
            # would compile once per layer width instead of once for all
            return compiled(*(a.view_as(a) if isinstance(a, Tensor) else a for a in args))
        except Exception as error:  # a missing compiler or backend must never stop training
            warnings.warn(
                f"compiled 3TConv kernel generation failed ({error!r}); using eager mode", RuntimeWarning, stacklevel=2
            )
            _products = _products_on_grid
            return _products_on_grid(*args)

    _products = guarded
    return True


def generate_kernel(
    first_slice: Tensor,
    scale: Tensor,
    rotation: Tensor,
    tx: Tensor,
    ty: Tensor,
    method: str = "auto",
    out: torch.UntypedStorage | None = None,
    slices: tuple[int, int] | None = None,
) -> Tensor:
    r"""Grow the 3D kernel from its first slice by sequential affine resampling (eq. 3-5, 6-9).

    Args:
        first_slice: $K_{:,:,1}$ for every (output, input) channel pair.
        scale, rotation, tx, ty: one row per slice step, one column per output filter
            (radians; normalised translation).
        method: ``"matrix"`` writes each resampling step as an interpolation matrix
            $\Theta_b$, multiplies them up ($\Theta_{b}\cdots\Theta_1$, the product of eq. 5,
            :func:`transform_products`) and applies all slices in one batched matrix product;
            ``"grid_sample"`` resamples slice by slice with ``grid_sample`` as the authors do. Both
            give the same kernel. ``"auto"`` picks the matrices for kernels of at most 3x3 taps
            (many channels, tiny matrices: faster) and ``grid_sample`` for larger slices (the
            matrices grow with the fourth power of k, the bilinear taps only with the square).
        out: memory to write the kernel into, e.g. an earlier kernel's ``untyped_storage()``
            (matrix method only; used when large enough, its contents are overwritten). The caller
            must know that nothing still reads it: :class:`Conv3T` passes last step's memory only
            once that kernel has been released. ``None`` allocates.
        slices: ``(start, stop)``: only kernel slices ``start .. stop-1``, the same numbers as
            ``generate_kernel(...)[:, :, start:stop]`` (still a function of every transform, so that
            each parameter gets a gradient, zero where a slice is left out). ``None``: all.

    Shapes:
        first_slice: (O, I, H, W); scale, rotation, tx, ty: (L-1, O) -> kernel (O, I, L, H, W)
        (L = stop - start with ``slices``).
    """
    if first_slice.dim() != 4:
        raise ValueError(f"first_slice must be (O, I, H, W); got {tuple(first_slice.shape)}")
    out_channels, _, height, width = first_slice.shape
    for name, p in (("scale", scale), ("rotation", rotation), ("tx", tx), ("ty", ty)):
        if p.dim() != 2 or p.shape[1] != out_channels:
            raise ValueError(f"{name} must be (L-1, {out_channels}); got {tuple(p.shape)}")
    if method not in ("auto", "matrix", "grid_sample"):
        raise ValueError(f"method must be 'auto', 'matrix' or 'grid_sample'; got {method!r}")
    if method == "auto":
        method = "matrix" if height * width <= 9 else "grid_sample"
    depth = scale.shape[0] + 1
    start, stop = (0, depth) if slices is None else slices
    if not 0 <= start < stop <= depth:
        raise ValueError(f"slices must be (start, stop) with 0 <= start < stop <= {depth}; got {slices}")
    if depth == 1:  # a per-frame 2D kernel
        return rearrange(first_slice, "o i h w -> o i 1 h w")
    if method == "grid_sample":
        thetas = affine_matrix(scale, rotation, tx, ty).to(first_slice.dtype)  # (L-1, O, 2, 3)
        # the filters are grid_sample's batch and the input channels its channels, which shares
        # one transform across all inputs of a filter
        grids = _sampling_grids(thetas, height, width)
        stack = [first_slice]
        for step in range(thetas.shape[0]):  # sequential: slice b+1 is slice b resampled
            stack.append(
                F.grid_sample(stack[-1], grids[step], mode="bilinear", padding_mode="zeros", align_corners=True)
            )
        return torch.stack(stack[start:stop], dim=2)
    # the products up to the last slice asked for (at least one, so that every transform stays in
    # the graph and gets its zero gradient when only the first slice is asked for)
    steps = max(stop - 1, 1)
    products = transform_products(scale, rotation, tx, ty, height, width, steps).to(first_slice.dtype)
    flat = rearrange(first_slice, "o i h w -> o i (h w)")
    taps = height * width
    # the learned resampling matrices of slices max(start, 1) .. stop-1 side by side; slice 0 (the
    # first slice itself) is the identity block the product adds when start == 0
    later = rearrange(products, "o t p q -> o q (t p)")[:, :, (max(start, 1) - 1) * taps : (stop - 1) * taps]
    kernel = _ResampleFirstSlice.apply(flat, later, start == 0, out)
    return rearrange(kernel, "o i (t h w) -> o i t h w", h=height, w=width)


class _ResampleFirstSlice(torch.autograd.Function):
    r"""All slices of every filter from its first slice: one batched matrix product each way.

    Forward: ``kernel[o] = flat[o] @ [I | later[o]]``, an (I x P) @ (P x l P) product per filter
    whose identity block copies slice 1 (exactly: every other term is a product with 0). This is
    the only step whose cost grows with the channels, one BLAS call whatever the layer size, and it
    writes the whole kernel at once (no concatenation, whose backward would add two gradients).

    Backward, the two products autograd would derive, shaped for speed: the gradient of the first
    slice is computed as $(M\,G^\top)^\top$ (BLAS is slow at an output only P = 9 wide), and that
    of the resampling matrices only for the learned block, not for the identity.

    Shapes:
        flat: (O, I, P); later: (O, P, (l-1) P) -> kernel (O, I, l P); without the first slice
        (``with_first=False``, see ``slices`` of :func:`generate_kernel`): later (O, P, l P).
    """

    @staticmethod
    def forward(ctx, flat: Tensor, later: Tensor, with_first: bool, out: torch.UntypedStorage | None) -> Tensor:
        taps = flat.shape[2]
        matrices = later
        if with_first:  # slice 1 = the identity
            eye = torch.eye(taps, dtype=later.dtype, device=later.device).expand(later.shape[0], taps, taps)
            matrices = torch.cat([eye, later], dim=2)  # (O, P, l P)
        shape = (flat.shape[0], flat.shape[1], matrices.shape[2])
        kernel = _on_storage(out, shape, flat)
        torch.bmm(flat, matrices, out=kernel)
        ctx.save_for_backward(flat, matrices)
        ctx.with_first = with_first
        return kernel

    @staticmethod
    @once_differentiable  # the matrices were built without a graph: no second derivative through here
    def backward(ctx, grad: Tensor):
        flat, matrices = ctx.saved_tensors
        taps = flat.shape[2]
        grad_flat = grad_later = None
        if ctx.needs_input_grad[0]:
            transposed = torch.bmm(matrices, rearrange(grad, "o i n -> o n i"))  # (O, P, I)
            grad_flat = rearrange(transposed, "o q i -> o i q").contiguous()
        if ctx.needs_input_grad[1]:
            learned = grad[:, :, taps:] if ctx.with_first else grad
            grad_later = torch.bmm(rearrange(flat, "o i q -> o q i"), learned)
        return grad_flat, grad_later, None, None


def _on_storage(storage: torch.UntypedStorage | None, shape: tuple[int, ...], like: Tensor) -> Tensor:
    """A tensor of ``shape`` (``like``'s dtype) on ``storage`` where it fits, else newly allocated.

    A new tensor object, not a view: autograd attaches the kernel's history to it, and the caller,
    who keeps only the storage, holds no graph alive.
    """
    if storage is None or storage.device != like.device or storage.nbytes() < math.prod(shape) * like.element_size():
        return torch.empty(shape, dtype=like.dtype, device=like.device)
    return torch.empty(0, dtype=like.dtype, device=like.device).set_(storage, 0, shape)


class Conv3T(nn.Module):
    r"""3TConv layer: ``nn.Conv3d`` whose kernel is generated from a 2D slice and affine transforms.

    Args:
        in_channels, out_channels: as ``nn.Conv3d``.
        kernel_size: ``(l, n, m)`` (time, height, width) or an int for a cube. ``l = 1`` is a 2D
            conv applied per frame (no transforms).
        stride, padding, dilation, groups, bias: as ``nn.Conv3d``.

    Parameters: ``first_slice`` (C_out, C_in/groups, n, m); ``scale``, ``rotation``, ``tx``, ``ty``
    each (l-1, C_out); optional ``bias`` (C_out).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Triple,
        stride: Triple = 1,
        padding: Triple = 0,
        dilation: Triple = 1,
        groups: int = 1,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({groups})"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = _triple(kernel_size, "kernel_size")
        self.stride = _triple(stride, "stride")
        self.padding = _triple(padding, "padding")
        self.dilation = _triple(dilation, "dilation")
        depth, height, width = self.kernel_size
        if min(self.kernel_size) < 1:
            raise ValueError(f"kernel_size must be positive; got {self.kernel_size}")
        self.first_slice = nn.Parameter(torch.empty(out_channels, in_channels // groups, height, width))
        steps = depth - 1
        self.scale = nn.Parameter(torch.ones(steps, out_channels))
        self.rotation = nn.Parameter(torch.zeros(steps, out_channels))
        self.tx = nn.Parameter(torch.zeros(steps, out_channels))
        self.ty = nn.Parameter(torch.zeros(steps, out_channels))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self._kernel_cache: tuple | None = None  # see kernel(): (key, parameters, kernel)
        self._training_memory: torch.UntypedStorage | None = None  # see _free_training_memory()
        self._training_kernel: weakref.ref | None = None  # last training kernel handed out
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Identity transforms; ``first_slice`` and bias drawn like ``nn.Conv3d``'s default.

        The fan-in is that of the full 3D kernel (C_in * l * n * m), so at initialisation the stacked
        kernel has the same scale as a freshly built ``nn.Conv3d`` (the authors use N(0, 1), which
        needs a much smaller learning rate).
        """
        fan_in = self.first_slice.shape[1] * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in)
        nn.init.uniform_(self.first_slice, -bound, bound)
        if self.bias is not None:
            nn.init.uniform_(self.bias, -bound, bound)
        with torch.no_grad():
            self.scale.fill_(1.0)
            for p in (self.rotation, self.tx, self.ty):
                p.zero_()

    def kernel(self, slices: tuple[int, int] | None = None) -> Tensor:
        """The generated 3D kernel, differentiable in ``first_slice`` and the four transform parameters.

        ``slices=(start, stop)`` gives only slices ``start .. stop-1`` (see :func:`generate_kernel`).

        When no gradient can flow to the parameters (``torch.no_grad()``, inference mode, or frozen
        parameters), e.g. evaluating a model, the kernel is generated once and reused until a
        parameter changes. The cache is keyed on each parameter's storage and version counter, which
        every in-place update bumps (optimiser steps, ``load_state_dict``, ``set_transforms``);
        ``.to()`` / ``.cuda()`` / ``.double()`` and ``load_state_dict`` also drop it explicitly.

        Shapes:
            -> (C_out, C_in/groups, l, n, m), l = stop - start with ``slices``
        """
        parameters = (self.first_slice, self.scale, self.rotation, self.tx, self.ty)
        if torch.compiler.is_compiling():
            return generate_kernel(*parameters, slices=slices)
        if torch.is_grad_enabled() and any(p.requires_grad for p in parameters):
            self._kernel_cache = None  # training: a fresh graph every step, and no stale copy kept
            kernel = generate_kernel(*parameters, out=self._free_training_memory(), slices=slices)
            self._training_kernel = weakref.ref(kernel)
            self._training_memory = kernel.untyped_storage()  # the memory only: no graph kept alive
            return kernel
        key = (
            torch.is_inference_mode_enabled(),
            slices,
            *((p.data_ptr(), p._version, p.dtype, p.device) for p in parameters),
        )
        if self._kernel_cache is None or self._kernel_cache[0] != key:
            self._training_memory = self._training_kernel = None  # at most one kernel's memory per layer
            with torch.no_grad():
                kernel = generate_kernel(*parameters, slices=slices)
            # holding the parameters' tensors keeps their storage alive, so a data pointer in the
            # key cannot be reused by another tensor while the entry exists
            self._kernel_cache = (key, tuple(p.detach() for p in parameters), kernel)
        return self._kernel_cache[2]

    def _free_training_memory(self) -> torch.UntypedStorage | None:
        """Memory for this step's kernel: last step's, once nothing can read that kernel any more.

        Why: a kernel is as large as a 3D conv's weight, and allocating it afresh every step costs
        more than generating it on a CPU (the C library returns large blocks to the system on
        ``free`` and every new one is page-faulted in again, here and in the convolution that reads
        it). Reusing it is safe only when last step's kernel is gone: the convolution's backward
        holds it until it has run, and so does anyone who kept it (``retain_graph``, a second call
        before ``backward``, a saved reference). A weak reference tells: while it is alive, this
        step gets new memory and the old kernel is left alone.
        """
        previous = self._training_kernel() if self._training_kernel is not None else None
        return None if previous is not None else self._training_memory

    def _apply(self, fn, *args, **kwargs):  # .to(), .cuda(), .half(), ...: the cached kernel is stale
        self._kernel_cache = None
        self._training_memory = self._training_kernel = None
        return super()._apply(fn, *args, **kwargs)

    def __getstate__(self) -> dict:  # pickling (torch.save of a whole model): no weak reference
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__
        return {**state, "_training_memory": None, "_training_kernel": None}

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        self._kernel_cache = None
        super()._load_from_state_dict(*args, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        r"""3D convolution with the generated kernel: eq. (5) of the 3TConv paper.

        Shapes:
            x: (B, C_in, T, H, W) -> (B, C_out, T', H', W') with the ``nn.Conv3d`` output sizes.
        """
        _check_input(
            x,
            "Conv3T",
            self.in_channels,
            self.first_slice,
            conv_clip_spec(self.kernel_size, self.padding, self.dilation),
        )
        start, stop = self._slices_that_see_data(x.shape[2])
        if (start, stop) == (0, self.kernel_size[0]):
            return F.conv3d(x, self.kernel(), self.bias, self.stride, self.padding, self.dilation, self.groups)
        # Slices that only ever meet the zero padding add exactly zero to every output and get an
        # exactly zero gradient, so they are neither generated nor convolved: e.g. a clip of 1 frame
        # (ResNet-18's last stage on 16-frame clips) needs only the middle slice of a 3-deep kernel.
        # Dropping `start` slices in front moves the first tap `start` frames later, which the
        # padding in front gives back.
        padding = (self.padding[0] - start * self.dilation[0], *self.padding[1:])
        kernel = self.kernel((start, stop))
        return F.conv3d(x, kernel, self.bias, self.stride, padding, self.dilation, self.groups)

    def _slices_that_see_data(self, frames: int) -> tuple[int, int]:
        """``(start, stop)``: the kernel slices that meet a real frame of a clip of ``frames`` frames.

        Output frame t reads input frame ``t s - p + k d`` with slice k (stride s, padding p,
        dilation d along time). Only a contiguous run of slices can be dropped from each end, and
        only when the cut kernel, with padding ``p - start d`` on both sides, gives the same number
        of output frames; otherwise every slice is kept.
        """
        depth = self.kernel_size[0]
        (s, *_), (p, *_), (d, *_) = self.stride, self.padding, self.dilation
        outputs = (frames + 2 * p - d * (depth - 1) - 1) // s + 1
        seen = [
            k
            for k in range(depth)  # some output t in [0, outputs) reads a frame in [0, frames)
            if max(0, -((k * d - p) // s)) <= min(outputs - 1, (frames - 1 + p - k * d) // s)
        ]
        if not seen:
            return 0, depth
        start, stop = seen[0], seen[-1] + 1
        padding = p - start * d
        if padding < 0 or (frames + 2 * padding - d * (stop - start - 1) - 1) // s + 1 != outputs:
            return 0, depth
        return start, stop

    # ------------------------------------------------------------------ readable units
    def readable_parameters(self) -> dict[str, Tensor]:
        """The transforms in human units (section 3.2 of the paper), detached, each (l-1, C_out).

        ``scale`` (1 = unchanged; > 1 shows the content smaller in the next slice), ``rotation_deg``
        (> 0 turns the content counter-clockwise on screen), ``tx_px`` / ``ty_px`` (kernel taps;
        > 0 moves the content left / up from one slice to the next).
        """
        _, height, width = self.kernel_size
        return {
            "scale": self.scale.detach().clone(),
            "rotation_deg": torch.rad2deg(self.rotation.detach()),
            "tx_px": normalised_to_pixels(self.tx.detach(), width, align_corners=True),
            "ty_px": normalised_to_pixels(self.ty.detach(), height, align_corners=True),
        }

    @torch.no_grad()
    def set_transforms(
        self,
        scale: Tensor | float | None = None,
        rotation_deg: Tensor | float | None = None,
        tx_px: Tensor | float | None = None,
        ty_px: Tensor | float | None = None,
    ) -> Conv3T:
        """Set the transforms from human units (broadcast to (l-1, C_out)); ``None`` keeps a value."""
        _, height, width = self.kernel_size
        values = {
            self.scale: scale,
            self.rotation: None if rotation_deg is None else torch.deg2rad(torch.as_tensor(rotation_deg)),
            self.tx: None if tx_px is None else pixels_to_normalised(torch.as_tensor(tx_px), width, True),
            self.ty: None if ty_px is None else pixels_to_normalised(torch.as_tensor(ty_px), height, True),
        }
        for parameter, value in values.items():
            if value is not None:
                parameter.copy_(torch.as_tensor(value, dtype=parameter.dtype).expand_as(parameter))
        return self

    # ------------------------------------------------------------------ 2D -> 3T transfer
    @classmethod
    def from_conv2d(
        cls,
        conv2d: nn.Conv2d,
        depth: int | None = None,
        temporal_stride: int | None = None,
        temporal_padding: int | None = None,
    ) -> Conv3T:
        """A 3TConv whose first slice is ``conv2d``'s weight, unscaled, with identity transforms.

        Appendix C.2 of the paper: on a static clip (the same frame repeated) every slice sees the
        same image, so away from the temporal border the output is ``depth`` times the 2D response
        (the authors found this better than dividing by the depth as I3D does).
        Defaults: ``depth`` = the 2D kernel height ("unilateral" filters), temporal stride and padding
        equal to the vertical ones.
        """
        if not isinstance(conv2d, nn.Conv2d):
            raise ValueError(f"from_conv2d expects an nn.Conv2d; got {type(conv2d).__name__}")
        if conv2d.padding_mode != "zeros" or isinstance(conv2d.padding, str):
            raise ValueError(f"from_conv2d supports numeric zero padding; got {conv2d.padding!r}")
        kh, kw = conv2d.kernel_size
        depth = kh if depth is None else depth
        layer = cls(
            conv2d.in_channels,
            conv2d.out_channels,
            (depth, kh, kw),
            stride=(conv2d.stride[0] if temporal_stride is None else temporal_stride, *conv2d.stride),
            padding=(conv2d.padding[0] if temporal_padding is None else temporal_padding, *conv2d.padding),
            dilation=(1, *conv2d.dilation),
            groups=conv2d.groups,
            bias=conv2d.bias is not None,
        )
        with torch.no_grad():
            layer.first_slice.copy_(conv2d.weight)
            if conv2d.bias is not None:
                layer.bias.copy_(conv2d.bias)
        return layer

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
            f"stride={self.stride}, padding={self.padding}, groups={self.groups}, "
            f"bias={self.bias is not None}"
        )


def param_groups(model: nn.Module, lr: float, transform_lr: float | None = None) -> list[dict]:
    """Optimizer parameter groups: the 3TConv transforms at ``transform_lr``, everything else at ``lr``.

    The transforms are four numbers per filter and slice step, each steering a whole kernel, and
    with the same learning rate as the weights they hardly leave the identity in a short training
    run; a separate rate lets you choose. Empty groups are dropped, so any model works.
    """
    transform_ids = {
        id(getattr(module, name))
        for module in model.modules()
        if isinstance(module, Conv3T)
        for name in TRANSFORM_NAMES
    }
    transforms = [p for p in model.parameters() if id(p) in transform_ids]
    others = [p for p in model.parameters() if id(p) not in transform_ids]
    groups = [{"params": others, "lr": lr}, {"params": transforms, "lr": lr if transform_lr is None else transform_lr}]
    return [group for group in groups if group["params"]]
