"""The widget pattern of the book: a static figure of the default state, then live controls.

A reader of the built book has no kernel, so widgets cannot run there; they would show nothing or
a stale state. Every explorer therefore first *displays a static figure* of its default settings
(which the book shows), then the ipywidgets controls, which are live in Jupyter and Colab (Colab
renders ipywidgets 8 natively): moving one redraws that same figure in place (a display update). ipywidgets is imported inside :func:`explorer`, so that
``stconv_lite.viz.plots`` never needs it.

Usage in a chapter (the last line of a cell is fine: the result does not display a second copy)::

    def render(motion_class=3, frame=0) -> Figure: ...
    explorer(render, motion_class=widgets.IntSlider(value=3, min=0, max=9), frame=widgets.IntSlider(...))

Controls that draw nothing but choose what later cells do (a model, an option) go through
:func:`settings`, which shows them under :data:`SETTINGS_NOTE`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

NOTE = ("Interactive in Jupyter or Colab: move the controls and the figure above redraws. "
        "The static book shows it in the default state.")
SETTINGS_NOTE = ("Settings: change them in Jupyter or Colab, then rerun the cells below. "
                 "The static book ran with the defaults shown here.")


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


def _png(figure: Figure):
    """``figure`` as an ``IPython.display.Image`` (PNG), the figure closed.

    Going through PNG bytes (rather than ``display(figure)``) shows the figure whatever the
    matplotlib backend is: under ``MPLBACKEND=Agg`` (CI) IPython has no image formatter for figures
    and would show only ``<Figure size ...>``. Closing it stops the inline backend from showing it
    a second time at the end of the cell.
    """
    from IPython.display import Image

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return Image(data=buffer.getvalue(), format="png")


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
    from IPython.display import DisplayHandle, display

    if not callable(render):
        raise ValueError(f"explorer expects a render function returning a Figure; got {type(render).__name__}")
    figure = render(**{name: _default(c) for name, c in controls.items()})
    if not isinstance(figure, Figure):
        raise ValueError(f"render must return a matplotlib Figure; got {type(figure).__name__}")
    # The figure is an ordinary output with a display id: the static book keeps it (with the alt
    # text of its cell), and in Jupyter/Colab each change of a control redraws it in place. No
    # Output widget: its saved copy would repeat the figure in the book, without an alt text.
    figure_display = DisplayHandle()
    figure_display.display(_png(figure))

    live = {name: c for name, c in controls.items() if isinstance(c, widgets.Widget)}
    fixed = {name: c for name, c in controls.items() if not isinstance(c, widgets.Widget)}

    def redraw(_change=None):
        values = {name: control.value for name, control in live.items()}
        figure_display.update(_png(render(**values, **fixed)))

    for control in live.values():
        control.observe(redraw, names="value")
    # Wrap the controls into further rows when they do not fit the width (e.g. four sliders).
    controls_row = widgets.HBox(list(live.values()), layout=widgets.Layout(flex_flow="row wrap"))
    box = widgets.VBox([widgets.HTML(f"<em>{NOTE}</em>"), controls_row])
    display(box)
    return Explorer(figure=figure, box=box)


def settings(*controls):
    """Display ``controls`` (ipywidgets) under :data:`SETTINGS_NOTE`; return the box holding them.

    For controls that draw nothing themselves but choose what the following cells do: the note
    tells a reader of the static book that the page was computed with the values shown. Read the
    choices from the controls (``control.value``) in the cells below.

    Args:
        *controls: one or more ipywidgets controls (dropdowns, checkboxes, sliders).
    Returns:
        the ``ipywidgets.VBox`` (already displayed: do not end a cell with the call, or end it with
        ``;``, else Jupyter shows the box a second time).
    """
    import ipywidgets as widgets
    from IPython.display import display

    if not controls:
        raise ValueError("settings expects at least one ipywidgets control")
    wrong = [type(c).__name__ for c in controls if not isinstance(c, widgets.Widget)]
    if wrong:
        raise ValueError(f"settings expects ipywidgets controls; got {', '.join(wrong)}")
    box = widgets.VBox([widgets.HTML(f"<em>{SETTINGS_NOTE}</em>"), *controls])
    display(box)
    return box
