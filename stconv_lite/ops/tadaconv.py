r"""TAdaConv: a 2D convolution whose kernel is re-calibrated for every frame (Huang et al., ICLR 2022).

A spatial convolution shares one kernel over all frames. TAdaConv factorises the kernel of frame
$t$ into a shared base weight and a per-frame, per-channel calibration (eq. (3) of the TAdaConv paper):

$$\tilde{\mathbf{x}}_t = (\alpha_t \cdot \mathbf{W}_b) * \mathbf{x}_t .$$

With calibration over the input channels ($\alpha_t \in \mathbb{R}^{C_{in}}$, the paper's default),
$(\alpha_t \cdot \mathbf{W}_b) * \mathbf{x}_t = \mathbf{W}_b * (\alpha_t \cdot \mathbf{x}_t)$: scaling a
kernel's input-channel slices is the same as scaling the input channels. Over the output channels,
$(\alpha_t \cdot \mathbf{W}_b) * \mathbf{x}_t = \alpha_t \cdot (\mathbf{W}_b * \mathbf{x}_t)$. So the
layer never needs to materialise $B \cdot T$ kernels: :class:`TAdaConv2d` runs **one** ordinary conv
over all frames ``(b t)`` and multiplies by $\alpha$ before (``cin``) or after (``cout``) it. The
authors build the $B \cdot T$ kernels and run one grouped conv instead (:func:`tadaconv2d_grouped`);
:func:`tadaconv2d_per_frame` is the literal, slow loop over frames. The three agree (tests).

Bias is not calibrated. Depthwise / grouped convs work with both ``cin`` and ``cout`` here (the
authors' grouped trick supports depthwise only with ``cout``).

State-dict names, ours <- authors' ``TAdaConv2d``: ``weight (C_out, C_in/g, k, k)`` <-
``weight (1, 1, C_out, C_in/g, k, k)``; ``bias (C_out)`` <- ``bias (1, 1, C_out)``. Our weight has
``nn.Conv2d``'s layout, so ImageNet 2D weights load unchanged.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor

from stconv_lite.ops.arguments import check_video_input
from stconv_lite.ops.calibration import CalibrationGenerator

__all__ = [
    "TAdaConv2d",
    "TAdaConvWithGenerator",
    "tadaconv2d_per_frame",
    "tadaconv2d_grouped",
]

Pair = int | tuple[int, int]


def _pair(value: Pair, name: str) -> tuple[int, int]:
    if isinstance(value, int):
        return (value, value)
    if len(value) != 2 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{name} must be an int or an (h, w) pair of ints; got {value!r}")
    return tuple(value)  # type: ignore[return-value]


def _check_video(x: Tensor, channels: int, who: str, weight: Tensor | None = None) -> None:
    if isinstance(x, Tensor) and x.dim() != 5:
        raise ValueError(f"{who} expects (B, C, T, H, W); got {tuple(x.shape)}")
    if isinstance(x, Tensor) and x.shape[1] != channels:
        raise ValueError(f"{who} expects {channels} input channels in (B, C, T, H, W); got {tuple(x.shape)}")
    check_video_input(x, who, channels, weight)  # dtype: floating point, and that of the weights


def _alpha_btc(alpha: Tensor, x: Tensor, channels: int, who: str) -> Tensor:
    """Accept alpha as (B, C, T) or the authors' (B, C, T, 1, 1); return (B, C, T)."""
    if alpha.dim() == 5 and alpha.shape[-2:] == (1, 1):
        alpha = rearrange(alpha, "b c t 1 1 -> b c t")
    expected = (x.shape[0], channels, x.shape[2])
    if alpha.dim() != 3 or tuple(alpha.shape) != expected:
        raise ValueError(f"{who} expects alpha of shape (B, C, T) = {expected}; got {tuple(alpha.shape)}")
    return alpha


class TAdaConv2d(nn.Module):
    r"""Temporally adaptive 2D convolution, $\tilde{\mathbf{x}}_t = (\alpha_t \cdot \mathbf{W}_b) * \mathbf{x}_t$.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias: as
            ``nn.Conv2d`` (spatial only; time is never mixed by the convolution itself).
        cal_dim: ``"cin"`` ($\alpha$ has ``in_channels`` entries per frame) or ``"cout"``
            (``out_channels`` entries). Depthwise: ``groups = in_channels = out_channels``, either.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Pair = 3,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        groups: int = 1,
        bias: bool = True,
        cal_dim: str = "cin",
    ) -> None:
        super().__init__()
        if cal_dim not in ("cin", "cout"):
            raise ValueError(f"cal_dim must be 'cin' or 'cout'; got {cal_dim!r}")
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must be divisible by groups ({groups})"
            )
        self.in_channels, self.out_channels, self.groups, self.cal_dim = in_channels, out_channels, groups, cal_dim
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.stride, self.padding = _pair(stride, "stride"), _pair(padding, "padding")
        self.dilation = _pair(dilation, "dilation")
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def alpha_channels(self) -> int:
        """How many calibration factors per frame this layer expects."""
        return self.in_channels if self.cal_dim == "cin" else self.out_channels

    def reset_parameters(self) -> None:
        # nn.Conv2d's default. (The authors' 6-D weight gets a fan-in sqrt(C_out) times too large
        # from PyTorch's init, hence sqrt(C_out) times smaller weights; harmless with ImageNet weights,
        # not for training from scratch.)
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight[0].numel()
            nn.init.uniform_(self.bias, -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def _conv_frames(self, x: Tensor, bias: Tensor | None) -> Tensor:
        frames = rearrange(x, "b c t h w -> (b t) c h w")
        out = F.conv2d(frames, self.weight, bias, self.stride, self.padding, self.dilation, self.groups)
        return rearrange(out, "(b t) c h w -> b c t h w", b=x.shape[0])

    def forward(self, x: Tensor, alpha: Tensor | None = None) -> Tensor:
        r"""Per-frame calibrated convolution (eq. (3) of the TAdaConv paper), one batched conv call.

        Shapes:
            x: (B, C_in, T, H, W)
            alpha: (B, C_alpha, T) or (B, C_alpha, T, 1, 1), C_alpha = ``alpha_channels``;
                ``None`` means $\alpha \equiv 1$ (the plain 2D conv on every frame).
            returns: (B, C_out, T, H', W')
        """
        _check_video(x, self.in_channels, "TAdaConv2d", self.weight)
        if alpha is None:
            return self._conv_frames(x, self.bias)
        alpha = _alpha_btc(alpha, x, self.alpha_channels, "TAdaConv2d")
        per_frame = rearrange(alpha, "b c t -> b c t 1 1")
        if self.cal_dim == "cin":
            return self._conv_frames(x * per_frame, self.bias)
        out = self._conv_frames(x, None) * per_frame
        return out if self.bias is None else out + rearrange(self.bias, "c -> c 1 1 1")

    def calibrated_weights(self, alpha: Tensor) -> Tensor:
        r"""The $B \cdot T$ kernels $\mathbf{W}_{b,t} = \alpha_{b,t} \cdot \mathbf{W}_b$.

        Shapes:
            alpha: (B, C_alpha, T); returns (B, T, C_out, C_in/g, k, k).
        """
        if alpha.dim() == 5:
            alpha = rearrange(alpha, "b c t 1 1 -> b c t")
        if alpha.dim() != 3 or alpha.shape[1] != self.alpha_channels:
            raise ValueError(
                f"calibrated_weights expects alpha (B, {self.alpha_channels}, T); got {tuple(alpha.shape)}"
            )
        if self.cal_dim == "cout":
            return torch.einsum("bot,oikl->btoikl", alpha, self.weight)
        # Input channel of weight[o, j] is j + (group of o) * C_in/g: lay alpha out the same way.
        per_group = rearrange(alpha, "b (g j) t -> b t g j", g=self.groups)
        weight = rearrange(self.weight, "(g o) j k l -> g o j k l", g=self.groups)
        return rearrange(torch.einsum("btgj,gojkl->btgojkl", per_group, weight), "b t g o j k l -> b t (g o) j k l")

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, groups={self.groups}, bias={self.bias is not None}, cal_dim={self.cal_dim!r}"
        )


def tadaconv2d_grouped(conv: TAdaConv2d, x: Tensor, alpha: Tensor) -> Tensor:
    """The authors' formulation: build all B*T kernels, run one conv with ``groups * B * T`` groups.

    Shapes:
        x: (B, C_in, T, H, W); alpha: (B, C_alpha, T); returns (B, C_out, T, H', W').
    """
    _check_video(x, conv.in_channels, "tadaconv2d_grouped")
    alpha = _alpha_btc(alpha, x, conv.alpha_channels, "tadaconv2d_grouped")
    batch, frames = x.shape[0], x.shape[2]
    kernels = rearrange(conv.calibrated_weights(alpha), "b t o j k l -> (b t o) j k l")
    one_image = rearrange(x, "b c t h w -> 1 (b t c) h w")
    bias = None if conv.bias is None else repeat(conv.bias, "o -> (n o)", n=batch * frames)
    out = F.conv2d(one_image, kernels, bias, conv.stride, conv.padding, conv.dilation, conv.groups * batch * frames)
    return rearrange(out, "1 (b t c) h w -> b c t h w", b=batch, t=frames)


def tadaconv2d_per_frame(conv: TAdaConv2d, x: Tensor, alpha: Tensor) -> Tensor:
    """Eq. (3) literally: for every clip and frame, build its kernel and convolve. Slow; for tests.

    Shapes:
        x: (B, C_in, T, H, W); alpha: (B, C_alpha, T); returns (B, C_out, T, H', W').
    """
    _check_video(x, conv.in_channels, "tadaconv2d_per_frame")
    alpha = _alpha_btc(alpha, x, conv.alpha_channels, "tadaconv2d_per_frame")
    kernels = conv.calibrated_weights(alpha)
    clips = []
    for b in range(x.shape[0]):
        frames = [
            F.conv2d(x[b, :, t][None], kernels[b, t], conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups)[
                0
            ]
            for t in range(x.shape[2])
        ]
        clips.append(torch.stack(frames, dim=1))
    return torch.stack(clips)


class TAdaConvWithGenerator(nn.Module):
    """A :class:`TAdaConv2d` together with its calibration generator: ``conv(x, generator(x))``.

    This is the drop-in replacement for a spatial conv (table 2's plug-in). The generator reads the
    conv's input at full resolution (before any stride) and produces ``conv.alpha_channels`` factors.
    Keyword arguments ``reduction``, ``kernel_sizes``, ``global_context`` go to the generator.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Pair = 3,
        stride: Pair = 1,
        padding: Pair = 0,
        dilation: Pair = 1,
        groups: int = 1,
        bias: bool = True,
        cal_dim: str = "cin",
        reduction: int = 4,
        kernel_sizes: tuple[int, int] = (3, 3),
        global_context: bool = True,
    ) -> None:
        super().__init__()
        self.conv = TAdaConv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias, cal_dim)
        self.generator = CalibrationGenerator(
            in_channels, self.conv.alpha_channels, reduction, kernel_sizes, global_context
        )

    def forward(self, x: Tensor) -> Tensor:
        """Eqs. (3)-(6) of the TAdaConv paper: alpha from the input, then the calibrated conv.

        Shapes:
            x: (B, C_in, T, H, W); returns (B, C_out, T, H', W').
        """
        return self.conv(x, self.generator(x))
