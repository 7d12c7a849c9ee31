r"""The model registry: every network of the book is created by name.

>>> from stconv_lite.models import create, available
>>> model = create("videoresnet18_2plus1d", num_classes=10, in_channels=1)   # doctest: +SKIP

Model files register their builders with :func:`register`; the registry imports every module of
:mod:`stconv_lite.models` on first use, so adding a model never means editing a central list.
Every builder accepts ``num_classes`` and ``in_channels`` (Video-MNIST is single-channel).

Every model states the clip sizes it accepts as a ``clip_spec``
(:class:`~stconv_lite.ops.arguments.ClipSpec`); :func:`min_clip_size` and :func:`supports_clip` read
it without building real weights, so that a chapter offers only the models its clips fit.

**Names.** Every name follows one grammar, ``<backbone>_<operator>[_<plugin>][_small]``: the
*backbone* says which network skeleton (layout and depth) and where its temporal operator sits, the
*operator* says what that operator computes. Two networks differ in their name exactly where they
differ in architecture (``resnet18_3d`` and ``videoresnet18_3d`` are different networks, and so are
``ctnet50_ct`` and ``ctnet50_ctfull``). :func:`parse_name` splits a name into these parts.

================================  ====================================================================================
backbone                          layout (paper)
================================  ====================================================================================
``cnn3``                          three conv-BN-ReLU blocks (``w, 2w, 4w`` channels), two max-pools, global mean,
                                  linear (the book, chapter 1)
``lenet5``                        LeNet-5 in the authors' layout for 1 x 30 x 28 x 28 Video-MNIST clips (3TConv paper,
                                  Ras et al. 2021, appendix B)
``resnet18``, ``googlenet``       torchvision's 2D ResNet-18 / GoogLeNet with every conv converted and time strided
                                  like space: 7x7x7 stride-2 stem, 3x3x3 max-pools (3TConv paper, table 1)
``videoresnet18``, ``..34``       the video ResNet of Tran et al. 2018 ("A Closer Look", table 1): 3x7x7 stem with
                                  stride (1, 2, 2), no max-pool, basic blocks 2-2-2-2 (``videoresnet18``) or 3-4-6-3
                                  (``videoresnet34``)
``tsn50``                         TSN's ResNet-50, 2D on every frame, logits averaged over time, in the layout of the
                                  TAdaConv paper's table A1 (no max-pool after the stem, stride 2 in res2 instead);
                                  the operator sits in every bottleneck's 3x3 (Huang et al. 2022)
``ctnet50``                       TSN's ResNet-50 in torchvision's layout (max-pool after the stem) whose 7 odd-index
                                  bottlenecks are CT-Blocks (1x1, operator, 1x1); the other 9 stay per-frame 2D
                                  (CT-Net, Li et al. 2021, figure 2c)
``densenet121``                   the 3D DenseNet-121 fusion template: dense blocks 6-12-24-16, growth 32, 5x7x7 stem
                                  (Zhou et al. 2020, supplement figure 1)
================================  ====================================================================================

================================  ====================================================================================
operator                          what the temporal operator computes (paper)
================================  ====================================================================================
``2d``                            2D convs on each frame alone, averaged over time at the end, so blind to frame order
                                  (f-R2D of Tran et al.; TSN; the 3TConv paper's 2D baseline)
``stacked``                       the frames stacked into the channels of conv1, 2D after it (R2D, Tran et al.)
``3d``                            full k x k x k convs (C3D; R3D of Tran et al.; 3D-ResNet18 of the 3TConv paper)
``mc2`` ... ``mc5``               3D below group X, 2D from group X on (MCx, Tran et al.)
``rmc2`` ... ``rmc5``             2D below group X, 3D from group X on (rMCx, Tran et al.)
``2plus1d``                       every 3D conv factorised into 1 x k x k then t x 1 x 1 with M_i middle channels
                                  (R(2+1)D, Tran et al., eq. 1)
``3t``                            every k x k conv a 3TConv: one 2D kernel and k per-slice affine transforms (Ras et
                                  al. 2021)
``tada2d``                        every 3x3 a TAdaConv plus temporal aggregation (TAda2D, TAdaConv paper sec. 4)
``c3d``, ``r2plus1d``, ``csn``    CT-Net table 2a's comparison modules in the CT-Blocks: full 3x3x3; full 1x3x3 then
                                  full 3x1x1; full 1x1x1 then depthwise 3x3x3
``ct``                            the plain CT-Module: channel tensorization, no point-wise conv, no tensor excitation
                                  (CT-Net table 2a, "CT-Module")
``ctfull``                        CT-Module + point-wise convs + tensor excitation, the full CT-Block of figure 2b:
                                  **the** CT-Net (table 2g, last column)
``fusion``                        searchable S / ST / S+ST units with drop-path gates (Zhou et al. 2020)
================================  ====================================================================================

================================  ====================================================================================
suffix                            meaning
================================  ====================================================================================
``_tada`` (plug-in)               TAdaConv's C_in calibration on every spatial conv of layer1..layer4 of the network
                                  named before it (TAdaConv paper, table 2)
``_small``                        the book's CPU-sized version of the same network for Video-MNIST: width 16 and one
                                  block per stage (two for ``ctnet50``, whose CT-Blocks sit at odd indices);
                                  ``densenet121_fusion_small`` has 3 blocks of 3 layers, growth 8 and a 1x3x3 stem
================================  ====================================================================================

The module kinds behind the ``ctnet50`` operators are :func:`~stconv_lite.ops.ctconv.make_module`'s
``module=`` values without their underscore (``ctfull`` is ``"ct_full"``).

**Old names.** The names used before this grammar (``r2plus1d_18``, ``ctnet_r50``, ``resnet50_ct``,
``tsn_small``, ...) still work everywhere a name is taken, as aliases that emit a ``FutureWarning``
naming the new name; :func:`aliases` gives the whole old -> new map and :func:`available` lists the
canonical names only. Names that start with ``_`` are private (tests, scratch) and exempt from the grammar.
"""

from __future__ import annotations

import difflib
import importlib
import os
import pkgutil
import re
import warnings
from collections.abc import Callable

import torch
import torch.nn as nn

from stconv_lite.ops.arguments import ClipSpec, positive_int

__all__ = [
    "register",
    "available",
    "aliases",
    "resolve",
    "parse_name",
    "create",
    "clip_spec",
    "min_clip_size",
    "supports_clip",
    "BACKBONES",
    "OPERATORS",
    "PLUGINS",
    "SIZES",
    "NAME_PATTERN",
]

Builder = Callable[..., nn.Module]
_BUILDERS: dict[str, Builder] = {}
_DISCOVERED = False

# The vocabulary of the grammar (the tables of the module docstring).
BACKBONES = (
    "cnn3",
    "lenet5",
    "resnet18",
    "googlenet",
    "videoresnet18",
    "videoresnet34",
    "tsn50",
    "ctnet50",
    "densenet121",
)
OPERATORS = (
    "2d",
    "stacked",
    "3d",
    *(f"mc{x}" for x in range(2, 6)),
    *(f"rmc{x}" for x in range(2, 6)),
    "2plus1d",
    "3t",
    "tada2d",
    "c3d",
    "r2plus1d",
    "csn",
    "ct",
    "ctfull",
    "fusion",
)
PLUGINS = ("tada",)
SIZES = ("small",)


def _alternatives(words: tuple[str, ...]) -> str:
    return "|".join(sorted(words, key=len, reverse=True))  # longest first: "rmc2" before "mc2"


NAME_PATTERN = re.compile(
    rf"^(?P<backbone>{_alternatives(BACKBONES)})_(?P<operator>{_alternatives(OPERATORS)})"
    rf"(?:_(?P<plugin>{_alternatives(PLUGINS)}))?(?:_(?P<size>{_alternatives(SIZES)}))?$"
)

# Old name -> canonical name (the names before the grammar; kept as aliases that warn).
_OLD_NAMES: dict[str, str] = {
    **{
        f"{old}_{depth}": f"videoresnet{depth}_{new}"
        for depth in (18, 34)
        for old, new in (
            ("r2d", "stacked"),
            ("fr2d", "2d"),
            ("r3d", "3d"),
            *((f"mc{x}", f"mc{x}") for x in range(2, 6)),
            *((f"rmc{x}", f"rmc{x}") for x in range(2, 6)),
            ("r2plus1d", "2plus1d"),
            ("tada_r2plus1d", "2plus1d_tada"),
            ("tada_r3d", "3d_tada"),
        )
    },
    "frame_bag_2d": "cnn3_2d",
    "tiny_c3d": "cnn3_3d",
    "tsn_r50": "tsn50_2d",
    "tsn_small": "tsn50_2d_small",
    "tada2d_r50": "tsn50_tada2d",
    "tada2d_small": "tsn50_tada2d_small",
    "ctnet_r50": "ctnet50_ctfull",
    "ctnet_small": "ctnet50_ctfull_small",
    "resnet50_ct": "ctnet50_ct",
    "resnet50_c3d": "ctnet50_c3d",
    "resnet50_r2plus1d": "ctnet50_r2plus1d",
    "resnet50_csn": "ctnet50_csn",
    "fusion_template_121": "densenet121_fusion",
    "fusion_template_tiny": "densenet121_fusion_small",
}


def parse_name(name: str) -> dict[str, str | None]:
    """The parts of a canonical name: ``{"backbone", "operator", "plugin", "size"}`` (absent: None).

    >>> parse_name("videoresnet18_2plus1d_tada")
    {'backbone': 'videoresnet18', 'operator': '2plus1d', 'plugin': 'tada', 'size': None}
    """
    match = NAME_PATTERN.match(name) if isinstance(name, str) else None
    if match is None:
        raise ValueError(
            f"model name {name!r} does not follow <backbone>_<operator>[_<plugin>][_small] "
            f"(backbones {', '.join(BACKBONES)}; operators {', '.join(OPERATORS)}; plugins {', '.join(PLUGINS)}); "
            "see the docstring of stconv_lite.models.registry"
        )
    return match.groupdict()


def register(name: str) -> Callable[[Builder], Builder]:
    """Decorator: ``@register("lenet5_3t")`` above a builder ``f(num_classes, in_channels, **kw)``.

    ``name`` must follow the grammar of the module docstring (names starting with ``_`` are exempt).
    """
    if name in _OLD_NAMES:
        raise ValueError(f"model name {name!r} is the old name of {_OLD_NAMES[name]!r}; register a new name")
    if not name.startswith("_"):
        parse_name(name)

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
    """Sorted canonical names of every registered model (old names are in :func:`aliases`)."""
    _discover()
    return sorted(_BUILDERS)


def aliases() -> dict[str, str]:
    """The old names that still work, each mapped to its canonical name (a copy)."""
    return dict(_OLD_NAMES)


def _close_matches(name: str) -> list[str]:
    """Canonical names close to ``name`` (old names count, as their canonical name)."""
    lowered = str(name).lower()
    candidates = {**{n: n for n in _BUILDERS}, **_OLD_NAMES}
    close = difflib.get_close_matches(lowered, list(candidates), n=6, cutoff=0.6)
    parts = {part for part in re.split(r"[_\W]+", lowered) if len(part) > 1}
    close += [n for n in sorted(_BUILDERS) if parts and parts <= set(n.split("_"))]
    return list(dict.fromkeys(candidates[n] for n in close))[:5]


def resolve(name: str, stacklevel: int = 2) -> str:
    """The canonical name for ``name``: itself, or (with a ``FutureWarning``) the new name of an old one.

    Raises ``ValueError`` for an unknown name, listing the closest registered names.
    ``stacklevel`` is passed to :func:`warnings.warn` (2: the caller of ``resolve``).
    """
    _discover()
    if isinstance(name, str) and name in _BUILDERS:
        return name
    if isinstance(name, str) and name in _OLD_NAMES:
        new = _OLD_NAMES[name]
        if os.environ.get("STCONV_STRICT_NAMES") == "1":
            # the test suite sets this (conftest.py), so a chapter that still builds a model by an old
            # name fails in CI instead of printing a warning nobody reads (the book drops stderr)
            raise ValueError(
                f"old model name {name!r}: use {new!r} (STCONV_STRICT_NAMES=1 turns the warning into this error)"
            )
        warnings.warn(
            f"model name {name!r} is deprecated; use {new!r} (the same network; "
            "see stconv_lite.models.registry.aliases())",
            FutureWarning,
            stacklevel=stacklevel + 1,
        )
        return new
    close = _close_matches(name)
    hint = f"did you mean {' or '.join(repr(n) for n in close)}? " if close else ""
    raise ValueError(f"unknown model {name!r}; {hint}available: {', '.join(sorted(_BUILDERS))}")


def create(name: str, num_classes: int, in_channels: int | None = None, **options) -> nn.Module:
    """Build the model registered as ``name``.

    Args:
        name: a name from :func:`available`, e.g. ``"videoresnet18_2plus1d"`` (an old name from
            :func:`aliases` works too, with a ``FutureWarning``).
        num_classes: size of the classification head.
        in_channels: channels of the input video (3 for RGB, 1 for Video-MNIST); ``None`` keeps
            the builder's own default (1 for the Video-MNIST models, 3 for the others).
        **options: builder-specific options (width, pretrained 2D weights, ...).
    """
    name = resolve(name, stacklevel=2)
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
    name = resolve(name, stacklevel=2)
    with torch.device("meta"):
        model = create(name, num_classes=2, **options)
    return getattr(model, "clip_spec", ClipSpec())


def min_clip_size(name: str, **options) -> tuple[int, int, int]:
    """The smallest ``(T, H, W)`` that model ``name`` (built with ``options``) runs on.

    >>> min_clip_size("googlenet_3d")   # doctest: +SKIP
    (15, 15, 15)

    Networks built for one clip size (LeNet-5, the ``stacked`` stem of R2D) return that size.
    """
    return clip_spec(resolve(name, stacklevel=2), **options).smallest


def supports_clip(name: str, clip: tuple[int, int, int], **options) -> bool:
    """Whether model ``name`` built with ``options`` runs on clips of ``clip = (T, H, W)``.

    Chapter menus filter on it: ``[n for n in menu if supports_clip(n, (8, 112, 112), **menu[n])]``.
    """
    return clip_spec(resolve(name, stacklevel=2), **options).accepts(*clip)
