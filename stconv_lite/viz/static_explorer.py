"""A kernel-free explorer for the static book: precomputed figures switched by page controls.

A reader of the built book has no kernel, so ipywidgets sliders cannot redraw anything there. This
module renders the explorer's figure for the values its controls can take, ahead of time, and
writes an HTML element that switches between those images in the browser::

    <div class="stconv-explorer" data-mode="grid|axes">
      <label>name <input type="range" ...> <output>value</output></label>   (or a <select>)
      ...
      <img src="data:image/png;base64,..." alt="...">
      <script type="application/json" class="stconv-explorer-states">{key: data URI}</script>
      <script>...switches the image when a control moves...</script>
    </div>

Which states are rendered (:func:`plan_states`): the whole grid of control values when it has at
most :data:`GRID_LIMIT` states; otherwise one control at a time around the defaults ("axes" mode:
moving one control shows the figure with every other control at its default, and the page resets
the others to their defaults so the controls always show what the image shows). Sliders with many
positions are thinned to at most :data:`VALUES_PER_CONTROL` values (the default always kept).
Images are PNGs at a reduced resolution; :data:`BYTES_LIMIT` caps one explorer's size, and the
resolution is lowered further when the first attempt exceeds it.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import json
from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

__all__ = ["GRID_LIMIT", "VALUES_PER_CONTROL", "BYTES_LIMIT", "control_values", "plan_states", "static_explorer_html"]

GRID_LIMIT = 24
VALUES_PER_CONTROL = 12  # a 0..9 class or frame slider keeps every value
BYTES_LIMIT = 3_000_000
_DPI = (72, 54, 40)  # tried in order until the explorer fits BYTES_LIMIT


def _thin(values: list, default: Any, most: int) -> list:
    """At most ``most`` values spread evenly over ``values``, always including ``default``."""
    if len(values) <= most:
        return values
    step = (len(values) - 1) / (most - 1)
    chosen = {values[round(i * step)] for i in range(most)} | {default}
    return [v for v in values if v in chosen]


def control_values(control) -> tuple[str, list, Any]:
    """(kind, values, default) of an ipywidgets control: kind ``"range"`` (sliders) or ``"select"``.

    Sliders give their positions from ``min`` to ``max`` by ``step``; dropdowns, toggle buttons and
    radio buttons their options; checkboxes ``[False, True]``.
    """
    name = type(control).__name__
    default = control.value
    if name in ("IntSlider", "FloatSlider"):
        count = int(round((control.max - control.min) / control.step)) + 1
        values = [control.min + i * control.step for i in range(count)]
        values = [int(v) if name == "IntSlider" else round(float(v), 10) for v in values]
        default = int(default) if name == "IntSlider" else round(float(default), 10)
        if default not in values:
            values = sorted(set(values) | {default})
        return "range", _thin(values, default, VALUES_PER_CONTROL), default
    if name in ("Dropdown", "ToggleButtons", "RadioButtons", "Select", "SelectionSlider"):
        options = [o[1] if isinstance(o, tuple) else o for o in control.options]
        return "select", list(options), default
    if name in ("Checkbox", "ToggleButton"):
        return "select", [False, True], bool(default)
    raise ValueError(f"the static explorer does not know how to enumerate a {name} control")


def plan_states(spec: dict[str, tuple[str, list, Any]]) -> tuple[str, list[dict]]:
    """The control settings to render: ``("grid", all combinations)`` or ``("axes", one control at a time)``."""
    names = list(spec)
    sizes = [len(spec[n][1]) for n in names]
    total = 1
    for size in sizes:
        total *= size
    defaults = {n: spec[n][2] for n in names}
    if total <= GRID_LIMIT:
        return "grid", [dict(zip(names, combo)) for combo in itertools.product(*(spec[n][1] for n in names))]
    states = [dict(defaults)]
    for n in names:
        states += [{**defaults, n: v} for v in spec[n][1] if v != defaults[n]]
    return "axes", states


def _key(state: dict, spec: dict) -> str:
    """The positions of the controls, e.g. ``"3,0,1"``: what the page script computes from its controls."""
    return ",".join(str(spec[n][1].index(state[n])) for n in spec)


def _png_uri(figure: Figure, dpi: int) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_SCRIPT = """(function () {
  var root = document.currentScript.parentElement;
  var states = JSON.parse(root.querySelector('script.stconv-explorer-states').textContent);
  var controls = Array.prototype.slice.call(root.querySelectorAll('[data-control]'));
  var image = root.querySelector('img');
  var axes = root.getAttribute('data-mode') === 'axes';
  function position(c) { return c.tagName === 'SELECT' ? c.selectedIndex : +c.value; }
  function value(c) { return JSON.parse(c.getAttribute('data-values'))[position(c)]; }
  function show(moved) {
    if (axes && moved) controls.forEach(function (c) { if (c !== moved) c.value = c.getAttribute('data-default'); if (c !== moved && c.tagName === 'SELECT') c.selectedIndex = +c.getAttribute('data-default'); });
    controls.forEach(function (c) { var out = c.parentElement.querySelector('output'); if (out) out.textContent = String(value(c)); });
    var key = controls.map(position).join(',');
    if (states[key]) { image.src = states[key]; image.alt = root.getAttribute('data-alt') + ' (' + controls.map(function (c) { return c.getAttribute('data-control') + ' = ' + value(c); }).join(', ') + ')'; }
  }
  controls.forEach(function (c) { c.addEventListener('input', function () { show(c); }); c.addEventListener('change', function () { show(c); }); });
})();"""


def static_explorer_html(
    render: Callable[..., Figure], controls: dict[str, Any], fixed: dict[str, Any], alt: str, note: str
) -> str:
    """Render every planned state of ``render`` and return the ``stconv-explorer`` element.

    Args:
        render: draws one state (returns a Figure; closed here after rendering).
        controls: ipywidgets controls by argument name; ``fixed``: fixed keyword arguments.
        alt: the image's alt text (the current control values are appended in the browser).
        note: one line shown above the controls.
    """
    spec = {name: control_values(c) for name, c in controls.items()}
    names = list(spec)
    mode, states = plan_states(spec)
    # Each figure is drawn once, saved at every resolution we might need, and closed at once, so
    # that no more than one figure is ever open (a render may be slow, and pyplot keeps figures).
    encoded: dict[int, dict[str, str]] = {dpi: {} for dpi in _DPI}
    for state in states:
        figure = render(**state, **fixed)
        try:
            for dpi in _DPI:
                encoded[dpi][_key(state, spec)] = _png_uri(figure, dpi)
        finally:
            plt.close(figure)
    # The sharpest resolution that keeps the explorer within its budget (the smallest one otherwise).
    images = next(
        (encoded[dpi] for dpi in _DPI if sum(map(len, encoded[dpi].values())) <= BYTES_LIMIT), encoded[_DPI[-1]]
    )
    defaults = {n: spec[n][2] for n in names}
    parts = [
        f'<div class="stconv-explorer" data-mode="{mode}" data-alt="{html.escape(alt)}">',
        f"<p><em>{html.escape(note)}</em></p>",
        '<div class="stconv-explorer-controls">',
    ]
    for name in names:
        kind, values, default = spec[name]
        index = values.index(default)
        data = (
            f'data-control="{html.escape(name)}" data-values="{html.escape(json.dumps(values))}" data-default="{index}"'
        )
        label = html.escape(getattr(controls[name], "description", "") or name)
        if kind == "range":
            parts.append(
                f'<label>{label} <input type="range" min="0" max="{len(values) - 1}" step="1" value="{index}" '
                f"{data}> <output>{html.escape(str(default))}</output></label>"
            )
        else:
            options = "".join(
                f"<option{' selected' if i == index else ''}>{html.escape(str(v))}</option>"
                for i, v in enumerate(values)
            )
            parts.append(f"<label>{label} <select {data}>{options}</select></label>")
    parts.append("</div>")
    default_alt = alt + " (" + ", ".join(f"{n} = {defaults[n]}" for n in names) + ")"
    parts.append(
        f'<img src="{images[_key(defaults, spec)]}" alt="{html.escape(default_alt)}" '
        'style="max-width:100%;background:white">'
    )
    parts.append(
        '<script type="application/json" class="stconv-explorer-states">'
        + json.dumps(images).replace("</", "<\\/")
        + "</script>"
    )
    parts.append(f"<script>{_SCRIPT}</script></div>")
    return "".join(parts)
