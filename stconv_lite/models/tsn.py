r"""TSN ResNet-50: a bottleneck ResNet applied to every frame of a clip (the R2D baseline of the TAdaConv paper).

Temporal Segment Networks {cite}`wang2016tsn` run an image network on each frame and average the
class scores over time. Table A1 of the TAdaConv paper fixes the variant used as its baseline:
ResNet-50 with **no max-pool after the stem** and **spatial stride 2 in the first block of res2**
instead (the overall stride stays 32), and **time kept** to the head. Every layer works on
``(B, C, T, H, W)`` but touches one frame at a time (``nn.Conv3d`` with kernels ``(1, k, k)``). The head averages over
$(T, H, W)$, applies dropout and a linear layer; a linear head on the time average equals the time
average of per-frame scores, TSN's consensus.

Registered: ``tsn50_2d`` (widths 64..2048, blocks 3,4,6,3) and ``tsn50_2d_small`` (width 16, one block
per stage, one input channel: a Video-MNIST model that trains on a CPU). Options of both: ``width`` (stem
channels; stage ``s`` uses ``width * 2**(s-1)`` bottleneck channels and 4x that at its output),
``layers`` (blocks per stage), ``maxpool`` (``True``: torchvision's ImageNet layout with max-pool
after the stem and stride 1 in res2, as TSN and CT-Net use; the default ``False`` is table A1's),
``dropout`` (0.5, the TAdaConv paper's), ``pretrained`` (copy torchvision's ImageNet ResNet-50
weights; downloads, never used in tests), ``block`` (below).

**Extension points** (CT-Net and TAda2D are built on them; these names are stable):

* ``block(in_channels, mid_channels, stride, *, stage, index) -> nn.Module``, passed to
  :class:`TSNResNet`/``tsn50_2d``: builds block ``index`` (0-based) of ``stage`` (1..4 = res2..res5),
  mapping ``in_channels`` to ``4 * mid_channels`` channels at ``1/stride`` resolution.
  Default :func:`bottleneck_block`.
* ``Bottleneck(in_channels, mid_channels, stride, spatial_conv=..., spatial_norm=...)``: its 3x3 conv is
  ``spatial_conv(mid, mid, stride)`` (default :func:`frame_conv3x3`), followed by
  ``spatial_norm(mid)``, a module that **includes** the activation (default :class:`BatchNormReLU3d`;
  TAda2D puts its temporal aggregation there).
* ``TSNResNet.features(x)`` -> ``(B, 32*width, T, h, w)``; ``TSNResNet.stages`` =
  ``[layer1, ..., layer4]`` (hooks for Grad-CAM); ``TSNResNet.head(features)``.
* Module names follow torchvision (``conv1 bn1 layerN.i.{conv1,bn1,conv2,bn2,conv3,bn3,downsample} fc``)
  so :func:`load_imagenet_resnet50` copies ImageNet tensors, adding a time axis of size 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange, reduce
from torch import Tensor

from stconv_lite.models.registry import register
from stconv_lite.ops.arguments import check_video_input, positive_int

__all__ = [
    "BatchNormReLU3d",
    "Bottleneck",
    "TSNResNet",
    "bottleneck_block",
    "frame_conv3x3",
    "load_imagenet_resnet50",
    "tsn50_2d",
    "tsn50_2d_small",
    "BlockFactory",
    "SpatialConvFactory",
    "SpatialNormFactory",
]

SpatialConvFactory = Callable[[int, int, int], nn.Module]
SpatialNormFactory = Callable[[int], nn.Module]
BlockFactory = Callable[..., nn.Module]
EXPANSION = 4


def _check_video(x: Tensor, channels: int, who: str) -> None:
    if x.dim() != 5 or x.shape[1] != channels:
        raise ValueError(f"{who} expects (B, C={channels}, T, H, W); got {tuple(x.shape)}")


def frame_conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Module:
    """The 3x3 conv of a ResNet bottleneck on every frame: Conv3d with kernel (1, 3, 3), no bias."""
    return nn.Conv3d(in_channels, out_channels, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False)


class BatchNormReLU3d(nn.BatchNorm3d):
    """``relu(BatchNorm3d(x))`` with BatchNorm3d's parameter names (so ImageNet ``bn2`` weights load)."""

    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (B, C, T, H, W) -> (B, C, T, H, W)."""
        return F.relu(super().forward(x))


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1, 3x3, 1x1; stride on the 3x3 and on the projection shortcut), per frame.

    Args:
        in_channels: input channels; the block outputs ``4 * mid_channels``.
        mid_channels: width of the 3x3 conv.
        stride: spatial stride (time is never strided).
        spatial_conv: factory ``(mid, mid, stride) -> module`` of the 3x3 conv.
        spatial_norm: factory ``(mid) -> module`` of the norm **and** activation after it.
    """

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        stride: int = 1,
        spatial_conv: SpatialConvFactory = frame_conv3x3,
        spatial_norm: SpatialNormFactory = BatchNormReLU3d,
    ) -> None:
        super().__init__()
        cin, mid, cout = in_channels, mid_channels, EXPANSION * mid_channels
        self.in_channels, self.out_channels = cin, cout
        self.conv1 = nn.Conv3d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(mid)
        self.conv2 = spatial_conv(mid, mid, stride)
        self.bn2 = spatial_norm(mid)
        self.conv3 = nn.Conv3d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(
                nn.Conv3d(cin, cout, 1, (1, stride, stride), bias=False), nn.BatchNorm3d(cout)
            )

    def forward(self, x: Tensor) -> Tensor:
        """Residual bottleneck of He et al. (2016); per frame unless ``spatial_conv`` mixes time.

        Shapes:
            x: (B, in_channels, T, H, W) -> (B, 4 * mid_channels, T, H / stride, W / stride)
        """
        _check_video(x, self.in_channels, type(self).__name__)
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


def bottleneck_block(
    in_channels: int, mid_channels: int, stride: int, *, stage: int, index: int, **options
) -> nn.Module:
    """Default block factory: a plain :class:`Bottleneck` wherever it sits (``options`` go to it)."""
    return Bottleneck(in_channels, mid_channels, stride, **options)


class TSNResNet(nn.Module):
    """Bottleneck ResNet over clips, every layer per frame (table A1's R2D); see the module docstring.

    Args:
        num_classes, in_channels: head size and input channels.
        layers: blocks per stage res2..res5, ``(3, 4, 6, 3)`` for ResNet-50.
        width: stem channels (64 in ResNet-50).
        maxpool: torchvision's ImageNet layout (max-pool, res2 stride 1) instead of table A1's.
        dropout: probability before the linear head.
        block: block factory ``block(in_channels, mid_channels, stride, *, stage, index)``.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        layers: Sequence[int] = (3, 4, 6, 3),
        width: int = 64,
        maxpool: bool = False,
        dropout: float = 0.5,
        block: BlockFactory = bottleneck_block,
    ) -> None:
        super().__init__()
        if len(layers) != 4 or not all(isinstance(n, int) and n >= 1 for n in layers):
            raise ValueError(f"layers must be 4 positive ints; got {layers!r}")
        positive_int(width, "width")
        self.in_channels, self.layers, self.width = positive_int(in_channels, "in_channels"), tuple(layers), width
        self.conv1 = nn.Conv3d(in_channels, width, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)) if maxpool else nn.Identity()
        channels = width
        for stage, count in enumerate(layers, start=1):
            mid = width * 2 ** (stage - 1)
            first_stride = 1 if (stage == 1 and maxpool) else 2
            blocks = []
            for index in range(count):
                blocks.append(block(channels, mid, first_stride if index == 0 else 1, stage=stage, index=index))
                channels = EXPANSION * mid
            setattr(self, f"layer{stage}", nn.Sequential(*blocks))
        self.feature_channels = channels
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights()

    @property
    def stages(self) -> list[nn.Sequential]:
        """``[layer1, layer2, layer3, layer4]`` (res2..res5)."""
        return [self.layer1, self.layer2, self.layer3, self.layer4]

    def _init_weights(self) -> None:
        # torchvision's ResNet init for the plain convs and BNs only: plug-in modules (TAdaConv's
        # generator with its zero last conv, the zero BN_2 of the aggregation) keep their own init.
        for module in self.modules():
            if type(module) is nn.Conv3d:
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif type(module) in (nn.BatchNorm3d, BatchNormReLU3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def features(self, x: Tensor) -> Tensor:
        """Stem and res2..res5 on every frame (table A1 of the TAdaConv paper, R2D column).

        Shapes:
            x: (B, C_in, T, H, W) -> (B, 32 * width, T, H / 32, W / 32)
        """
        check_video_input(
            x, type(self).__name__, self.in_channels, self.conv1.weight, layout=f"(B, C={self.in_channels}, T, H, W)"
        )
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for stage in self.stages:
            x = stage(x)
        return x

    def head(self, features: Tensor) -> Tensor:
        """Global (T, H, W) average, dropout, linear: the TSN average of per-frame scores.

        Shapes:
            features: (B, C, T, h, w) -> (B, num_classes)
        """
        return self.fc(self.dropout(reduce(features, "b c t h w -> b c", "mean")))

    def forward(self, x: Tensor) -> Tensor:
        """Class scores of a clip.

        Shapes:
            x: (B, C_in, T, H, W) -> (B, num_classes)
        """
        return self.head(self.features(x))


def _target_key(key: str, ours: dict[str, Tensor]) -> str | None:
    """Our name for a torchvision key; plug-ins may nest the 3x3 conv or its BN one level deeper."""
    for candidate in (key, key.replace(".conv2.", ".conv2.conv."), key.replace(".bn2.", ".bn2.bn.")):
        if candidate in ours:
            return candidate
    return None


def load_imagenet_resnet50(model: TSNResNet, state_dict: dict[str, Tensor] | None = None) -> list[str]:
    """Copy a torchvision ResNet-50 ``state_dict`` into ``model``; returns our keys left untouched.

    ``state_dict=None`` downloads torchvision's ImageNet weights (``IMAGENET1K_V1``). A stem with one
    input channel gets the sum of the RGB kernels (a grey frame is R = G = B); the classifier is
    copied only when its shape matches. Keys of layers a model replaced must be dropped by the caller.
    New modules (TAdaConv generators, the aggregation's BN_2) keep their initialisation.
    """
    if state_dict is None:
        import torchvision

        state_dict = torchvision.models.resnet50(weights="IMAGENET1K_V1").state_dict()
    ours = model.state_dict()
    loaded = {}
    for key, value in state_dict.items():
        target = _target_key(key, ours)
        if target is None:
            raise ValueError(
                f"torchvision key {key!r} has no counterpart in {type(model).__name__}; "
                "drop the keys of replaced layers first"
            )
        if key == "conv1.weight" and value.shape[1] != ours[target].shape[1]:
            if ours[target].shape[1] != 1:
                raise ValueError(f"stem weights need 3 or 1 input channels; model has {ours[target].shape[1]}")
            value = reduce(value, "o c h w -> o 1 h w", "sum")
        if value.dim() + 1 == ours[target].dim():  # 2D kernel -> (1, k, k) Conv3d kernel
            value = rearrange(value, "o i h w -> o i 1 h w")
        if value.shape != ours[target].shape:
            if key.startswith("fc."):
                continue
            raise ValueError(f"{key}: torchvision shape {tuple(value.shape)} vs ours {tuple(ours[target].shape)}")
        loaded[target] = value
    model.load_state_dict(loaded, strict=False)
    return sorted(set(ours) - set(loaded))


def _build(
    num_classes: int, in_channels: int, layers: Sequence[int], width: int, pretrained: bool, **options
) -> TSNResNet:
    model = TSNResNet(num_classes, in_channels, layers=tuple(layers), width=width, **options)
    if pretrained:
        if width != 64 or tuple(layers) != (3, 4, 6, 3):
            raise ValueError(f"pretrained weights need width=64, layers=(3, 4, 6, 3); got {width}, {layers}")
        load_imagenet_resnet50(model)
    return model


@register("tsn50_2d")
def tsn50_2d(
    num_classes: int,
    in_channels: int = 3,
    *,
    layers: Sequence[int] = (3, 4, 6, 3),
    width: int = 64,
    pretrained: bool = False,
    **options,
) -> TSNResNet:
    """TSN ResNet-50, the R2D baseline of table A1 of the TAdaConv paper (options: module docstring)."""
    return _build(num_classes, in_channels, layers, width, pretrained, **options)


@register("tsn50_2d_small")
def tsn50_2d_small(
    num_classes: int,
    in_channels: int = 1,
    *,
    layers: Sequence[int] = (1, 1, 1, 1),
    width: int = 16,
    pretrained: bool = False,
    **options,
) -> TSNResNet:
    """A narrow, shallow TSN ResNet for Video-MNIST on a CPU (same layout as ``tsn50_2d``)."""
    return _build(num_classes, in_channels, layers, width, pretrained, **options)
