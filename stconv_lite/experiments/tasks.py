"""The one way an experiment trains and evaluates a model on Video-MNIST.

:func:`train_and_evaluate` is what almost every experiment's ``run_unit`` calls: it builds the data
for a seed (the same clips for every arm of that seed: a *paired* design), trains with
:func:`stconv_lite.train.fit` under the settings' budget, and evaluates on the test split, returning
everything a run file stores: metrics, per-class accuracy, the confusion matrix and the curves.

Settings keys (a plain dict, stored in the run card):

===================  ==========================================================  ==============
key                  meaning                                                     default
===================  ==========================================================  ==============
label                Video-MNIST label mode                                      (required)
clips_per_class      training clips per class                                    (required)
val_clips_per_class  validation clips per class                                  clips // 4 (>= 4)
test_clips_per_class test clips per class                                        clips (>= 10)
frames, size         clip length and frame side                                  16, 28
digits               digit source ("bundled", "mnist", "auto")                   "bundled"
epochs               epoch budget                                                (required)
max_steps            optimiser-step budget (None: epochs decide)                 None
patience             early stopping on validation accuracy (None: off)           None
lr, weight_decay     AdamW                                                       1e-3, 0
batch_size                                                                       32
===================  ==========================================================  ==============

Whatever the budget, the weights of the best validation epoch are the ones evaluated, so an arm is
never judged on a late, overfitted epoch while another is judged on its best one.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from stconv_lite import config
from stconv_lite.analysis.complexity import count_parameters
from stconv_lite.data.video_mnist import VideoMNIST
from stconv_lite.train import fit, predict

__all__ = [
    "DATA_KEYS",
    "datasets_for",
    "loaders_for",
    "confusion_matrix",
    "train_and_evaluate",
    "unit_result",
    "on_device",
]

DATA_KEYS = ("label", "clips_per_class", "val_clips_per_class", "test_clips_per_class", "frames", "size", "digits")
Evaluation = Callable[[nn.Module, DataLoader, torch.device], float]


def _data_settings(settings: dict) -> dict:
    clips = settings["clips_per_class"]
    return {
        "label": settings["label"],
        "clips_per_class": clips,
        "val_clips_per_class": settings.get("val_clips_per_class", max(4, clips // 4)),
        "test_clips_per_class": settings.get("test_clips_per_class", max(10, clips)),
        "frames": settings.get("frames", 16),
        "size": settings.get("size", 28),
        "digits": settings.get("digits", "bundled"),
    }


@functools.lru_cache(maxsize=8)
def _datasets(data_json: str, seed: int) -> tuple[VideoMNIST, VideoMNIST, VideoMNIST]:
    data = json.loads(data_json)
    per_split = {
        "train": data["clips_per_class"],
        "val": data["val_clips_per_class"],
        "test": data["test_clips_per_class"],
    }
    made = []
    for split, per_class in per_split.items():
        dataset = VideoMNIST(
            split,
            clips_per_class=per_class,
            label=data["label"],
            frames=data["frames"],
            size=data["size"],
            seed=seed,
            source=data["digits"],
            cache=True,
        )
        dataset.__getitems__(list(range(len(dataset))))  # render every clip now, so no arm's timing pays for it
        made.append(dataset)
    return made[0], made[1], made[2]


def datasets_for(settings: dict, seed: int) -> tuple[VideoMNIST, VideoMNIST, VideoMNIST]:
    """Train, validation and test datasets of a seed, rendered once and shared by every arm."""
    return _datasets(json.dumps(_data_settings(settings), sort_keys=True), seed)


def loaders_for(settings: dict, seed: int) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Fresh loaders over :func:`datasets_for` (the training shuffle is seeded by ``seed``).

    Built anew for each arm so that every arm sees the same batches in the same order. No worker
    processes: the clips are already in memory, and workers would compete with training for cores.
    """
    train, val, test = datasets_for(settings, seed)
    batch = settings.get("batch_size", 32)
    return (
        DataLoader(train, batch_size=batch, shuffle=True, generator=torch.Generator().manual_seed(seed)),
        DataLoader(val, batch_size=128),
        DataLoader(test, batch_size=128),
    )


def on_device(measure: Callable[..., float]) -> Evaluation:
    """An evaluation from a measure that takes the device by keyword, ``measure(model, loader, device=...)``.

    The measures of :mod:`stconv_lite.analysis.order` have that form (their third positional argument is
    the transform), while ``evaluations`` are called ``f(model, test_loader, device)``.
    """
    return lambda model, loader, device: measure(model, loader, device=device)


def confusion_matrix(logits: torch.Tensor, labels: torch.Tensor, classes: int) -> torch.Tensor:
    """Counts ``[true, predicted]``. Shapes: logits (N, K), labels (N,) -> (classes, classes) int64."""
    matrix = torch.zeros(classes, classes, dtype=torch.long)
    matrix.index_put_((labels, logits.argmax(1)), torch.ones_like(labels), accumulate=True)
    return matrix


def train_and_evaluate(
    build: Callable[[], nn.Module],
    settings: dict,
    seed: int,
    device: torch.device | str = "cpu",
    evaluations: dict[str, Evaluation] | None = None,
    regulariser=None,
    callbacks=(),
    optimizer: Callable[[nn.Module], torch.optim.Optimizer] | None = None,
) -> dict:
    """Seed, build, train under the settings' budget, evaluate; return a unit result for a run file.

    ``build`` is called after seeding, so the initial weights depend on ``seed`` alone.
    ``evaluations`` are extra metrics ``f(model, test_loader, device) -> float`` (e.g. how many
    predictions survive time reversal), computed on the best-validation weights. ``regulariser`` and
    ``callbacks`` go to :func:`stconv_lite.train.fit` as they are; ``optimizer(model)`` builds the
    optimiser instead of AdamW (e.g. parameter groups with their own learning rates, such as
    :func:`stconv_lite.ops.conv3t.param_groups`).
    """
    device = torch.device(device)
    train_loader, val_loader, test_loader = loaders_for(settings, seed)
    config.seed_everything(seed)
    model = build()
    began = time.perf_counter()
    history = fit(
        model,
        train_loader,
        settings["epochs"],
        val_loader=val_loader,
        lr=settings.get("lr", 1e-3),
        weight_decay=settings.get("weight_decay", 0.0),
        device=device,
        progress=False,
        seed=seed,
        max_steps=settings.get("max_steps"),
        patience=settings.get("patience"),
        restore_best=True,
        regulariser=regulariser,
        callbacks=callbacks,
        # Built on the model's own parameters; fit moves them to the device in place, so the
        # optimiser keeps pointing at them.
        optimizer=optimizer(model) if optimizer is not None else None,
    )
    train_seconds = time.perf_counter() - began
    logits, labels = predict(model, test_loader, device=device)
    classes = logits.shape[1]
    matrix = confusion_matrix(logits, labels, classes)
    metrics = {
        "test_accuracy": (logits.argmax(1) == labels).float().mean().item(),
        "best_val_accuracy": history.best_val_acc,
        "train_seconds": train_seconds,
        "steps": float(history.total_steps),
        # the optimiser steps alone (validation excluded): the fair per-step cost of an architecture
        "seconds_per_step": sum(history.train_seconds) / max(history.total_steps, 1),
    }
    for name, evaluate in (evaluations or {}).items():
        metrics[name] = float(evaluate(model, test_loader, device))
    return unit_result(model, history, matrix, metrics)


def unit_result(model: nn.Module, history, matrix: torch.Tensor, metrics: dict[str, float]) -> dict:
    """The fields a run file stores for one trained (arm, seed) unit, from what every unit has.

    ``history`` is the :class:`~stconv_lite.train.History` of the run, ``matrix`` the test confusion
    counts ``[true, predicted]``. The trained model rides along for the caller (a notebook's figures)
    and is never written to a run file.
    """
    best_epoch = 1 + max(range(len(history.val_acc)), key=lambda i: (history.val_acc[i], -i)) if history.val_acc else 0
    return {
        "metrics": metrics,
        "per_class_accuracy": (matrix.diag().float() / matrix.sum(1).clamp(min=1).float()).tolist(),
        "confusion": matrix.tolist(),
        "curves": history.as_dict(),
        "params": count_parameters(model),
        "best_epoch": best_epoch,
        "stop_reason": history.stop_reason,
        "model": model,
    }
