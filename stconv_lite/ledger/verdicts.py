"""The ledger's fixed vocabulary, and the rules that turn numbers and comparisons into its words.

Nothing in the ledger types a verdict: every one comes out of a function of this module, applied to
a number computed at page build (a parameter count, a FLOP ratio) or to a paired comparison read
from a stored run. The words:

======================== ================================================================================
verdict                  when
======================== ================================================================================
reproduced exactly       our number, rounded (or truncated) as the paper prints it, is the printed number;
                         or a structural fact (a shape, an equality) holds exactly
reproduced qualitatively within the stated tolerance of the paper's number or ratio; or the paired
                         comparison over seeds points the way the paper says (95 % interval excludes 0)
not reproduced           outside the tolerance; or no detectable difference where the paper claims one
contradicted             the opposite direction, detectably
not testable here        the evidence needs what this book does not have (data, weights, a GPU-month),
                         or the experiment has no stored run yet; the reason is always given
======================== ================================================================================
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stconv_lite.experiments import stats

__all__ = [
    "EXACT",
    "QUALITATIVE",
    "NOT_REPRODUCED",
    "CONTRADICTED",
    "NOT_TESTABLE",
    "VERDICTS",
    "Outcome",
    "printed",
    "within",
    "holds",
    "from_comparison",
    "NOT_WORSE",
    "NOT_BETTER",
    "EXPECTATIONS",
]

EXACT, QUALITATIVE = "reproduced exactly", "reproduced qualitatively"
NOT_REPRODUCED, CONTRADICTED, NOT_TESTABLE = "not reproduced", "contradicted", "not testable here"
VERDICTS = (EXACT, QUALITATIVE, NOT_REPRODUCED, CONTRADICTED, NOT_TESTABLE)

# What a claim can expect of a paired comparison "A vs B": the three verdicts of stats, plus
# "A not worse than B" (a claim of parity or a "slightly better" the paper itself calls small) and
# "A not better than B" (e.g. an order-blind model stays at or below its 50 % bound).
NOT_WORSE, NOT_BETTER = "A not worse than B", "A not better than B"
EXPECTATIONS = (stats.BETTER, stats.NO_DIFFERENCE, stats.WORSE, NOT_WORSE, NOT_BETTER)


@dataclass(frozen=True)
class Outcome:
    """A verdict with what it rests on: ``ours`` and ``paper`` as readers see them, and a note."""

    verdict: str
    ours: str
    paper: str
    note: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}; got {self.verdict!r}")


def printed(ours: float, paper: float, decimals: int, tolerance: float = 0.05, unit: str = "") -> Outcome:
    """Compare a number with the paper's printed value at its printed precision.

    Exact when ``ours`` rounds *or truncates* to ``paper`` at ``decimals`` (papers do both);
    qualitative within ``tolerance`` (relative); not reproduced otherwise.
    """
    scale = 10**decimals
    rounded, truncated = round(ours * scale) / scale, math.floor(ours * scale) / scale
    shown = f"{ours:.{decimals + 2}f}{unit}"
    if math.isclose(rounded, paper) or math.isclose(truncated, paper):
        how = "rounds" if math.isclose(rounded, paper) else "truncates"
        return Outcome(EXACT, shown, f"{paper:.{decimals}f}{unit}", f"ours {how} to the printed value")
    return within(ours, paper, tolerance, shown=shown, paper_shown=f"{paper:.{decimals}f}{unit}")


def within(
    ours: float, paper: float, tolerance: float = 0.05, shown: str | None = None, paper_shown: str | None = None
) -> Outcome:
    """Qualitative when ``|ours / paper - 1| <= tolerance``, else not reproduced."""
    error = abs(ours / paper - 1)
    verdict = QUALITATIVE if error <= tolerance else NOT_REPRODUCED
    return Outcome(
        verdict,
        shown or f"{ours:.4g}",
        paper_shown or f"{paper:.4g}",
        f"{100 * error:.1f} % from the paper (tolerance {100 * tolerance:.0f} %)",
    )


def holds(condition: bool, ours: str, paper: str, exact: bool = True, note: str = "") -> Outcome:
    """A structural fact: exact (or qualitative, for a direction) when it holds, not reproduced when not."""
    return Outcome((EXACT if exact else QUALITATIVE) if condition else NOT_REPRODUCED, ours, paper, note)


def from_comparison(comparison: dict, expect: str, bound: bool = False) -> str:
    """The ledger verdict of a stored paired comparison, given the stats verdict the claim expects.

    ``expect`` is one of :data:`EXPECTATIONS`. With ``bound=True`` (an arm against a fixed value,
    e.g. the 50 % an order-blind model cannot pass) the other direction is *not reproduced*, not
    *contradicted*: a model that stays below 50 % has not learned the task, which says nothing
    against an operator's ability to read time.
    """
    if expect not in EXPECTATIONS:
        raise ValueError(f"expect must be one of {EXPECTATIONS}; got {expect!r}")
    found = comparison["verdict"]
    if found == stats.TOO_FEW:
        return NOT_TESTABLE
    if expect in (NOT_WORSE, NOT_BETTER):
        opposite = stats.WORSE if expect == NOT_WORSE else stats.BETTER
        return CONTRADICTED if found == opposite else QUALITATIVE
    if found == expect:
        return QUALITATIVE
    if expect == stats.NO_DIFFERENCE or found == stats.NO_DIFFERENCE or bound:
        return NOT_REPRODUCED
    return CONTRADICTED  # the other direction, with an interval that excludes zero
