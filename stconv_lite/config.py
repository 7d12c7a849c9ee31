"""Run-time configuration shared by every chapter: scale, device and seeding.

The book runs at three *scales* so that the same notebook serves CI, a laptop and a GPU:

========  =====================================================  ==========================
scale     what it is for                                         where
========  =====================================================  ==========================
quick     smoke run: every cell executes, numbers are not        CI (2 CPU cores, seconds)
          meaningful beyond "the code works"
small     real but small experiments                             CPU book build (minutes)
full      paper-like runs                                        a GPU (Colab, H100, ...)
========  =====================================================  ==========================

The scale is read from the environment variable ``STCONV_SCALE``; without it the default is
``full`` when CUDA is available and ``small`` otherwise.
"""

from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np
import torch

SCALES = ("quick", "small", "full")
T = TypeVar("T")


def get_scale() -> str:
    """Return the active scale: ``STCONV_SCALE`` if set, else ``full`` on CUDA, ``small`` otherwise."""
    value = os.environ.get("STCONV_SCALE", "").strip().lower()
    if not value:
        return "full" if torch.cuda.is_available() else "small"
    if value not in SCALES:
        raise ValueError(f"STCONV_SCALE must be one of {SCALES}; got {value!r}")
    return value


def pick(quick: T, small: T, full: T, scale: str | None = None) -> T:
    """Choose a value by scale, e.g. ``epochs = pick(quick=1, small=8, full=30)``."""
    scale = get_scale() if scale is None else scale
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}; got {scale!r}")
    return {"quick": quick, "small": small, "full": full}[scale]


def get_device(prefer: str | None = None) -> torch.device:
    """The device to compute on: ``prefer`` if given, else CUDA when available, else CPU."""
    if prefer is not None:
        return torch.device(prefer)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed Python, NumPy and torch (all devices); return a CPU generator seeded the same way.

    With ``deterministic=True`` cuDNN picks deterministic algorithms, so that a CPU run (and, as far
    as the kernels allow, a GPU run) repeats bit for bit.
    """
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int; got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which containers and Colab restrict)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def recommended_threads(cores: int | None = None) -> int:
    """How many intra-op threads torch should use for training here: ``STCONV_THREADS`` if set, else
    1 on machines with at most 2 cores (CI, Colab, laptops) and half the cores (at most 8) on bigger ones.

    Why so few: OpenMP threads spin while they wait for each other. On a 2-core machine with
    anything else busy (a second notebook, the Jupyter server, a data loader, another test), two
    torch threads spent most of their time waiting for a core: measured here, one busy neighbour
    made a 2-thread run about 100x slower than a 1-thread run, while on an idle machine the
    second thread saved at most ~1.6x. One thread is the choice that cannot go badly wrong.
    """
    value = os.environ.get("STCONV_THREADS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"STCONV_THREADS must be a positive integer; got {value!r}")
        return int(value)
    cores = available_cores() if cores is None else cores
    return 1 if cores <= 2 else min(cores // 2, 8)


def configure_threads(threads: int | None = None) -> int:
    """Set torch's intra-op threads deliberately (default :func:`recommended_threads`); return the number.

    Every chapter's config cell and the experiment runner call this, so no run inherits whatever
    the machine happens to default to (torch picks one thread per core, oversubscribing a busy box).
    DataLoaders in this package use no worker processes for Video-MNIST (clips are rendered in
    batches in the main process), so the threads set here are all the compute a run asks for.
    """
    threads = recommended_threads() if threads is None else threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"threads must be a positive int; got {threads!r}")
    torch.set_num_threads(threads)
    return threads


def describe() -> str:
    """One line for the top of a notebook: scale, device and versions."""
    device = get_device()
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else "CPU"
    return f"scale={get_scale()} device={device} ({name}) torch={torch.__version__} threads={torch.get_num_threads()}"
