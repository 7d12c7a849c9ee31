"""From a claim's evidence to its verdict: run the check, or read the comparison from the stored run.

:func:`evaluate` is the only place a ledger verdict is made. For a :class:`~.claims.Run` it takes
the stored run of the experiment at the largest scale there is (``paper``, then ``full``, then
``small``: ``quick`` runs are smoke tests and never evidence), finds the comparison (or bound) by
its arms and metric, and maps the paired-statistics verdict to the ledger's words with
:func:`~.verdicts.from_comparison`. For a :class:`~.claims.Check` it runs the function. Nothing is
cached between page builds: new evidence gives a new verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stconv_lite.experiments import registry, report, runfile
from stconv_lite.ledger.checks import run_check
from stconv_lite.ledger.claims import CLAIMS, Check, Claim, Run, Untestable
from stconv_lite.ledger.verdicts import NOT_TESTABLE, VERDICTS, from_comparison

__all__ = ["EVIDENCE_SCALES", "Row", "evaluate", "evaluate_all", "find_comparison", "declared", "stored_run"]

EVIDENCE_SCALES = ("paper", "full", "small")  # most convincing first


@dataclass(frozen=True)
class Row:
    """A claim with its computed verdict and what the verdict rests on."""

    claim: Claim
    verdict: str
    ours: str  # our number or result
    paper: str  # the paper's number, or its direction
    basis: str  # the comparison sentence, the check's note, or why it is not testable
    scale: str  # "check at page build", or the run's scale and seeds
    device: str
    run_file: str | None = None  # path from the repository root


def stored_run(experiment: str, folder: str | Path | None = None) -> dict | None:
    """The stored run of ``experiment`` at the largest scale in ``book/results`` (None if none)."""
    for scale in EVIDENCE_SCALES:
        run = report.stored(experiment, scale, folder)
        if run is not None:
            return run
    return None


def declared(evidence: Run) -> bool:
    """Whether the registered experiment declares this comparison (or bound) at all."""
    experiment = registry.get(evidence.experiment)
    comparisons = {(c.a, c.b, c.metric) for c in experiment.comparisons}
    bounds = {(b.arm, b.label, b.metric) for b in experiment.bounds}
    return (evidence.a, evidence.b, evidence.metric) in comparisons | bounds


def find_comparison(run: dict, evidence: Run) -> dict | None:
    """The comparison or bound of ``run`` with arms ``a``, ``b`` and ``metric`` (None if absent)."""
    for item in run["comparisons"] + run["bounds"]:
        if (item["a"], item["b"], item["metric"]) == (evidence.a, evidence.b, evidence.metric):
            return item
    return None


def _card(run: dict) -> tuple[str, str]:
    card = run["card"]
    threads = f", {card['threads']} thread{'s' if card['threads'] != 1 else ''}" if card["device"] == "cpu" else ""
    return f"{card['scale']}, {len(card['seeds'])} seeds", f"{card['device'].upper()} ({card['device_name']}{threads})"


def _from_run(claim: Claim, evidence: Run, folder: str | Path | None) -> Row:
    command = f"python -m stconv_lite.experiments run {evidence.experiment} --scale small --out book/results"
    if evidence.experiment not in registry.names():
        return Row(claim, NOT_TESTABLE, "—", "—", f"experiment `{evidence.experiment}` is not registered", "—", "—")
    run = stored_run(evidence.experiment, folder)
    if run is None:
        return Row(
            claim, NOT_TESTABLE, "—", "—", f"no stored run of `{evidence.experiment}` yet (`{command}`)", "—", "—"
        )
    comparison = find_comparison(run, evidence)
    path = f"book/results/{runfile.file_name(run['experiment'], run['card']['scale'])}"
    scale, device = _card(run)
    if comparison is None:
        return Row(
            claim,
            NOT_TESTABLE,
            "—",
            "—",
            f"the stored run has no comparison {evidence.a} vs {evidence.b} on {evidence.metric} (rerun it)",
            scale,
            device,
            path,
        )
    verdict = from_comparison(comparison, evidence.expect, bound=comparison in run["bounds"])
    ours = f"{comparison['verdict_text']} ({comparison['mean_difference']:+.3g})"
    sentence = report.comparison_sentence(comparison)
    return Row(claim, verdict, ours, f"expects: {_expected_text(evidence)}", sentence, scale, device, path)


def _expected_text(evidence: Run) -> str:
    """The expected verdict with the arm names in, e.g. "ct@reversal not worse than r2plus1d@reversal"."""
    first, rest = evidence.expect.split(" ", 1)
    names = {"A": evidence.a, "B": evidence.b}
    last = rest.rsplit(" ", 1)
    return f"{names[first]} {last[0]} {names[last[1]]}" + (
        f" on {evidence.metric.replace('_', ' ')}" if evidence.metric != "test_accuracy" else ""
    )


def evaluate(claim: Claim, folder: str | Path | None = None) -> Row:
    """The verdict of one claim, computed now from its evidence."""
    evidence = claim.evidence
    if isinstance(evidence, Check):
        outcome = run_check(evidence.function)
        return Row(
            claim,
            outcome.verdict,
            outcome.ours,
            outcome.paper,
            outcome.note or "computed at page build",
            "check at page build",
            "any (deterministic)",
        )
    if isinstance(evidence, Run):
        row = _from_run(claim, evidence, folder)
    elif isinstance(evidence, Untestable):
        row = Row(claim, NOT_TESTABLE, "—", "—", evidence.reason, "—", "—")
    else:
        raise TypeError(f"claim {claim.id}: unknown evidence {evidence!r}")
    assert row.verdict in VERDICTS
    return row


def evaluate_all(claims=CLAIMS, folder: str | Path | None = None) -> list[Row]:
    """Every claim's row, in the order of the registry."""
    return [evaluate(claim, folder) for claim in claims]
