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
(:class:`~stconv_lite.ops.r2plus1d_fused.ChannelsLastTrainingBlock`, whose output is channels-last); in eval, BN folded into the
spatial conv.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

__all__ = ["Conv2Plus1d", "midplanes"]

from stconv_lite.ops.arguments import Triple, conv_clip_spec
from stconv_lite.ops.arguments import check_video_input as _check_input
from stconv_lite.ops.arguments import triple as _triple
from stconv_lite.ops.r2plus1d_fused import ChannelsLastTrainingBlock


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
        """Whether :class:`ChannelsLastTrainingBlock` computes exactly this block's training step.

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
        """The training forward through :class:`ChannelsLastTrainingBlock` (BN bookkeeping as nn.BatchNorm3d).

        Shapes:
            x: (B, N_{i-1}, T, H, W) -> (B, N_i, T', H', W'), channels-last 3D memory
        """
        spatial, norm, _, temporal = self
        norm.num_batches_tracked.add_(1)
        momentum = 1.0 / float(norm.num_batches_tracked) if norm.momentum is None else norm.momentum
        return ChannelsLastTrainingBlock.apply(
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
