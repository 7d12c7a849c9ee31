"""The widget pattern of the book: a static figure of the default state, then live controls.

A reader of the built book has no kernel, so widgets cannot run there; they would show nothing or
a stale state. Every explorer therefore first *displays a static figure* of its default settings
(which the book shows), then the ipywidgets controls, which are live in Jupyter and Colab (Colab
renders ipywidgets 8 natively). ipywidgets is imported inside :func:`explorer`, so that
``stconv_lite.viz.plots`` never needs it.

Usage in a chapter (the last line of a cell is fine: the result does not display a second copy)::

    def render(motion_class=3, frame=0) -> Figure: ...
    explorer(render, motion_class=widgets.IntSlider(value=3, min=0, max=9), frame=widgets.IntSlider(...))
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

NOTE = "Interactive in Jupyter or Colab: move the controls to redraw. The static book shows the default state above."


@dataclass
class Explorer:
    """What :func:`explorer` displayed: the static figure (closed) and the widget box.

    It has no display of its own, so that ending a cell with ``explorer(...)`` does not show the
    controls twice.
    """

    figure: Figure
    box: Any

    def _ipython_display_(self) -> None:
        pass


def _show(figure: Figure) -> None:
    """Display ``figure`` as a PNG and close it.

    Going through PNG bytes (rather than ``display(figure)``) shows the figure whatever the
    matplotlib backend is: under ``MPLBACKEND=Agg`` (CI) IPython has no image formatter for figures
    and would show only ``<Figure size ...>``. Closing it stops the inline backend from showing it
    a second time at the end of the cell.
    """
    from IPython.display import Image, display

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    display(Image(data=buffer.getvalue(), format="png"))


def _default(control):
    return control.value if hasattr(control, "value") else control


def explorer(render: Callable[..., Figure], **controls) -> Explorer:
    """Show ``render(**defaults)`` as a static figure, then an interactive version of it.

    Args:
        render: draws one state and returns a matplotlib figure (it should not call ``plt.show``).
        **controls: ipywidgets controls (sliders, dropdowns) or fixed values, by argument name;
            the static figure uses each control's current ``value``. Sliders of an expensive
            ``render`` are best created with ``continuous_update=False``.
    Returns:
        an :class:`Explorer` (already displayed; ending a cell with it shows nothing more).
    """
    import ipywidgets as widgets
    from IPython.display import display

    if not callable(render):
        raise ValueError(f"explorer expects a render function returning a Figure; got {type(render).__name__}")
    figure = render(**{name: _default(c) for name, c in controls.items()})
    if not isinstance(figure, Figure):
        raise ValueError(f"render must return a matplotlib Figure; got {type(figure).__name__}")
    _show(figure)

    live = {name: c for name, c in controls.items() if isinstance(c, widgets.Widget)}
    fixed = {name: c for name, c in controls.items() if not isinstance(c, widgets.Widget)}

    def draw(**values):
        _show(render(**values, **fixed))

    output = widgets.interactive_output(draw, live)
    box = widgets.VBox([widgets.HTML(f"<em>{NOTE}</em>"), widgets.HBox(list(live.values())), output])
    display(box)
    return Explorer(figure=figure, box=box)
