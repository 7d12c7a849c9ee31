"""stconv_lite.viz: figures have the expected layout; animations play without a kernel."""

import matplotlib

matplotlib.use("Agg")

import subprocess
import sys

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


def test_frame_grid_labels_rows_and_frames():
    fig = frame_grid(torch.rand(2, 1, 4, 8, 8), titles=["first", "second"], frames=[0, 3])
    assert fig.axes[0].get_title() == "t=0" and fig.axes[1].get_title() == "t=3"
    assert fig.axes[2].get_ylabel() == "second"
    plt.close(fig)
    with pytest.raises(ValueError, match="one title per clip"):
        frame_grid(torch.rand(2, 1, 4, 8, 8), titles=["only one"])
    with pytest.raises(ValueError, match="frames"):
        frame_grid(torch.rand(1, 4, 8, 8), frames=[4])


def test_animate_returns_a_javascript_player_with_every_frame():
    before = plt.get_fignums()
    html = animate(torch.rand(2, 1, 5, 8, 8), fps=4, titles=["a", "b"]).data
    assert "<script" in html and "animation" in html.lower()
    assert html.count("data:image/png;base64") == 5
    assert plt.get_fignums() == before  # its figure is closed: no static copy below the player
    single = animate(torch.rand(1, 3, 8, 8), titles="one clip").data
    assert single.count("data:image/png;base64") == 3


def test_kernel_slices_share_a_symmetric_colour_scale():
    kernel = torch.tensor([[[1.0, -2.0], [0.5, 0.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    fig = show_kernel_slices(kernel)
    image = fig.axes[0].images[0]
    assert image.get_clim() == (-2.0, 2.0)
    plt.close(fig)


def test_curves_and_scatter_build():
    history = History(train_loss=[1.0, 0.5], train_acc=[0.4, 0.7], val_loss=[1.1, 0.6], val_acc=[0.3, 0.6], epoch_seconds=[1, 1])
    fig = plot_curves({"a": history, "b": history.as_dict()})
    ax = fig.axes[0]
    assert len(ax.lines) == 4 and ax.get_xlabel() == "epoch" and ax.get_title()
    assert ax.lines[0].get_color() == PALETTE[0] and ax.lines[2].get_color() == PALETTE[1]
    plt.close(fig)
    fig = plot_curves(history, metric="loss")
    assert fig.axes[0].get_ylabel() == "loss"
    plt.close(fig)
    with pytest.raises(ValueError, match="metric"):
        plot_curves(history, metric="f1")
    fig = accuracy_vs([1e3, 1e4], [0.5, 0.7], ["x", "y"], yerr=[0.01, 0.02])
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="one entry per model"):
        accuracy_vs([1, 2], [0.5], ["x", "y"])


def test_accuracy_vs_puts_chance_in_the_legend_and_labels_log_ticks_plainly():
    fig = accuracy_vs([7.6e5, 7.9e6], [0.1, 0.2], ["a", "b"], chance=0.1)
    fig.canvas.draw()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b", "chance"]
    low, high = ax.get_xlim()
    assert [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high] == ["1M", "2M", "3M", "5M"]
    assert not any(t.get_text() for t in ax.xaxis.get_minorticklabels())
    plt.close(fig)


def test_explorer_shows_a_static_figure_then_controls_that_redraw_it(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    from IPython.display import Image

    from stconv_lite.viz import widgets as viz_widgets

    shown, updates = [], []

    class FakeDisplayHandle:  # records what the real one would send to the front end
        def display(self, obj):
            shown.append(obj)

        def update(self, obj):
            updates.append(obj)

    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    monkeypatch.setattr("IPython.display.DisplayHandle", FakeDisplayHandle)
    calls = []

    def render(value=1, fixed="f"):
        calls.append((value, fixed))
        fig, ax = plt.subplots()
        ax.set_title(str(value))
        return fig

    result = viz_widgets.explorer(render, value=ipywidgets.IntSlider(value=3, min=0, max=5), fixed="g")
    assert calls == [(3, "g")]  # drawn once, in the default state
    assert isinstance(shown[0], Image) and shown[0].data.startswith(b"\x89PNG") and shown[-1] is result.box
    assert result.figure.axes[0].get_title() == "3"
    assert not plt.fignum_exists(result.figure.number)  # closed: the inline backend will not repeat it
    # No Output widget in the box: its saved state would repeat the figure in the static book.
    assert not any(isinstance(child, ipywidgets.Output) for child in result.box.children)
    assert viz_widgets.NOTE in result.box.children[0].value
    slider = result.box.children[1].children[0]
    slider.value = 5  # the live part redraws the same display with the new value and the fixed argument
    assert calls[-1] == (5, "g")
    assert len(updates) == 1 and isinstance(updates[0], Image) and updates[0].data != shown[0].data
    assert result._ipython_display_() is None  # ending a cell with it shows no second copy
    with pytest.raises(ValueError, match="matplotlib Figure"):
        viz_widgets.explorer(lambda: "not a figure")


def test_settings_shows_the_controls_under_a_note(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    from stconv_lite.viz import widgets as viz_widgets

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
    choice = ipywidgets.Dropdown(options=["a", "b"], value="a")
    flag = ipywidgets.Checkbox(value=False)
    box = viz_widgets.settings(choice, flag)
    assert shown == [box]
    note, *controls = box.children
    assert isinstance(note, ipywidgets.HTML) and viz_widgets.SETTINGS_NOTE in note.value
    assert "Jupyter or Colab" in viz_widgets.SETTINGS_NOTE
    assert controls == [choice, flag]
    with pytest.raises(ValueError, match="ipywidgets controls; got str"):
        viz_widgets.settings(choice, "not a widget")
    with pytest.raises(ValueError, match="at least one"):
        viz_widgets.settings()
    assert len(shown) == 1  # nothing is displayed for rejected input


def test_plots_do_not_need_ipywidgets():
    code = "import sys, stconv_lite.viz.plots; assert 'ipywidgets' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rgb_clips_are_shown_in_colour():
    clips = torch.randn(2, 3, 4, 8, 8)  # normalised RGB: values outside [0, 1]
    fig = frame_grid(clips, frames=[0, 1])
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (8, 8, 3) and image.min() >= 0 and image.max() <= 1
    plt.close(fig)
    assert animate(clips).data.count("data:image/png;base64") == 4
