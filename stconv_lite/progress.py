"""Progress bars that are live where a person watches and absent from the built book.

tqdm's notebook bars are ipywidgets: when the book build executes a chapter, their final state is
saved in the page, and a reader of the static book sees a stack of finished bars (the readers
counted 10 to 151 of them per page). The bars here are tqdm's *text* bars written to standard
error instead. Jupyter and Colab show them live, updating in place; the book removes every stderr
output (``stderr_output: remove`` in ``_config.yml``), so nothing is stored on the page.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

__all__ = ["progress_bar"]


def progress_bar(iterable: Iterable | None = None, enabled: bool = True, **kwargs):
    """``tqdm(iterable, **kwargs)`` as a text bar on stderr, or ``iterable`` itself when disabled.

    With ``iterable=None`` it returns a manually updated bar (``total=`` in kwargs), or, disabled,
    a bar object whose ``update``/``close``/``set_postfix`` do nothing.
    """
    from tqdm.std import tqdm

    if not enabled and iterable is not None:
        return iterable
    return tqdm(iterable, file=sys.stderr, dynamic_ncols=True, disable=not enabled, **kwargs)
