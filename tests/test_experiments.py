"""The experiment harness: statistics and verdicts, run files and their schema, the runner and resume, the CLI."""

import json
import math

import pytest
import torch

from stconv_lite.experiments import get, names, report, run_experiment, runfile, stats
from stconv_lite.experiments.__main__ import main as cli
from stconv_lite.experiments.registry import Compare, Experiment, register

# --- statistics --------------------------------------------------------------------------------


def test_t_quantiles_match_the_tables():
    assert stats.t_quantile(1) == pytest.approx(12.706)
    assert stats.t_quantile(4) == pytest.approx(2.776)
    assert stats.t_quantile(60) == pytest.approx(2.000, abs=2e-3)
    assert stats.t_quantile(10_000) == pytest.approx(1.960, abs=1e-3)


def test_a_known_difference_is_detected_with_its_size_and_interval():
    a = [0.91, 0.93, 0.92, 0.94, 0.90]
    b = [0.51, 0.52, 0.50, 0.55, 0.49]
    c = stats.paired_comparison(a, b, a="c3d", b="bag")
    assert c.verdict == stats.BETTER and c.verdict_text() == "c3d better than bag"
    diffs = torch.tensor(a) - torch.tensor(b)
    half = 2.776 * diffs.std().item() / math.sqrt(5)
    assert c.mean_difference == pytest.approx(diffs.mean().item())
    assert (c.low, c.high) == (pytest.approx(diffs.mean().item() - half), pytest.approx(diffs.mean().item() + half))
    assert c.n == 5 and c.effect_size > 5
    reverse = stats.paired_comparison(b, a, a="bag", b="c3d")
    assert reverse.verdict == stats.WORSE and reverse.verdict_text() == "c3d better than bag"


def test_identical_inputs_give_no_detectable_difference():
    values = [0.7, 0.8, 0.75]
    c = stats.paired_comparison(values, values)
    assert c.verdict == stats.NO_DIFFERENCE and c.mean_difference == 0 and c.effect_size == 0


def test_noisy_small_differences_are_not_called():
    c = stats.paired_comparison([0.80, 0.70, 0.90], [0.75, 0.78, 0.82])
    assert c.verdict == stats.NO_DIFFERENCE and c.low < 0 < c.high


def test_lower_is_better_and_too_few_seeds_and_bad_input():
    faster = stats.paired_comparison([1.0, 1.1, 1.05], [2.0, 2.1, 2.2], metric="seconds", higher_is_better=False)
    assert faster.verdict == stats.BETTER
    assert stats.paired_comparison([0.9], [0.5]).verdict == stats.TOO_FEW
    with pytest.raises(ValueError, match="one per seed"):
        stats.paired_comparison([0.9, 0.8], [0.5])
    with pytest.raises(ValueError, match="NaN"):
        stats.mean_interval([0.5, float("nan")])


def test_a_constant_run_is_detectably_away_from_a_bound():
    below = stats.compare_to_value([0.5, 0.5, 0.5], 0.9, name="bag", reference="90 %")
    assert below.verdict == stats.WORSE
    at = stats.compare_to_value([0.48, 0.5, 0.52], 0.5, name="bag", reference="50 %")
    assert at.verdict == stats.NO_DIFFERENCE


# --- a tiny registered experiment whose outcome is known --------------------------------------

CALLS = []


def _fake_unit(arm, seed, settings, device):
    CALLS.append((arm, seed))
    accuracy = {"good": 0.9, "bad": 0.5}[arm] + 0.01 * seed
    return {
        "metrics": {"test_accuracy": accuracy},
        "per_class_accuracy": [accuracy] * 2,
        "confusion": [[5, 1], [2, 4]],
        "params": 10,
        "model": object(),
    }


FAKE = register(
    Experiment(
        name="test.fake",
        chapter=99,
        title="fake",
        question="is good better?",
        paper_claim="good is better",
        arms=("good", "bad"),
        settings={s: {"size": s} for s in ("quick", "small", "full")},
        run_unit=_fake_unit,
        comparisons=(Compare("good", "bad"),),
    )
)


def test_runner_writes_a_valid_file_with_verdicts(tmp_path):
    models = {}
    run = run_experiment("test.fake", "quick", seeds=[0, 1, 2], out=tmp_path, verbose=False, models=models)
    stored = runfile.read(tmp_path / "test.fake__quick.json")
    assert stored["comparisons"][0]["verdict"] == stats.BETTER == run["comparisons"][0]["verdict"]
    assert stored["card"]["seeds"] == [0, 1, 2] and stored["card"]["scale"] == "quick"
    assert set(models) == {(a, s) for a in ("good", "bad") for s in (0, 1, 2)}
    assert "model" not in json.dumps(stored["units"])
    assert "**good better than bad**" in report.verdicts(run)
    assert report.confused_pairs(run, "good") == [(1, 0, 6), (0, 1, 3)]


def test_runner_resumes_finished_units_and_never_mixes_settings(tmp_path):
    CALLS.clear()
    run_experiment("test.fake", "quick", seeds=[0, 1], out=tmp_path, verbose=False)
    assert len(CALLS) == 4
    # A dropped session: the final file is gone, one finished unit survived... and one did not.
    (tmp_path / "test.fake__quick.json").unlink()
    partial = next((tmp_path / ".partial").iterdir())
    (partial / "bad__seed1.json").unlink()
    CALLS.clear()
    resumed = run_experiment("test.fake", "quick", seeds=[0, 1], out=tmp_path, verbose=False)
    assert CALLS == [("bad", 1)]
    assert len(resumed["units"]) == 4
    CALLS.clear()
    run_experiment("test.fake", "small", seeds=[0, 1], out=tmp_path, verbose=False)  # other settings
    assert len(CALLS) == 4
    CALLS.clear()
    run_experiment("test.fake", "quick", seeds=[0, 1], out=tmp_path, verbose=False, resume=False)
    assert len(CALLS) == 4


def test_validate_lists_every_problem(tmp_path):
    run = run_experiment("test.fake", "quick", seeds=[0, 1], verbose=False)
    runfile.validate(run)
    broken = json.loads(json.dumps(run))
    del broken["card"]["device_name"]
    broken["units"].pop()
    broken["comparisons"][0]["verdict"] = "A is amazing"
    with pytest.raises(ValueError) as error:
        runfile.validate(broken)
    message = str(error.value)
    assert "device_name" in message and "one per (arm, seed)" in message and "A is amazing" in message
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        runfile.read(path)


def test_bad_arguments_are_refused():
    with pytest.raises(KeyError, match="ch01.frame_order"):
        get("no.such.experiment")
    with pytest.raises(ValueError, match="scale must be one of"):
        run_experiment("test.fake", "huge")
    with pytest.raises(ValueError, match="no 'paper' scale"):
        run_experiment("test.fake", "paper")
    with pytest.raises(ValueError, match="distinct non-negative"):
        run_experiment("test.fake", "quick", seeds=[1, 1])
    with pytest.raises(ValueError, match="not in"):
        register(
            Experiment(
                name="test.broken",
                chapter=99,
                title="",
                question="",
                paper_claim="",
                arms=("a",),
                settings={},
                run_unit=_fake_unit,
                comparisons=(Compare("a", "b"),),
            )
        )


# --- the registry and the command line ---------------------------------------------------------


def test_every_chapter_1_to_6_has_an_experiment(capsys):
    assert cli(["list"]) == 0
    listed = capsys.readouterr().out
    chapters = {get(n).chapter for n in names()}
    assert set(range(1, 7)) <= chapters
    for name in names():
        assert name in listed


def test_cli_runs_a_real_experiment_at_quick_scale(tmp_path, capsys):
    assert cli(["run", "ch01.frame_order", "--scale", "quick", "--out", str(tmp_path)]) == 0
    run = runfile.read(tmp_path / "ch01.frame_order__quick.json")
    assert run["card"]["settings"]["label"] == "reversal"
    assert "Run card" in capsys.readouterr().out
    bag = [u for u in run["units"] if u["arm"] == "frame_bag_2d"]
    # The order-blind model is exactly unchanged by time reversal (its logits, up to rounding).
    assert all(u["metrics"]["reversal_agreement"] == 1.0 for u in bag)
    assert all(u["metrics"]["reversal_max_logit_change"] < 1e-4 for u in bag)


def test_every_stored_run_file_is_valid_and_names_a_registered_experiment():
    files = sorted(report.RESULTS_DIR.glob("*.json"))
    assert files, f"no stored runs in {report.RESULTS_DIR}"
    registered = set(names())
    for path in files:
        run = runfile.read(path)
        assert run["experiment"] in registered, f"{path.name}: {run['experiment']} is not registered"
        assert path.name == runfile.file_name(run["experiment"], run["card"]["scale"])


def test_every_registered_experiment_has_a_stored_small_run():
    missing = [n for n in names() if n.startswith("ch") and report.stored(n, "small") is None]
    assert not missing, f"no stored small run (book/results) for {missing}"


def test_intervals_of_fractions_are_shown_within_their_range():
    run = run_experiment("test.fake", "quick", seeds=[0, 1], verbose=False)
    run["summaries"]["good"]["test_accuracy"].update(low=-0.2, high=1.7)
    table = report.results_table(run)
    assert "0.0 % to 100.0 %" in table and "-20" not in table and "170" not in table


def test_sentences_use_display_names_units_and_possible_ranges():
    run = run_experiment("test.fake", "quick", seeds=[0, 1, 2], verbose=False)
    text = report.verdicts(run, labels={"good": "Good net", "bad": "Bad net"})
    assert "**Good net better than Bad net**" in text and "`good`" not in text
    c = stats.paired_comparison(
        [1.0, 1.2, 1.1], [2.0, 2.1, 2.3], "a", "b", metric="seconds_per_step", higher_is_better=False
    ).as_dict()
    assert " s " in report.comparison_sentence(c) or report.comparison_sentence(c).count(" s") >= 2
