r"""The (2+1)D block's training step on the CPU, fused: one autograd function in channels-last memory.

:class:`stconv_lite.ops.r2plus1d.Conv2Plus1d` is defined by its four layers run one by one
(spatial conv -> BN -> ReLU -> temporal conv). In CPU float32 training it computes the same numbers
(up to float rounding) through :class:`ChannelsLastTrainingBlock`, because oneDNN's convolutions
run in channels-last memory and the layer-by-layer route reorders every feature map into and out of
that layout, forward and backward, into freshly allocated buffers. Issue 19 of the book measured the
gain with ``python -m stconv_lite.analysis.bench`` (the "(2+1)D" row, a ratio to the 3x3x3 conv).

Nothing here changes what the block computes; ``tests/test_ops_r2plus1d_fast.py`` compares every
output, gradient and running statistic with the layer-by-layer block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["ChannelsLastTrainingBlock", "MIN_TAP_ROWS"]

_CHANNELS_LAST = torch.channels_last_3d
_PER_CHANNEL = "m -> 1 m 1 1 1"  # a (M,) vector broadcast over (B, M, T, H, W)


def _conv_backward(grad: Tensor, x: Tensor, weight: Tensor, stride, padding, mask, dilation=(1, 1)) -> tuple:
    """``(grad_x, grad_weight)`` of ``F.conv2d(x, weight, None, stride, padding, dilation)``.

    ``mask = (want grad_x, want grad_weight)``; an unwanted gradient is None.
    """
    if not any(mask):
        return None, None
    grad_x, grad_weight, _ = torch.ops.aten.convolution_backward(
        grad, x, weight, None, stride, padding, dilation, False, (0, 0), 1, (*mask, False)
    )
    return grad_x, grad_weight


def _temporal_weight_grad(grad_columns: Tensor, columns: Tensor, weight_2d: Tensor, padding: int) -> Tensor:
    """Weight gradient of the stride-1 temporal conv, as one 1x1 weight gradient per tap.

    oneDNN's weight-gradient kernel for a ``(t, 1)`` kernel on channels-last memory reaches about
    60 GFLOP/s on the book's 2-core CPU, its 1x1 kernel about 90 (about 11 vs 8 ms per step on
    the shape of :mod:`stconv_lite.analysis.bench`). Tap ``k`` pairs output frame ``j`` with input
    frame ``j + k - padding``, so its gradient is the 1x1 weight gradient over the frames where
    both exist: one slice of frames per clip, or the whole batch for a tap that never reaches into
    the padding. The slices are free views (channels-last 4D with a batch of one).

    Shapes:
        grad_columns: (B, N, T', P), columns: (B, M, T, P), both channels-last 4D;
        weight_2d: (N, M, t, 1) -> (N, M, t, 1)
    """
    frames_out, frames_in = grad_columns.shape[2], columns.shape[2]
    taps = []
    for k in range(weight_2d.shape[2]):
        tap = weight_2d[:, :, k : k + 1]
        shift = k - padding
        first, last = max(0, -shift), min(frames_out, frames_in - shift)  # output frames with an input frame
        if last <= first:  # the tap only ever meets the padding: its gradient is zero
            pairs = []
        elif (first, last, shift) == (0, frames_out, 0) and frames_out == frames_in:
            pairs = [(grad_columns, columns)]
        else:
            pairs = [
                (grad_columns[b : b + 1, :, first:last], columns[b : b + 1, :, first + shift : last + shift])
                for b in range(grad_columns.shape[0])
            ]
        total = torch.zeros_like(tap)
        for grad, x in pairs:
            # a dilation changes nothing for a 1x1 kernel; asking for one keeps PyTorch from sending
            # the call to its GEMM fallback (its choice for undilated 1x1 convs of fewer than 16
            # samples on one thread), which is slower here and first copies the slices to NCHW
            total += _conv_backward(grad, x, tap, (1, 1), (0, 0), (False, True), dilation=(2, 2))[1]
        taps.append(total)
    return torch.cat(taps, dim=2)


# Below this many rows (frames x pixels) per clip and tap, the per-call cost of the per-tap weight
# gradient outweighs its faster kernel (measured on the book's CPU: 1.5x faster with 8 x 784 rows
# per clip, break-even near 800, 1.2-1.6x slower with 4 x 196 or 4 x 49).
MIN_TAP_ROWS = 1024


class ChannelsLastTrainingBlock(torch.autograd.Function):
    r"""Training step of spatial conv -> BN -> ReLU -> temporal conv, in channels-last 3D memory.

    The numbers of the ``nn.Sequential`` (up to float rounding), computed faster on the CPU:

    * In channels-last 3D memory ``(b, t, h, w, c)`` the frames view ``(b t) c h w`` and the
      columns view ``b c t (h w)`` are both free (channels-last 4D), so both convs run as 2D convs
      on the layout oneDNN computes in. A contiguous ``(b, c, t, h, w)`` tensor is instead
      reordered to oneDNN's blocked layout and back around every conv, forward and backward, into
      freshly allocated buffers: little arithmetic, but with glibc's default settings many of
      these multi-MiB buffers are fresh pages, and page faults, on every step.
    * BN's batch statistics come from one reduction pass; backward, the ReLU mask, BN's weight and
      bias gradients and BN's input gradient are computed in place in the buffer that the temporal
      conv's backward returns (five passes, no new feature map of width $M_i$).
    * The temporal conv's weight gradient is computed per tap (:func:`_temporal_weight_grad`) where
      the clips are large enough for that to pay off.

    The only copies are the input's conversion to channels-last (none if it already is) and,
    backward, the incoming gradient's. Not twice differentiable (the saved intermediates are not
    outputs of the graph); the layer-by-layer path is.

    Shapes (``T', H', W'`` after the strides and paddings):
        x: (B, N_{i-1}, T, H, W), any memory format
        spatial_weight: (M_i, N_{i-1}, 1, d, d); temporal_weight: (N_i, M_i, t, 1, 1)
        bn_weight, bn_bias, running_mean, running_var: (M_i,)
        returns: (B, N_i, T', H', W') in channels-last 3D memory
    """

    @staticmethod
    def forward(
        ctx,
        x: Tensor,
        spatial_weight: Tensor,
        temporal_weight: Tensor,
        bn_weight: Tensor,
        bn_bias: Tensor,
        running_mean: Tensor,
        running_var: Tensor,
        momentum: float,
        eps: float,
        spatial_conv: tuple[tuple[int, int], tuple[int, int]],
        temporal_conv: tuple[tuple[int, int], tuple[int, int]],
    ) -> Tensor:
        """``spatial_conv`` / ``temporal_conv``: ``(stride, padding)`` of the 2D convs on the two views."""
        batch = x.shape[0]
        x = x.contiguous(memory_format=_CHANNELS_LAST)
        frames = rearrange(x, "b c t h w -> (b t) c h w")
        spatial_2d = rearrange(spatial_weight, "m c 1 kh kw -> m c kh kw")
        mid = rearrange(F.conv2d(frames, spatial_2d, None, *spatial_conv), "(b t) m h w -> b m t h w", b=batch)
        # batch statistics; the running ones are updated as nn.BatchNorm3d does (unbiased variance)
        mean, var = torch.batch_norm_update_stats(mid, running_mean, running_var, momentum)
        # normalise with these statistics with BN's own element-wise kernel (that of its eval mode)
        act = torch.batch_norm(mid, bn_weight, bn_bias, mean, var, False, 0.0, eps, False).relu_()
        columns = rearrange(act, "b m t h w -> b m t (h w)")
        temporal_2d = rearrange(temporal_weight, "n m kt 1 1 -> n m kt 1")
        out = F.conv2d(columns, temporal_2d, None, *temporal_conv)
        ctx.save_for_backward(x, mid, act, spatial_weight, temporal_weight, bn_weight, mean, torch.rsqrt(var + eps))
        ctx.spatial_conv, ctx.temporal_conv = spatial_conv, temporal_conv
        return rearrange(out, "b n t (h w) -> b n t h w", h=mid.shape[3])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out: Tensor) -> tuple[Tensor | None, ...]:
        x, mid, act, spatial_weight, temporal_weight, bn_weight, mean, invstd = ctx.saved_tensors
        need_x, need_spatial, need_temporal, need_bn_weight, need_bn_bias = ctx.needs_input_grad[:5]
        need_mid = need_x or need_spatial or need_bn_weight or need_bn_bias
        not_inputs = (None,) * 6  # running stats, momentum, eps, conv settings

        # temporal conv: input gradient from oneDNN; weight gradient per tap for stride 1 and large clips
        grad_out = rearrange(grad_out.contiguous(memory_format=_CHANNELS_LAST), "b n t h w -> b n t (h w)")
        columns = rearrange(act, "b m t h w -> b m t (h w)")
        temporal_2d = rearrange(temporal_weight, "n m kt 1 1 -> n m kt 1")
        (temporal_stride, _), (temporal_padding, _) = ctx.temporal_conv
        frames_out, pixels = grad_out.shape[2:]
        by_taps = temporal_stride == 1 and (frames_out - 1) * pixels >= MIN_TAP_ROWS
        grad_act, grad_temporal = _conv_backward(
            grad_out, columns, temporal_2d, *ctx.temporal_conv, (need_mid, need_temporal and not by_taps)
        )
        if need_temporal and by_taps:
            grad_temporal = _temporal_weight_grad(grad_out, columns, temporal_2d, temporal_padding)
        if grad_temporal is not None:
            grad_temporal = rearrange(grad_temporal, "n m kt 1 -> n m kt 1 1")
        if not need_mid:
            return None, None, grad_temporal, None, None, *not_inputs

        # ReLU and BN backward, in place in grad_act (a fresh buffer of ours; channels-last already,
        # the conversion is a safeguard that copies nothing)
        grad = grad_act.contiguous(memory_format=torch.channels_last)
        grad = rearrange(grad, "b m t (h w) -> b m t h w", h=mid.shape[3])
        torch.ops.aten.threshold_backward.grad_input(grad, act, 0.0, grad_input=grad)  # zero where act == 0
        _, grad_bn_weight, grad_bn_bias = torch.ops.aten.native_batch_norm_backward(
            grad, mid, bn_weight, None, None, mean, invstd, True, 0.0, [False, True, True]
        )
        # BN's input gradient, as in PyTorch's CPU kernel (n values per channel):
        #   (grad - grad_bias / n - (mid - mean) * grad_weight * invstd / n) * bn_weight * invstd
        # = grad * a + mid * b + c, three in-place passes
        n = mid.numel() // mid.shape[1]
        a = bn_weight * invstd
        b = -a * invstd * grad_bn_weight / n
        c = -b * mean - a * grad_bn_bias / n
        grad.mul_(rearrange(a, _PER_CHANNEL)).addcmul_(mid, rearrange(b, _PER_CHANNEL)).add_(rearrange(c, _PER_CHANNEL))

        # spatial conv
        grad_x, grad_spatial = _conv_backward(
            rearrange(grad, "b m t h w -> (b t) m h w"),
            rearrange(x, "b c t h w -> (b t) c h w"),
            rearrange(spatial_weight, "m c 1 kh kw -> m c kh kw"),
            *ctx.spatial_conv,
            (need_x, need_spatial),
        )
        if grad_x is not None:
            grad_x = rearrange(grad_x, "(b t) c h w -> b c t h w", b=x.shape[0])
        if grad_spatial is not None:
            grad_spatial = rearrange(grad_spatial, "m c kh kw -> m c 1 kh kw")
        return (
            grad_x,
            grad_spatial,
            grad_temporal,
            grad_bn_weight if need_bn_weight else None,
            grad_bn_bias if need_bn_bias else None,
            *not_inputs,
        )
