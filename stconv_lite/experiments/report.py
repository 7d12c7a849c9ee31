"""Sentences and tables generated from run files: every statement about a result comes from here.

A chapter never types a verdict. It runs (or loads) an experiment and calls, e.g.::

    show(results_table(run) + "\\n\\n" + verdicts(run))

:func:`show` displays Markdown as a cell *output*, so the text renders in the built book, in
Jupyter and on Colab alike (a ``{glue}`` role in a Markdown cell shows raw on Colab). The wording
is fixed by the verdicts of :mod:`stconv_lite.experiments.stats`: "A better than B" only when the
95 % interval over paired seeds excludes zero, "no detectable difference" otherwise, and always
with the effect size and the number of seeds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from stconv_lite.experiments import runfile, stats

__all__ = [
    "RESULTS_DIR",
    "pct",
    "comparison_sentence",
    "bound_sentence",
    "verdicts",
    "results_table",
    "card_line",
    "claims_box",
    "units",
    "per_seed",
    "comparison",
    "bound",
    "reversed_errors",
    "confused_pairs",
    "confusion_sentence",
    "per_class_table",
    "show",
    "stored",
    "stored_or_note",
]

RESULTS_DIR = Path(__file__).resolve().parents[2] / "book" / "results"


def _is_fraction(metric: str) -> bool:
    # accuracies, agreements and shares of clips: numbers between 0 and 1, shown as percentages
    return any(word in metric for word in ("accuracy", "agreement", "reversed_as", "_share")) or metric.endswith(
        ("_fraction", "_rate")
    )


def _metric_name(metric: str) -> str:
    return metric.replace("_", " ")


def pct(value: float, digits: int = 1) -> str:
    """0.8412 -> ``'84.1 %'``."""
    return f"{100 * value:.{digits}f} %"


def _unit(metric: str) -> str:
    if metric.endswith("_ms") or "ms_per" in metric:
        return " ms"
    if "seconds" in metric:
        return " s"
    return ""


def _value(metric: str, value: float) -> str:
    return pct(value) if _is_fraction(metric) else f"{value:.3g}{_unit(metric)}"


def _difference(metric: str, value: float) -> str:
    return f"{100 * value:+.1f} points" if _is_fraction(metric) else f"{value:+.3g}{_unit(metric)}"


def _clip(metric: str, low: float, high: float, difference: bool = False) -> tuple[float, float]:
    """A t-interval of a fraction cut to what the metric can be ([0, 1], or [-1, 1] for a difference).

    With few seeds a t-interval can reach past 0 % or 100 %; such a bound says nothing more than
    the limit itself, so the tables and sentences show the limit.
    """
    if not _is_fraction(metric):
        # a loss, a time or a count cannot be negative (their differences can)
        never_negative = any(word in metric for word in ("loss", "seconds", "ms", "steps", "params", "macs"))
        return (max(low, 0.0), high) if never_negative and not difference else (low, high)
    floor = -1.0 if difference else 0.0
    return max(low, floor), min(high, 1.0)


def _name(arm: str, labels: dict | None) -> str:
    return labels[arm] if labels and arm in labels else f"`{arm}`"


def comparison_sentence(comparison: dict, labels: dict | None = None) -> str:
    """One sentence for a paired comparison (a dict from a run file), verdict first.

    E.g. "**tiny_c3d better than frame_bag_2d** on test accuracy (3 paired seeds): 91.2 % vs 41.0 %,
    a difference of +50.2 points (95 % interval +47.9 to +52.5 points)."
    """
    c = comparison
    metric = c["metric"]
    a, b = _name(c["a"], labels), _name(c["b"], labels)
    verdict = {stats.BETTER: f"{a} better than {b}", stats.WORSE: f"{b} better than {a}"}.get(
        c["verdict"], c["verdict"]
    )
    if labels is None:
        verdict = c["verdict_text"]
    if c["verdict"] == stats.TOO_FEW:
        return (
            f"**{verdict}** to compare {a} and {b} on {_metric_name(metric)} "
            f"({c['n']} seed): {_value(metric, c['a_mean'])} vs {_value(metric, c['b_mean'])}."
        )
    low, high = _clip(metric, c["low"], c["high"], difference=True)
    return (
        f"**{verdict}** on {_metric_name(metric)} ({c['n']} paired seeds): "
        f"{a} {_value(metric, c['a_mean'])} vs {b} {_value(metric, c['b_mean'])}, "
        f"a difference of {_difference(metric, c['mean_difference'])} "
        f"(95 % interval {_difference(metric, low)} to {_difference(metric, high)})."
    )


def bound_sentence(bound: dict, labels: dict | None = None) -> str:
    """One sentence for a bound check (an arm against a fixed value such as the 50 % bound), verdict first."""
    metric, b = bound["metric"], bound
    where = {
        stats.BETTER: f"detectably above {b['b']}",
        stats.WORSE: f"detectably below {b['b']}",
        stats.NO_DIFFERENCE: f"not detectably different from {b['b']}",
        stats.TOO_FEW: f"compared with {b['b']} on one seed only",
    }[b["verdict"]]
    # The interval of the difference from the bound, moved back to the arm's own values.
    low, high = _clip(
        metric, b["a_mean"] + b["low"] - b["mean_difference"], b["a_mean"] + b["high"] - b["mean_difference"]
    )
    # every seed the same value: the t-interval has no width, which deserves saying rather than a bare "x to x"
    flat = " (every seed gave the same value)" if b["n"] > 1 and b["high"] - b["low"] < 1e-12 else ""
    return (
        f"{_name(b['a'], labels)} is **{where}** on {_metric_name(metric)} ({b['n']} seeds): mean "
        f"{_value(metric, b['a_mean'])}, 95 % interval {_value(metric, low)} to {_value(metric, high)}{flat}."
    )


def verdicts(run: dict, labels: dict | None = None) -> str:
    """Every comparison and bound of a run as a Markdown bullet list (``labels``: display names of arms)."""
    lines = [comparison_sentence(c, labels) for c in run["comparisons"]]
    lines += [bound_sentence(b, labels) for b in run["bounds"]]
    return "\n".join(f"- {line}" for line in lines)


def results_table(run: dict, metrics: Sequence[str] = ("test_accuracy",), labels: dict | None = None) -> str:
    """Markdown table: one row per arm, mean and 95 % interval of each metric, per-seed values, parameters.

    Intervals of fractions are shown cut to [0 %, 100 %] (see :func:`_clip`).
    """
    labels = labels or {}
    per_seed_header = f"per seed ({_metric_name(metrics[0])})"
    header = ["arm"] + [f"{_metric_name(m)} (mean, 95 % interval)" for m in metrics] + [per_seed_header, "parameters"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm in run["arms"]:
        arm_units = units(run, arm)
        cells = [labels.get(arm, f"`{arm}`")]
        for metric in metrics:
            s = run["summaries"][arm][metric]
            low, high = _clip(metric, s["low"], s["high"])
            cells.append(f"{_value(metric, s['mean'])} ({_value(metric, low)} to {_value(metric, high)})")
        cells.append(", ".join(_value(metrics[0], u["metrics"][metrics[0]]) for u in arm_units))
        cells.append(f"{arm_units[0]['params']:,}" if "params" in arm_units[0] else "")
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def card_line(run: dict) -> str:
    """The run card in one line: experiment, scale, seeds, device, date, commit, time."""
    card = run["card"]
    threads = f", {card['threads']} thread{'s' if card['threads'] != 1 else ''}" if card["device"] == "cpu" else ""
    commit = card["git_commit"] or "no git commit"
    cpu = f" ({card['cpu_seconds']:.0f} s of CPU time)" if "cpu_seconds" in card and card["device"] == "cpu" else ""
    return (
        f"*Run card:* `{run['experiment']}` · scale **{card['scale']}** · seeds "
        f"{', '.join(map(str, card['seeds']))} · {card['device'].upper()} ({card['device_name']}{threads}) · "
        f"{card['date'][:10]} · commit `{commit}` · {card['wall_seconds']:.0f} s{cpu}"
    )


def claims_box(rows: Iterable[tuple]) -> str:
    """The chapter's box: the paper's claims it tests, our test, the scale and the generated verdict.

    Each row is ``(claim, source, run, verdict_sentence)`` or ``(claim, source, run, verdict_sentence,
    test)``; ``test`` describes our test (default: the experiment's question). The verdict sentence
    should itself come from :func:`comparison_sentence` or another generated text.
    """
    lines = ["| the paper's claim | source | our test | scale, seeds | verdict |", "|---|---|---|---|---|"]
    for row in rows:
        claim, source, run, verdict = row[:4]
        test = row[4] if len(row) > 4 else run["question"]
        card = run["card"]
        lines.append(
            f"| {claim} | {source} | `{run['experiment']}`: {test} | {card['scale']}, "
            f"{len(card['seeds'])} | {verdict} |"
        )
    return "\n".join(lines)


def units(run: dict, arm: str) -> list[dict]:
    """The stored units (one per seed) of ``arm`` in ``run``, in seed order."""
    found = sorted((u for u in run["units"] if u["arm"] == arm), key=lambda u: u["seed"])
    if not found:
        raise KeyError(f"run {run['experiment']} has no arm {arm!r}; its arms are {run['arms']}")
    return found


def per_seed(run: dict, arm: str, metric: str = "test_accuracy") -> list[float]:
    """``metric`` of ``arm`` in every seed of ``run`` (the values a paired comparison pairs up)."""
    return [u["metrics"][metric] for u in units(run, arm)]


def comparison(run: dict, a: str, b: str, metric: str = "test_accuracy") -> dict:
    """The stored paired comparison of ``a`` against ``b`` on ``metric`` (as registered: order matters)."""
    for c in run["comparisons"]:
        if (c["a"], c["b"], c["metric"]) == (a, b, metric):
            return c
    registered = [(c["a"], c["b"], c["metric"]) for c in run["comparisons"]]
    raise KeyError(f"run {run['experiment']} has no comparison {a} vs {b} on {metric}; it has {registered}")


def bound(run: dict, arm: str) -> dict:
    """The stored bound check of ``arm`` (e.g. an order-blind arm against its 50 % ceiling)."""
    for b in run["bounds"]:
        if b["a"] == arm:
            return b
    raise KeyError(f"run {run['experiment']} has no bound for {arm!r}; bounds: {[b['a'] for b in run['bounds']]}")


def reversed_errors(run: dict, arm: str, partner: Callable[[int], int] | None = None) -> tuple[int, int]:
    """``(reversed, errors)``: of ``arm``'s test errors over all seeds, how many chose the reverse class.

    ``partner(c)`` is the class of clip ``c`` played backwards; the default ``c ^ 1`` fits every
    reversal-paired label set of the book (classes 2k and 2k + 1 are one motion, forward and backward:
    :data:`stconv_lite.data.video_mnist.REVERSAL_CLASSES`).
    """
    partner = partner or (lambda c: c ^ 1)
    errors = reversed_ = 0
    for unit in units(run, arm):
        for true, row in enumerate(unit["confusion"]):
            for predicted, count in enumerate(row):
                if predicted != true:
                    errors += count
                    reversed_ += count if predicted == partner(true) else 0
    return reversed_, errors


def confused_pairs(run: dict, arm: str, k: int = 3) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal confusion counts of ``arm``, summed over seeds: (true, predicted, count)."""
    matrices = [u["confusion"] for u in run["units"] if u["arm"] == arm and "confusion" in u]
    if not matrices:
        raise ValueError(f"run {run['experiment']} stores no confusion matrix for arm {arm!r}")
    size = len(matrices[0])
    total = [[sum(m[i][j] for m in matrices) for j in range(size)] for i in range(size)]
    pairs = [(i, j, total[i][j]) for i in range(size) for j in range(size) if i != j and total[i][j] > 0]
    return sorted(pairs, key=lambda p: -p[2])[:k]


def confusion_sentence(run: dict, arm: str, names: Sequence[str], k: int = 3) -> str:
    """ "Most confused (true -> predicted, summed over seeds): ..." for one arm."""
    pairs = confused_pairs(run, arm, k)
    clips = sum(sum(row) for u in units(run, arm) for row in u["confusion"])
    if not pairs:
        return f"`{arm}` confuses no pair of classes ({clips} test predictions over all seeds)."
    listed = "; ".join(f"*{names[t]}* → *{names[p]}* {n} times" for t, p, n in pairs)
    return f"`{arm}`, most confused (true → predicted, {clips} test predictions over all seeds): {listed}."


def per_class_table(run: dict, names: Sequence[str], arms: Sequence[str] | None = None) -> str:
    """Markdown table of mean per-class test accuracy over seeds, one column per arm."""
    arms = list(arms or run["arms"])
    rows = ["| class | " + " | ".join(f"`{a}`" for a in arms) + " |", "|---|" + "---|" * len(arms)]
    for index, name in enumerate(names):
        cells = []
        for arm in arms:
            values = [u["per_class_accuracy"][index] for u in units(run, arm)]
            cells.append(pct(sum(values) / len(values), 0))
        rows.append(f"| {index}: {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def show(markdown: str) -> None:
    """Display Markdown as a cell output (book, Jupyter, Colab); print it outside IPython."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:  # pragma: no cover - IPython ships with Jupyter
        print(markdown)
        return
    if get_ipython() is None:
        print(markdown)
    else:
        display(Markdown(markdown))


def stored(experiment: str, scale: str, folder: str | Path | None = None) -> dict | None:
    """The stored run of ``experiment`` at ``scale`` from ``book/results`` (None when there is none)."""
    path = Path(folder or RESULTS_DIR) / runfile.file_name(experiment, scale)
    return runfile.read(path) if path.is_file() else None


def stored_or_note(experiment: str, scale: str, folder: str | Path | None = None) -> tuple[dict | None, str]:
    """The stored run and its card line, or None and a sentence saying how to produce it."""
    run = stored(experiment, scale, folder)
    if run is None:
        return None, (
            f"No stored `{scale}` run of `{experiment}` in this copy of the book. Produce one with "
            f"`python -m stconv_lite.experiments run {experiment} --scale {scale} --out book/results`."
        )
    return run, card_line(run)
