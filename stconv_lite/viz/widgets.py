"""The widget pattern of the book: a static figure of the default state, then live controls.

A reader of the built book has no kernel, so widgets cannot run there; they would show nothing or
a stale state. Every explorer therefore first *displays a static figure* of its default settings
(which the book shows), then the ipywidgets controls, which are live in Jupyter and Colab.
"""

from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

NOTE = "Interactive in Jupyter or Colab: move the controls to redraw. The static book shows the default state above."


def _default(control):
    return control.value if hasattr(control, "value") else control


def explorer(render: Callable[..., Figure], **controls):
    """Show ``render(**defaults)`` as a static figure, then an interactive version of it.

    Args:
        render: draws one state and returns a matplotlib figure.
        **controls: ipywidgets controls (sliders, dropdowns) or fixed values, by argument name.
    Returns:
        the ipywidgets box (already displayed).
    """
    import ipywidgets as widgets
    from IPython.display import display

    figure = render(**{name: _default(c) for name, c in controls.items()})
    display(figure)
    plt.close(figure)

    live = {name: c for name, c in controls.items() if isinstance(c, widgets.Widget)}
    fixed = {name: c for name, c in controls.items() if not isinstance(c, widgets.Widget)}

    def draw(**values):
        fig = render(**values, **fixed)
        display(fig)
        plt.close(fig)

    output = widgets.interactive_output(draw, live)
    box = widgets.VBox([widgets.HTML(f"<em>{NOTE}</em>"), widgets.HBox(list(live.values())), output])
    display(box)
    return box
