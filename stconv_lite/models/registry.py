"""The model registry: every network of the book is created by name.

>>> from stconv_lite.models import create, available
>>> model = create("r2plus1d_18", num_classes=10, in_channels=1)   # doctest: +SKIP

Model files register their builders with :func:`register`; the registry imports every module of
:mod:`stconv_lite.models` on first use, so adding a model never means editing a central list.
Every builder accepts ``num_classes`` and ``in_channels`` (Video-MNIST is single-channel).

Every model states the clip sizes it accepts as a ``clip_spec``
(:class:`~stconv_lite.ops.arguments.ClipSpec`); :func:`min_clip_size` and :func:`supports_clip` read
it without building real weights, so that a chapter offers only the models its clips fit.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import torch
import torch.nn as nn

from stconv_lite.ops.arguments import ClipSpec, positive_int

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


def create(name: str, num_classes: int, in_channels: int | None = None, **options) -> nn.Module:
    """Build the model registered as ``name``.

    Args:
        name: a name from :func:`available`, e.g. ``"r2plus1d_18"``.
        num_classes: size of the classification head.
        in_channels: channels of the input video (3 for RGB, 1 for Video-MNIST); ``None`` keeps
            the builder's own default (1 for the Video-MNIST models, 3 for the others).
        **options: builder-specific options (width, pretrained 2D weights, ...).
    """
    _discover()
    if name not in _BUILDERS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(sorted(_BUILDERS))}")
    positive_int(num_classes, "num_classes")
    if in_channels is not None:
        options["in_channels"] = positive_int(in_channels, "in_channels")
    for key in _COUNT_OPTIONS:
        if key in options and options[key] is not None:
            positive_int(options[key], key)
    return _BUILDERS[name](num_classes=num_classes, **options)


# Options that are counts wherever a builder takes them: ``width=0`` or ``frames=True`` would
# otherwise build a degenerate network (or fail deep inside torch).
_COUNT_OPTIONS = ("width", "frames", "size", "growth", "bottleneck", "stem_channels")


def clip_spec(name: str, **options) -> ClipSpec:
    """The clip sizes ``(T, H, W)`` that model ``name``, built with ``options``, accepts.

    The model is built on PyTorch's ``meta`` device (shapes only, no memory, no weights), so this is
    cheap even for ResNet-50s. Models without a stated :class:`ClipSpec` accept any clip >= 1x1x1.
    """
    with torch.device("meta"):
        model = create(name, num_classes=2, **options)
    return getattr(model, "clip_spec", ClipSpec())


def min_clip_size(name: str, **options) -> tuple[int, int, int]:
    """The smallest ``(T, H, W)`` that model ``name`` (built with ``options``) runs on.

    >>> min_clip_size("googlenet_3d")   # doctest: +SKIP
    (15, 15, 15)

    Networks built for one clip size (LeNet-5, R2D's time-stacking stem) return that size.
    """
    return clip_spec(name, **options).smallest


def supports_clip(name: str, clip: tuple[int, int, int], **options) -> bool:
    """Whether model ``name`` built with ``options`` runs on clips of ``clip = (T, H, W)``.

    Chapter menus filter on it: ``[n for n in menu if supports_clip(n, (8, 112, 112), **menu[n])]``.
    """
    return clip_spec(name, **options).accepts(*clip)
