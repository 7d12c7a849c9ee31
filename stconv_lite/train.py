"""Training and evaluation for every chapter: ``fit``, ``evaluate``, ``predict``.

``fit`` is deliberately plain (one optimiser, cross-entropy, an optional regulariser) so that a
chapter's experiment reads as the experiment, not as training plumbing. What it adds over a
hand-written loop is what a student on Colab needs:

- a checkpoint after every epoch, written atomically (:mod:`stconv_lite.checkpoint`), and
  ``resume=True`` that continues *exactly*: the losses after resuming equal those of a run that was
  never interrupted, because the checkpoint holds every random state the next epoch consumes
  (torch, CUDA, Python, NumPy, and the DataLoader's own generator that decides the shuffling);
- a clear stop on a non-finite loss, naming the epoch and step;
- mixed precision (bf16 where supported, else fp16 with a gradient scaler) and cuDNN autotuning on
  CUDA only, so CPU runs stay deterministic;
- a progress bar on long work, silent at ``quick`` scale.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from stconv_lite import config
from stconv_lite.checkpoint import check_signature, model_signature, save_atomic

Regulariser = Callable[[nn.Module], torch.Tensor]


@dataclass
class History:
    """Per-epoch curves of one run (validation lists stay empty without a validation loader)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def best_val_acc(self) -> float:
        return max(self.val_acc) if self.val_acc else float("nan")

    def as_dict(self) -> dict[str, list[float]]:
        return asdict(self)


def _split_batch(batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Batches are ``(x, y)`` or ``(x, y, extra, ...)``; the extras (e.g. ground truth) are ignored."""
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        raise ValueError("a training batch must be (inputs, labels, ...); got " + type(batch).__name__)
    return batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)


def _amp_dtype(device: torch.device) -> torch.dtype:
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _loader_generators(loader: DataLoader) -> list[torch.Generator]:
    """The generators that decide a DataLoader's shuffling and worker seeds."""
    found = [getattr(loader, "generator", None), getattr(loader.sampler, "generator", None)]
    batch_sampler = getattr(loader, "batch_sampler", None)
    found.append(getattr(getattr(batch_sampler, "sampler", None), "generator", None))
    unique: list[torch.Generator] = []
    for generator in found:
        if isinstance(generator, torch.Generator) and all(generator is not g for g in unique):
            unique.append(generator)
    return unique


def _random_states(loader: DataLoader) -> dict:
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "loader": [g.get_state() for g in _loader_generators(loader)],
    }


def _restore_random_states(states: dict, loader: DataLoader) -> None:
    torch.set_rng_state(states["torch"])
    if torch.cuda.is_available() and states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
    generators = _loader_generators(loader)
    if len(generators) != len(states["loader"]):
        raise ValueError("the DataLoader's random generators differ from the checkpoint's: build it as before")
    for generator, state in zip(generators, states["loader"]):
        generator.set_state(state)


def _progress(iterable: Iterable, enabled: bool, **kwargs) -> Iterable:
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, **kwargs)


def fit(
    model: nn.Module,
    train_loader: DataLoader,
    epochs: int,
    *,
    val_loader: DataLoader | None = None,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    device: torch.device | str | None = None,
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    regulariser: Regulariser | None = None,
    progress: bool | None = None,
    amp: bool | None = None,
    seed: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs; return its :class:`History`.

    Args:
        model: any module mapping a batch of inputs to logits ``(B, classes)``.
        train_loader: yields ``(x, y)`` or ``(x, y, extra...)``.
        epochs: total number of epochs (with ``resume``, the run continues up to this number).
        val_loader: evaluated after every epoch when given.
        lr, weight_decay: for the default optimiser, AdamW.
        device: default :func:`stconv_lite.config.get_device`.
        checkpoint_path: write a checkpoint here after every epoch (atomically).
        resume: continue from ``checkpoint_path`` if it exists (exactly, see the module docstring).
        overwrite: allow a fresh run to replace an existing checkpoint (off: refusing protects it).
        loss_fn: default cross-entropy.
        regulariser: ``f(model) -> scalar`` added to the loss (e.g. the fusion chapter's KL term).
        progress: show progress bars (default: on, except at ``quick`` scale).
        amp: mixed precision (default: on CUDA only).
        seed: seeds every random generator before training starts.
        optimizer, scheduler: replace the defaults (AdamW, none); the scheduler steps once per epoch.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int; got {epochs!r}")
    device = config.get_device() if device is None else torch.device(device)
    amp = (device.type == "cuda") if amp is None else amp
    if amp and device.type != "cuda":
        raise ValueError("amp=True needs a CUDA device; mixed precision is not used on the CPU here")
    progress = (config.get_scale() != "quick") if progress is None else progress
    loss_fn = loss_fn or F.cross_entropy

    config.seed_everything(seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # speed over bit-exact repeatability on the GPU
    model.to(device)
    optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    amp_dtype = _amp_dtype(device) if amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    history, start_epoch = History(), 0

    path = Path(checkpoint_path) if checkpoint_path is not None else None
    if path is not None and path.exists():
        if resume:
            state = torch.load(path, map_location=device, weights_only=False)
            check_signature(state["signature"], model, path)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            if scheduler is not None and state["scheduler"] is not None:
                scheduler.load_state_dict(state["scheduler"])
            scaler.load_state_dict(state["scaler"])
            history = History(**state["history"])
            start_epoch = state["epoch"]
            _restore_random_states(state["random"], train_loader)
        elif not overwrite:
            raise FileExistsError(
                f"{path} already holds a checkpoint: pass resume=True to continue it, "
                "overwrite=True to replace it, or choose another checkpoint_path"
            )

    for epoch in _progress(range(start_epoch, epochs), progress, desc="epochs", initial=start_epoch, total=epochs):
        began = time.perf_counter()
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        for step, batch in enumerate(_progress(train_loader, progress, desc=f"epoch {epoch + 1}", leave=False)):
            x, y = _split_batch(batch, device)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp):
                logits = model(x)
                loss = loss_fn(logits.float(), y)
            total = loss + regulariser(model) if regulariser is not None else loss
            if not torch.isfinite(total):
                raise FloatingPointError(
                    f"non-finite loss ({total.item()}) at epoch {epoch + 1}, step {step + 1}: "
                    "try a lower learning rate, or check the inputs for NaN/inf"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_sum += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        if scheduler is not None:
            scheduler.step()
        history.train_loss.append(loss_sum / max(seen, 1))
        history.train_acc.append(correct / max(seen, 1))
        if val_loader is not None:
            result = evaluate(model, val_loader, device=device, loss_fn=loss_fn, amp=amp)
            history.val_loss.append(result["loss"])
            history.val_acc.append(result["accuracy"])
        history.epoch_seconds.append(time.perf_counter() - began)
        if path is not None:
            save_atomic(
                {
                    "epoch": epoch + 1,
                    "signature": model_signature(model),
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict() if scheduler is not None else None,
                    "scaler": scaler.state_dict(),
                    "history": history.as_dict(),
                    "random": _random_states(train_loader),
                },
                path,
            )
    return history


@torch.no_grad()
def predict(
    model: nn.Module, loader: DataLoader, device: torch.device | str | None = None, amp: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, classes)`` (float32, on the CPU) and labels ``(N,)`` for a whole loader, in eval mode."""
    device = config.get_device() if device is None else torch.device(device)
    amp = (device.type == "cuda") if amp is None else amp
    model.to(device).eval()
    all_logits, all_labels = [], []
    for batch in loader:
        x, y = _split_batch(batch, device)
        with torch.autocast(device.type, dtype=_amp_dtype(device) if amp else None, enabled=amp):
            all_logits.append(model(x).float().cpu())
        all_labels.append(y.cpu())
    if not all_logits:
        raise ValueError("the loader yielded no batches: there is nothing to predict or evaluate")
    return torch.cat(all_logits), torch.cat(all_labels)


def evaluate(
    model: nn.Module,
    loader: DataLoader,
    device: torch.device | str | None = None,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    amp: bool | None = None,
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over ``loader`` (eval mode, no gradients)."""
    logits, labels = predict(model, loader, device=device, amp=amp)
    loss = (loss_fn or F.cross_entropy)(logits, labels).item()
    return {"loss": loss, "accuracy": (logits.argmax(1) == labels).float().mean().item()}
