"""The receptive field of interaction: which input positions and channels can reach one output unit.

CT-Net's argument is about *which* voxels and channels an operator lets interact ("feature-interaction
sufficiency"): a C3D 3x3x3 conv relates every channel within a 3x3x3 window; a CT module of K
tensor-separable sub-operations relates every channel over a larger, but not full, window. This is a
structural property of the operator, so it is measured on a probe copy whose weights cannot cancel:
every conv averages with positive weights and every BatchNorm is the identity, so a path exists
exactly where the gradient of one output unit is non-zero.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
import torch.nn as nn

__all__ = ["interaction_field"]


@torch.no_grad()
def _make_monotone(module: nn.Module) -> None:
    """Positive averaging weights and identity BN: every structural path then has a positive gradient."""
    for sub in module.modules():
        if isinstance(sub, nn.Conv3d | nn.Conv2d | nn.Linear):
            sub.weight.fill_(1.0 / sub.weight[0].numel())
            if sub.bias is not None:
                sub.bias.zero_()
        elif isinstance(sub, nn.modules.batchnorm._BatchNorm):
            sub.reset_running_stats()
            if sub.affine:
                sub.weight.fill_(1.0)
                sub.bias.zero_()


def interaction_field(
    module: nn.Module, channels: int, size: Sequence[int] = (9, 9, 9), out_channel: int = 0
) -> torch.Tensor:
    """Which input positions and channels reach one output unit: the receptive field of interaction.

    A copy of ``module`` gets positive averaging weights and identity BatchNorm (eval mode), so that
    no cancellation or dead ReLU hides a path; the gradient of the output at (``out_channel``, centre
    of ``size``) with respect to a positive input is then non-zero exactly on the structural field.

    Returns:
        bool mask of shape (C, T, H, W).
    """
    probe = copy.deepcopy(module).double().eval()
    _make_monotone(probe)
    t, h, w = size
    x = torch.rand(1, channels, t, h, w, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    x = (x + 0.5).requires_grad_(True)
    out = probe(x)
    out[0, out_channel, t // 2, h // 2, w // 2].backward()
    return x.grad[0] > 0
