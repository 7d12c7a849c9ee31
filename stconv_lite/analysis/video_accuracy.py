"""Clip accuracy, video accuracy (several clips averaged), per-class accuracy and confusion matrices.

Video papers report two numbers: *clip* accuracy (every clip judged alone) and *video* accuracy,
where the softmax scores of several clips of one video are averaged before the arg-max (Tran et al.
average 10 clips; 3TConv and the fusion paper follow similar protocols). Averaging probabilities,
not logits, keeps one over-confident clip from outvoting the rest.
"""

from __future__ import annotations

import numpy as np
import torch
from einops import rearrange, reduce

__all__ = [
    "clip_accuracy",
    "confusion_matrix",
    "evaluate_videos",
    "per_class_accuracy",
    "top_confusions",
    "video_scores",
    "video_accuracy",
]


def _check(logits: torch.Tensor, labels: torch.Tensor) -> None:
    if logits.dim() != 2 or labels.dim() != 1 or len(logits) != len(labels):
        raise ValueError(
            f"expected logits (N, classes) and labels (N,); got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    if len(labels) == 0:
        raise ValueError("no predictions to score (N = 0)")


def clip_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of clips whose arg-max is the label."""
    _check(logits, labels)
    return (logits.argmax(1) == labels).float().mean().item()


def video_scores(
    logits: torch.Tensor, labels: torch.Tensor, video_ids: torch.Tensor | np.ndarray
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Average the clip probabilities of each video: ``(scores (V, classes), labels (V,), ids (V,))``.

    Raises:
        ValueError: shapes disagree, or the clips of one video carry different labels.
    """
    _check(logits, labels)
    video_ids = torch.as_tensor(np.asarray(video_ids), dtype=torch.long)
    if video_ids.shape != labels.shape:
        raise ValueError(f"video_ids must have one id per clip {tuple(labels.shape)}; got {tuple(video_ids.shape)}")
    ids, which = torch.unique(video_ids, return_inverse=True)
    probabilities = logits.float().softmax(1)
    sums = torch.zeros(len(ids), logits.shape[1]).index_add_(0, which, probabilities)
    counts = torch.zeros(len(ids)).index_add_(0, which, torch.ones(len(which)))
    video_labels = torch.full((len(ids),), -1, dtype=torch.long).scatter_(0, which, labels.long())
    if not torch.equal(video_labels[which], labels.long()):
        raise ValueError("clips of one video have different labels: are video_ids aligned with the loader's order?")
    return sums / counts[:, None], video_labels, ids


def video_accuracy(logits: torch.Tensor, labels: torch.Tensor, video_ids: torch.Tensor | np.ndarray) -> float:
    """Fraction of videos whose averaged clip probabilities pick the right class."""
    scores, video_labels, _ = video_scores(logits, labels, video_ids)
    return (scores.argmax(1) == video_labels).float().mean().item()


def confusion_matrix(predictions: torch.Tensor, labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """``(classes, classes)`` int64 counts: row = true class, column = predicted class."""
    predictions, labels = torch.as_tensor(predictions).long(), torch.as_tensor(labels).long()
    if predictions.shape != labels.shape or predictions.dim() != 1:
        raise ValueError(
            f"predictions and labels must be (N,) each; got {tuple(predictions.shape)} and {tuple(labels.shape)}"
        )
    if len(labels) and (
        min(predictions.min(), labels.min()) < 0 or max(predictions.max(), labels.max()) >= num_classes
    ):
        raise ValueError(f"class indices must lie in 0..{num_classes - 1}")
    flat = torch.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return rearrange(flat, "(true predicted) -> true predicted", true=num_classes)


def per_class_accuracy(matrix: torch.Tensor) -> torch.Tensor:
    """Recall of each class from a confusion matrix (NaN for a class with no examples)."""
    totals = reduce(matrix.double(), "true predicted -> true", "sum")
    return torch.diagonal(matrix).double() / totals


def top_confusions(matrix: torch.Tensor, classes: list[str], k: int = 5) -> list[tuple[str, str, int]]:
    """The ``k`` largest off-diagonal cells as ``(true class, predicted class, count)``, count > 0."""
    off = matrix.clone()
    off.fill_diagonal_(0)
    values, flat = off.flatten().topk(min(k, off.numel()))
    n = matrix.shape[0]
    return [(classes[i // n], classes[i % n], int(v)) for v, i in zip(values.tolist(), flat.tolist()) if v > 0]


def evaluate_videos(
    model: torch.nn.Module, loader, video_ids: np.ndarray, num_classes: int, device: torch.device | str | None = None
) -> dict:
    """Clip and video accuracy, per-class (video) accuracy and the video confusion matrix of ``model``.

    ``loader`` must not shuffle, so that its clips line up with ``video_ids`` (e.g.
    ``UCF101Clips(..., mode="multi").video_ids``).
    """
    from stconv_lite.train import predict

    logits, labels = predict(model, loader, device=device)
    scores, video_labels, _ = video_scores(logits, labels, video_ids)
    matrix = confusion_matrix(scores.argmax(1), video_labels, num_classes)
    return {
        "clip_accuracy": clip_accuracy(logits, labels),
        "video_accuracy": (scores.argmax(1) == video_labels).float().mean().item(),
        "per_class": per_class_accuracy(matrix),
        "confusion": matrix,
        "clips": len(labels),
        "videos": len(video_labels),
    }
