"""Does a trained model use the order of frames? Predictions under time reversal and frame shuffling.

A model that ignores frame order (a bag of frames) gives *exactly* the same logits for a clip, its
time-reversed copy and any permutation of its frames; a model that reads motion does not. These
functions measure that on a whole loader, for any model, so a chapter can assert the first and
report the second.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
from torch import Tensor
from torch.utils.data import DataLoader

__all__ = ["reverse_time", "shuffle_frames", "prediction_agreement", "max_logit_change"]


def reverse_time(clips: Tensor) -> Tensor:
    """Frames in reverse order. Shapes: (B, C, T, H, W) -> (B, C, T, H, W)."""
    if clips.dim() != 5:
        raise ValueError(f"reverse_time expects clips (B, C, T, H, W); got shape {tuple(clips.shape)}")
    return clips.flip(2)


def shuffle_frames(clips: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Frames in one random order (the same permutation for the whole batch).

    Shapes: (B, C, T, H, W) -> (B, C, T, H, W).
    """
    if clips.dim() != 5:
        raise ValueError(f"shuffle_frames expects clips (B, C, T, H, W); got shape {tuple(clips.shape)}")
    order = torch.randperm(clips.shape[2], generator=generator or torch.Generator().manual_seed(0))
    return clips[:, :, order.to(clips.device)]


@torch.no_grad()
def _paired_logits(
    model: nn.Module, loader: DataLoader, transform: Callable[[Tensor], Tensor], device
) -> tuple[Tensor, Tensor]:
    model.to(device).eval()
    plain, changed = [], []
    for batch in loader:
        x = batch[0].to(device)
        plain.append(model(x).float().cpu())
        changed.append(model(transform(x)).float().cpu())
    if not plain:
        raise ValueError("the loader yielded no batches")
    return torch.cat(plain), torch.cat(changed)


def prediction_agreement(
    model: nn.Module, loader: DataLoader, transform: Callable[[Tensor], Tensor] = reverse_time, device="cpu"
) -> float:
    """Fraction of clips whose predicted class is unchanged by ``transform`` (eval mode)."""
    plain, changed = _paired_logits(model, loader, transform, device)
    return (plain.argmax(1) == changed.argmax(1)).float().mean().item()


def max_logit_change(
    model: nn.Module, loader: DataLoader, transform: Callable[[Tensor], Tensor] = reverse_time, device="cpu"
) -> float:
    """Largest absolute change of any logit under ``transform``: 0 (up to rounding) for an order-blind model."""
    plain, changed = _paired_logits(model, loader, transform, device)
    return (plain - changed).abs().max().item()
