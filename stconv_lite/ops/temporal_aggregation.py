r"""Temporal feature aggregation of TAda2D (eq. (7) of the TAdaConv paper).

Eq. (2) of the paper splits a temporal convolution into (i) per-frame calibration of the weights
and (ii) summing over neighbouring frames. TAdaConv does (i); this module does (ii), with a plain
average over $k$ frames and its own batch norm:

$$\mathbf{x}_{aggr} = \delta\big(\mathrm{BN}_1(\tilde{\mathbf{x}}) + \mathrm{BN}_2(\mathrm{TempAvgPool}_k(\tilde{\mathbf{x}}))\big).$$

$\mathrm{BN}_2$ starts with $\gamma = \beta = 0$, so at initialisation the pooled branch contributes
nothing and the block is the per-frame ``BN -> ReLU`` of a 2D ResNet (with TAdaConv's identity
init, TAda2D starts as exactly TSN). The pooling has stride 1 and zero padding counted in the
average (``count_include_pad=True``, as in the authors' code): the first and last frames are
averaged with a zero frame.

``mode`` reproduces the rows of table 3b: ``"sepbn"`` (eq. (7), the default), ``"shortcut"``
($\delta(\mathrm{BN}(\tilde{\mathbf{x}} + \mathrm{Avg}(\tilde{\mathbf{x}})))$) and ``"avg"``
($\delta(\mathrm{BN}(\mathrm{Avg}(\tilde{\mathbf{x}})))$).

State-dict names, ours <- authors' TAda2D block: ``bn`` <- ``conv_branch.b_bn``,
``pool_bn`` <- ``conv_branch.b_avgpool_bn``.
"""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from stconv_lite.ops.arguments import check_video_input

__all__ = ["TemporalAggregation", "temporal_avg_pool"]

MODES = ("sepbn", "shortcut", "avg")


def temporal_avg_pool(x: Tensor, kernel_size: int = 3) -> Tensor:
    """Average over ``kernel_size`` neighbouring frames, stride 1, zeros padded and counted.

    Shapes:
        x: (B, C, T, H, W); returns (B, C, T, H, W).
    """
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"temporal_avg_pool needs an odd kernel_size to keep T; got {kernel_size}")
    check_video_input(x, "temporal_avg_pool")
    # Pad explicitly instead of avg_pool3d(padding=...): torch refuses an input shorter than the
    # kernel even when the padding would cover it, and clips of 1 or 2 frames are legitimate here.
    # The zeros are counted either way, so the result is the same.
    half = kernel_size // 2
    return F.avg_pool3d(F.pad(x, (0, 0, 0, 0, half, half)), (kernel_size, 1, 1), stride=1)


class TemporalAggregation(nn.Module):
    r"""$\delta(\mathrm{BN}_1(\tilde{\mathbf{x}}) + \mathrm{BN}_2(\mathrm{TempAvgPool}_k(\tilde{\mathbf{x}})))$.

    Args:
        channels: $C$ of $\tilde{\mathbf{x}}$.
        kernel_size: $k$ of the temporal average pool (3 in TAda2D).
        mode: ``"sepbn"`` (eq. (7)), ``"shortcut"`` or ``"avg"`` (table 3b's other rows).
        bn_eps, bn_momentum: of both batch norms.
    """

    def __init__(
        self, channels: int, kernel_size: int = 3, mode: str = "sepbn", bn_eps: float = 1e-5, bn_momentum: float = 0.1
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"TemporalAggregation needs an odd kernel_size to keep T; got {kernel_size}")
        self.channels, self.kernel_size, self.mode = channels, kernel_size, mode
        self.bn = nn.BatchNorm3d(channels, eps=bn_eps, momentum=bn_momentum)
        self.pool_bn = nn.BatchNorm3d(channels, eps=bn_eps, momentum=bn_momentum) if mode == "sepbn" else None
        self.relu = nn.ReLU(inplace=True)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """BN_2 at zero (gamma = beta = 0): the pooled branch is silent at initialisation."""
        if self.pool_bn is not None:
            nn.init.zeros_(self.pool_bn.weight)
            nn.init.zeros_(self.pool_bn.bias)

    def forward(self, x: Tensor) -> Tensor:
        r"""Eq. (7) of the TAdaConv paper (or a table-3b variant, see ``mode``).

        Shapes:
            x: (B, C, T, H, W) -- the TAdaConv output $\tilde{\mathbf{x}}$; returns (B, C, T, H, W).
        """
        check_video_input(
            x, "TemporalAggregation", self.channels, self.bn.weight, layout=f"(B, C={self.channels}, T, H, W)"
        )
        pooled = temporal_avg_pool(x, self.kernel_size)
        if self.mode == "sepbn":
            return self.relu(self.bn(x) + self.pool_bn(pooled))
        if self.mode == "shortcut":
            return self.relu(self.bn(x + pooled))
        return self.relu(self.bn(pooled))

    def extra_repr(self) -> str:
        return f"{self.channels}, kernel_size={self.kernel_size}, mode={self.mode!r}"
