r"""Fusion units of the probabilistic fusion template (Zhou et al., CVPR 2020, Fig. 3 / supp. Fig. 1).

Kernels are written ``T x H x W``. A *fusion layer* of the densely connected template reads
``C_in`` channels and adds ``growth`` new ones:

========  =========================================================  ==============================
unit      bottleneck path(s)                                         then
========  =========================================================  ==============================
S         BN -> ReLU -> Conv 1x1x1 (C_in -> bottleneck)              BN -> ReLU -> Conv 1x3x3
ST        BN -> ReLU -> Conv 3x1x1 (C_in -> bottleneck)              (bottleneck -> growth), shared
S+ST      the **sum** of both paths (each with its own BN)
========  =========================================================  ==============================

The fusion is element-wise addition *before* the shared BN-ReLU-1x3x3 conv, so S+ST is not
"S output + ST output". Each bottleneck path sits behind its own
:class:`~stconv_lite.ops.droppath.DropPathGate` (sites D2, D3 of Fig. 3): keep bits (1, 1) give
S+ST, (1, 0) give S, (0, 1) give ST and (0, 0) give "none" (the 1x3x3 conv then sees BN(0), a
constant map: the authors' code does the same). The output gate D1 on the 1x3x3 conv is an option,
**off by default**, because the reported run disabled it (notes, section 3).

A :class:`FusionTransition` (reduction block) is gated the same way: (1x1x1 || 3x1x1, C -> C/2)
summed, then AvgPool (1, 2, 2); it has no 1x3x3 conv.

Strategy networks (all S, all ST, ...) are built from the same classes with ``unit="S"`` or
``unit="ST"``: the absent path is not created, so parameter counts are those of the standalone unit.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from stconv_lite.ops.arguments import check_video_input
from stconv_lite.ops.droppath import DropPathGate, GatedPath

__all__ = ["UNITS", "PATH_KERNELS", "FusionLayer", "FusionTransition", "unit_from_keep"]

UNITS = ("S", "ST", "S+ST")
# Path name -> kernel: "S" is the frame-wise 1x1x1 bottleneck, "ST" the temporal 3x1x1 one.
PATH_KERNELS = {"S": (1, 1, 1), "ST": (3, 1, 1)}


def unit_from_keep(keep_s: bool, keep_st: bool) -> str:
    """Decode the two keep bits of a position into its unit: S+ST, S, ST or none."""
    return {(True, True): "S+ST", (True, False): "S", (False, True): "ST", (False, False): "none"}[
        (bool(keep_s), bool(keep_st))
    ]


def _paths_of(unit: str) -> tuple[str, ...]:
    if unit not in UNITS:
        raise ValueError(f"fusion unit must be one of {UNITS}; got {unit!r}")
    return ("S", "ST") if unit == "S+ST" else (unit,)


class _FusedPaths(nn.Module):
    """The gated bottleneck paths of one position, summed (shared by layers and transitions)."""

    def __init__(self, in_channels: int, out_channels: int, unit: str, p0: float, tau: float) -> None:
        super().__init__()
        self.unit = unit
        self.in_channels, self.out_channels = in_channels, out_channels
        self.paths = nn.ModuleDict(
            {name: GatedPath(in_channels, out_channels, PATH_KERNELS[name], p0=p0, tau=tau) for name in _paths_of(unit)}
        )

    def _check(self, x: Tensor, name: str) -> None:
        check_video_input(x, name, self.in_channels, next(self.parameters(), None))

    def fused(self, x: Tensor) -> Tensor:
        outputs = [path(x) for path in self.paths.values()]
        return outputs[0] if len(outputs) == 1 else outputs[0] + outputs[1]

    def gates(self) -> dict[str, DropPathGate]:
        """Path name ("S" or "ST") -> its gate."""
        return {name: path.gate for name, path in self.paths.items()}


class FusionLayer(_FusedPaths):
    """One fusion layer of a dense block: gated S / ST / S+ST bottleneck, shared 1x3x3 conv, concat.

    Args:
        in_channels: channels of the (concatenated) input.
        growth: new channels produced (32 at full scale).
        bottleneck: width of the 1x1x1 / 3x1x1 paths (4 * growth at full scale).
        unit: ``"S+ST"`` (the template), ``"S"`` or ``"ST"`` (fixed-strategy layers).
        p0, tau: initial drop probability and Concrete temperature of the gates.
        output_gate: add the D1 gate on the 1x3x3 conv (off by default, as in the reported run).
    """

    def __init__(
        self,
        in_channels: int,
        growth: int,
        bottleneck: int,
        unit: str = "S+ST",
        p0: float = 0.1,
        tau: float = 0.2,
        output_gate: bool = False,
    ) -> None:
        super().__init__(in_channels, bottleneck, unit, p0, tau)
        self.growth = growth
        self.bn_spatial = nn.BatchNorm3d(bottleneck)
        self.conv_spatial = nn.Conv3d(bottleneck, growth, (1, 3, 3), padding=(0, 1, 1), bias=False)
        self.output_gate = DropPathGate(p0=p0, tau=tau) if output_gate else None

    def forward(self, x: Tensor) -> Tensor:
        """Dense fusion layer: ``cat(x, conv1x3x3(relu(bn(sum of gated paths))))``.

        Implements the gated unit of Fig. 3 of the fusion paper: $\\hat M(l, i, u) \\cdot W_T(l, i, u)$
        with one gate per (layer, path), shared over the input layers $i$ (paper section 4.1).

        Shapes:
            x: (B, C_in, T, H, W) -> (B, C_in + growth, T, H, W)
        """
        self._check(x, "FusionLayer")
        new = self.conv_spatial(F.relu(self.bn_spatial(self.fused(x))))
        if self.output_gate is not None:
            new = self.output_gate(new)
        return torch.cat([x, new], dim=1)


class FusionTransition(_FusedPaths):
    """A gated reduction block: (1x1x1 || 3x1x1) paths C_in -> C_out, summed, AvgPool (1, 2, 2).

    Args:
        in_channels, out_channels: usually ``out_channels = in_channels // 2`` (DenseNet compression).
        unit, p0, tau: as in :class:`FusionLayer`.
    """

    def __init__(
        self, in_channels: int, out_channels: int, unit: str = "S+ST", p0: float = 0.1, tau: float = 0.2
    ) -> None:
        super().__init__(in_channels, out_channels, unit, p0, tau)
        self.pool = nn.AvgPool3d((1, 2, 2), stride=(1, 2, 2))

    def forward(self, x: Tensor) -> Tensor:
        """Sum of the gated paths, then spatial average pooling (reduction block of supp. Fig. 1).

        Shapes:
            x: (B, C_in, T, H, W) -> (B, C_out, T, H // 2, W // 2)
        """
        self._check(x, "FusionTransition")
        return self.pool(self.fused(x))
