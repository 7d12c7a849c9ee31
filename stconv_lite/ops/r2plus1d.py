r"""The (2+1)D convolution of Tran et al. (CVPR 2018): a 3D conv split into space, then time.

A full $t \times d \times d$ convolution from $N_{i-1}$ to $N_i$ channels has
$t d^2 N_{i-1} N_i$ weights. R(2+1)D replaces it by

1. a spatial $1 \times d \times d$ conv from $N_{i-1}$ to $M_i$ channels,
2. batch norm and a ReLU (the *extra* non-linearity the paper credits for part of the gain),
3. a temporal $t \times 1 \times 1$ conv from $M_i$ to $N_i$ channels,

which has $M_i (d^2 N_{i-1} + t N_i)$ weights. Choosing

$$M_i = \left\lfloor \frac{t d^2 N_{i-1} N_i}{d^2 N_{i-1} + t N_i} \right\rfloor$$

(Sec. 3.5 of the R(2+1)D paper) makes the two counts equal up to the floor, so that any gain of
R(2+1)D over R3D comes from the factorisation, not from more parameters. The batch norm in the
middle adds $2 M_i$ learnable numbers that the paper's equality does not count.

The module is an ``nn.Sequential`` of ``(spatial conv, BN, ReLU, temporal conv)`` so that its
state_dict keys (``0.weight``, ``1.weight``, ..., ``3.weight``) are those of torchvision's
``Conv2Plus1D``: torchvision checkpoints load without a key map. Running the four layers one by one
is the definition of the block; ``forward`` computes the same numbers by faster routes where they
apply: in training on the CPU, one autograd function that keeps the block in channels-last memory
(:class:`_ChannelsLastTrainingBlock`, whose output is channels-last); in eval, BN folded into the
spatial conv.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["Conv2Plus1d", "midplanes"]

from stconv_lite.ops.arguments import Triple, conv_clip_spec
from stconv_lite.ops.arguments import check_video_input as _check_input
from stconv_lite.ops.arguments import triple as _triple


def midplanes(in_channels: int, out_channels: int, t: int = 3, d: int = 3) -> int:
    r"""$M_i = \lfloor t d^2 N_{i-1} N_i / (d^2 N_{i-1} + t N_i) \rfloor$ (Sec. 3.5 of the R(2+1)D paper).

    The width between the spatial and the temporal conv that gives a (2+1)D block the parameter
    count of a full $t \times d \times d$ conv from ``in_channels`` to ``out_channels``.
    """
    for name, value in (("in_channels", in_channels), ("out_channels", out_channels), ("t", t), ("d", d)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"midplanes expects positive ints; got {name}={value!r}")
    return (t * d * d * in_channels * out_channels) // (d * d * in_channels + t * out_channels)


def _temporal_conv(conv: nn.Conv3d, x: Tensor) -> Tensor:
    """``conv(x)`` for a ``t x 1 x 1`` kernel, computed as a 2D conv over (time, pixels).

    Same parameters and numbers as the Conv3d. Merging H and W is a free view (also in
    channels-last 3D), and 2D convolutions have much faster CPU kernels than 3D ones with a
    ``t x 1 x 1`` kernel (PyTorch falls back to its slow reference 3D conv for those).

    Shapes:
        x: (B, M, T, H, W) -> (B, N, T', H, W)
    """
    columns = rearrange(x, "b c t h w -> b c t (h w)")
    weight = rearrange(conv.weight, "o i kt 1 1 -> o i kt 1")
    out = F.conv2d(columns, weight, conv.bias, (conv.stride[0], 1), (conv.padding[0], 0))
    return rearrange(out, "b c t (h w) -> b c t h w", h=x.shape[3])


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
        if (first, last, shift) == (0, frames_out, 0) and frames_out == frames_in:
            pairs = [(grad_columns, columns)]
        else:
            pairs = [
                (grad_columns[b : b + 1, :, first:last], columns[b : b + 1, :, first + shift : last + shift])
                for b in range(grad_columns.shape[0])
            ]
        total = torch.zeros_like(tap)
        for grad, x in pairs if last > first else []:
            # a dilation changes nothing for a 1x1 kernel; asking for one keeps PyTorch from sending
            # the call to its GEMM fallback (its choice for undilated 1x1 convs of fewer than 16
            # samples on one thread), which is slower here and first copies the slices to NCHW
            total += _conv_backward(grad, x, tap, (1, 1), (0, 0), (False, True), dilation=(2, 2))[1]
        taps.append(total)
    return torch.cat(taps, dim=2)


# Below this many rows (frames x pixels) per clip and tap, the per-call cost of the per-tap weight
# gradient outweighs its faster kernel (measured on the book's CPU: 1.5x faster with 8 x 784 rows
# per clip, break-even near 800, 1.2-1.6x slower with 4 x 196 or 4 x 49).
_MIN_TAP_ROWS = 1024


class _ChannelsLastTrainingBlock(torch.autograd.Function):
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
        by_taps = temporal_stride == 1 and (frames_out - 1) * pixels >= _MIN_TAP_ROWS
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


class Conv2Plus1d(nn.Sequential):
    """Spatial ``1 x d x d`` conv -> BN -> ReLU -> temporal ``t x 1 x 1`` conv.

    Args:
        in_channels, out_channels: $N_{i-1}$ and $N_i$.
        kernel_size: ``(t, d, d)`` of the full conv being factorised (an int means a cube).
        stride: ``(s_t, s_h, s_w)``; the spatial conv takes the spatial strides, the temporal conv
            the temporal one.
        padding: ``(p_t, p_h, p_w)``, split the same way.
        mid_channels: $M_i$; ``None`` uses :func:`midplanes` (the paper's choice).
        bias: bias on both convs (False in the ResNets, where a BN follows).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Triple = 3,
        stride: Triple = 1,
        padding: Triple | None = None,
        mid_channels: int | None = None,
        bias: bool = False,
    ) -> None:
        kt, kh, kw = _triple(kernel_size, "kernel_size")
        st, sh, sw = _triple(stride, "stride")
        pt, ph, pw = _triple(padding, "padding") if padding is not None else (kt // 2, kh // 2, kw // 2)
        if kh != kw:
            raise ValueError(f"Conv2Plus1d expects a square spatial kernel (t, d, d); got {(kt, kh, kw)}")
        if mid_channels is None:
            mid_channels = midplanes(in_channels, out_channels, kt, kh)
        if not isinstance(mid_channels, int) or mid_channels < 1:
            raise ValueError(f"mid_channels must be a positive int; got {mid_channels!r}")
        super().__init__(
            nn.Conv3d(in_channels, mid_channels, (1, kh, kw), (1, sh, sw), (0, ph, pw), bias=bias),
            nn.BatchNorm3d(mid_channels),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid_channels, out_channels, (kt, 1, 1), (st, 1, 1), (pt, 0, 0), bias=bias),
        )
        self.in_channels, self.out_channels, self.mid_channels = in_channels, out_channels, mid_channels

    @property
    def spatial(self) -> nn.Conv3d:
        return self[0]

    @property
    def temporal(self) -> nn.Conv3d:
        return self[3]

    def forward(self, x: Tensor) -> Tensor:
        """Factorised spatiotemporal conv, Sec. 3.5 of the R(2+1)D paper.

        Shapes:
            x: (B, N_{i-1}, T, H, W) -> spatial (B, M_i, T, H', W') -> (B, N_i, T', H', W')
        """
        spatial_conv = getattr(self[0], "conv", self[0])  # plug-ins (TAdaConv) wrap the spatial conv
        _check_input(
            x,
            "Conv2Plus1d",
            self.in_channels,
            spatial_conv.weight,
            conv_clip_spec(
                (self[3].kernel_size[0], *spatial_conv.kernel_size[1:]),
                (self[3].padding[0], *spatial_conv.padding[1:]),
                (1, 1, 1),
            ),
        )
        spatial, norm, act, temporal = self
        if self.training and self._channels_last_path_applies(x):  # CPU training: the fused route
            return self._channels_last_training_step(x)
        foldable = (
            isinstance(norm, nn.BatchNorm3d)
            and norm.affine
            and norm.running_mean is not None
            and isinstance(spatial, nn.Conv3d)
            and spatial.padding_mode == "zeros"
            and spatial.groups == 1
            and spatial.dilation == (1, 1, 1)
        )
        if self.training or not foldable:
            mid = act(norm(spatial(x)))
        else:  # eval: BN is a fixed affine map per channel, folded into the spatial conv (one pass less)
            scale = norm.weight * torch.rsqrt(norm.running_var + norm.eps)
            weight = spatial.weight * rearrange(scale, "o -> o 1 1 1 1")
            bias = norm.bias - norm.running_mean * scale
            if spatial.bias is not None:
                bias = bias + spatial.bias * scale
            mid = act(F.conv3d(x, weight, bias, spatial.stride, spatial.padding))
        if (
            isinstance(temporal, nn.Conv3d)
            and temporal.kernel_size[1:] == (1, 1)
            and temporal.padding_mode == "zeros"
            and temporal.groups == 1
            and temporal.dilation == (1, 1, 1)
        ):
            return _temporal_conv(temporal, mid)
        return temporal(mid)

    def _channels_last_path_applies(self, x: Tensor) -> bool:
        """Whether :class:`_ChannelsLastTrainingBlock` computes exactly this block's training step.

        It covers the plain block on a CPU float32 tensor: the four layers of their stock types
        without bias, groups, dilation, non-zero padding modes or hooks, and a BN that tracks
        running statistics. Anything else (a plug-in replacing a layer, a GPU, float64, ...) takes
        the layer-by-layer path, which is the definition of the block.
        """
        spatial, norm, act, temporal = self
        convs_plain = all(
            type(conv) is nn.Conv3d
            and conv.bias is None
            and conv.groups == 1
            and conv.dilation == (1, 1, 1)
            and conv.padding_mode == "zeros"
            and isinstance(conv.padding, tuple)  # not padding="same"
            for conv in (spatial, temporal)
        )
        return (
            convs_plain
            and (spatial.kernel_size[0], spatial.stride[0], spatial.padding[0]) == (1, 1, 0)
            and temporal.kernel_size[1:] == (1, 1)
            and temporal.stride[1:] == (1, 1)
            and temporal.padding[1:] == (0, 0)
            and type(norm) is nn.BatchNorm3d
            and norm.affine
            and norm.track_running_stats
            and norm.running_mean is not None
            and type(act) is nn.ReLU
            and x.device.type == "cpu"
            and x.dtype == torch.float32
            and torch.backends.mkldnn.is_available()
            and torch.backends.mkldnn.enabled
            and not any(m._forward_hooks or m._forward_pre_hooks for m in (spatial, norm, act, temporal))
        )

    def _channels_last_training_step(self, x: Tensor) -> Tensor:
        """The training forward through :class:`_ChannelsLastTrainingBlock` (BN bookkeeping as nn.BatchNorm3d).

        Shapes:
            x: (B, N_{i-1}, T, H, W) -> (B, N_i, T', H', W'), channels-last 3D memory
        """
        spatial, norm, _, temporal = self
        norm.num_batches_tracked.add_(1)
        momentum = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
        return _ChannelsLastTrainingBlock.apply(
            x,
            spatial.weight,
            temporal.weight,
            norm.weight,
            norm.bias,
            norm.running_mean,
            norm.running_var,
            momentum,
            norm.eps,
            (spatial.stride[1:], spatial.padding[1:]),
            ((temporal.stride[0], 1), (temporal.padding[0], 0)),
        )

    def extra_repr(self) -> str:
        return f"{self.in_channels} -> M={self.mid_channels} -> {self.out_channels}"
