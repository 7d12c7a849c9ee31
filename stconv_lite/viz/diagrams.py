"""Diagrams of every method in the book, drawn by code: blocks, arrows and the shapes between them.

Every diagram uses the book's axis letters, ``(B, C, T, H, W)``, on the arrows between blocks, so a
reader can follow a tensor through a method the way the code does. One function per chapter's
method; each returns a matplotlib figure (the chapter shows it with an alt text):

=====================  =======  ===============================================================
function               chapter  what it shows
=====================  =======  ===============================================================
:func:`video_batch`    1        a batch of clips as (B, C, T, H, W); a frame bag vs a 3D conv
:func:`factorised`     2        a t x d x d kernel vs its (2+1)D factorisation with M_i channels
:func:`conv3t`         3        a 2D slice and the affine transforms that generate a 3D kernel
:func:`ct_module`      4        channel tensorization, K sub-convolutions, tensor excitation
:func:`tadaconv`       5        the calibration generator, TAdaConv, and the TAda2D block
:func:`fusion_unit`    6        a fusion layer with its S / ST paths, gates and the template
=====================  =======  ===============================================================
"""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from stconv_lite.viz.plots import PALETTE

__all__ = ["video_batch", "factorised", "conv3t", "ct_module", "tadaconv", "fusion_unit", "ALL"]

_ORANGE, _SKY, _GREEN, _YELLOW, _BLUE, _RED, _PURPLE, _BLACK = PALETTE


def _canvas(width: float, height: float, title: str):
    fig, ax = plt.subplots(figsize=(width, height))
    fig.patch.set_facecolor("white")  # opaque: readable in the book's dark mode too
    ax.set_xlim(0, width * 10)
    ax.set_ylim(0, height * 10)
    ax.axis("off")
    ax.set_title(title, fontsize=10)
    return fig, ax


def _box(ax, x: float, y: float, w: float, h: float, text: str, colour: str = _SKY, size: int = 8):
    """A rounded block centred at (x, y) with its label; returns its edges for arrows."""
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.3,rounding_size=1.2",
            facecolor=colour,
            edgecolor=_BLACK,
            linewidth=0.8,
            alpha=0.9,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=size, wrap=True)
    return {"left": (x - w / 2, y), "right": (x + w / 2, y), "top": (x, y + h / 2), "bottom": (x, y - h / 2)}


def _arrow(ax, start, end, label: str = "", offset: tuple[float, float] = (0, 1.6), size: int = 7):
    """An arrow from ``start`` to ``end`` with the tensor shape it carries written beside it."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle="-|>", mutation_scale=10, linewidth=1, color=_BLACK))
    if label:
        mid = ((start[0] + end[0]) / 2 + offset[0], (start[1] + end[1]) / 2 + offset[1])
        ax.text(*mid, label, ha="center", va="bottom", fontsize=size, family="monospace")


def _cube(ax, x: float, y: float, w: float, h: float, depth: float, colour: str, label: str = "", size: int = 7):
    """A box drawn in oblique projection (front face at (x, y)): a kernel or a stack of frames."""
    dx, dy = depth * 0.6, depth * 0.45
    front = plt.Polygon([(x, y), (x + w, y), (x + w, y + h), (x, y + h)], facecolor=colour, edgecolor=_BLACK, lw=0.8)
    top = plt.Polygon(
        [(x, y + h), (x + dx, y + h + dy), (x + w + dx, y + h + dy), (x + w, y + h)],
        facecolor=colour,
        edgecolor=_BLACK,
        lw=0.8,
        alpha=0.7,
    )
    side = plt.Polygon(
        [(x + w, y), (x + w + dx, y + dy), (x + w + dx, y + h + dy), (x + w, y + h)],
        facecolor=colour,
        edgecolor=_BLACK,
        lw=0.8,
        alpha=0.5,
    )
    for patch in (front, top, side):
        ax.add_patch(patch)
    if label:
        ax.text(x + w / 2 + dx / 2, y - 1.2, label, ha="center", va="top", fontsize=size)


def video_batch() -> Figure:
    """Chapter 1: a batch as (B, C, T, H, W); a frame bag averages over T, a 3D conv slides along it."""
    fig, ax = _canvas(10, 3.6, "A batch of clips is a (B, C, T, H, W) tensor: two ways to read it")
    for b in range(2):  # two clips, each a row of T frames
        for t in range(5):
            _cube(ax, 3 + t * 3.2, 22 - b * 13, 2.6, 2.6 * 1.2, 0.6, _SKY if b == 0 else _YELLOW)
        ax.text(1.5, 23.5 - b * 13, f"clip b={b}", ha="right", va="center", fontsize=7)
    ax.text(11, 30.5, "T frames, each C x H x W  →  time", ha="center", fontsize=8)
    ax.text(11, 5.5, "(B, C, T, H, W) = (2, 1, 5, 28, 28)", ha="center", fontsize=8, family="monospace")
    bag = _box(ax, 47, 26, 24, 6.5, "frame bag: 2D CNN per frame,\nthen mean over t (order lost)", _ORANGE)
    c3d = _box(ax, 47, 11, 24, 6.5, "3D CNN: a 3 x 3 x 3 kernel\nspans 3 neighbouring frames", _GREEN)
    _arrow(ax, (20, 26), bag["left"], "'b c t h w -> (b t) c h w'", (-3, 4.0), 6)
    _arrow(ax, (20, 12), c3d["left"], "(B, C, T, H, W)", (0, 1.4), 6)
    out1 = _box(ax, 84, 26, 22, 5, "logits (B, classes)\nsame for any frame order", _SKY)
    out2 = _box(ax, 84, 11, 22, 5, "logits (B, classes)\nchange when frames move", _SKY)
    _arrow(ax, bag["right"], out1["left"], "'b t c -> b c' mean", (0, 1.4), 6)
    _arrow(ax, c3d["right"], out2["left"], "pool (T, H, W)", (0, 1.4), 6)
    return fig


def factorised() -> Figure:
    """Chapter 2: a full t x d x d kernel against (2+1)D: 1 x d x d to M_i channels, then t x 1 x 1."""
    fig, ax = _canvas(10, 3.4, "3D convolution vs its (2+1)D factorisation (Tran et al. 2018)")
    ax.text(14, 30, "3D: N_i kernels of N_(i-1) x t x d x d", ha="center", fontsize=8)
    _cube(ax, 8, 11, 9, 9, 8, _ORANGE, "t x d x d, mixes space and time at once")
    ax.text(64, 30, "(2+1)D: spatial then temporal, same input and output widths", ha="center", fontsize=8)
    spatial = _box(ax, 48, 17, 16, 8, "spatial conv\n1 x d x d\nN_(i-1) → M_i", _SKY)
    relu = _box(ax, 64, 17, 7, 5, "BN\nReLU", _YELLOW, 7)
    temporal = _box(ax, 81, 17, 16, 8, "temporal conv\nt x 1 x 1\nM_i → N_i", _GREEN)
    _arrow(ax, (35, 17), spatial["left"], "(B, N_(i-1), T, H, W)", (0, 5), 6)
    _arrow(ax, spatial["right"], relu["left"])
    _arrow(ax, relu["right"], temporal["left"])
    _arrow(ax, temporal["right"], (97, 17))
    ax.text(
        64,
        4,
        "M_i = floor( t d² N_(i-1) N_i / (d² N_(i-1) + t N_i) ): the same parameter count as t x d x d,\n"
        "and one more non-linearity between space and time",
        ha="center",
        fontsize=7,
    )
    return fig


def conv3t() -> Figure:
    """Chapter 3: one learned 2D slice; each later slice is the previous one under an affine map."""
    fig, ax = _canvas(10, 3.6, "3TConv: a 3D kernel generated from one 2D slice (Ras et al. 2021)")
    ax.text(8, 31, "learned", ha="center", fontsize=7)
    _cube(ax, 4, 16, 8, 8, 0.5, _ORANGE, "2D slice k x k\n(C_out, C_in, k, k)")
    params = _box(
        ax, 32, 29, 26, 5, "per output filter and step: (s, r, t_x, t_y)\nscale, rotation, shift (learned)", _YELLOW, 7
    )
    for i in range(4):
        colour = _ORANGE if i == 0 else _SKY
        _cube(
            ax,
            30 + i * 11,
            13,
            8,
            8,
            0.5,
            colour,
            f"slice t={i}" + ("\n= the 2D slice" if i == 0 else f"\n= A_{i}(slice {i - 1})"),
        )
        if i:
            _arrow(ax, (30 + (i - 1) * 11 + 8.5, 17), (30 + i * 11 - 0.4, 17))
    _arrow(ax, (13, 20), (29.5, 17))
    _arrow(ax, params["bottom"], (42, 22.6), "affine_grid + grid_sample", (9, -3), 6)
    kernel = _box(ax, 88, 17, 15, 8, "3D kernel\n(C_out, C_in,\nk_t, k, k)", _GREEN)
    _arrow(ax, (75.5, 17), kernel["left"], "stack", (0, 1.4), 6)
    ax.text(
        50,
        3,
        "The kernel then convolves (B, C_in, T, H, W) → (B, C_out, T, H, W) like any Conv3d. Per kernel\n"
        "k² + 4(k_t − 1) numbers instead of k_t k²; the transforms say how a pattern moves from frame to frame.",
        ha="center",
        fontsize=7,
    )
    return fig


def ct_module(k: int = 2) -> Figure:
    """Chapter 4: C = C_1 x ... x C_K; K tensor-separable sub-convolutions, each with tensor excitation."""
    fig, ax = _canvas(10, 3.8, f"The CT-module (Li et al. 2021), K = {k}: channels as a {k}-D tensor")
    ax.text(9, 33, "(B, C, T, H, W)\nC = C_1 x C_2", ha="center", fontsize=7, family="monospace")
    previous = (16, 19)
    for i in range(k):
        x = 30 + i * 36
        s = _box(ax, x, 25, 17, 5.5, f"S-TSConv 1 x 3 x 3\nmixes C_{k - i} only", _SKY, 7)
        t = _box(ax, x, 13, 17, 5.5, f"T-TSConv 3 x 1 x 1\nmixes C_{k - i} only", _GREEN, 7)
        te = _box(ax, x + 13.5, 19, 7, 12, "tensor\nexcit-\nation\n(gates)", _YELLOW, 6)
        _arrow(ax, previous, s["left"])
        _arrow(ax, previous, t["left"])
        _arrow(ax, s["right"], (te["left"][0], 22))
        _arrow(ax, t["right"], (te["left"][0], 16))
        ax.text(x + 13.5, 27, "+", ha="center", fontsize=10)
        previous = te["right"]
        if i < k - 1:
            pw = _box(ax, x + 24.5, 19, 7, 6, "1x1x1\nconv", _PURPLE, 6)
            _arrow(ax, previous, pw["left"])
            previous = pw["right"]
    _arrow(ax, previous, (99, 19), "(B, C, T, H, W)", (3, 1.4), 6)
    ax.text(
        50,
        3,
        "A sub-convolution along C_k is a grouped conv with C / C_k groups: each channel fibre along C_k\n"
        "mixes alone. After K of them every channel has met every other, inside a (2K+1)³ box (not all of it).",
        ha="center",
        fontsize=7,
    )
    return fig


def tadaconv() -> Figure:
    """Chapter 5: per-frame calibration weights from a temporal context; the TAda2D block."""
    fig, ax = _canvas(10, 3.8, "TAdaConv: a 2D kernel calibrated for every frame (Huang et al. 2022)")
    x_in = _box(ax, 9, 20, 13, 6, "features\n(B, C, T, H, W)", _SKY, 7)
    pool = _box(ax, 30, 29, 14, 5, "mean over H, W\n(B, C, T)", _YELLOW, 7)
    ctx = _box(ax, 52, 29, 18, 5.5, "temporal context: 1D convs\nover T → α_t (B, C_out, T)", _ORANGE, 7)
    cal = _box(ax, 74, 29, 15, 5.5, "W_t = α_t ⊙ W_b\n(one kernel per frame)", _PURPLE, 7)
    conv = _box(ax, 52, 12, 24, 6, "conv2d of frame t with W_t\n(B, C_out, T, H, W)", _GREEN, 7)
    agg = _box(ax, 84, 12, 14, 6, "TAda2D: + temporal\naggregation (avg\npool over T) + BN", _SKY, 6)
    _arrow(ax, x_in["right"], (pool["left"][0], 29))
    _arrow(ax, pool["right"], ctx["left"])
    _arrow(ax, ctx["right"], cal["left"])
    _arrow(ax, x_in["right"], (conv["left"][0], 12))
    _arrow(ax, cal["bottom"], (60, 15.2), "", (0, 0))
    _arrow(ax, conv["right"], agg["left"])
    ax.text(
        50,
        2.5,
        "The base weight W_b is shared by all frames (a 2D conv's parameters, a few more for the "
        "generator);\nthe calibration makes the kernel vary along time, so order can enter a 2D network.",
        ha="center",
        fontsize=7,
    )
    return fig


def fusion_unit() -> Figure:
    """Chapter 6: a fusion layer, its S and ST bottleneck paths behind drop-path gates, in the template."""
    fig, ax = _canvas(10, 3.8, "A fusion layer of the template network (Zhou et al. 2020)")
    x_in = _box(ax, 9, 19, 13, 6, "input\n(B, C_in, T, H, W)", "#DDDDDD", 7)
    s = _box(ax, 33, 27, 20, 5.5, "S: BN-ReLU-conv 1x1x1", _ORANGE, 7)
    st = _box(ax, 33, 11, 20, 5.5, "ST: BN-ReLU-conv 3x1x1", _BLUE, 7)
    g1 = _box(ax, 50, 27, 7, 4.5, "gate\np_S", _YELLOW, 6)
    g2 = _box(ax, 50, 11, 7, 4.5, "gate\np_ST", _YELLOW, 6)
    plus = _box(ax, 62, 19, 4, 4, "+", _SKY, 9)
    conv = _box(ax, 80, 19, 18, 6, "BN-ReLU-conv 1x3x3\n→ growth channels", _PURPLE, 7)
    _arrow(ax, x_in["right"], s["left"])
    _arrow(ax, x_in["right"], st["left"])
    _arrow(ax, s["right"], g1["left"])
    _arrow(ax, st["right"], g2["left"])
    _arrow(ax, g1["right"], plus["top"])
    _arrow(ax, g2["right"], plus["bottom"])
    _arrow(ax, plus["right"], conv["left"])
    _arrow(ax, conv["right"], (99, 19), "(B, growth, T, H, W)", (2, 3.5), 6)
    ax.text(90, 12, "concatenated with the input:\n(B, C_in + growth, T, H, W)", ha="center", fontsize=6)
    ax.text(
        50,
        2.5,
        "Each gate drops its path with probability p: keeping both gives S+ST, one gives S or ST. Training learns\n"
        "the drop probabilities (variational drop-path); the best sampled strategy (one unit per layer) is the result.",
        ha="center",
        fontsize=7,
    )
    return fig


ALL = {1: video_batch, 2: factorised, 3: conv3t, 4: ct_module, 5: tadaconv, 6: fusion_unit}
