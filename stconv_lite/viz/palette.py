"""One colour per model, operator, strategy and unit, across the whole book.

A reader who learns in chapter 1 that the order-blind frame bag is orange should find every
order-blind 2D model orange in chapter 5, and every full 3D convolution vermillion wherever it
appears. :func:`colour_of` gives that colour for a name (a registry name, an experiment arm, a
fusion unit); names it does not know fall back to the palette by position, so a figure never
fails for a new arm.

The colours are Okabe and Ito's eight (:data:`stconv_lite.viz.plots.PALETTE`), which stay
distinguishable under the common colour-vision deficiencies, plus three of Paul Tol's muted
scheme for the families beyond eight. Families share a colour on purpose: one colour means "this
kind of temporal modelling".
"""

from __future__ import annotations

import re

from stconv_lite.viz.plots import PALETTE

__all__ = ["FAMILY_COLOURS", "EXTRA_COLOURS", "family_of", "colour_of", "distinct_colours"]

_ORANGE, _SKY, _GREEN, _YELLOW, _BLUE, _RED, _PURPLE, _BLACK = PALETTE

FAMILY_COLOURS = {
    "order-blind 2D": _ORANGE,  # frame bag, f-R2D, TSN, the S unit: frames alone, then pooled
    "early stacking 2D": "#999933",  # R2D: time stacked into channels at the input (Tol olive)
    "full 3D": _BLUE,  # C3D, R3D, 3D-ResNet, the ST unit with a full kernel
    "mixed 3D/2D": "#882255",  # MCx, rMCx (Tol wine)
    "(2+1)D": _GREEN,  # R(2+1)D, the (2+1)D operator
    "3TConv": _RED,  # 3T networks and layers (vermillion)
    "channel-separated": "#332288",  # CSN (Tol indigo)
    "CT": _SKY,  # CT-Net, the CT module
    "TAdaConv": _PURPLE,  # TAda2D, TAdaConv in R(2+1)D / R3D (reddish purple)
    "fusion": "#44AA99",  # fusion strategies and units other than pure S / ST (Tol teal)
    "reference": _BLACK,  # chance, bounds, the paper's numbers
}

# For a figure that shows two members of one family (MC3 and rMC3, R2D and f-R2D): the first keeps
# the family colour, the others take one of these, chosen by name, so a name keeps its colour.
EXTRA_COLOURS = ["#CC6677", "#DDCC77", "#888888", "#AA4499", "#661100"]  # Tol rose, sand, grey, purple, brown

_RULES = [  # (pattern on the lower-case name, family); the first match wins
    (r"tada", "TAdaConv"),
    (r"(^|_)ct|ctnet|tensor", "CT"),
    (r"csn|channel.sep", "channel-separated"),
    (r"3t|conv3t", "3TConv"),
    (r"r2plus1d|2\+1|2plus1", "(2+1)D"),
    (r"^r?mc\d", "mixed 3D/2D"),
    (r"^fr2d|frame_bag|tsn|^s$|per.frame|2d_per|order.blind", "order-blind 2D"),
    (r"^r2d", "early stacking 2D"),
    (r"c3d|r3d|3d|^st$|full", "full 3D"),
    (r"s\+st|opt|fusion|uniform|strategy|template", "fusion"),
    (r"chance|bound|paper", "reference"),
]


# The operator (and plug-in) part of a registry name -> family (stconv_lite.models.registry's grammar).
_OPERATOR_FAMILIES = {
    "2d": "order-blind 2D",
    "stacked": "early stacking 2D",
    "3d": "full 3D",
    "c3d": "full 3D",
    **{f"{prefix}{x}": "mixed 3D/2D" for prefix in ("mc", "rmc") for x in range(2, 6)},
    "2plus1d": "(2+1)D",
    "r2plus1d": "(2+1)D",
    "3t": "3TConv",
    "tada2d": "TAdaConv",
    "csn": "channel-separated",
    "ct": "CT",
    "ctfull": "CT",
    "fusion": "fusion",
}


def family_of(name: str) -> str | None:
    """The family a model, arm or unit name belongs to, or None when no rule matches.

    A registry name (``videoresnet18_mc3``, ``ctnet50_csn``) takes the family of its operator (or of
    its plug-in, ``_tada``); other names (experiment arms, units, old model names) go through the rules.
    """
    from stconv_lite.models.registry import NAME_PATTERN

    parts = NAME_PATTERN.match(name)
    if parts is not None:
        return "TAdaConv" if parts["plugin"] == "tada" else _OPERATOR_FAMILIES.get(parts["operator"])
    lowered = name.lower()
    for pattern, family in _RULES:
        if re.search(pattern, lowered):
            return family
    return None


def colour_of(name: str, position: int = 0) -> str:
    """The book-wide colour of ``name``; unknown names take the palette colour at ``position``."""
    family = family_of(name)
    return FAMILY_COLOURS[family] if family is not None else PALETTE[position % len(PALETTE)]


def _stable_index(name: str, size: int) -> int:
    return sum(ord(ch) * (i + 1) for i, ch in enumerate(name)) % size


def distinct_colours(names: list[str]) -> dict[str, str]:
    """A colour per name for one figure: family colours, and for a second member of a family a
    colour of :data:`EXTRA_COLOURS` picked by its name (the same in every figure); never two alike."""
    chosen: dict[str, str] = {}
    for position, name in enumerate(names):
        colour = colour_of(name, position)
        if colour in chosen.values():
            start = _stable_index(name, len(EXTRA_COLOURS))
            candidates = EXTRA_COLOURS[start:] + EXTRA_COLOURS[:start] + PALETTE
            colour = next(c for c in candidates if c not in chosen.values())
        chosen[name] = colour
    return chosen
