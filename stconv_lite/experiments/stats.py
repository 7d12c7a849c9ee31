r"""Paired statistics over seeds, and verdicts in fixed words.

Every comparison in the book is **paired**: model A and model B are trained with the same seeds on
the same data, so seed ``i`` gives a pair ``(a_i, b_i)`` and the question is about the differences
``d_i = a_i - b_i``. Pairing removes what the seeds share (the data order, the initial weights of
common parts) from the comparison, which makes a small number of seeds far more decisive.

With :math:`n` seeds, mean difference :math:`\bar d` and sample standard deviation :math:`s_d`,
the 95 % interval is Student's

.. math:: \bar d \pm t_{0.975,\,n-1}\, s_d / \sqrt{n}.

The verdict is read off the interval, in fixed words, so that prose generated from it cannot
overstate it:

- the whole interval above 0 (by more than ``margin``): ``"A better than B"``;
- the whole interval below 0: ``"B better than A"``;
- otherwise: ``"no detectable difference"`` (with these seeds; it is not a proof of equality);
- fewer than two seeds: ``"too few seeds"`` (no interval can be computed).

The effect size is the mean difference itself (in the metric's units, e.g. accuracy points) and
Cohen's :math:`d_z = \bar d / s_d` for paired samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

__all__ = [
    "BETTER",
    "NO_DIFFERENCE",
    "WORSE",
    "TOO_FEW",
    "VERDICTS",
    "Interval",
    "Comparison",
    "t_quantile",
    "mean_interval",
    "paired_comparison",
    "compare_to_value",
]

BETTER, NO_DIFFERENCE, WORSE, TOO_FEW = (
    "A better than B",
    "no detectable difference",
    "B better than A",
    "too few seeds",
)
VERDICTS = (BETTER, NO_DIFFERENCE, WORSE, TOO_FEW)

# Two-sided 95 % quantiles t_{0.975, df} of Student's t for df = 1..30 (standard tables); beyond 30
# the Cornish-Fisher expansion below is accurate to 3 decimals.
_T975 = (
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
)


def t_quantile(df: int) -> float:
    """The 97.5 % quantile of Student's t with ``df`` degrees of freedom (for 95 % intervals)."""
    if isinstance(df, bool) or not isinstance(df, int) or df < 1:
        raise ValueError(f"degrees of freedom must be a positive int; got {df!r}")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def _floats(values: Sequence[float], name: str) -> list[float]:
    out = [float(v) for v in values]
    if not out:
        raise ValueError(f"{name} is empty: need one value per seed")
    if any(math.isnan(v) for v in out):
        raise ValueError(f"{name} contains NaN: {out}")
    return out


@dataclass(frozen=True)
class Interval:
    """Mean of ``n`` values with a 95 % t-interval (``low == high == mean`` when ``n == 1``)."""

    mean: float
    low: float
    high: float
    n: int

    def as_dict(self) -> dict:
        return asdict(self)


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean and 95 % t-interval of per-seed values."""
    xs = _floats(values, "values")
    n, mean = len(xs), sum(xs) / len(xs)
    if n < 2:
        return Interval(mean, mean, mean, n)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of A and B on one metric, over ``n`` seeds, with its verdict.

    ``verdict`` is one of :data:`VERDICTS` (in terms of "A" and "B"); :meth:`verdict_text` puts the
    names in.
    """

    a: str
    b: str
    metric: str
    n: int
    a_mean: float
    b_mean: float
    mean_difference: float  # mean of a_i - b_i
    low: float
    high: float
    effect_size: float  # Cohen's d_z; inf when every difference is equal and non-zero, 0 when all are 0
    verdict: str
    higher_is_better: bool = True

    def verdict_text(self) -> str:
        """The verdict with the names in, e.g. ``"tiny_c3d better than frame_bag_2d"``."""
        return {BETTER: f"{self.a} better than {self.b}", WORSE: f"{self.b} better than {self.a}"}.get(
            self.verdict, self.verdict
        )

    def as_dict(self) -> dict:
        return {**asdict(self), "verdict_text": self.verdict_text()}


def paired_comparison(
    a_values: Sequence[float],
    b_values: Sequence[float],
    a: str = "A",
    b: str = "B",
    metric: str = "test_accuracy",
    higher_is_better: bool = True,
    margin: float = 0.0,
) -> Comparison:
    """Compare A and B over the same seeds (``a_values[i]`` and ``b_values[i]`` share seed ``i``).

    ``margin`` is the smallest difference that counts (in the metric's units): the interval must
    clear it for a "better" verdict. With ``higher_is_better=False`` (a loss, a time), "better"
    means lower.
    """
    xs, ys = _floats(a_values, f"{a} values"), _floats(b_values, f"{b} values")
    if len(xs) != len(ys):
        raise ValueError(f"paired values need one per seed for both: got {len(xs)} for {a} and {len(ys)} for {b}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0; got {margin}")
    diffs = [x - y for x, y in zip(xs, ys)]
    spread = mean_interval(diffs)
    n = len(diffs)
    sd = (spread.high - spread.mean) * math.sqrt(n) / t_quantile(n - 1) if n > 1 else float("nan")
    if n < 2:
        effect = float("nan")
    elif sd > 0:
        effect = spread.mean / sd
    else:
        effect = 0.0 if spread.mean == 0 else math.copysign(math.inf, spread.mean)
    # The interval of the *gain* of A over B: the difference itself, or its negative for a loss.
    gain_low, gain_high = (spread.low, spread.high) if higher_is_better else (-spread.high, -spread.low)
    if n < 2:
        verdict = TOO_FEW
    elif gain_low > margin:
        verdict = BETTER
    elif gain_high < -margin:
        verdict = WORSE
    else:
        verdict = NO_DIFFERENCE
    return Comparison(
        a=a,
        b=b,
        metric=metric,
        n=n,
        a_mean=sum(xs) / n,
        b_mean=sum(ys) / n,
        mean_difference=spread.mean,
        low=spread.low,
        high=spread.high,
        effect_size=effect,
        verdict=verdict,
        higher_is_better=higher_is_better,
    )


def compare_to_value(
    values: Sequence[float], value: float, name: str = "A", reference: str = "the bound", metric: str = "test_accuracy"
) -> Comparison:
    """Compare per-seed values with a fixed number (a bound, chance level) as a paired comparison.

    E.g. ``compare_to_value(bag_accuracies, 0.5, "frame_bag_2d", "50 %")``: ``"B better than A"``
    then reads "the values are detectably below 50 %".
    """
    xs = _floats(values, f"{name} values")
    return paired_comparison(xs, [float(value)] * len(xs), a=name, b=reference, metric=metric)
