"""stconv_lite.viz: figures have the expected layout; animations play without a kernel."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from stconv_lite.train import History
from stconv_lite.viz.plots import PALETTE, accuracy_vs, animate, frame_grid, plot_curves, show_kernel_slices


def test_palette_is_eight_distinct_hex_colours():
    assert len(PALETTE) == len(set(PALETTE)) == 8
    assert all(c.startswith("#") and len(c) == 7 for c in PALETTE)


@pytest.mark.parametrize("shape", [(3, 1, 6, 8, 8), (1, 6, 8, 8), (6, 8, 8)])
def test_frame_grid_has_one_row_per_clip_and_one_column_per_frame(shape):
    fig = frame_grid(torch.rand(shape), frames=[0, 2, 4])
    rows = shape[0] if len(shape) == 5 else 1
    assert len(fig.axes) == rows * 3
    plt.close(fig)


def test_frame_grid_rejects_a_flat_tensor():
    with pytest.raises(ValueError, match=r"\(N, C, T, H, W\)"):
        frame_grid(torch.rand(8, 8))


def test_animate_returns_a_javascript_player_with_every_frame():
    html = animate(torch.rand(2, 1, 5, 8, 8), fps=4, titles=["a", "b"]).data
    assert "<script" in html and "animation" in html.lower()
    assert html.count("data:image/png;base64") == 5


def test_kernel_slices_share_a_symmetric_colour_scale():
    kernel = torch.tensor([[[1.0, -2.0], [0.5, 0.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    fig = show_kernel_slices(kernel)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (-2.0, 2.0)
    plt.close(fig)


def test_curves_and_scatter_build():
    history = History(train_loss=[1.0, 0.5], train_acc=[0.4, 0.7], val_loss=[1.1, 0.6], val_acc=[0.3, 0.6], epoch_seconds=[1, 1])
    fig = plot_curves({"a": history})
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    fig = accuracy_vs([1e3, 1e4], [0.5, 0.7], ["x", "y"], yerr=[0.01, 0.02])
    assert fig.axes[0].get_xscale() == "log"
    plt.close(fig)


def test_explorer_shows_a_static_figure_then_controls(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    from stconv_lite.viz import widgets as viz_widgets

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    calls = []

    def render(value=1, fixed="f"):
        calls.append((value, fixed))
        fig, ax = plt.subplots()
        ax.set_title(str(value))
        return fig

    box = viz_widgets.explorer(render, value=ipywidgets.IntSlider(value=3, min=0, max=5), fixed="g")
    assert calls[0] == (3, "g")
    assert isinstance(shown[0], matplotlib.figure.Figure) and shown[-1] is box
