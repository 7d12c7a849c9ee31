"""Checkpoints that survive a crash: atomic writes, and a refusal to load into the wrong model.

A training run on Colab can be cut off at any moment, including in the middle of writing a
checkpoint. Writing to a temporary file in the same folder and then ``os.replace``-ing it over the
old one means the folder always holds either the previous complete checkpoint or the new complete
one, never a truncated file (``os.replace`` is atomic on POSIX and Windows within one file system).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn


def save_atomic(payload: Any, path: str | os.PathLike) -> Path:
    """``torch.save(payload, path)`` such that ``path`` is never left half-written.

    The previous file at ``path`` (if any) stays intact until the new one is completely on disk.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        # Whatever went wrong (disk full, interrupt), leave no temporary file behind.
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def model_signature(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter and buffer: what a checkpoint must match to be loaded."""
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def check_signature(expected: dict[str, tuple[int, ...]], model: nn.Module, path: str | os.PathLike) -> None:
    """Raise a ``ValueError`` that names the differences if ``model`` does not fit the checkpoint."""
    actual = model_signature(model)
    if actual == expected:
        return
    missing = sorted(set(expected) - set(actual))[:3]
    unexpected = sorted(set(actual) - set(expected))[:3]
    reshaped = [f"{k}: {expected[k]} vs {actual[k]}" for k in expected if k in actual and expected[k] != actual[k]][:3]
    raise ValueError(
        f"checkpoint {path} was written by a different model: "
        f"keys only in the checkpoint {missing}, keys only in the model {unexpected}, "
        f"shape differences {reshaped}. Use a new checkpoint path for a new model."
    )
