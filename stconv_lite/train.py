"""Training and evaluation for every chapter: ``fit``, ``evaluate``, ``predict``.

``fit`` is deliberately plain (one optimiser, cross-entropy, an optional regulariser) so that a
chapter's experiment reads as the experiment, not as training plumbing. What it adds over a
hand-written loop is what a student on Colab needs:

- a checkpoint after every epoch, written atomically, and ``resume=True`` that continues *exactly*:
  the losses after resuming equal those of a run that was never interrupted, because the checkpoint
  holds every random state the next epoch consumes (torch, CUDA, Python, NumPy, and the DataLoaders'
  own generators that decide the shuffling; :mod:`stconv_lite.checkpoint` explains how);
- a clear stop on a non-finite loss, naming the epoch and step;
- mixed precision (bf16 where supported, else fp16 with a gradient scaler) and cuDNN autotuning on
  CUDA only, so CPU runs stay seeded and bit-for-bit repeatable;
- a progress bar on long work, silent at ``quick`` scale;
- a budget: ``epochs`` and optionally ``max_steps`` (optimiser steps), early stopping on the
  validation accuracy (``patience``) that restores the best weights, and ``callbacks`` that see
  every epoch's end and may stop the run; so no chapter writes its own loop.

The loop is cut into pieces a reader can take one at a time: :func:`train_one_epoch` (the
steps), :class:`EarlyStopping` (when to stop, which weights to keep), and :func:`fit`, which
only wires them together with validation, checkpoints and resume.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader

from stconv_lite import checkpoint, config

Regulariser = Callable[[nn.Module], torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch curves of one run (validation lists stay empty without a validation loader).

    ``epoch_seconds`` is the wall time of each epoch, validation included.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)  # optimiser steps taken by the end of each epoch
    train_seconds: list[float] = field(default_factory=list)  # of each epoch's steps alone (no validation)
    stop_reason: str = ""  # why training ended before ``epochs`` ("" when it ran them all)

    @property
    def total_steps(self) -> int:
        return self.steps[-1] if self.steps else 0

    @property
    def best_val_acc(self) -> float:
        """The highest validation accuracy over the epochs (NaN without validation)."""
        return max(self.val_acc) if self.val_acc else float("nan")

    def as_dict(self) -> dict[str, list[float]]:
        return asdict(self)


def _split_batch(batch, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Batches are ``(x, y)`` or ``(x, y, extra, ...)``; the extras (e.g. ground truth) are ignored."""
    if not isinstance(batch, (list, tuple)) or len(batch) < 2:
        got = (
            f"a {type(batch).__name__} of length {len(batch)}"
            if isinstance(batch, (list, tuple))
            else type(batch).__name__
        )
        raise ValueError(f"a batch must be (inputs, labels, ...); got {got}")
    return batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)


def _amp_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the GPU computes it natively (Ampere and later), else fp16 (e.g. Colab's T4)."""
    try:
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3 has no emulation flag and reports native support only
        native = torch.cuda.is_bf16_supported()
    return torch.bfloat16 if native else torch.float16


def _progress(iterable: Iterable, enabled: bool, **kwargs):
    from stconv_lite.progress import progress_bar  # text bars on stderr: live, never stored in the book

    return progress_bar(iterable, enabled, **kwargs)


class EpochEnd(NamedTuple):
    """What a callback sees after each epoch (``epoch`` counts from 1)."""

    epoch: int
    history: History
    model: nn.Module


Callback = Callable[[EpochEnd], "bool | None"]  # return True to stop training after this epoch


class EarlyStopping:
    """Stop when the validation accuracy has not improved for ``patience`` epochs; keep the best weights.

    "Improved" means strictly higher than every earlier epoch, so a plateau counts as no progress.
    With ``patience=None`` it never stops a run but still remembers the best epoch's weights.
    """

    def __init__(self, patience: int | None = None) -> None:
        if patience is not None and (isinstance(patience, bool) or not isinstance(patience, int) or patience < 1):
            raise ValueError(f"patience must be a positive int or None; got {patience!r}")
        self.patience = patience
        self.best_accuracy = float("-inf")
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None

    def update(self, epoch: int, val_accuracy: float, model: nn.Module) -> bool:
        """Record epoch ``epoch`` (from 1); return True when training should stop."""
        if val_accuracy > self.best_accuracy:
            self.best_accuracy, self.best_epoch = val_accuracy, epoch
            # A copy on the CPU: later steps update the live tensors in place.
            self.best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        return self.patience is not None and epoch - self.best_epoch >= self.patience

    def state_dict(self) -> dict:
        return {"best_accuracy": self.best_accuracy, "best_epoch": self.best_epoch, "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best_accuracy, self.best_epoch = state["best_accuracy"], state["best_epoch"]
        self.best_state = state["best_state"]


def train_one_epoch(
    model: nn.Module,
    loader: DataLoader,
    optimizer: torch.optim.Optimizer,
    *,
    device: torch.device,
    epoch: int,
    loss_fn: LossFn = F.cross_entropy,
    regulariser: Regulariser | None = None,
    amp_dtype: torch.dtype | None = None,
    scaler: torch.amp.GradScaler | None = None,
    step_limit: int | None = None,
    progress: bool = False,
) -> tuple[float, float, int]:
    """One pass over ``loader`` (or ``step_limit`` steps of it); returns (mean loss, accuracy, steps).

    The loss and accuracy are those of the training batches as they were seen (in train mode);
    the mean loss is the data loss without the regulariser.
    """
    model.train()
    scaler = scaler or torch.amp.GradScaler("cuda", enabled=False)
    loss_sum, correct, seen, steps = 0.0, 0, 0, 0
    for batch in _progress(loader, progress, desc=f"epoch {epoch}", leave=False):
        if step_limit is not None and steps >= step_limit:
            break
        x, y = _split_batch(batch, device)
        with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            logits = model(x)
            loss = loss_fn(logits.float(), y)
        total = loss + regulariser(model) if regulariser is not None else loss
        if not torch.isfinite(total):
            raise FloatingPointError(
                f"non-finite loss at epoch {epoch}, step {steps + 1} (data loss {loss.item()}, "
                f"total with regulariser {total.item()}): try a lower learning rate, "
                "or check the inputs for NaN/inf"
            )
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
        steps += 1
        loss_sum += loss.item() * len(y)
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
    return loss_sum / max(seen, 1), correct / max(seen, 1), steps


def _check_budget(epochs: object, max_steps: object) -> None:
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int; got {epochs!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise ValueError(f"max_steps must be a positive int or None; got {max_steps!r}")


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
    loss_fn: LossFn | None = None,
    regulariser: Regulariser | None = None,
    progress: bool | None = None,
    amp: bool | None = None,
    seed: int = 0,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    max_steps: int | None = None,
    patience: int | None = None,
    restore_best: bool = False,
    callbacks: Iterable[Callback] = (),
) -> History:
    """Train ``model`` for at most ``epochs`` epochs (and ``max_steps`` steps); return its :class:`History`.

    Args:
        model: any module mapping a batch of inputs to logits ``(B, classes)``.
        train_loader: yields ``(x, y)`` or ``(x, y, extra...)``.
        epochs: the epoch budget (with ``resume``, the run continues up to this number).
        val_loader: evaluated after every epoch when given.
        lr, weight_decay: for the default optimiser, AdamW.
        device: default :func:`stconv_lite.config.get_device`.
        checkpoint_path: write a checkpoint here after every epoch (atomically).
        resume: continue from ``checkpoint_path`` if it exists, else start fresh. Build the model,
            optimiser, scheduler and loaders as in the interrupted run (a fresh process is fine):
            their states, the history and every random state come from the checkpoint, so the
            remaining epochs see the same batches in the same order with the same dropout masks.
            Re-running a finished run with ``resume=True`` just loads it (no epochs left to train).
        overwrite: allow a fresh run to replace an existing checkpoint (off: refusing protects it).
        loss_fn: default cross-entropy.
        regulariser: ``f(model) -> scalar`` added to the loss (e.g. the fusion chapter's KL term);
            the history's ``train_loss`` is the data loss alone.
        progress: show progress bars (default: on, except at ``quick`` scale).
        amp: mixed precision (default: on CUDA only; refused on the CPU).
        seed: seeds every random generator before training starts (initialise the model before).
        optimizer, scheduler: replace the defaults (AdamW, none); the scheduler steps once per epoch.
        max_steps: a budget of optimiser steps over the whole run (the last epoch may be partial).
        patience: stop when the validation accuracy has not improved for this many epochs
            (needs ``val_loader``).
        restore_best: at the end, load the weights of the epoch with the best validation accuracy
            (needs ``val_loader``); ``History.stop_reason`` and the curves still describe the whole run.
        callbacks: each is called with an :class:`EpochEnd` after every epoch; returning True stops.

    Raises:
        FloatingPointError: the loss became NaN/inf (the message names epoch and step).
        ValueError: bad arguments, or a checkpoint written by a different model / loader setup.
        FileExistsError: ``checkpoint_path`` exists and neither ``resume`` nor ``overwrite`` is set.
    """
    _check_budget(epochs, max_steps)
    if resume and checkpoint_path is None:
        raise ValueError("resume=True needs a checkpoint_path to resume from; got checkpoint_path=None")
    if (patience is not None or restore_best) and val_loader is None:
        raise ValueError("patience and restore_best choose epochs by validation accuracy: pass a val_loader")
    device = config.get_device() if device is None else torch.device(device)
    amp = (device.type == "cuda") if amp is None else amp
    if amp and device.type != "cuda":
        raise ValueError(f"amp=True needs a CUDA device; got device={device} (mixed precision is CUDA-only here)")
    progress = (config.get_scale() != "quick") if progress is None else progress
    loss_fn = loss_fn or F.cross_entropy
    callbacks = list(callbacks)
    loaders = [train_loader] if val_loader is None else [train_loader, val_loader]

    config.seed_everything(seed)
    if device.type == "cuda":
        # Speed over bit-exact repeatability on the GPU: cuDNN may pick the fastest, nondeterministic
        # kernels, so a resumed GPU run matches an uninterrupted one closely but not bit for bit.
        torch.backends.cudnn.deterministic = False
        torch.backends.cudnn.benchmark = True
    model.to(device)
    optimizer = optimizer or torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    amp_dtype = _amp_dtype(device) if amp else None
    # bf16 has float32's range, so only fp16 needs its gradients scaled against underflow.
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    stopper = EarlyStopping(patience)
    history, start_epoch = History(), 0

    path = Path(checkpoint_path) if checkpoint_path is not None else None
    if path is not None and path.exists():
        if resume:
            history, start_epoch = _restore(path, model, optimizer, scheduler, scaler, stopper, loaders)
            if progress:
                print(f"resumed from {path} after epoch {start_epoch} of {epochs}")
        elif not overwrite:
            raise FileExistsError(
                f"{path} already holds a checkpoint: pass resume=True to continue it, "
                "overwrite=True to replace it, or choose another checkpoint_path"
            )

    epoch_bar = _progress(range(start_epoch, epochs), progress, desc="epochs", initial=start_epoch, total=epochs)
    for epoch in epoch_bar:
        if history.stop_reason:  # a resumed run that had already stopped early has nothing left to do
            break
        began = time.perf_counter()
        steps_left = None if max_steps is None else max_steps - history.total_steps
        loss, accuracy, steps = train_one_epoch(
            model,
            train_loader,
            optimizer,
            device=device,
            epoch=epoch + 1,
            loss_fn=loss_fn,
            regulariser=regulariser,
            amp_dtype=amp_dtype,
            scaler=scaler,
            step_limit=steps_left,
            progress=progress,
        )
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # the steps are queued: wait for them before reading the clock
        history.train_seconds.append(time.perf_counter() - began)
        if scheduler is not None:
            scheduler.step()
        history.train_loss.append(loss)
        history.train_acc.append(accuracy)
        history.steps.append(history.total_steps + steps)
        stop = False
        if val_loader is not None:
            result = evaluate(model, val_loader, device=device, loss_fn=loss_fn, amp=amp)
            history.val_loss.append(result["loss"])
            history.val_acc.append(result["accuracy"])
            if stopper.update(epoch + 1, result["accuracy"], model):
                stop, history.stop_reason = True, f"no validation gain for {patience} epochs"
        history.epoch_seconds.append(time.perf_counter() - began)
        if max_steps is not None and history.total_steps >= max_steps and epoch + 1 < epochs:
            stop, history.stop_reason = True, history.stop_reason or f"step budget of {max_steps} reached"
        if any(callback(EpochEnd(epoch + 1, history, model)) for callback in callbacks):
            stop, history.stop_reason = True, history.stop_reason or "stopped by a callback"
        if progress:
            epoch_bar.set_postfix(_shown(history))
        if path is not None:
            checkpoint.save_atomic(
                _payload(epoch + 1, model, optimizer, scheduler, scaler, stopper, history, loaders), path
            )
        if stop:
            break
    if restore_best and stopper.best_state is not None:
        model.load_state_dict(stopper.best_state)
    return history


def _shown(history: History) -> dict[str, str]:
    shown = {"loss": f"{history.train_loss[-1]:.3f}", "acc": f"{history.train_acc[-1]:.3f}"}
    if history.val_acc:
        shown["val_acc"] = f"{history.val_acc[-1]:.3f}"
    return shown


def _payload(epoch, model, optimizer, scheduler, scaler, stopper, history, loaders) -> dict:
    """Everything a resumed run needs to continue exactly where this epoch ended."""
    return {
        "epoch": epoch,
        "signature": checkpoint.model_signature(model),
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "scaler": scaler.state_dict(),
        "early_stopping": stopper.state_dict(),
        "history": history.as_dict(),
        "random": checkpoint.random_states(loaders),  # taken after validation: what epoch+1 sees
    }


def _restore(path, model, optimizer, scheduler, scaler, stopper, loaders) -> tuple[History, int]:
    """Load a checkpoint written by :func:`_payload` into freshly built objects; return (history, epoch)."""
    state = checkpoint.load(path)
    checkpoint.check_signature(state["signature"], model, path)
    if (scheduler is None) != (state["scheduler"] is None):
        raise ValueError(
            f"checkpoint {path} was written {'without' if state['scheduler'] is None else 'with'} "
            "a scheduler; pass the same scheduler setup to resume exactly"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    if scheduler is not None:
        scheduler.load_state_dict(state["scheduler"])
    if state["scaler"] and scaler.is_enabled():  # empty when written by a run without fp16
        scaler.load_state_dict(state["scaler"])
    if state.get("early_stopping"):  # absent in checkpoints written before early stopping existed
        stopper.load_state_dict(state["early_stopping"])
    checkpoint.restore_random_states(state["random"], loaders)
    return History(**state["history"]), state["epoch"]


@torch.no_grad()
def predict(
    model: nn.Module, loader: DataLoader, device: torch.device | str | None = None, amp: bool | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, classes)`` (float32, on the CPU) and labels ``(N,)`` for a whole loader, in eval mode.

    The model is left in eval mode.
    """
    device = config.get_device() if device is None else torch.device(device)
    amp = (device.type == "cuda") if amp is None else amp
    if amp and device.type != "cuda":
        raise ValueError(f"amp=True needs a CUDA device; got device={device}")
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
    loss_fn: LossFn | None = None,
    amp: bool | None = None,
) -> dict[str, float]:
    """Mean loss (over samples) and accuracy of ``model`` over ``loader`` (eval mode, no gradients)."""
    logits, labels = predict(model, loader, device=device, amp=amp)
    loss = (loss_fn or F.cross_entropy)(logits, labels).item()
    return {"loss": loss, "accuracy": (logits.argmax(1) == labels).float().mean().item()}
