"""Small helpers for the chapter notebooks: where am I running, and how do numbers reach the prose.

Numbers quoted in the book's text are never typed by hand: a notebook computes them and hands them
to the text with :func:`glue` (myst-nb's ``glue`` in the book build; a plain display on Colab, where
myst-nb may not be installed).
"""

from __future__ import annotations

import sys
from typing import Any


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def glue(name: str, value: Any, display: bool = False) -> None:
    """Make ``value`` available to the book's text as ``{glue:}`name```.

    In the book build this is myst-nb's ``glue``; elsewhere (Colab, plain Jupyter without myst-nb)
    it just shows the value when ``display`` is true, so the notebook runs everywhere. It returns
    nothing, like myst-nb's: a cell that ends with a ``glue`` call must not echo the value onto the
    page as a stray ``'0.912'``.
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # pragma: no cover - depends on the environment
        if display:
            from IPython.display import display as show

            show(value)
        return None
    myst_glue(name, value, display=display)
    return None


def format_float(value: float, digits: int = 3) -> str:
    """A float as text for glue: ``format_float(0.91234, 3) == '0.912'``."""
    return f"{value:.{digits}f}"
