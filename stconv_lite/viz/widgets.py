"""The widget pattern of the book: one explorer that is live in Jupyter and Colab and works on the static page.

:func:`explorer` displays *one* output with two representations of the same explorer:

- an ipywidgets box (the note, the figure as an ``Image`` widget, the controls), which Jupyter and
  Colab show and keep live: moving a control redraws the figure;
- a kernel-free HTML element (:mod:`stconv_lite.viz.static_explorer`): the figure precomputed for
  the values the controls can take, and page controls that switch between them. The book prefers
  this representation (``nb_mime_priority_overrides`` in ``_config.yml``), so a reader of the
  static page can move every control too.

ipywidgets is imported inside :func:`explorer`, so that ``stconv_lite.viz.plots`` never needs it.

Usage in a chapter (the last line of a cell is fine: the result does not display a second copy)::

    def render(motion_class=3, frame=0) -> Figure: ...
    explorer(render, motion_class=widgets.IntSlider(value=3, min=0, max=9), frame=widgets.IntSlider(...))

Controls that draw nothing but choose what later cells do (a model, an option) go through
:func:`settings`, which shows them under :data:`SETTINGS_NOTE`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

NOTE = (
    "Interactive in Jupyter or Colab: move the controls and the figure redraws. "
    "On the static page the figure was precomputed for the values the controls offer."
)
STATIC_NOTE = (
    "Move the controls: the figure was precomputed for each value they offer "
    "(in Jupyter or Colab it is redrawn live for any value)."
)
SETTINGS_NOTE = (
    "Settings: change them in Jupyter or Colab, then rerun the cells below. "
    "The static book ran with the defaults shown here."
)


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


def _png_bytes(figure: Figure) -> bytes:
    """``figure`` as PNG bytes, the figure closed (so the inline backend does not show it again).

    Going through PNG bytes works whatever the matplotlib backend is (under ``MPLBACKEND=Agg``
    IPython has no image formatter for figures).
    """
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _default(control):
    return control.value if hasattr(control, "value") else control


def explorer(render: Callable[..., Figure], alt: str | None = None, **controls) -> Explorer:
    """Show an explorer of ``render``: live in Jupyter and Colab, precomputed on the static page.

    Args:
        render: draws one state and returns a matplotlib figure (it should not call ``plt.show``).
        alt: what the figure shows, for readers who cannot see it (the page appends the control
            values). Default: a sentence naming the render function.
        **controls: ipywidgets controls (sliders, dropdowns, checkboxes) or fixed values, by
            argument name; the first figure uses each control's current ``value``. Sliders of an
            expensive ``render`` are best created with ``continuous_update=False``.
    Returns:
        an :class:`Explorer` (already displayed; ending a cell with it shows nothing more).
    """
    import ipywidgets as widgets
    from IPython.display import display

    from stconv_lite.viz.static_explorer import static_explorer_html

    if not callable(render):
        raise ValueError(f"explorer expects a render function returning a Figure; got {type(render).__name__}")
    live = {name: c for name, c in controls.items() if isinstance(c, widgets.Widget)}
    fixed = {name: c for name, c in controls.items() if not isinstance(c, widgets.Widget)}
    figure = render(**{name: _default(c) for name, c in controls.items()})
    if not isinstance(figure, Figure):
        raise ValueError(f"render must return a matplotlib Figure; got {type(figure).__name__}")
    image = widgets.Image(value=_png_bytes(figure), format="png", layout=widgets.Layout(max_width="100%"))

    def redraw(_change=None):
        values = {name: control.value for name, control in live.items()}
        image.value = _png_bytes(render(**values, **fixed))

    for control in live.values():
        control.observe(redraw, names="value")
    # Wrap the controls into further rows when they do not fit the width (e.g. four sliders).
    controls_row = widgets.HBox(list(live.values()), layout=widgets.Layout(flex_flow="row wrap"))
    box = widgets.VBox([widgets.HTML(f"<em>{NOTE}</em>"), image, controls_row])
    static = static_explorer_html(
        render, live, fixed, alt or f"Figure drawn by {getattr(render, '__name__', 'the explorer')}", STATIC_NOTE
    )
    # One output, two representations: Jupyter and Colab render the live widget view; the book
    # renders the text/html (see the module docstring).
    display(
        {
            "application/vnd.jupyter.widget-view+json": {
                "model_id": box.model_id,
                "version_major": 2,
                "version_minor": 0,
            },
            "text/html": static,
            "text/plain": f"explorer of {getattr(render, '__name__', 'a figure')}",
        },
        raw=True,
    )
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
