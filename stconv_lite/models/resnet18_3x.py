"""ResNet-18 for video in the two flavours of the 3TConv paper: 3D-ResNet18 and 3T-ResNet18.

Built from torchvision's 2D ResNet-18 by :mod:`stconv_lite.models.convert2d`: the 7x7 stem becomes
7x7x7, every 3x3 becomes 3x3x3, the 1x1 shortcuts 1x1x1, strides are cubic. Parameter counts match
Table 1 of the paper exactly (3T: 11,222,619 for 27 classes; 3D: 33,217,755).

Pretrained 2D weights are optional: pass ``pretrained2d=True`` (downloads torchvision's ImageNet
weights, for Colab) or your own 2D ResNet-18 as ``from_2d``.
"""

from __future__ import annotations

import copy

import torch.nn as nn
import torchvision

from stconv_lite.models.convert2d import VideoNet, adapt_first_conv, convert_module, replace_head
from stconv_lite.models.registry import register

__all__ = ["resnet18_3d", "resnet18_3t", "resnet18_video"]


def resnet18_video(
    kind: str,
    num_classes: int,
    in_channels: int = 3,
    pretrained2d: bool = False,
    from_2d: nn.Module | None = None,
) -> VideoNet:
    """3D (``kind="3d"``) or 3T (``"3t"``) ResNet-18; weights from ``from_2d`` / ImageNet if given."""
    copy_weights = pretrained2d or from_2d is not None
    if from_2d is None:
        weights = "IMAGENET1K_V1" if pretrained2d else None
        from_2d = torchvision.models.resnet18(weights=weights)
    elif not isinstance(from_2d, torchvision.models.ResNet):
        raise ValueError(f"from_2d must be a torchvision ResNet; got {type(from_2d).__name__}")
    model2d = _prepared(from_2d, num_classes, in_channels)
    return VideoNet(convert_module(model2d, kind, copy_weights), in_channels, f"resnet18_{kind}")


def _prepared(model2d: nn.Module, num_classes: int, in_channels: int) -> nn.Module:
    model2d = copy.deepcopy(model2d)
    model2d.conv1 = adapt_first_conv(model2d.conv1, in_channels)
    model2d.fc = replace_head(model2d.fc, num_classes)
    return model2d


@register("resnet18_3d")
def resnet18_3d(num_classes: int, in_channels: int = 3, **kw) -> nn.Module:
    """3D-ResNet18 (every 2D conv inflated to a cube). Options: ``pretrained2d``, ``from_2d``."""
    return resnet18_video("3d", num_classes, in_channels, **kw)


@register("resnet18_3t")
def resnet18_3t(num_classes: int, in_channels: int = 3, **kw) -> nn.Module:
    """3T-ResNet18 (every kxk conv a 3TConv, 1x1 a 1x1x1 Conv3d). Options as ``resnet18_3d``."""
    return resnet18_video("3t", num_classes, in_channels, **kw)
