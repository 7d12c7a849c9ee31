"""The model registry: every network of the book is created by name.

>>> from stconv_lite.models import create, available
>>> model = create("r2plus1d_18", num_classes=10, in_channels=1)   # doctest: +SKIP

Model files register their builders with :func:`register`; the registry imports every module of
:mod:`stconv_lite.models` on first use, so adding a model never means editing a central list.
Every builder accepts ``num_classes`` and ``in_channels`` (Video-MNIST is single-channel).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable

import torch.nn as nn

Builder = Callable[..., nn.Module]
_BUILDERS: dict[str, Builder] = {}
_DISCOVERED = False


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator: ``@register("lenet5_3t")`` above a builder ``f(num_classes, in_channels, **kw)``."""

    def decorate(builder: Builder) -> Builder:
        if name in _BUILDERS and _BUILDERS[name] is not builder:
            raise ValueError(f"model name {name!r} is registered twice")
        _BUILDERS[name] = builder
        return builder

    return decorate


def _discover() -> None:
    """Import every module of this package once, so that their ``@register`` lines run."""
    global _DISCOVERED
    if _DISCOVERED:
        return
    import stconv_lite.models as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "registry":
            importlib.import_module(f"{package.__name__}.{info.name}")
    _DISCOVERED = True


def available() -> list[str]:
    """Sorted names of every registered model."""
    _discover()
    return sorted(_BUILDERS)


def create(name: str, num_classes: int, in_channels: int = 3, **options) -> nn.Module:
    """Build the model registered as ``name``.

    Args:
        name: a name from :func:`available`, e.g. ``"r2plus1d_18"``.
        num_classes: size of the classification head.
        in_channels: channels of the input video (3 for RGB, 1 for Video-MNIST).
        **options: builder-specific options (width, pretrained 2D weights, ...).
    """
    _discover()
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(_BUILDERS))}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int; got {num_classes!r}")
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive int; got {in_channels!r}")
    return _BUILDERS[name](num_classes=num_classes, in_channels=in_channels, **options)
