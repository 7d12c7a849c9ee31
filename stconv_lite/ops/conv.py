r"""2D and 3D convolution from first principles: pad, gather every window, contract with einsum.

Eq. (1) of the 3TConv paper writes one output of a 2D convolution as a sum over the kernel taps,

$$y_{o}(i, j) = b_o + \sum_{c} \sum_{p=0}^{k_h-1} \sum_{q=0}^{k_w-1}
      W_{o,c,p,q}\; x_c(s_h i + d_h p - p_h,\; s_w j + d_w q - p_w),$$

and eq. (2) adds a third sum over the time taps $r$ of a $k_t \times k_h \times k_w$ kernel:

$$y_{o}(t, i, j) = b_o + \sum_{c} \sum_{r,p,q}
      W_{o,c,r,p,q}\; x_c(s_t t + d_t r - p_t,\; s_h i + d_h p - p_h,\; s_w j + d_w q - p_w).$$

(Deep-learning "convolution" is cross-correlation: the kernel is not flipped.) Here $s$ is the
stride, $d$ the dilation and $p$ the zero padding. With ``groups`` $= g$ the channels are cut into
$g$ independent slices: output group $k$ only sums over input group $k$.

The implementation follows the formula literally. :meth:`torch.Tensor.unfold` turns each spatial
(and temporal) axis into (window position, tap) pairs, so the patch tensor holds, for every output
position, every input value that eq. (1)/(2) reads; a single ``einsum`` then does the triple (or
quadruple) sum. It is a teaching reference, not a fast path: the patch tensor is $k_t k_h k_w$
times larger than the input.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

__all__ = ["conv2d_reference", "conv3d_reference"]


def _tuple(value: int | tuple[int, ...], size: int, name: str) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * size
    if len(value) != size or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{name} must be an int or a tuple of {size} ints; got {value!r}")
    return tuple(value)


def _windows(x: Tensor, axis: int, kernel: int, stride: int, dilation: int) -> Tensor:
    """Turn ``axis`` into output positions and append a new last axis of the ``kernel`` taps.

    A dilated window of ``kernel`` taps spans ``dilation * (kernel - 1) + 1`` inputs; unfolding
    with that span and keeping every ``dilation``-th element gives exactly the taps of eq. (1).
    """
    span = dilation * (kernel - 1) + 1
    if x.shape[axis] < span:
        raise ValueError(f"padded input has {x.shape[axis]} positions on an axis whose dilated kernel spans {span}")
    return x.unfold(axis, span, stride)[..., ::dilation]


def _check_groups(x_channels: int, weight: Tensor, groups: int) -> None:
    if not isinstance(groups, int) or groups < 1:
        raise ValueError(f"groups must be a positive int; got {groups!r}")
    out_channels, in_per_group = weight.shape[:2]
    if x_channels != in_per_group * groups or out_channels % groups:
        raise ValueError(
            f"weight {tuple(weight.shape)} with groups={groups} expects {in_per_group * groups} input "
            f"channels and out_channels divisible by {groups}; got {x_channels} input channels"
        )


def conv2d_reference(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2D convolution (cross-correlation) by pad + unfold + einsum: eq. (1) of the 3TConv paper.

    Same arguments and result as :func:`torch.nn.functional.conv2d` (zero padding).

    Shapes:
        x: (B, C, H, W); weight: (O, C / groups, kh, kw); bias: (O,)
        -> (B, O, H', W') with H' = floor((H + 2 p_h - d_h (kh - 1) - 1) / s_h) + 1 (same for W)
    """
    if x.dim() != 4 or weight.dim() != 4:
        raise ValueError(
            f"conv2d_reference expects x (B, C, H, W) and weight (O, I, kh, kw); "
            f"got {tuple(x.shape)} and {tuple(weight.shape)}"
        )
    (sh, sw), (ph, pw), (dh, dw) = (
        _tuple(v, 2, n) for v, n in ((stride, "stride"), (padding, "padding"), (dilation, "dilation"))
    )
    _check_groups(x.shape[1], weight, groups)
    kh, kw = weight.shape[2:]
    padded = F.pad(x, (pw, pw, ph, ph))
    patches = _windows(_windows(padded, 2, kh, sh, dh), 3, kw, sw, dw)  # b c h w p q
    patches = rearrange(patches, "b (g c) h w p q -> b g c h w p q", g=groups)
    kernels = rearrange(weight, "(g o) c p q -> g o c p q", g=groups)
    out = torch.einsum("bgchwpq,gocpq->bgohw", patches, kernels)
    out = rearrange(out, "b g o h w -> b (g o) h w")
    if bias is not None:
        out = out + rearrange(bias, "o -> 1 o 1 1")
    return out


def conv3d_reference(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int, int] = 1,
    padding: int | tuple[int, int, int] = 0,
    dilation: int | tuple[int, int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """3D convolution by pad + unfold + einsum: eq. (2) of the 3TConv paper.

    Same arguments and result as :func:`torch.nn.functional.conv3d` (zero padding).

    Shapes:
        x: (B, C, T, H, W); weight: (O, C / groups, kt, kh, kw); bias: (O,)
        -> (B, O, T', H', W'), each axis as in :func:`conv2d_reference`
    """
    if x.dim() != 5 or weight.dim() != 5:
        raise ValueError(
            f"conv3d_reference expects x (B, C, T, H, W) and weight (O, I, kt, kh, kw); "
            f"got {tuple(x.shape)} and {tuple(weight.shape)}"
        )
    (st, sh, sw), (pt, ph, pw), (dt, dh, dw) = (
        _tuple(v, 3, n) for v, n in ((stride, "stride"), (padding, "padding"), (dilation, "dilation"))
    )
    _check_groups(x.shape[1], weight, groups)
    kt, kh, kw = weight.shape[2:]
    padded = F.pad(x, (pw, pw, ph, ph, pt, pt))
    patches = _windows(padded, 2, kt, st, dt)
    patches = _windows(patches, 3, kh, sh, dh)
    patches = _windows(patches, 4, kw, sw, dw)  # b c t h w r p q
    patches = rearrange(patches, "b (g c) t h w r p q -> b g c t h w r p q", g=groups)
    kernels = rearrange(weight, "(g o) c r p q -> g o c r p q", g=groups)
    out = torch.einsum("bgcthwrpq,gocrpq->bgothw", patches, kernels)
    out = rearrange(out, "b g o t h w -> b (g o) t h w")
    if bias is not None:
        out = out + rearrange(bias, "o -> 1 o 1 1 1")
    return out
