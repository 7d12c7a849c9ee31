"""Figures of a run file: learning curves of every seed, and confusion matrices with counts.

They read the run dict of :mod:`stconv_lite.experiments.runfile` (live or stored), so the same figure
shows a live ``small`` run and a stored ``full`` run from a GPU. Each arm has its book-wide colour
(:mod:`stconv_lite.viz.palette`) in every figure.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from stconv_lite.viz.palette import distinct_colours

__all__ = ["arm_colour", "run_curves", "run_confusions"]

_CURVES = {
    "val_acc": "validation accuracy",
    "train_acc": "training accuracy",
    "val_loss": "validation loss",
    "train_loss": "training loss",
}


def arm_colour(run: dict, arm: str) -> str:
    """The arm's book-wide colour (:mod:`stconv_lite.viz.palette`), distinct within the run.

    An arm keeps its family's colour; a second arm of the same family in one run (MC3 beside rMC3)
    gets a colour chosen by its name, so it has the same colour in every figure of the book.
    """
    return distinct_colours(list(run["arms"]))[arm]


def run_curves(
    run: dict,
    metrics: Sequence[str] = ("train_loss", "val_acc"),
    labels: dict | None = None,
    chance: float | None = None,
    x: str = "epoch",
) -> Figure:
    """One panel per metric; a thin line per seed and a thick line for the mean over seeds, per arm.

    ``x`` is ``"epoch"`` or ``"seconds"`` (cumulative training time, for time-to-accuracy).
    Runs that stopped early have shorter curves; the mean is taken over the seeds still running.
    """
    unknown = [m for m in metrics if m not in _CURVES]
    if unknown or x not in ("epoch", "seconds"):
        raise ValueError(f"metrics must be among {sorted(_CURVES)} and x 'epoch' or 'seconds'; got {metrics}, {x!r}")
    labels = labels or {}
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.3), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for arm in run["arms"]:
            colour = arm_colour(run, arm)
            curves = [u["curves"] for u in run["units"] if u["arm"] == arm and u.get("curves")]
            series = []
            for curve in curves:
                ys = curve[metric]
                xs = list(range(1, len(ys) + 1)) if x == "epoch" else _cumulative(curve["epoch_seconds"])[: len(ys)]
                ax.plot(xs, ys, color=colour, alpha=0.35, linewidth=0.8)
                series.append(ys)
            if series and x == "epoch":
                length = max(len(s) for s in series)
                mean = [
                    sum(s[i] for s in series if i < len(s)) / sum(1 for s in series if i < len(s))
                    for i in range(length)
                ]
                ax.plot(
                    range(1, length + 1),
                    mean,
                    color=colour,
                    linewidth=2.2,
                    label=f"{labels.get(arm, arm)} (mean over the seeds still training)",
                )
            elif series:
                ax.plot([], [], color=colour, linewidth=2.2, label=f"{labels.get(arm, arm)} ({len(series)} seeds)")
        if chance is not None and "acc" in metric:
            ax.axhline(chance, color="gray", linestyle=":", label="chance")
        ax.set_xlabel("epoch" if x == "epoch" else "training time (s)")
        ax.set_ylabel(_CURVES[metric])
        if x == "epoch":
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(_CURVES[metric].capitalize())
    # Beside the last panel, never over the curves.
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.suptitle(f"{run['experiment']} at scale {run['card']['scale']}: thin lines are single seeds", fontsize=9)
    fig.tight_layout()
    return fig


def _cumulative(values: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for v in values:
        total += v
        out.append(total)
    return out


def run_confusions(
    run: dict, names: Sequence[str], arms: Sequence[str] | None = None, labels: dict | None = None
) -> Figure:
    """Confusion matrices summed over seeds, one per arm, with the count in every non-empty cell.

    Every panel shares one colour scale (0 to the largest count of any panel), so panels compare.
    """
    arms = list(arms or run["arms"])
    labels = labels or {}
    totals = {}
    for arm in arms:
        matrices = [u["confusion"] for u in run["units"] if u["arm"] == arm]
        size = len(matrices[0])
        totals[arm] = [[sum(m[i][j] for m in matrices) for j in range(size)] for i in range(size)]
    top = max(max(max(row) for row in matrix) for matrix in totals.values())
    size = len(names)
    # At most three panels a row, so that the figure fits the book's text column.
    columns = min(3, len(arms))
    rows = -(-len(arms) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.6 * columns + 1.8, 3.9 * rows), squeeze=False)
    for ax in axes.flat[len(arms) :]:
        ax.axis("off")
    for ax, arm in zip(axes.flat, arms):
        matrix = totals[arm]
        image = ax.imshow(matrix, cmap="Blues", vmin=0, vmax=top)
        for i in range(size):
            for j in range(size):
                if matrix[i][j]:
                    ax.text(
                        j,
                        i,
                        str(matrix[i][j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if matrix[i][j] > 0.6 * top else "black",
                    )
        ax.set_xticks(range(size))
        ax.set_xlabel("predicted class")
        if ax in axes[:, 0]:  # class names on the left of each row, short enough to read
            ax.set_yticks(range(size), [f"{i}: {_short(n)}" for i, n in enumerate(names)], fontsize=7)
            ax.set_ylabel("true class")
        else:
            ax.set_yticks(range(size))
        seeds = len(run["card"]["seeds"])
        ax.set_title(f"{labels.get(arm, arm)}\n(counts over {seeds} seeds)", fontsize=9)
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.8, label="test clips")
    return fig


def _short(name: str, most: int = 26) -> str:
    """A class name for a tick label: the part before any parenthesis, cut to ``most`` characters."""
    head = name.split(" (")[0]
    return head if len(head) <= most else head[: most - 1] + "…"
