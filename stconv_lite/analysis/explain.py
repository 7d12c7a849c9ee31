"""Explaining a trained video model: saliency, activation maximisation, Grad-CAM over time.

Three classic tools, written once for clips ``(C, T, H, W)`` so every chapter uses the same ones:

- :func:`saliency`: :math:`|\\partial s / \\partial x|`, how much each input pixel of each frame
  moves the score ``s`` (Simonyan et al. 2014).
- :func:`activation_maximisation`: gradient ascent on the input from a starting clip, with an L2
  penalty and the pixels kept in [0, 1], to show what raises a score (Erhan et al. 2009).
- :func:`gradcam_over_time`: Grad-CAM (Selvaraju et al. 2017) at a 3D feature layer, kept per
  frame: the channel weights are the gradients averaged over (T, H, W), and the map is the ReLU
  of the weighted channel sum at every (t, h, w), upsampled to the clip's frames.

All three put the model in eval mode and leave its parameters untouched.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import reduce
from torch import Tensor

__all__ = ["saliency", "activation_maximisation", "gradcam_over_time"]

Score = Callable[[Tensor], Tensor]  # model output (1, classes) -> scalar


def _check_clip(clip: Tensor, name: str) -> None:
    if clip.dim() != 4 or not torch.is_floating_point(clip):
        raise ValueError(f"{name} expects one floating-point clip (C, T, H, W); got {tuple(clip.shape)} {clip.dtype}")


def saliency(model: nn.Module, clip: Tensor, score: Score) -> Tensor:
    """|d score / d input| of one clip, summed over channels.

    ``score`` maps the model's output ``(1, classes)`` to a scalar, e.g. ``lambda out: out[0, k]``. It
    may also ignore the output and return what a forward hook kept during that forward pass (the
    response of one channel of a layer, as chapter 3 does).
    Shapes: clip (C, T, H, W) -> (T, H, W), non-negative.
    """
    _check_clip(clip, "saliency")
    x = clip[None].detach().clone().requires_grad_(True)
    score(model.eval()(x)).backward()
    return reduce(x.grad[0].abs(), "c t h w -> t h w", "sum")


def activation_maximisation(
    score_fn: Callable[[Tensor], Tensor], start: Tensor, steps: int, lr: float = 0.02, l2: float = 1e-3
) -> Tensor:
    """A clip near ``start`` that raises ``score_fn``: Adam ascent, L2 penalty, pixels clamped to [0, 1].

    ``score_fn`` takes a batch ``(1, C, T, H, W)`` and returns a scalar. Shapes: start (C, T, H, W) ->
    (C, T, H, W).
    """
    _check_clip(start, "activation_maximisation")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative int; got {steps!r}")
    x = start[None].detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        loss = -score_fn(x) + l2 * x.square().sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()[0]


def gradcam_over_time(
    model: nn.Module, clip: Tensor, layer: nn.Module, target: int | None = None
) -> tuple[Tensor, int]:
    """Grad-CAM of ``target`` (default: the predicted class) at ``layer``, one map per frame.

    ``layer`` must output ``(1, C', T', H', W')``; the map is upsampled (trilinearly) to the clip's
    (T, H, W). A layer that keeps the frames (T' = T, e.g. a stage of a 2D network run per frame) gives
    each frame its own map, upsampled in space only (the channel weights still average the gradient
    over all frames).
    Returns the map scaled to [0, 1] (all zeros when no location raises the score) and the class.
    Shapes: clip (C, T, H, W) -> map (T, H, W).
    """
    _check_clip(clip, "gradcam_over_time")
    store: dict[str, Tensor] = {}
    handle = layer.register_forward_hook(lambda module, inputs, output: store.__setitem__("a", output))
    try:
        logits = model.eval()(clip[None])
    finally:
        handle.remove()
    if "a" not in store or store["a"].dim() != 5:
        raise ValueError("gradcam_over_time needs a layer that the model runs and that outputs (1, C, T, H, W)")
    chosen = int(logits.argmax(1)) if target is None else int(target)
    activation = store["a"]
    gradient = torch.autograd.grad(logits[0, chosen], activation)[0]
    weights = reduce(gradient, "1 c t h w -> c 1 1 1", "mean")
    cam = F.relu((weights * activation[0]).sum(0)).detach()  # (T', H', W')
    cam = F.interpolate(cam[None, None], size=tuple(clip.shape[1:]), mode="trilinear", align_corners=False)[0, 0]
    return cam / cam.max().clamp_min(1e-8), chosen
