"""Checkpoints that survive a crash and resume exactly.

Three things live here, so that :mod:`stconv_lite.train` stays about training:

- :func:`save_atomic`: a run on Colab can be cut off at any moment, including in the middle of
  writing a checkpoint. Writing to a temporary file in the *same folder* and then ``os.replace``-ing
  it over the old one means the folder always holds either the previous complete checkpoint or the
  new complete one, never a truncated file (``os.replace`` is atomic on POSIX and Windows within one
  file system, which a same-folder temporary file guarantees).
- :func:`model_signature` / :func:`check_signature`: a checkpoint from another model (another
  width, another operator) is refused with the differing names and shapes, instead of failing deep
  inside ``load_state_dict`` or, worse, loading a model that happens to fit.
- :func:`random_states` / :func:`restore_random_states`: everything random that the next epoch
  will consume. How the shuffling continues identically after a resume:

  * a ``DataLoader(shuffle=True, generator=g)`` hands ``g`` to its ``RandomSampler``, which draws
    each epoch's permutation from it, and every ``iter(loader)`` draws the workers' base seed from
    it too. We store ``g.get_state()`` after the epoch and ``set_state`` it into the *new* loader's
    generator on resume, so the next permutation is the one the uninterrupted run would have drawn;
  * a ``DataLoader(shuffle=True)`` without a generator draws a fresh seed from torch's global
    generator every epoch, so restoring the global torch state is enough;
  * dropout, augmentation and ``random``/``numpy`` calls draw from the global torch (CPU and CUDA),
    Python and NumPy generators, which are all stored.

  The resumed run must build its loaders the same way (same dataset, batch size, sampler type);
  a different number of generators is refused. Checkpoints are written at epoch ends: an epoch cut
  off half-way is redone from its start, with the same batches.
"""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn


class CheckpointError(ValueError):
    """A file at a checkpoint path that cannot be resumed from: empty, damaged, or not ours."""


# What :func:`stconv_lite.train.fit` writes; a dict without these is someone else's file.
CHECKPOINT_KEYS = ("epoch", "signature", "model")
_TEMPORARY_SUFFIX = ".tmp"


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def clean_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporary files that a killed :func:`save_atomic` of ``path`` left behind; return them.

    A temporary file is named ``.<name>.<pid>.<random>.tmp``: it is stale when the process that
    wrote it no longer exists (a save in progress in a live process is left alone). Names without
    a pid come from older versions and are always stale.
    """
    path = Path(path)
    if not path.parent.is_dir():
        return []
    removed = []
    prefix = _temporary_prefix(path)
    for candidate in path.parent.iterdir():
        name = candidate.name
        if not (name.startswith(prefix) and name.endswith(_TEMPORARY_SUFFIX)):
            continue
        pid_text = name[len(prefix) :].split(".", 1)[0]
        if pid_text.isdigit() and _process_alive(int(pid_text)):
            continue
        candidate.unlink(missing_ok=True)
        removed.append(candidate)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def save_atomic(payload: Any, path: str | os.PathLike) -> Path:
    """``torch.save(payload, path)`` such that ``path`` is never left half-written.

    The previous file at ``path`` (if any) stays intact until the new one is completely on disk;
    on any failure (disk full, ``KeyboardInterrupt``) the temporary file is removed. A save killed
    outright (SIGKILL, a lost Colab runtime) cannot clean up after itself: its temporary file is
    removed by the next save or load of the same path (:func:`clean_stale_temporaries`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean_stale_temporaries(path)
    handle, temporary = tempfile.mkstemp(
        prefix=f"{_temporary_prefix(path)}{os.getpid()}.", suffix=_TEMPORARY_SUFFIX, dir=path.parent
    )
    try:
        with os.fdopen(handle, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


_WHAT_TO_DO = (
    "It is left untouched. To start afresh, move or delete it, or run fit with resume=False and "
    "overwrite=True (which replaces it); or choose another checkpoint_path."
)


def load(path: str | os.PathLike) -> dict:
    """Load a checkpoint written by :func:`stconv_lite.train.fit` onto the CPU.

    Everything is loaded to the CPU on purpose: the random states must be CPU byte tensors, and
    ``load_state_dict`` copies model and optimiser tensors to wherever their parameters live.

    Raises:
        FileNotFoundError: nothing at ``path``.
        CheckpointError: the file is empty, truncated or damaged, not a torch file at all, or a
            torch file that is not a training checkpoint (e.g. a plain ``state_dict``). The message
            names the file, what is wrong and what to do; the file is never modified.
    """
    path = Path(path)
    clean_stale_temporaries(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(
            f"checkpoint {path} is empty (0 bytes), e.g. from a copy or save that was cut "
            f"off: there is nothing to resume. {_WHAT_TO_DO}"
        )
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises RuntimeError, pickle UnpicklingError, EOFError, ...
        with open(path, "rb") as file:
            is_zip = file.read(4) == b"PK\x03\x04"  # torch.save writes a zip archive
        problem = (
            "a truncated or damaged torch.save archive"
            if is_zip
            else "not a file written by torch.save (unknown format)"
        )
        raise CheckpointError(
            f"checkpoint {path} ({size} bytes) cannot be read: it is {problem} "
            f"({type(error).__name__}: {str(error)[:200]}). {_WHAT_TO_DO}"
        ) from error
    if not isinstance(state, dict) or not all(key in state for key in CHECKPOINT_KEYS):
        if isinstance(state, dict) and state and all(isinstance(v, torch.Tensor) for v in state.values()):
            found = (
                f"a plain state_dict ({len(state)} tensors, e.g. {next(iter(state))!r}), not a training "
                "checkpoint; load weights like these with model.load_state_dict(torch.load(path))"
            )
        elif isinstance(state, dict):
            found = f"a dict without the keys {[k for k in CHECKPOINT_KEYS if k not in state]}"
        else:
            found = f"a {type(state).__name__}, not a dict"
        raise CheckpointError(
            f"checkpoint {path} was not written by stconv_lite.train.fit: it holds {found}. {_WHAT_TO_DO}"
        )
    return state


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
        f"shape differences (checkpoint vs model) {reshaped}. Use a new checkpoint path for a new model."
    )


def loader_generators(loader: Any) -> list[torch.Generator]:
    """The generators that decide a DataLoader's shuffling and worker seeds (each listed once)."""
    sampler = getattr(loader, "sampler", None)
    batch_sampler = getattr(loader, "batch_sampler", None)
    found = [
        getattr(loader, "generator", None),
        getattr(sampler, "generator", None),
        getattr(getattr(batch_sampler, "sampler", None), "generator", None),
    ]
    unique: list[torch.Generator] = []
    for generator in found:
        if isinstance(generator, torch.Generator) and all(generator is not g for g in unique):
            unique.append(generator)
    return unique


def random_states(loaders: Iterable[Any]) -> dict:
    """Every random state the next epoch consumes: global torch/CUDA/Python/NumPy, and the loaders'."""
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "loaders": [[g.get_state() for g in loader_generators(loader)] for loader in loaders],
    }


def restore_random_states(states: dict, loaders: Iterable[Any]) -> None:
    """Put back what :func:`random_states` stored, into freshly built loaders (same construction)."""
    loaders = list(loaders)
    saved = states["loaders"]
    if len(saved) != len(loaders):
        raise ValueError(
            f"the checkpoint was written with {len(saved)} loaders (train, val); got {len(loaders)}: "
            "pass a val_loader exactly when the interrupted run had one"
        )
    for index, (loader, loader_states) in enumerate(zip(loaders, saved)):
        generators = loader_generators(loader)
        if len(generators) != len(loader_states):
            raise ValueError(
                f"loader {index} has {len(generators)} random generator(s) but the checkpoint stored "
                f"{len(loader_states)}: build the DataLoader as in the interrupted run (shuffle, generator=)"
            )
        for generator, state in zip(generators, loader_states):
            generator.set_state(state)
    torch.set_rng_state(states["torch"])
    if torch.cuda.is_available() and states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])
    random.setstate(states["python"])
    np.random.set_state(states["numpy"])
