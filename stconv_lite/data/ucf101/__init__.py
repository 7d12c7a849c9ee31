"""UCF101: official splits, a decode-once uint8 cache, and a clip dataset over it.

    python -m stconv_lite.data.ucf101 prepare --root UCF-101 --splits ucfTrainTestlist --cache cache

One concept per module: :mod:`.splits` (split files, file-name quirks), :mod:`.decode` (PyAV, one
video), :mod:`.cache` (the resumable cache), :mod:`.dataset` (clips), :mod:`.download` (Colab only),
:mod:`.fixture` (a tiny generated stand-in used by tests, benchmarks and the chapter).

The names below are imported lazily: a cache-building worker process started with ``spawn`` or
``forkserver`` then imports only NumPy and PyAV, not torch (which would cost seconds per worker).
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "BuildReport": "cache",
    "CachedVideos": "cache",
    "CacheMismatchError": "cache",
    "build_cache": "cache",
    "open_cache": "cache",
    "UCF101Clips": "dataset",
    "UCF101Splits": "splits",
    "VideoIndex": "splits",
    "load_splits": "splits",
    "read_class_index": "splits",
    "read_split_list": "splits",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
