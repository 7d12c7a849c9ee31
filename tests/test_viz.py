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
    history = History(
        train_loss=[1.0, 0.5], train_acc=[0.4, 0.7], val_loss=[1.1, 0.6], val_acc=[0.3, 0.6], epoch_seconds=[1, 1]
    )
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
    assert [t.get_text() for t in ax.get_xticklabels() if low <= t.get_position()[0] <= high] == [
        "1M",
        "2M",
        "3M",
        "5M",
    ]
    assert not any(t.get_text() for t in ax.xaxis.get_minorticklabels())
    plt.close(fig)


def test_explorer_is_live_in_jupyter_and_precomputed_for_the_static_page(monkeypatch):
    ipywidgets = pytest.importorskip("ipywidgets")
    from stconv_lite.viz import widgets as viz_widgets

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda obj, raw=False: shown.append((obj, raw)))
    calls = []

    def render(value=1, fixed="f", flag=False):
        calls.append((value, fixed, flag))
        fig, ax = plt.subplots(figsize=(1, 1))
        ax.set_title(f"{value} {flag}")
        return fig

    open_before = set(plt.get_fignums())  # other tests may have left figures open
    result = viz_widgets.explorer(
        render,
        alt="a number",
        value=ipywidgets.IntSlider(value=3, min=0, max=5),
        flag=ipywidgets.Checkbox(value=False),
        fixed="g",
    )
    assert calls[0] == (3, "g", False)  # the live figure first, in the default state
    # The static page needs every combination: 6 slider positions x 2 checkbox states (a grid of 12).
    assert sorted(calls[1:]) == sorted((v, "g", f) for v in range(6) for f in (False, True))
    assert len(shown) == 1 and shown[0][1] is True
    bundle = shown[0][0]
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == result.box.model_id
    page = bundle["text/html"]
    assert page.startswith('<div class="stconv-explorer" data-mode="grid"') and page.count("data:image/png") == 13
    assert 'type="range"' in page and "<select" in page and 'alt="a number (value = 3, flag = False)"' in page
    assert set(plt.get_fignums()) == open_before  # every figure it drew is closed: no repeats by the inline backend
    note, image, controls = result.box.children
    assert viz_widgets.NOTE in note.value and bytes(image.value).startswith(b"\x89PNG")
    before = bytes(image.value)
    controls.children[0].value = 5  # the live part redraws with the new value and the fixed argument
    assert calls[-1] == (5, "g", False) and bytes(image.value) != before
    assert result._ipython_display_() is None  # ending a cell with it shows no second copy
    with pytest.raises(ValueError, match="matplotlib Figure"):
        viz_widgets.explorer(lambda: "not a figure")


def test_static_explorer_plans_one_control_at_a_time_when_the_grid_is_large():
    ipywidgets = pytest.importorskip("ipywidgets")
    from stconv_lite.viz.static_explorer import VALUES_PER_CONTROL, control_values, plan_states

    kind, values, default = control_values(ipywidgets.IntSlider(value=17, min=0, max=99))
    assert kind == "range" and len(values) <= VALUES_PER_CONTROL + 1 and 17 in values and values[0] == 0
    assert control_values(ipywidgets.FloatSlider(value=0.5, min=0, max=1, step=0.25))[1] == [0, 0.25, 0.5, 0.75, 1.0]
    assert control_values(ipywidgets.Dropdown(options=[("A", "a"), ("B", "b")], value="b"))[1:] == (["a", "b"], "b")
    spec = {"x": ("range", list(range(9)), 4), "y": ("range", list(range(9)), 0), "z": ("select", ["p", "q"], "q")}
    mode, states = plan_states(spec)
    assert mode == "axes" and len(states) == 1 + 8 + 8 + 1
    assert all(sum(state[n] != spec[n][2] for n in spec) <= 1 for state in states)


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


def test_every_chapter_has_a_diagram_with_the_axis_letters():
    from stconv_lite.viz import diagrams

    assert set(diagrams.ALL) == set(range(1, 7))
    for chapter, draw in diagrams.ALL.items():
        fig = draw()
        texts = " ".join(t.get_text() for t in fig.axes[0].texts)
        assert "(B, C" in texts or "(B, N" in texts or "(B, C_in" in texts, f"chapter {chapter}: no shapes"
        assert fig.get_facecolor()[3] == 1.0  # opaque background (dark mode)
        plt.close(fig)


def test_the_book_wide_palette_gives_one_colour_per_family():
    from stconv_lite.viz.palette import FAMILY_COLOURS, colour_of, family_of

    assert family_of("cnn3_2d") == family_of("tsn50_2d_small") == family_of("videoresnet18_2d") == "order-blind 2D"
    assert family_of("cnn3_3d") == family_of("videoresnet18_3d") == family_of("resnet18_3d") == "full 3D"
    assert family_of("resnet18_3t") == family_of("lenet5_3t") == "3TConv"
    assert family_of("videoresnet18_2plus1d") == "(2+1)D" and family_of("tsn50_tada2d_small") == "TAdaConv"
    assert family_of("videoresnet18_3d_tada") == "TAdaConv" and family_of("ctnet50_c3d") == "full 3D"
    assert family_of("ctnet50_ctfull_small") == "CT" and family_of("ctnet50_ct") == "CT"
    assert family_of("videoresnet18_mc3") == family_of("videoresnet34_rmc2") == "mixed 3D/2D"
    assert family_of("videoresnet18_stacked") == "early stacking 2D" and family_of("ctnet50_csn") == "channel-separated"
    # experiment arms keep their stored labels, and their colours
    assert family_of("frame_bag_2d") == family_of("tsn") == family_of("fr2d") == "order-blind 2D"
    assert family_of("tiny_c3d") == family_of("r3d") == "full 3D" and family_of("r2plus1d_18") == "(2+1)D"
    assert len(set(FAMILY_COLOURS.values())) == len(FAMILY_COLOURS)
    assert colour_of("something new", 3) != colour_of("something new", 4)


def test_two_members_of_a_family_get_distinct_colours_that_follow_their_names():
    from stconv_lite.viz.palette import distinct_colours

    one = distinct_colours(["fr2d", "r2d", "mc3", "rmc3", "r3d", "r2plus1d"])
    two = distinct_colours(["r3d", "rmc3", "mc3"])
    assert len(set(one.values())) == 6
    assert one["r3d"] == two["r3d"] and one["mc3"] != one["rmc3"]
