r"""The 2x3 affine matrix of 3TConv and Video-MNIST, and warping images with it.

One parameterisation serves the whole book: four numbers $(s, r, t_x, t_y)$ (scale, rotation in
radians, translation in the normalised coordinates of :func:`torch.nn.functional.affine_grid`).
Video-MNIST draws its frames with it and the 3TConv layer transforms its kernel slices with it, so
a trained 3TConv layer's parameters can be compared with the ones that generated the data.

Deriving the matrix
-------------------
``affine_grid`` describes a *sampling map*: for every output location $p = (x, y)$ (normalised,
$-1$ = left/top edge, $+1$ = right/bottom edge) it says where in the input to read. 3TConv builds
that map from three simple steps, applied to $p$ right to left:

$$
p \;\mapsto\; s\,R(r)\,(p + t), \qquad
R(r) = \begin{pmatrix}\cos r & -\sin r\\ \sin r & \cos r\end{pmatrix},\quad
t = \begin{pmatrix}t_x\\ t_y\end{pmatrix}.
$$

First translate by $t$, then rotate by $r$, then scale by $s$. Multiplying out,
$s R(r)(p + t) = s R(r)\,p + s R(r)\,t$: the left 2x2 block is $sR(r)$ and the last column is
$sR(r)t$. In homogeneous coordinates (append a 1 to $p$) that is one 2x3 matrix,

$$
\Theta = \begin{pmatrix}
s\cos r & -s\sin r & s\,(t_x\cos r - t_y\sin r)\\
s\sin r & \phantom{-}s\cos r & s\,(t_x\sin r + t_y\cos r)
\end{pmatrix}.
$$

$s = 1, r = t_x = t_y = 0$ gives the identity $[I \mid 0]$.

Which way does the picture move?
--------------------------------
Because $\Theta$ maps *output* positions to *input* positions, what you see on screen is the
**inverse** motion. The input point $q$ shows up at the output point $p = R(-r)\,q / s - t$. With
image axes ($x$ to the right, $y$ **down**, as ``affine_grid`` and every image viewer use):

* $t_x > 0$ moves the content **left**, $t_y > 0$ moves it **up** (by $t$ in normalised units);
* $s > 1$ makes the content **smaller** (the output reads a larger input area), $s < 1$ larger;
* $r > 0$ turns the content **counter-clockwise** on screen. ($R(r)$ itself turns $x$ towards $y$,
  which is clockwise when $y$ points down; the output shows the inverse, so counter-clockwise.)
  This matches the 3TConv paper: "a positive value of r indicates a counter-clockwise rotation".

Units
-----
In normalised coordinates a distance of 1 is **half** the image; how many pixels that is depends
on ``align_corners`` (see :func:`pixels_to_normalised`). So $t_x$ pixels are $t_x W / 2$
(``align_corners=False``) or $t_x (W - 1) / 2$ (``True``, what 3TConv uses), not $t_x W$ as the
3TConv paper's section 3.2 says. The rotation acts on normalised coordinates, so it is a true
rotation only for square images (Video-MNIST and 3TConv kernels are square).

:func:`warp` applies one matrix per image; :func:`warp_frames` applies T matrices per image in one
call, which is how Video-MNIST draws all frames of a batch of clips at once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

__all__ = ["affine_matrix", "pixels_to_normalised", "normalised_to_pixels", "warp", "warp_frames"]


def _as_tensor(value: Tensor | float, like: Tensor | None = None) -> Tensor:
    if isinstance(value, Tensor):
        return value
    dtype = like.dtype if like is not None else torch.get_default_dtype()
    device = like.device if like is not None else None
    return torch.as_tensor(value, dtype=dtype, device=device)


def affine_matrix(
    scale: Tensor | float,
    rotation: Tensor | float,
    tx: Tensor | float,
    ty: Tensor | float,
) -> Tensor:
    r"""Build $\Theta = s R(r) [I \mid t]$ for ``affine_grid`` (see the module docstring).

    Args:
        scale: $s$ (1 = no scaling; > 1 shows the content smaller).
        rotation: $r$ in radians (> 0 turns the content counter-clockwise on screen).
        tx, ty: translation in normalised coordinates (> 0 moves the content left / up).

    The four arguments broadcast against each other (tensors or Python floats), and the result is
    differentiable in all of them, which is what lets 3TConv learn them.

    Shapes:
        each argument: (...) broadcastable; returns (..., 2, 3).
    """
    ref = next((v for v in (scale, rotation, tx, ty) if isinstance(v, Tensor)), None)
    s, r, x, y = torch.broadcast_tensors(*(_as_tensor(v, ref) for v in (scale, rotation, tx, ty)))
    if not torch.is_floating_point(s):
        raise ValueError(f"affine_matrix expects floating-point parameters; got dtype {s.dtype}")
    cos, sin = torch.cos(r), torch.sin(r)
    row_x = torch.stack([s * cos, -s * sin, s * (x * cos - y * sin)], dim=-1)
    row_y = torch.stack([s * sin, s * cos, s * (x * sin + y * cos)], dim=-1)
    return torch.stack([row_x, row_y], dim=-2)


def _pixels_per_unit(size: int, align_corners: bool) -> float:
    if int(size) != size or size < 1 or (align_corners and size < 2):
        raise ValueError(
            f"size must be an integer >= {2 if align_corners else 1} (the image length along this axis); got {size!r}"
        )
    # align_corners=True: -1 and +1 are the centres of the first and last pixels (size - 1 steps);
    # align_corners=False: they are the outer edges of those pixels (size steps).
    return (size - 1) / 2 if align_corners else size / 2


def pixels_to_normalised(t_px: Tensor | float, size: int, align_corners: bool) -> Tensor | float:
    """Convert a displacement in pixels along one axis of length ``size`` to normalised units.

    With ``align_corners=False`` one pixel is ``2 / size``; with ``True`` it is ``2 / (size - 1)``.
    Use the image width for $t_x$ and the height for $t_y$.
    """
    return t_px / _pixels_per_unit(size, align_corners)


def normalised_to_pixels(t_norm: Tensor | float, size: int, align_corners: bool) -> Tensor | float:
    """Inverse of :func:`pixels_to_normalised`."""
    return t_norm * _pixels_per_unit(size, align_corners)


def warp(
    images: Tensor,
    theta: Tensor,
    align_corners: bool = False,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
) -> Tensor:
    r"""Resample ``images`` with the sampling maps ``theta`` (bilinear, zeros outside by default).

    ``output[n]`` at normalised position $p$ equals ``images[n]`` at $\Theta_n [p; 1]$: see the
    module docstring for what that means on screen.

    Shapes:
        images: (N, C, H, W); theta: (N, 2, 3) -> (N, C, H, W).
    """
    if images.dim() != 4:
        raise ValueError(f"warp expects images of shape (N, C, H, W); got {tuple(images.shape)}")
    if theta.dim() != 3 or theta.shape[1:] != (2, 3) or theta.shape[0] != images.shape[0]:
        raise ValueError(
            f"warp expects theta of shape ({images.shape[0]}, 2, 3) to match images "
            f"{tuple(images.shape)}; got {tuple(theta.shape)}"
        )
    if not torch.is_floating_point(images):
        raise ValueError(f"warp expects floating-point images; got dtype {images.dtype}")
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=align_corners)
    return F.grid_sample(images, grid, mode=mode, padding_mode=padding_mode, align_corners=align_corners)


def warp_frames(
    images: Tensor,
    thetas: Tensor,
    out_size: tuple[int, int] | None = None,
    align_corners: bool = False,
) -> Tensor:
    r"""Warp each image with T sampling maps at once: a video from one still image.

    ``out[n, :, t]`` equals ``warp(images[n], thetas[n, t])`` (resampled to ``out_size``), but all
    frames come from a single ``affine_grid`` and a single ``grid_sample`` call, and the image is not
    copied T times: the T grids are stacked along the height axis of one tall grid per image.

    Shapes:
        images: (N, C, H, W); thetas: (N, T, 2, 3) -> (N, C, T, H_out, W_out)
        (``out_size = (H_out, W_out)``, default (H, W)).
    """
    if images.dim() != 4:
        raise ValueError(f"warp_frames expects images of shape (N, C, H, W); got {tuple(images.shape)}")
    if thetas.dim() != 4 or thetas.shape[2:] != (2, 3) or thetas.shape[0] != images.shape[0]:
        raise ValueError(
            f"warp_frames expects thetas of shape ({images.shape[0]}, T, 2, 3) to match images "
            f"{tuple(images.shape)}; got {tuple(thetas.shape)}"
        )
    if not torch.is_floating_point(images):
        raise ValueError(f"warp_frames expects floating-point images; got dtype {images.dtype}")
    n, c, t = images.shape[0], images.shape[1], thetas.shape[1]
    h_out, w_out = out_size if out_size is not None else images.shape[-2:]
    flat = rearrange(thetas.to(images.dtype), "n t i j -> (n t) i j")
    grid = F.affine_grid(flat, [n * t, c, h_out, w_out], align_corners=align_corners)
    tall = rearrange(grid, "(n t) h w xy -> n (t h) w xy", n=n)
    video = F.grid_sample(images, tall, mode="bilinear", padding_mode="zeros", align_corners=align_corners)
    return rearrange(video, "n c (t h) w -> n c t h w", t=t)
