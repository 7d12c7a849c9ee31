"""CT-Net (Li et al., ICLR 2021): a TSN ResNet-50 in which one of every two bottlenecks is a CT-Block.

PLACEHOLDER: the network builders are added once models/tsn.py exists.
"""

from __future__ import annotations

import re

import torch
import torch.nn as nn
from einops import rearrange

from stconv_lite.ops.ctconv import convert_authors_state_dict

__all__ = ["CTBottleneck", "convert_authors_block_state_dict"]


class CTBottleneck(nn.Module):
    """The CT-Block of figure 2: 1x1x1 reduce, a spatiotemporal module, 1x1x1 expand, identity shortcut.

    ``module`` is any C -> C video module (a :class:`~stconv_lite.ops.ctconv.CTModule`, or one of the
    C3D / R(2+1)D / CSN configurations of :func:`~stconv_lite.ops.ctconv.make_module`). As in the
    authors' ``ReshapeBlock`` there is no stride and no projection shortcut: CT-Net never replaces a
    block that changes the shape.
    """

    def __init__(self, channels: int, width: int, module: nn.Module) -> None:
        super().__init__()
        self.channels, self.width = channels, width
        self.conv1 = nn.Conv3d(channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.st = module
        self.conv3 = nn.Conv3d(width, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU(x + BN(W3 * M(ReLU(BN(W1 * x))))), figure 2 (a)/(b) of the CT-Net paper.

        Shapes:
            x: (B, C, T, H, W) -> (B, C, T, H, W)
        """
        if x.dim() != 5 or x.shape[1] != self.channels:
            raise ValueError(f"CTBottleneck expects (B, {self.channels}, T, H, W); got {tuple(x.shape)}")
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.st(out)))
        return self.relu(out + x)


def convert_authors_block_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename the authors' ``ReshapeBlock`` keys for :class:`CTBottleneck` with a ``CTModule("pow2")``.

    ``conv1.0`` / ``conv1.1`` (Conv2d 1x1 + BN2d) -> ``conv1`` / ``bn1`` (the 2D weight gains a time
    axis of size 1), ``conv3.{0,1}`` -> ``conv3`` / ``bn3``, ``conv2.*`` (the CT module) -> ``st.*`` via
    :func:`~stconv_lite.ops.ctconv.convert_authors_state_dict`.
    """
    converted = {f"st.{k}": v for k, v in convert_authors_state_dict(state_dict, prefix="conv2.").items()}
    for key, value in state_dict.items():
        match = re.fullmatch(r"conv([13])\.([01])\.(.+)", key)
        if not match:
            continue
        index, part, name = match.groups()
        if part == "0":
            converted[f"conv{index}.{name}"] = rearrange(value, "o i h w -> o i 1 h w")
        else:
            converted[f"bn{index}.{name}"] = value
    return converted
