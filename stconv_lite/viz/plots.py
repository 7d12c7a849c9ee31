"""Figures used across the book: frame grids, animations, kernel slices, curves.

All figures use :data:`PALETTE`, the Okabe-Ito palette, whose eight colours stay distinguishable
for the common forms of colour blindness; grey-scale data (frames) use ``gray`` and signed data
(kernels) the diverging ``RdBu_r`` map centred on zero.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from html import escape

import matplotlib.pyplot as plt
import torch
from einops import rearrange
from matplotlib import animation, ticker
from matplotlib.figure import Figure

#: Okabe & Ito (2008), "Color Universal Design" (https://jfly.uni-koeln.de/color/): eight colours
#: that stay distinguishable under protanopia, deuteranopia and tritanopia. Their usual order starts
#: with black; we put black last so that the first series of a plot is a colour.
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7", "#000000"]
PALETTE_NAMES = ["orange", "sky blue", "bluish green", "yellow", "blue", "vermillion", "reddish purple", "black"]
PALETTE_BY_NAME = dict(zip(PALETTE_NAMES, PALETTE))
FRAME_INCHES = 1.1  # side of one frame in a grid: every grid in the book has the same scale


def _as_clips(clips) -> torch.Tensor:
    """Accept (T, H, W), (C, T, H, W), (N, C, T, H, W) or a list of clips; return images (N, T, H, W, C').

    C' = 3 for RGB clips (C = 3), shown in colour and scaled into [0, 1] if they are not already
    (e.g. normalised inputs); otherwise C' = 1, the first channel, shown in grey.
    """
    if isinstance(clips, (list, tuple)):
        clips = torch.stack([torch.as_tensor(c) for c in clips])
    clips = torch.as_tensor(clips).detach().float().cpu()
    if clips.dim() == 3:
        clips = clips[None, None]
    elif clips.dim() == 4:
        clips = clips[None]
    if clips.dim() != 5:
        raise ValueError(f"expected a clip (T, H, W), (C, T, H, W) or clips (N, C, T, H, W); got {tuple(clips.shape)}")
    if clips.shape[1] != 3:
        return rearrange(clips[:, :1], "n c t h w -> n t h w c")
    low, high = float(clips.min()), float(clips.max())
    if low < 0 or high > 1:
        clips = (clips - low) / max(high - low, 1e-12)
    return rearrange(clips, "n c t h w -> n t h w c")


def _image(ax, frame: torch.Tensor, low: float, high: float):
    """imshow of one (H, W, C') frame: grey with a fixed range, or RGB."""
    if frame.shape[-1] == 3:
        return ax.imshow(frame.numpy())
    return ax.imshow(frame[..., 0].numpy(), cmap="gray", vmin=low, vmax=high)


def _check_titles(titles, n: int) -> None:
    if titles is not None and len(titles) != n:
        raise ValueError(f"expected one title per clip ({n}); got {len(titles)}")


def _display_range(clips: torch.Tensor) -> tuple[float, float]:
    """[0, 1] for images in [0, 1] (so that a dim clip looks dim); the data's range otherwise."""
    return min(0.0, float(clips.min())), max(1.0, float(clips.max()))


def frame_grid(
    clips, titles: Sequence[str] | None = None, frames: Sequence[int] | None = None, suptitle: str | None = None
) -> Figure:
    """Rows = clips, columns = frames (all frames, or the listed ones).

    Shapes:
        clips: (N, C, T, H, W) | (C, T, H, W) | (T, H, W) | list of (C, T, H, W). C = 3 is shown
        in colour, any other C as its first channel in grey.
    """
    clips = _as_clips(clips)
    n, t = clips.shape[:2]
    frames = list(range(t)) if frames is None else list(frames)
    if any(not -t <= f < t for f in frames):
        raise ValueError(f"frames must index the {t} frames of the clips; got {frames}")
    _check_titles(titles, n)
    low, high = _display_range(clips)
    fig, axes = plt.subplots(
        n, len(frames), figsize=(FRAME_INCHES * len(frames) + 1.6, FRAME_INCHES * n), squeeze=False
    )
    for row in range(n):
        for col, frame in enumerate(frames):
            ax = axes[row, col]
            _image(ax, clips[row, frame], low, high)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"t={frame}", fontsize=8)
        if titles is not None:
            axes[row, 0].set_ylabel(titles[row], rotation=0, ha="right", va="center", fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def animate(
    clips,
    fps: int = 8,
    titles: Sequence[str] | str | None = None,
    columns: int = 5,
    suptitle: str | None = None,
    alt: str | None = None,
):
    """An HTML/JavaScript animation (``to_jshtml``) that plays in the static book without a kernel.

    Shapes:
        clips: one clip (C, T, H, W) / (T, H, W) or several (N, C, T, H, W) / list; played side by side.
    Args:
        alt: the text a screen reader reads for the animation; by default it names how many clips
            and frames are shown.
    Returns:
        ``IPython.display.HTML``; the figure is closed so the notebook does not also show a still.
    """
    from IPython.display import HTML

    clips = _as_clips(clips)
    n, t = clips.shape[:2]
    if isinstance(titles, str):
        titles = [titles]
    _check_titles(titles, n)
    low, high = _display_range(clips)
    cols = min(columns, n)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(1.5 * cols, 1.6 * rows), squeeze=False)
    images = []
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            images.append(_image(ax, clips[i, 0], low, high))
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()

    def draw(frame: int):
        for i, image in enumerate(images):
            image.set_data(clips[i, frame].numpy() if clips.shape[-1] == 3 else clips[i, frame, ..., 0].numpy())
        return images

    movie = animation.FuncAnimation(fig, draw, frames=t, interval=1000 / fps, blit=True)
    html = movie.to_jshtml(default_mode="loop")
    plt.close(fig)
    return HTML(_accessible_jshtml(html, alt or f"Animation of {n} clip{'s' * (n > 1)}, {t} frames each"))


# matplotlib's player links Font Awesome 4 (its button icons) from maxcdn.bootstrapcdn.com. The book
# loads every other script from jsDelivr's npm mirror, so point the player there too, at an exact
# version: one CDN for a reader's browser to reach, and one an offline test can serve from npm.
_PLAYER_ICONS = "https://cdn.jsdelivr.net/npm/font-awesome@4.7.0/css/font-awesome.min.css"


def _accessible_jshtml(html: str, alt: str) -> str:
    """Give the player's frame ``<img>`` an alt text and its icon stylesheet a pinned URL."""
    if '<img id="_anim_img' not in html:
        raise RuntimeError("matplotlib's to_jshtml output changed: no frame <img> to give an alt text")
    html = re.sub(r'href="https://maxcdn\.bootstrapcdn\.com/font-awesome/[^"]+"', f'href="{_PLAYER_ICONS}"', html)
    return html.replace('<img id="_anim_img', f'<img alt="{escape(alt, quote=True)}" id="_anim_img', 1)


def show_kernel_slices(kernel, titles: Sequence[str] | None = None, suptitle: str | None = None) -> Figure:
    """The temporal slices of a kernel side by side, one shared diverging colour scale centred on 0.

    Shapes:
        kernel: (T, kh, kw), or (rows, T, kh, kw) for several kernels (one row each).
    """
    kernel = torch.as_tensor(kernel).detach().float().cpu()
    if kernel.dim() == 3:
        kernel = kernel[None]
    if kernel.dim() != 4:
        raise ValueError(f"show_kernel_slices expects (T, kh, kw) or (rows, T, kh, kw); got {tuple(kernel.shape)}")
    rows, t = kernel.shape[:2]
    if titles is not None and len(titles) != rows:
        raise ValueError(f"expected one title per kernel ({rows}); got {len(titles)}")
    limit = float(kernel.abs().max()) or 1.0
    fig, axes = plt.subplots(rows, t, figsize=(FRAME_INCHES * t + 1.0, FRAME_INCHES * rows), squeeze=False)
    for r in range(rows):
        for s in range(t):
            image = axes[r, s].imshow(kernel[r, s].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
            axes[r, s].set_xticks([])
            axes[r, s].set_yticks([])
            if r == 0:
                axes[r, s].set_title(f"t={s}", fontsize=8)
        if titles is not None:
            axes[r, 0].set_ylabel(titles[r], fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def _curve(history, key: str) -> list[float]:
    """A History (or anything with its attributes) or a dict with the same keys."""
    return list(history[key]) if isinstance(history, Mapping) else list(getattr(history, key))


def plot_curves(histories, metric: str = "acc", title: str | None = None) -> Figure:
    """Training (dashed) and validation (solid) curves of one run or several ``{name: history}``.

    A history is a :class:`stconv_lite.train.History` or a dict with its keys (``train_acc``, ...).
    """
    if metric not in ("acc", "loss"):
        raise ValueError(f"metric must be 'acc' or 'loss'; got {metric!r}")
    single = hasattr(histories, "train_loss") or (isinstance(histories, Mapping) and "train_loss" in histories)
    if single:
        histories = {"run": histories}
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    for i, (name, history) in enumerate(histories.items()):
        colour = PALETTE[i % len(PALETTE)]
        train, val = _curve(history, f"train_{metric}"), _curve(history, f"val_{metric}")
        ax.plot(range(1, len(train) + 1), train, "--", color=colour, label=f"{name} (train)")
        if val:
            ax.plot(range(1, len(val) + 1), val, "-", color=colour, label=f"{name} (val)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy" if metric == "acc" else "loss")
    ax.set_title(title or ("Accuracy per epoch" if metric == "acc" else "Loss per epoch"))
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def _short_number(value: float, _position=None) -> str:
    """A short tick label: 50000 -> '50k', 2000000 -> '2M', 0.5 -> '0.5'."""
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:g}{suffix}"
    return f"{value:g}"


def _plain_log_ticks(ax) -> None:
    """Label a log x-axis with short plain numbers (50k, 2M), as many as fit, and no minor tick labels.

    matplotlib's default labels minor ticks (2x10^6, 3x10^6, ...) only when the data span less than
    a decade, so neighbouring plots get different labels, and those labels can overlap.
    """
    low, high = ax.get_xlim()
    decades = math.log10(high / low)
    # the narrower the span, the more of 1, ..., 9 x 10^k get a label (at least two labels)
    subs = range(1, 10) if decades < 0.5 else (1, 2, 3, 5) if decades < 1.5 else (1, 2, 5) if decades < 3 else (1,)
    ax.xaxis.set_major_locator(ticker.LogLocator(subs=[float(s) for s in subs]))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(_short_number))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def accuracy_vs(
    x: Sequence[float],
    y: Sequence[float],
    labels: Sequence[str],
    yerr: Sequence[float] | None = None,
    xlabel: str = "parameters",
    ylabel: str = "accuracy",
    logx: bool = True,
    title: str | None = None,
    chance: float | None = None,
) -> Figure:
    """One labelled point per model (with error bars when ``yerr`` is given): accuracy vs cost.

    Args:
        chance: if given, the accuracy of guessing (1 / number of classes), drawn as a dotted line
            labelled "chance" in the legend.
    """
    if not len(x) == len(y) == len(labels) or (yerr is not None and len(yerr) != len(x)):
        raise ValueError(
            f"x, y, labels (and yerr) must have one entry per model; got lengths "
            f"{len(x)}, {len(y)}, {len(labels)}" + ("" if yerr is None else f", {len(yerr)}")
        )
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, (xi, yi, label) in enumerate(zip(x, y, labels)):
        err = None if yerr is None else yerr[i]
        ax.errorbar(xi, yi, yerr=err, fmt="o", color=PALETTE[i % len(PALETTE)], capsize=3, label=label)
    if chance is not None:
        ax.axhline(chance, color="gray", ls=":", label="chance")
    if logx:
        ax.set_xscale("log")
        _plain_log_ticks(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title or f"{ylabel} vs {xlabel}")
    handles, names = ax.get_legend_handles_labels()
    order = sorted(range(len(names)), key=lambda i: names[i] == "chance")  # the models first, chance last
    ax.legend([handles[i] for i in order], [names[i] for i in order], fontsize=7, loc="best")
    fig.tight_layout()
    return fig
