r"""Inflating a 2D kernel into a 3D one (I3D, Carreira & Zisserman).

A 2D kernel $W \in \mathbb{R}^{O \times I \times k_h \times k_w}$ becomes a 3D kernel
$W' \in \mathbb{R}^{O \times I \times d \times k_h \times k_w}$ such that a *static* clip (the same
frame repeated over time) gives, wherever the temporal window lies inside the clip, exactly the 2D
response of that frame. Two ways to get there:

* ``"mean"`` (I3D's "bootstrapping"): $W'_{:,:,\tau} = W / d$ for every $\tau$. The $d$ equal frames
  are summed, so dividing by $d$ restores the 2D response. All time taps start equal, so learning
  decides how the filter changes over time.
* ``"centre"``: $W'_{:,:,\lfloor d/2 \rfloor} = W$ and zeros elsewhere. The 3D conv starts as a
  frame-by-frame 2D conv; motion sensitivity has to be learned from zero.

Both are linear in $W$, so the property holds for any static clip, not only one we tested.
"""

from __future__ import annotations

from typing import Literal

import torch
from einops import repeat
from torch import Tensor

__all__ = ["inflate_2d_to_3d", "InflateMode"]

InflateMode = Literal["mean", "centre"]


def inflate_2d_to_3d(weight2d: Tensor, depth: int, mode: InflateMode = "mean") -> Tensor:
    """A 3D kernel whose response to a static clip equals the 2D kernel's response to one frame.

    Args:
        weight2d: a ``Conv2d`` weight.
        depth: temporal extent ``d`` of the new kernel (>= 1).
        mode: ``"mean"`` (repeat over time, divide by ``d``) or ``"centre"`` (the 2D kernel at the
            centre slice ``d // 2``, zeros elsewhere).

    Shapes:
        weight2d: (O, I, kh, kw) -> (O, I, d, kh, kw)
    """
    if not isinstance(weight2d, Tensor) or weight2d.dim() != 4:
        shape = tuple(weight2d.shape) if isinstance(weight2d, Tensor) else type(weight2d).__name__
        raise ValueError(f"inflate_2d_to_3d expects a 2D conv weight (O, I, kh, kw); got {shape}")
    if not isinstance(depth, int) or depth < 1:
        raise ValueError(f"inflate_2d_to_3d expects depth >= 1 (an int); got {depth!r}")
    if mode == "mean":
        return repeat(weight2d, "o i h w -> o i t h w", t=depth) / depth
    if mode == "centre":
        weight3d = torch.zeros(
            *weight2d.shape[:2], depth, *weight2d.shape[2:], dtype=weight2d.dtype, device=weight2d.device
        )
        weight3d[:, :, depth // 2] = weight2d
        return weight3d
    raise ValueError(f"inflate_2d_to_3d mode must be 'mean' or 'centre'; got {mode!r}")
