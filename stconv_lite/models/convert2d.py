"""Turn a 2D image network into a video network, layer by layer (3TConv paper, appendix C.2).

Every ``k x k`` convolution with ``k > 1`` becomes a ``k x k x k`` one (the temporal depth equals the
spatial size: the paper's "unilateral" filters), either a plain 3D convolution or a 3TConv; every
``1 x 1`` convolution becomes ``1 x 1 x 1``. Strides and paddings are cubic too (the temporal value
copies the vertical one), as in the authors' ResNet-18. BatchNorm and pooling layers become their 3D
versions. Linear layers, dropout and activations are kept.

Weight transfer from the 2D network (optional, e.g. ImageNet weights on Colab):

* ``"3d"``: the 2D kernel stacked over time and divided by the depth (I3D's inflation), so a static
  clip gives exactly the 2D response away from the temporal border;
* ``"3t"``: the 2D kernel copied unchanged into the first slice with identity transforms, so a static
  clip gives ``depth`` times the 2D response (the authors found no division works better).
"""

from __future__ import annotations

import copy
from typing import Literal

import torch
import torch.nn as nn
from einops import rearrange

from stconv_lite.ops.arguments import ClipSpec, check_video_input
from stconv_lite.ops.conv3t import Conv3T

__all__ = ["convert_conv2d", "convert_module", "VideoNet", "Kind"]

Kind = Literal["3d", "3t"]


def _check_kind(kind: str) -> None:
    if kind not in ("3d", "3t"):
        raise ValueError(f"kind must be '3d' or '3t'; got {kind!r}")


def convert_conv2d(conv: nn.Conv2d, kind: Kind, copy_weights: bool = True) -> nn.Module:
    """``k x k`` -> ``k x k x k`` (3D or 3T), ``1 x 1`` -> ``1 x 1 x 1`` ``nn.Conv3d``; weights optional."""
    _check_kind(kind)
    if isinstance(conv.padding, str) or conv.padding_mode != "zeros":
        raise ValueError(f"convert_conv2d supports numeric zero padding; got {conv.padding!r}")
    kh, kw = conv.kernel_size
    if kind == "3t" and max(kh, kw) > 1:
        layer = Conv3T.from_conv2d(conv, depth=kh)
        if not copy_weights:
            layer.reset_parameters()
        return layer
    depth = kh
    layer = nn.Conv3d(
        conv.in_channels,
        conv.out_channels,
        (depth, kh, kw),
        stride=(conv.stride[0], *conv.stride),
        padding=(conv.padding[0], *conv.padding),
        dilation=(conv.dilation[0], *conv.dilation),
        groups=conv.groups,
        bias=conv.bias is not None,
    )
    if copy_weights:
        with torch.no_grad():
            if depth == 1:
                layer.weight.copy_(rearrange(conv.weight, "o i h w -> o i 1 h w"))
            else:
                from stconv_lite.ops.inflate import inflate_2d_to_3d  # the R(2+1)D chapter's op

                layer.weight.copy_(inflate_2d_to_3d(conv.weight, depth, mode="mean"))
            if conv.bias is not None:
                layer.bias.copy_(conv.bias)
    return layer


def _convert_leaf(module: nn.Module, kind: Kind, copy_weights: bool) -> nn.Module | None:
    """The 3D replacement of one 2D layer, or ``None`` when the layer works on any shape."""
    if isinstance(module, nn.Conv2d):
        return convert_conv2d(module, kind, copy_weights)
    if isinstance(module, nn.BatchNorm2d):
        bn = nn.BatchNorm3d(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
        if copy_weights:
            bn.load_state_dict(module.state_dict())
        return bn
    if isinstance(module, nn.MaxPool2d):
        return nn.MaxPool3d(
            module.kernel_size, module.stride, module.padding, module.dilation, ceil_mode=module.ceil_mode
        )
    if isinstance(module, nn.AvgPool2d):
        return nn.AvgPool3d(
            module.kernel_size, module.stride, module.padding, module.ceil_mode, module.count_include_pad
        )
    if isinstance(module, nn.AdaptiveAvgPool2d):
        size = module.output_size
        size = (size, size) if isinstance(size, int) or size is None else tuple(size)
        return nn.AdaptiveAvgPool3d((1, *size))  # the head pools time away completely
    if isinstance(module, (nn.AdaptiveMaxPool2d, nn.ConvTranspose2d)):
        raise ValueError(f"no 3D conversion rule for {type(module).__name__}")
    return None


def convert_module(model2d: nn.Module, kind: Kind, copy_weights: bool = True) -> nn.Module:
    """A deep copy of ``model2d`` with every 2D layer replaced by its 3D / 3T counterpart.

    The network's own ``forward`` is reused, so it must not call 2D-only functionals (torchvision's
    GoogLeNet auxiliary heads do: replace those before or after, see ``googlenet_3x``).
    """
    _check_kind(kind)
    model = copy.deepcopy(model2d)
    for name, child in list(model.named_children()):
        replacement = _convert_leaf(child, kind, copy_weights)
        if replacement is not None:
            setattr(model, name, replacement)
        else:
            setattr(model, name, convert_module(child, kind, copy_weights))
    return model


class VideoNet(nn.Module):
    """A converted network behind one checked entry point for video batches.

    ``clip_spec`` states the smallest clip the converted strides and poolings leave non-empty: cubic
    kernels shrink time as fast as space, so e.g. GoogLeNet needs 15 frames where a 2D network
    needs none.
    """

    def __init__(self, net: nn.Module, in_channels: int, name: str, clip_spec: ClipSpec | None = None) -> None:
        super().__init__()
        self.net = net
        self.in_channels = in_channels
        self.name = name
        self.clip_spec = clip_spec if clip_spec is not None else ClipSpec()

    def forward(self, video: torch.Tensor):
        """Classify a clip with the converted network (eq. (2) or (5) of the 3TConv paper per layer).

        Shapes:
            video: (B, C, T, H, W) -> logits (B, num_classes) (GoogLeNet in training mode with
            auxiliary heads returns torchvision's (logits, aux2, aux1) tuple).
        """
        check_video_input(video, self.name, self.in_channels, next(self.parameters(), None), self.clip_spec)
        return self.net(video)


def adapt_first_conv(conv: nn.Conv2d, in_channels: int) -> nn.Conv2d:
    """A copy of an RGB stem conv for ``in_channels`` inputs (grey: the RGB filters summed)."""
    if conv.in_channels == in_channels:
        return conv
    new = nn.Conv2d(
        in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        conv.bias is not None,
    )
    with torch.no_grad():
        summed = conv.weight.sum(dim=1, keepdim=True)  # a grey image is R = G = B
        new.weight.copy_(summed.expand_as(new.weight) / in_channels)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    return new


def replace_head(fc: nn.Linear, num_classes: int) -> nn.Linear:
    """Keep a pretrained classifier when the classes match, otherwise a fresh one."""
    if fc.out_features == num_classes:
        return fc
    return nn.Linear(fc.in_features, num_classes, bias=fc.bias is not None)
