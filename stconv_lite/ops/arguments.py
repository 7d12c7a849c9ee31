"""Argument checks shared by the 3D operators: sizes given as an int or a (t, h, w) triple."""

from __future__ import annotations

Triple = int | tuple[int, int, int]


def triple(value: Triple, name: str) -> tuple[int, int, int]:
    """``3 -> (3, 3, 3)``; a triple of ints passes through; anything else is a clear ``ValueError``."""
    if isinstance(value, int):
        return (value, value, value)
    if len(value) != 3 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{name} must be an int or a (t, h, w) triple of ints; got {value!r}")
    return tuple(value)  # type: ignore[return-value]
