"""The replication ledger: enough claims, valid evidence pointers, verdicts computed from evidence."""

import ast
import copy
import inspect
from pathlib import Path

import pytest

import stconv_lite.ledger.claims as claims_module
from stconv_lite.experiments import registry, stats
from stconv_lite.ledger import evidence, page, verdicts
from stconv_lite.ledger.checks import CHECKS, run_check
from stconv_lite.ledger.claims import CHAPTERS, CLAIMS, PAPERS, Check, Run, Untestable

REPO = Path(__file__).resolve().parents[1]
RUNS = [c for c in CLAIMS if isinstance(c.evidence, Run)]


def test_at_least_35_claims_with_unique_ids_from_every_paper():
    assert len(CLAIMS) >= 35
    assert len({c.id for c in CLAIMS}) == len(CLAIMS)
    assert {c.paper for c in CLAIMS} == set(PAPERS)
    assert all(c.chapter in CHAPTERS and (REPO / f"{CHAPTERS[c.chapter]}.ipynb").is_file() for c in CLAIMS)


def test_claims_carry_no_verdict():
    """Rows are data without a verdict field, and the claims module types no verdict word."""
    assert "verdict" not in {f for f in claims_module.Claim.__dataclass_fields__}
    source = inspect.getsource(claims_module)
    strings = [n.value for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
    assert not [s for s in strings if s in verdicts.VERDICTS]


@pytest.mark.parametrize("claim", RUNS, ids=lambda c: c.id)
def test_run_pointers_name_registered_experiments_and_declared_comparisons(claim):
    ev = claim.evidence
    assert ev.experiment in registry.names()
    assert evidence.declared(ev), f"{ev.experiment} declares no comparison {ev.a} vs {ev.b} on {ev.metric}"
    assert ev.expect in verdicts.EXPECTATIONS
    run = evidence.stored_run(ev.experiment)
    if run is not None:  # a stored run must contain it (else it is stale: rerun the experiment)
        assert evidence.find_comparison(run, ev) is not None


@pytest.mark.parametrize("name", sorted({c.evidence.function for c in CLAIMS if isinstance(c.evidence, Check)}))
def test_every_check_runs_and_returns_a_verdict_of_the_vocabulary(name):
    assert name in CHECKS
    outcome = run_check(name)
    assert outcome.verdict in verdicts.VERDICTS and outcome.ours and outcome.paper


def test_untestable_claims_give_a_reason():
    for claim in CLAIMS:
        if isinstance(claim.evidence, Untestable):
            assert len(claim.evidence.reason) > 20


def _comparison(verdict):
    return {
        "a": "x",
        "b": "y",
        "metric": "test_accuracy",
        "n": 3,
        "mean_difference": 0.1,
        "low": 0.05,
        "high": 0.15,
        "a_mean": 0.6,
        "b_mean": 0.5,
        "verdict": verdict,
        "verdict_text": verdict,
    }


@pytest.mark.parametrize(
    "found,expect,ledger",
    [
        (stats.BETTER, stats.BETTER, verdicts.QUALITATIVE),
        (stats.NO_DIFFERENCE, stats.BETTER, verdicts.NOT_REPRODUCED),
        (stats.WORSE, stats.BETTER, verdicts.CONTRADICTED),
        (stats.TOO_FEW, stats.BETTER, verdicts.NOT_TESTABLE),
        (stats.NO_DIFFERENCE, verdicts.NOT_WORSE, verdicts.QUALITATIVE),
        (stats.WORSE, verdicts.NOT_WORSE, verdicts.CONTRADICTED),
        (stats.BETTER, verdicts.NOT_BETTER, verdicts.CONTRADICTED),
        (stats.WORSE, stats.WORSE, verdicts.QUALITATIVE),
    ],
)
def test_comparison_rules(found, expect, ledger):
    assert verdicts.from_comparison(_comparison(found), expect) == ledger


def test_falling_short_of_a_bound_is_not_a_contradiction():
    assert verdicts.from_comparison(_comparison(stats.WORSE), stats.BETTER, bound=True) == verdicts.NOT_REPRODUCED


def test_number_rules():
    assert verdicts.printed(33.371, 33.4, 1).verdict == verdicts.EXACT
    assert verdicts.printed(33.384, 33.3, 1).verdict == verdicts.EXACT  # truncated, as papers sometimes print
    assert verdicts.printed(3.1503, 3.16, 2).verdict == verdicts.QUALITATIVE
    assert verdicts.printed(30.0, 33.4, 1).verdict == verdicts.NOT_REPRODUCED
    with pytest.raises(ValueError):
        verdicts.Outcome("probably fine", "1", "1")


def test_verdict_follows_the_stored_run(tmp_path, monkeypatch):
    """Change the evidence, not the claim: the verdict changes (computed, not typed)."""
    claim = next(c for c in RUNS if c.evidence.expect == stats.BETTER)
    ev = claim.evidence
    arms = (ev.a, ev.b)
    run = {
        "experiment": ev.experiment,
        "card": {"scale": "small", "seeds": [0, 1, 2], "device": "cpu", "device_name": "test CPU", "threads": 1},
        "comparisons": [],
        "bounds": [],
    }

    def stored_with(verdict):
        return {
            **copy.deepcopy(run),
            "comparisons": [{**_comparison(verdict), "a": arms[0], "b": arms[1], "metric": ev.metric}],
        }

    for verdict, expected in [
        (stats.BETTER, verdicts.QUALITATIVE),
        (stats.WORSE, verdicts.CONTRADICTED),
        (stats.NO_DIFFERENCE, verdicts.NOT_REPRODUCED),
    ]:
        monkeypatch.setattr(evidence, "stored_run", lambda name, folder=None, v=verdict: stored_with(v))
        row = evidence.evaluate(claim)
        assert row.verdict == expected and row.run_file.endswith(f"{ev.experiment}__small.json")
    monkeypatch.setattr(evidence, "stored_run", lambda name, folder=None: None)
    assert evidence.evaluate(claim).verdict == verdicts.NOT_TESTABLE


def test_page_counts_every_verdict_and_links_chapters():
    rows = [evidence.evaluate(c) for c in CLAIMS if isinstance(c.evidence, Untestable)]
    counts = page.verdict_counts(rows)
    assert list(counts) == list(verdicts.VERDICTS) and counts[verdicts.NOT_TESTABLE] == len(rows)
    table = page.ledger_html(rows)
    assert table.count("<tr>") == len(rows) + 1 and 'href="../notebooks/' in table
    assert f"**{len(rows)} claims**" in page.counts_sentence(rows)
