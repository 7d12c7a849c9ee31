r"""One small backbone, every operator of the book in the same slot: the comparison's network.

Every paper reports its operator inside its own network, on its own data, with its own budget, so
their numbers cannot be set side by side. Here the network around the operator is fixed and only
the spatiotemporal operator changes:

    stem      Conv 1x3x3 (C_in -> w), stride (1, 2, 2), BN, ReLU   per frame: no time mixing here
    block 1   x + BN(op_w(x)), ReLU                                the operator, w channels
    down      MaxPool (1, 2, 2), Conv 1x1x1 (w -> 2w), BN, ReLU     per position: no time mixing
    block 2   x + BN(op_2w(x)), ReLU                               the operator, 2w channels
    head      mean over (T, H, W), Linear (2w -> classes)

The stem, the down-sampling and the head never mix frames, and the head averages over time, so
whatever the network knows about the *order* of frames comes from the operator alone. With the
per-frame ``"conv2d"`` operator the whole network is order-blind (at most 50 % on
``label="reversal"`` by construction).

Every operator maps ``(B, C, T, H, W) -> (B, C, T, H, W)`` (same channels, no stride), so the slot
is the same for all of them (:data:`OPERATORS`):

=============  ===================================================================  ===========
name           operator (package class)                                             paper
=============  ===================================================================  ===========
conv3d         ``nn.Conv3d`` 3x3x3                                                   C3D / R3D
r2plus1d       :class:`~stconv_lite.ops.r2plus1d.Conv2Plus1d`, M_i matched          R(2+1)D
conv2d         ``nn.Conv3d`` 1x3x3: a 2D conv on every frame                         f-R2D / TSN
csn            :func:`~stconv_lite.ops.ctconv.make_module` ``"csn"``: 1x1x1, dw 3x3x3  CSN
conv3t         :class:`~stconv_lite.ops.conv3t.Conv3T` 3x3x3 from a 2D slice         3TConv
ct             :func:`~stconv_lite.ops.ctconv.make_module` ``"ct_full"`` (K = 2)      CT-Net
tadaconv       :class:`~stconv_lite.ops.tadaconv.TAdaConvWithGenerator` 3x3          TAdaConv
fusion_s_st    the S+ST fusion unit of :class:`~stconv_lite.ops.fusion.FusionLayer`  fusion
=============  ===================================================================  ===========
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
from einops import reduce
from torch import Tensor

from stconv_lite.ops.arguments import check_video_input, positive_int
from stconv_lite.ops.conv3t import Conv3T
from stconv_lite.ops.ctconv import make_module
from stconv_lite.ops.fusion import FusionLayer
from stconv_lite.ops.r2plus1d import Conv2Plus1d
from stconv_lite.ops.tadaconv import TAdaConvWithGenerator

__all__ = ["OPERATORS", "OPERATOR_LABELS", "make_operator", "OperatorNet", "FusionUnit"]


class FusionUnit(nn.Module):
    """The S+ST unit of the fusion template as a C -> C operator (uniform strategy, gates off).

    A :class:`~stconv_lite.ops.fusion.FusionLayer` returns ``cat(x, new)`` (dense connectivity);
    here only its ``new`` channels are kept, so that it fills the same slot as every other operator.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.layer = FusionLayer(channels, growth=channels, bottleneck=channels, unit="S+ST")

    def forward(self, x: Tensor) -> Tensor:
        """Sum of the 1x1x1 (S) and 3x1x1 (ST) paths, then BN-ReLU-1x3x3 (fig. 3 of the fusion paper).

        Shapes:
            x: (B, C, T, H, W) -> (B, C, T, H, W)
        """
        return self.layer(x)[:, self.channels :]  # drop the concatenated input: only the new channels


# name -> builder(channels) of a C -> C operator that keeps (T, H, W).
OPERATORS: dict[str, Callable[[int], nn.Module]] = {
    "conv3d": lambda c: nn.Conv3d(c, c, 3, padding=1, bias=False),
    "r2plus1d": lambda c: Conv2Plus1d(c, c, 3),
    "conv2d": lambda c: nn.Conv3d(c, c, (1, 3, 3), padding=(0, 1, 1), bias=False),
    "csn": lambda c: make_module("csn", c),
    "conv3t": lambda c: Conv3T(c, c, 3, padding=1, bias=False),
    "ct": lambda c: make_module(
        "ct_full", c, factors=2, reduction=2
    ),  # r=2: tiny sub-dimensions (C_k = 2, 4) must divide
    "tadaconv": lambda c: TAdaConvWithGenerator(c, c, 3, padding=1, bias=False),
    "fusion_s_st": FusionUnit,
}

OPERATOR_LABELS = {
    "conv3d": "3D conv 3x3x3",
    "r2plus1d": "(2+1)D conv",
    "conv2d": "2D conv per frame",
    "csn": "CSN (1x1x1 + dw 3x3x3)",
    "conv3t": "3TConv",
    "ct": "CT module (K=2, PW, TE)",
    "tadaconv": "TAdaConv + generator",
    "fusion_s_st": "fusion unit S+ST",
}


def make_operator(name: str, channels: int) -> nn.Module:
    """The operator ``name`` of :data:`OPERATORS` with ``channels`` in and out."""
    if name not in OPERATORS:
        raise ValueError(f"unknown operator {name!r}; expected one of {list(OPERATORS)}")
    return OPERATORS[name](positive_int(channels, "channels"))


class _Block(nn.Module):
    """``relu(x + BN(op(x)))``: a residual block around the operator, the same for every operator."""

    def __init__(self, operator: str, channels: int) -> None:
        super().__init__()
        self.op = make_operator(operator, channels)
        self.bn = nn.BatchNorm3d(channels)

    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (B, C, T, H, W) -> (B, C, T, H, W)."""
        return torch.relu(x + self.bn(self.op(x)))


class OperatorNet(nn.Module):
    """The comparison's backbone (module docstring) with ``operator`` in both blocks.

    Args:
        operator: a name of :data:`OPERATORS`.
        num_classes: classifier outputs.
        in_channels: 1 for Video-MNIST.
        width: channels of block 1 (block 2 has twice as many). CT needs ``width`` with >= 2 prime
            factors (e.g. 8, 12, 16).
    """

    def __init__(self, operator: str, num_classes: int, in_channels: int = 1, width: int = 8) -> None:
        super().__init__()
        self.operator, self.in_channels = operator, positive_int(in_channels, "in_channels")
        w = positive_int(width, "width")
        self.stem = nn.Sequential(
            nn.Conv3d(in_channels, w, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False),
            nn.BatchNorm3d(w),
            nn.ReLU(inplace=True),
        )
        self.block1 = _Block(operator, w)
        self.down = nn.Sequential(
            nn.MaxPool3d((1, 2, 2)), nn.Conv3d(w, 2 * w, 1, bias=False), nn.BatchNorm3d(2 * w), nn.ReLU(inplace=True)
        )
        self.block2 = _Block(operator, 2 * w)
        self.fc = nn.Linear(2 * w, num_classes)

    def forward(self, video: Tensor) -> Tensor:
        """Classify a clip; only the two operator blocks mix frames.

        Shapes:
            video: (B, C_in, T, H, W), H and W >= 4 -> logits (B, num_classes);
            inside: (B, w, T, H/2, W/2) after the stem, (B, 2w, T, H/4, W/4) after ``down``.
        """
        check_video_input(video, f"OperatorNet({self.operator})", self.in_channels, self.fc.weight)
        features = self.block2(self.down(self.block1(self.stem(video))))
        # Averaging over time at the very end: the head adds no knowledge of frame order.
        return self.fc(reduce(features, "b c t h w -> b c", "mean"))
