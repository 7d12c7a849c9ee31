"""GoogLeNet for video: 3D-GoogLeNet and 3T-GoogLeNet of the 3TConv paper.

Built from torchvision's 2D GoogLeNet by :mod:`stconv_lite.models.convert2d` (note that torchvision,
like the authors, uses 3x3 convolutions in the "5x5" branch of each inception block).

Table 1 of the paper: 3T-GoogLeNet 7,419,121 parameters, 3D-GoogLeNet 14,078,833 (27 classes).
The difference, 6,659,712, comes from the kxk convolutions alone and is reproduced by any
auxiliary-head choice. The absolute counts need the paper's auxiliary heads: two of them (as in
torchvision's ``aux_logits=True``), but their first fully connected layer sees 128 x 6 = 768 features
instead of torchvision's 128 x 4 x 4 = 2048, because the authors pool the auxiliary input with an
``AvgPool3d(5, stride 3)`` that leaves a 1 x 2 x 3 map on their 30 x 150 x 224 clips. Here
``aux_pool=(1, 2, 3)`` (adaptive, so any clip size works) reproduces their counts exactly; the default
``aux_logits=False`` drops the auxiliary heads.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models.googlenet import BasicConv2d

from stconv_lite.models.convert2d import VideoNet, adapt_first_conv, convert_module, replace_head
from stconv_lite.models.registry import register
from stconv_lite.ops.arguments import ClipSpec

__all__ = ["googlenet_3d", "googlenet_3t", "googlenet_video", "InceptionAux3d", "AUTHORS_AUX_POOL", "GOOGLENET_CLIP"]

AUTHORS_AUX_POOL = (1, 2, 3)
# The cubic 7x7x7 stride-2 stem and four 3x3x3 stride-2 max-pools (ceil mode, no padding) halve
# time as often as space: below 15 frames (or 15 pixels) a pool's input is empty. Chapter 7's
# quick and small clips (4 and 8 frames) are too short; the paper feeds 30 frames.
GOOGLENET_CLIP = ClipSpec(
    minimum=(15, 15, 15),
    hint="use clips of >= 15 frames, or a model without cubic time pooling (e.g. videoresnet18_2plus1d, resnet18_3t)",
)


class InceptionAux3d(nn.Module):
    """GoogLeNet's auxiliary classifier for video: pool, 1x1x1 conv to 128, two linear layers."""

    def __init__(self, conv: nn.Module, pool: tuple[int, int, int], num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d(pool)
        self.conv = conv
        self.fc1 = nn.Linear(128 * math.prod(pool), 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Auxiliary logits from an intermediate feature map (GoogLeNet's deep supervision).

        Shapes:
            x: (B, C, T, H, W) -> (B, num_classes)
        """
        features = torch.flatten(self.conv(self.pool(x)), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(features))))


def googlenet_video(
    kind: str,
    num_classes: int,
    in_channels: int = 3,
    aux_logits: bool = False,
    aux_pool: tuple[int, int, int] = AUTHORS_AUX_POOL,
    pretrained2d: bool = False,
    from_2d: nn.Module | None = None,
) -> VideoNet:
    """3D (``kind="3d"``) or 3T (``"3t"``) GoogLeNet; weights from ``from_2d`` / ImageNet if given."""
    copy_weights = pretrained2d or from_2d is not None
    if from_2d is None:
        if pretrained2d:
            from_2d = torchvision.models.googlenet(weights="IMAGENET1K_V1", transform_input=False)
        else:
            from_2d = torchvision.models.googlenet(weights=None, aux_logits=True, init_weights=False)
    elif not isinstance(from_2d, torchvision.models.GoogLeNet):
        raise ValueError(f"from_2d must be a torchvision GoogLeNet; got {type(from_2d).__name__}")
    model2d = copy.deepcopy(from_2d)
    model2d.transform_input = False  # ImageNet-specific colour re-normalisation of RGB input
    model2d.conv1.conv = adapt_first_conv(model2d.conv1.conv, in_channels)
    model2d.fc = replace_head(model2d.fc, num_classes)
    aux2d = [model2d.aux1, model2d.aux2]
    model2d.aux1 = model2d.aux2 = None
    model = convert_module(model2d, kind, copy_weights)
    model.aux_logits = aux_logits
    if aux_logits:
        for name, aux, width in zip(("aux1", "aux2"), aux2d, (512, 528)):
            # pretrained torchvision weights come without auxiliary heads: start those fresh
            conv2d = aux.conv if aux is not None else BasicConv2d(width, 128, kernel_size=1)
            conv = convert_module(conv2d, kind, copy_weights and aux is not None)
            setattr(model, name, InceptionAux3d(conv, tuple(aux_pool), num_classes))
    return VideoNet(model, in_channels, f"googlenet_{kind}", GOOGLENET_CLIP)


@register("googlenet_3d")
def googlenet_3d(num_classes: int, in_channels: int = 3, **kw) -> nn.Module:
    """3D-GoogLeNet. Options: ``aux_logits``, ``aux_pool``, ``pretrained2d``, ``from_2d``."""
    return googlenet_video("3d", num_classes, in_channels, **kw)


@register("googlenet_3t")
def googlenet_3t(num_classes: int, in_channels: int = 3, **kw) -> nn.Module:
    """3T-GoogLeNet (every kxk conv a 3TConv). Options as ``googlenet_3d``."""
    return googlenet_video("3t", num_classes, in_channels, **kw)
