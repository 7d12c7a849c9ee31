"""Tensor Excitation (TE): eq. (6)-(8) of the CT-Net paper (Li et al., ICLR 2021).

An excitation re-weights a feature map X by a gate in (0, 1) computed from a pooled summary of X,
like squeeze-and-excitation (Hu et al.), with two differences that make it "tensor" excitation:

- the summary keeps the axes the gate is about: the *spatial* TE pools over time only and keeps an
  H x W map, the *temporal* TE pools over space and keeps a length-T profile, the *channel* TE pools
  over space per frame;
- the small network that turns the summary into a gate is made of *tensor-separable* convolutions
  on the same channel sub-dimension as the CT sub-operation it follows: grouped convolutions with the
  same number of groups (``groups = C / C_k`` in the layout of :mod:`stconv_lite.ops.tensorize`).

=========  ===============  =====================================  ======================
kind       squeeze          excitation (conv, BN, ReLU, conv)      gate broadcast over
=========  ===============  =====================================  ======================
spatial    mean over T      1 x k x k convs (S-TSConv), eq. (6)    T
temporal   mean over H, W   k x 1 x 1 convs (T-TSConv), eq. (7)    H, W
channel    mean over H, W   1 x 1 x 1 convs (PW-TSConv), eq. (8)   H, W (one gate per frame)
=========  ===============  =====================================  ======================

The hidden width is C / ``reduction`` (4, as the authors); every conv is bias-free and BN sits
between the two (appendix A.2). The channel TE pools over space only, not time, so its gate changes
from frame to frame; this follows the authors' code.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import reduce

from stconv_lite.ops.arguments import check_video_input

__all__ = ["TensorExcitation", "SpatialExcitation", "TemporalExcitation", "ChannelExcitation"]

Kind = Literal["spatial", "temporal", "channel"]

_EQUATION = {"spatial": "Eq. (6)", "temporal": "Eq. (7)", "channel": "Eq. (8)"}


class TensorExcitation(nn.Module):
    """Gate a feature map by attention computed with tensor-separable convolutions.

    Args:
        channels: C, the channels of the feature map.
        groups: the number of groups of the CT sub-operation this TE follows (C / C_k).
        kind: ``"spatial"``, ``"temporal"`` or ``"channel"`` (table above).
        reduction: hidden width is ``channels // reduction``.
        kernel_size: k of the 1 x k x k (spatial) or k x 1 x 1 (temporal) convs; ignored for channel.
    """

    def __init__(
        self, channels: int, groups: int, kind: Kind = "spatial", reduction: int = 4, kernel_size: int = 3
    ) -> None:
        super().__init__()
        if kind not in _EQUATION:
            raise ValueError(f"kind must be 'spatial', 'temporal' or 'channel'; got {kind!r}")
        if channels % reduction:
            raise ValueError(f"channels ({channels}) must be divisible by reduction ({reduction})")
        hidden = channels // reduction
        if channels % groups or hidden % groups:
            raise ValueError(
                f"tensor excitation with {groups} groups needs channels ({channels}) and hidden width "
                f"channels/reduction ({hidden}) divisible by the groups, i.e. the sub-dimension "
                f"C_k = {channels}/{groups} must be a multiple of reduction={reduction}"
            )
        if kind == "spatial":
            kernel, padding = (1, kernel_size, kernel_size), (0, kernel_size // 2, kernel_size // 2)
        elif kind == "temporal":
            kernel, padding = (kernel_size, 1, 1), (kernel_size // 2, 0, 0)
        else:
            kernel, padding = (1, 1, 1), (0, 0, 0)
        self.kind = kind
        self.channels = channels
        self.groups = groups
        self.reduce = nn.Conv3d(channels, hidden, kernel, padding=padding, groups=groups, bias=False)
        self.norm = nn.BatchNorm3d(hidden)
        self.expand = nn.Conv3d(hidden, channels, kernel, padding=padding, groups=groups, bias=False)

    def squeeze(self, x: torch.Tensor) -> torch.Tensor:
        """Pool away the axes the gate does not depend on (T-Pool or S-Pool of the paper).

        The mean is written as a sum times 1/n: the same numbers up to rounding, but the backward of
        a sum broadcasts the (small) gradient without writing it out, where that of ``mean`` divides
        a full-size copy, one pass over the feature map more.
        """
        pattern = "b c t h w -> b c 1 h w" if self.kind == "spatial" else "b c t h w -> b c t 1 1"
        total = reduce(x, pattern, "sum")
        return total * (total.numel() / x.numel())

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """The attention map sigma(TSConv(Pool(x))), before broadcasting.

        Shapes:
            x: (B, C, T, H, W) -> (B, C, 1, H, W) spatial | (B, C, T, 1, 1) temporal, channel
        """
        squeezed = self.reduce(self.squeeze(x))
        if self.training and squeezed[:, 0].numel() == 1:
            # One value per channel (batch 1 and a 1 x 1 pooled map, e.g. the last stage of a
            # ResNet at 32 x 32 input): batch statistics are undefined there, and BatchNorm refuses
            # to train on them. Normalise with the running statistics instead, leaving them as they are.
            normed = F.batch_norm(
                squeezed,
                self.norm.running_mean,
                self.norm.running_var,
                self.norm.weight,
                self.norm.bias,
                training=False,
                eps=self.norm.eps,
            )
        else:
            normed = self.norm(squeezed)
        return torch.sigmoid(self.expand(torch.relu(normed)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Re-weight x by its attention map: Eq. (6), (7) or (8) of the CT-Net paper (by ``kind``).

        Shapes:
            x: (B, C, T, H, W) -> (B, C, T, H, W)
        """
        check_video_input(x, type(self).__name__, self.channels, self.reduce.weight)
        return x * self.gate(x)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, {_EQUATION[self.kind]}"


def SpatialExcitation(channels: int, groups: int, reduction: int = 4, kernel_size: int = 3) -> TensorExcitation:
    """Spatial TE, eq. (6): U = X_S * sigmoid(S-TSConv(T-Pool(X_S)))."""
    return TensorExcitation(channels, groups, "spatial", reduction, kernel_size)


def TemporalExcitation(channels: int, groups: int, reduction: int = 4, kernel_size: int = 3) -> TensorExcitation:
    """Temporal TE, eq. (7): V = X_T * sigmoid(T-TSConv(S-Pool(X_T)))."""
    return TensorExcitation(channels, groups, "temporal", reduction, kernel_size)


def ChannelExcitation(channels: int, groups: int, reduction: int = 4) -> TensorExcitation:
    """Channel TE, eq. (8): X = R * sigmoid(PW-TSConv(S-Pool(R)))."""
    return TensorExcitation(channels, groups, "channel", reduction)
