"""Tables, sentences and the roofline figure of the comparison page, generated from its run files.

Reads runs of :mod:`stconv_lite.experiments.ch08_operators` (a CPU ``small`` run, and a GPU ``full``
run where one is stored). Every number and every sentence that depends on a result comes from the
run passed in; nothing here is typed from a measurement.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from stconv_lite.analysis.roofline import point, ridge
from stconv_lite.experiments.ch08_backbone import OPERATOR_LABELS, OPERATORS
from stconv_lite.experiments.ch08_operators import LABELS, REFERENCE, arm
from stconv_lite.experiments.report import pct
from stconv_lite.viz.plots import PALETTE

__all__ = ["comparison_table", "roofline_rows", "roofline_table", "roofline_sentences", "roofline_figure"]


def _mean(run: dict, name: str, metric: str) -> float:
    return run["summaries"][name][metric]["mean"]


def _accuracy(run: dict, name: str) -> str:
    s = run["summaries"][name]["test_accuracy"]
    return f"{pct(s['mean'])} ({pct(s['low'], 0)}–{pct(s['high'], 0)})"


def _device(run: dict) -> str:
    card = run["card"]
    return f"{card['device'].upper()}, {card['device_name']}"


def comparison_table(run: dict, gpu_run: dict | None = None) -> str:
    """Markdown: one row per operator, accuracy per label (mean, 95 % interval over seeds), size, cost, speed."""
    seeds = len(run["card"]["seeds"])
    header = (
        ["operator"]
        + [f"`{label}` accuracy ({seeds} seeds)" for label in LABELS]
        + ["parameters", "MFLOPs / clip", f"train clips/s ({_device(run)})"]
    )
    if gpu_run is not None:
        header.append(f"train clips/s ({_device(gpu_run)})")
    rows = ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for op in OPERATORS:
        first = arm(op, LABELS[0])
        params = next(u["params"] for u in run["units"] if u["arm"] == first)
        cells = (
            [OPERATOR_LABELS[op]]
            + [_accuracy(run, arm(op, label)) for label in LABELS]
            + [
                f"{params:,}",
                f"{_mean(run, first, 'forward_flops_per_clip') / 1e6:.1f}",
                f"{_mean(run, first, 'train_clips_per_second'):.0f}",
            ]
        )
        if gpu_run is not None:
            cells.append(f"{_mean(gpu_run, first, 'train_clips_per_second'):,.0f}")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def roofline_rows(run: dict) -> list[dict]:
    """Per operator (alone, at the probe size): measured FLOPs, bytes, operators, seconds and its roofline point.

    The compute roof is the larger of the measured matmul rate and the best rate any operator reached
    in the run (on a busy machine a neighbour can slow the matmul; nothing can make a kernel faster
    than the hardware), the memory roof the best copy bandwidth measured.
    """
    measured = {}
    for op in OPERATORS:
        name = arm(op, LABELS[0])
        measured[op] = {k: _mean(run, name, f"module_{k}") for k in ("flops", "bytes", "ops", "seconds")}
    matmul = max(_mean(run, arm(op, LABELS[0]), "peak_flops_per_second") for op in OPERATORS)
    bandwidth = max(_mean(run, arm(op, LABELS[0]), "peak_bytes_per_second") for op in OPERATORS)
    peak = max(matmul, *(m["flops"] / m["seconds"] for m in measured.values()))
    return [
        {"operator": op, **m, **point(m, peak, bandwidth), "peak": peak, "matmul": matmul, "bandwidth": bandwidth}
        for op, m in measured.items()
    ]


def _peaks(rows: Sequence[dict]) -> tuple[float, float]:
    return rows[0]["peak"], rows[0]["bandwidth"]


def roofline_table(run: dict) -> str:
    """Markdown: each operator's training step at the probe size under this machine's roofline."""
    rows = roofline_rows(run)
    peak, bandwidth = _peaks(rows)
    probe = "x".join(map(str, run["card"]["settings"]["probe"]))
    lines = [
        f"Probe input (B, C, T, H, W) = {probe}; forward and backward; {_device(run)}. Compute roof "
        f"{peak / 1e9:,.1f} GFLOP/s (float32 matmul measured at {rows[0]['matmul'] / 1e9:,.1f}; the roof is the larger of "
        f"that and the fastest operator), bandwidth {bandwidth / 1e9:,.1f} GB/s (copy), ridge point "
        f"{ridge(peak, bandwidth):.1f} FLOP/byte.",
        "",
        "| operator | GFLOP | MB moved | operators launched | FLOP/byte | ms | achieved GFLOP/s | % of roofline |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {OPERATOR_LABELS[r['operator']]} | {r['flops'] / 1e9:.3f} | {r['bytes'] / 1e6:,.1f} | "
            f"{r['ops']:.0f} | {r['intensity']:.1f} | {1e3 * r['seconds']:.2f} | {r['achieved'] / 1e9:,.1f} | "
            f"{100 * r['fraction_of_bound']:.0f} % |"
        )
    return "\n".join(lines)


def _ratio_words(ratio: float, more: str, fewer: str, same: str) -> str:
    """``2.3`` -> "2.3x {more}"; within 10 % of 1 -> ``same``; below 1 -> "{1/ratio}x {fewer}"."""
    if 0.9 <= ratio <= 1.1:
        return same
    return f"{ratio:.1f}x {more}" if ratio > 1 else f"{1 / ratio:.1f}x {fewer}"


def _one_operator(rows: dict, op: str, reference: str, ridge_point: float) -> str:
    a, b = rows[op], rows[reference]
    flops = _ratio_words(a["flops"] / b["flops"], "more FLOPs", "fewer FLOPs", "about as many FLOPs")
    time_ratio = a["seconds"] / b["seconds"]
    speed = _ratio_words(time_ratio, "as long", "faster", "about as long")
    speed = f"takes {speed}" if time_ratio >= 0.9 else f"is {speed}"
    side = "below" if a["intensity"] < ridge_point else "above"
    traffic = a["memory_seconds"] / a["seconds"]
    if traffic >= 0.5:
        why = (
            f"Its memory traffic alone, at the measured bandwidth, takes {1e3 * a['memory_seconds']:.2f} ms "
            f"({100 * traffic:.0f} % of its time): it is limited by bytes, not by FLOPs."
        )
    else:
        why = (
            f"Its memory traffic alone would take {1e3 * a['memory_seconds']:.2f} ms ({100 * traffic:.0f} % of its "
            f"time); the rest is spent in its {a['ops']:.0f} operators running below both roofs (on average "
            f"{1e3 * a['seconds'] / a['ops']:.3f} ms each): kernels too small or too thin (depthwise, grouped, "
            f"element-wise) to use the machine, and a fixed cost per operator."
        )
    than = "as" if flops.startswith("about") else "than"
    return (
        f"**{OPERATOR_LABELS[op]}** does {flops} {than} the {OPERATOR_LABELS[reference]} "
        f"({a['flops'] / 1e9:.3f} vs {b['flops'] / 1e9:.3f} GFLOP per training step) and {speed} "
        f"({1e3 * a['seconds']:.2f} vs {1e3 * b['seconds']:.2f} ms). It moves {a['bytes'] / b['bytes']:.1f}x the "
        f"bytes through {a['ops']:.0f} operators (the conv: {b['ops']:.0f}); its arithmetic intensity is "
        f"{a['intensity']:.1f} FLOP/byte against the conv's {b['intensity']:.1f}, {side} this machine's ridge point "
        f"of {ridge_point:.1f}. {why} It reaches {100 * a['fraction_of_bound']:.0f} % of its roofline, the conv "
        f"{100 * b['fraction_of_bound']:.0f} %."
    )


def roofline_sentences(run: dict, operators: Sequence[str] = ("ct", "csn", "r2plus1d", "tadaconv")) -> str:
    """Markdown bullets: for each operator, FLOPs vs time against the 3D conv, explained by bytes and intensity."""
    rows = {r["operator"]: r for r in roofline_rows(run)}
    peak, bandwidth = _peaks(list(rows.values()))
    ridge_point = ridge(peak, bandwidth)
    return "\n".join(f"- {_one_operator(rows, op, REFERENCE, ridge_point)}" for op in operators if op in rows)


def roofline_figure(run: dict, title: str | None = None) -> Figure:
    """Log-log roofline: the measured roofs, and each operator at (intensity, achieved FLOP/s)."""
    rows = roofline_rows(run)
    peak, bandwidth = _peaks(rows)
    low = min(min(r["intensity"] for r in rows) / 3, ridge(peak, bandwidth) / 10)
    high = max(max(r["intensity"] for r in rows) * 3, ridge(peak, bandwidth) * 10)
    xs = [low * (high / low) ** (i / 200) for i in range(201)]
    fig, ax = plt.subplots(figsize=(7.2, 4.4))
    ax.plot(xs, [min(peak, x * bandwidth) / 1e9 for x in xs], color="black", linewidth=1.6, label="measured roofline")
    ax.axvline(ridge(peak, bandwidth), color="gray", linestyle=":", linewidth=1, label="ridge point")
    markers = "osD^v<>P"
    for index, r in enumerate(rows):
        ax.scatter(
            r["intensity"],
            r["achieved"] / 1e9,
            s=55,
            color=PALETTE[index % len(PALETTE)],
            marker=markers[index % len(markers)],
            label=OPERATOR_LABELS[r["operator"]],
            zorder=3,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP per byte moved)")
    ax.set_ylabel("achieved GFLOP/s")
    ax.set_title(title or f"One training step of each operator, {_device(run)}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_ylim(bottom=min(r["achieved"] for r in rows) / 1e9 / 3, top=peak / 1e9 * 2)
    fig.tight_layout()
    return fig
