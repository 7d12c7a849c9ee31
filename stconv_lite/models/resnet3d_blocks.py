r"""Building blocks of the video ResNets of Tran et al. (CVPR 2018): stems, convs, residual blocks.

One vocabulary for "which convolution does this group use":

* ``"3d"``: a full $3 \times d \times d$ conv; a downsampling block strides $2 \times 2 \times 2$;
* ``"2d"``: a $1 \times d \times d$ conv (a 2D conv applied to every frame, kept 5D so that 2D and
  3D groups chain without reshapes); a downsampling block strides $1 \times 2 \times 2$, since a
  2D layer cannot see time and therefore never shrinks it;
* ``"2plus1d"``: :class:`~stconv_lite.ops.r2plus1d.Conv2Plus1d`, strides like ``"3d"``;
* ``"stacked"`` (stem only, R2D): the $T$ frames are stacked into the channels and one 2D conv
  collapses time: after it the clip is a single "frame" of features.

Module and attribute names follow torchvision's ``VideoResNet`` (``stem``, ``layerN``, ``conv1``,
``conv2``, ``downsample``, ``fc``) so that its checkpoints load without a key map.
"""

from __future__ import annotations

from typing import Literal

import torch.nn as nn
from einops import rearrange
from torch import Tensor

from stconv_lite.ops.r2plus1d import Conv2Plus1d, midplanes

__all__ = ["ConvKind", "StemKind", "make_conv", "make_stem", "BasicBlock3d", "TimeIntoChannels", "temporal_stride"]

ConvKind = Literal["2d", "3d", "2plus1d"]
StemKind = Literal["stacked", "2d", "3d", "2plus1d"]
CONV_KINDS = ("2d", "3d", "2plus1d")
STEM_KINDS = ("stacked", "2d", "3d", "2plus1d")


def temporal_stride(kind: str, stride: int) -> int:
    """2D groups keep the frame rate; 3D and (2+1)D groups downsample time like space."""
    return 1 if kind == "2d" else stride


def make_conv(
    kind: ConvKind, in_channels: int, out_channels: int, stride: int = 1, mid_channels: int | None = None
) -> nn.Module:
    """The 3x3(x3) convolution of a residual block, of the given kind (no bias: a BN follows)."""
    st = temporal_stride(kind, stride)
    if kind == "3d":
        return nn.Conv3d(in_channels, out_channels, 3, (st, stride, stride), 1, bias=False)
    if kind == "2d":
        return nn.Conv3d(in_channels, out_channels, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)
    if kind == "2plus1d":
        return Conv2Plus1d(in_channels, out_channels, 3, (st, stride, stride), 1, mid_channels=mid_channels)
    raise ValueError(f"conv kind must be one of {CONV_KINDS}; got {kind!r}")


class TimeIntoChannels(nn.Module):
    """R2D's first step: a clip of ``frames`` frames becomes one image with ``C * frames`` channels."""

    def __init__(self, frames: int) -> None:
        super().__init__()
        self.frames = frames

    def forward(self, x: Tensor) -> Tensor:
        """Stack time into channels (Sec. 3.1 of the R(2+1)D paper, R2D).

        Shapes:
            x: (B, C, T, H, W) -> (B, C*T, 1, H, W)
        """
        if x.dim() != 5 or x.shape[2] != self.frames:
            raise ValueError(
                f"R2D stacks exactly {self.frames} frames into channels: expects (B, C, {self.frames}, H, W); "
                f"got {tuple(x.shape)} (build it with frames=T)"
            )
        return rearrange(x, "b c t h w -> b (c t) 1 h w")

    def extra_repr(self) -> str:
        return f"frames={self.frames}"


def make_stem(
    kind: StemKind, in_channels: int, width: int, frames: int = 8, mid_channels: int | None = None
) -> nn.Sequential:
    """conv1 of the paper's Table 1: a 7x7 spatial conv with spatial stride 2, then BN and ReLU.

    The temporal extent is 3 (``"3d"``, ``"2plus1d"``), 1 (``"2d"``), or the whole clip
    (``"stacked"``). The (2+1)D stem is flat (conv, BN, ReLU, conv, BN, ReLU) as in torchvision.
    """
    if kind == "stacked":
        return nn.Sequential(
            TimeIntoChannels(frames),
            nn.Conv3d(in_channels * frames, width, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
        )
    if kind == "2d":
        conv = nn.Conv3d(in_channels, width, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False)
        return nn.Sequential(conv, nn.BatchNorm3d(width), nn.ReLU(inplace=True))
    if kind == "3d":
        conv = nn.Conv3d(in_channels, width, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False)
        return nn.Sequential(conv, nn.BatchNorm3d(width), nn.ReLU(inplace=True))
    if kind == "2plus1d":
        mid = mid_channels if mid_channels is not None else midplanes(in_channels, width, t=3, d=7)
        return nn.Sequential(
            nn.Conv3d(in_channels, mid, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
            nn.BatchNorm3d(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, width, (3, 1, 1), 1, (1, 0, 0), bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
        )
    raise ValueError(f"stem kind must be one of {STEM_KINDS}; got {kind!r}")


class BasicBlock3d(nn.Module):
    """Two 3x3(x3) convs with a residual connection (He et al.), convs of one kind.

    Args:
        kind: ``"2d"``, ``"3d"`` or ``"2plus1d"``.
        in_channels, out_channels: block input and output width.
        stride: spatial stride of the first conv (temporal stride from :func:`temporal_stride`).
        shared_mid: (2+1)D only. ``False`` (the paper): each conv gets its own $M_i$ from its own
            input and output widths. ``True`` (torchvision): both convs use the $M_i$ of the first,
            computed from the *block's* input width, which is smaller in a block that widens.
    """

    def __init__(
        self, kind: ConvKind, in_channels: int, out_channels: int, stride: int = 1, shared_mid: bool = False
    ) -> None:
        super().__init__()
        mid1 = mid2 = None
        if kind == "2plus1d":
            mid1 = midplanes(in_channels, out_channels)
            mid2 = mid1 if shared_mid else midplanes(out_channels, out_channels)
        self.conv1 = nn.Sequential(
            make_conv(kind, in_channels, out_channels, stride, mid1),
            nn.BatchNorm3d(out_channels),
            nn.ReLU(inplace=True),
        )
        self.conv2 = nn.Sequential(make_conv(kind, out_channels, out_channels, 1, mid2), nn.BatchNorm3d(out_channels))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            # projection shortcut (ResNet "option B"); it must shrink time exactly as conv1 does
            st = temporal_stride(kind, stride)
            self.downsample = nn.Sequential(
                nn.Conv3d(in_channels, out_channels, 1, (st, stride, stride), bias=False),
                nn.BatchNorm3d(out_channels),
            )

    def forward(self, x: Tensor) -> Tensor:
        """x + F(x), eq. (1) of He et al. with F two convs of this block's kind.

        Shapes:
            x: (B, C_in, T, H, W) -> (B, C_out, T / s_t, H / s, W / s)
        """
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + shortcut)
