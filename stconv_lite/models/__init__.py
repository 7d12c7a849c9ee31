"""The networks of the book. Create them by name: ``create(name, num_classes, in_channels)``.

Names follow one grammar, ``<backbone>_<operator>[_<plugin>][_small]`` (e.g. ``videoresnet18_2plus1d``,
``ctnet50_ctfull``); the table of parts is in :mod:`stconv_lite.models.registry`.
"""

from stconv_lite.models.registry import (
    aliases,
    available,
    clip_spec,
    create,
    min_clip_size,
    parse_name,
    register,
    resolve,
    supports_clip,
)

__all__ = [
    "aliases",
    "available",
    "clip_spec",
    "create",
    "min_clip_size",
    "parse_name",
    "register",
    "resolve",
    "supports_clip",
]
