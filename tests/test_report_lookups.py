"""The run lookups chapters share (units, per_seed, comparison, bound, reversed_errors) find what was
stored, count reversed errors as a hand count does, and name what exists when asked for what does not."""

import pytest

from stconv_lite.experiments import report


def _run():
    # 4 classes: 0/1 one motion forward/backward, 2/3 another; two seeds of one arm
    confusion_seed0 = [[5, 2, 1, 0], [3, 4, 0, 0], [0, 0, 6, 1], [0, 1, 0, 7]]
    confusion_seed1 = [[6, 1, 0, 0], [0, 5, 2, 0], [1, 0, 4, 3], [0, 0, 2, 5]]
    return {
        "experiment": "toy",
        "arms": ["model", "other"],
        "units": [
            {"arm": "model", "seed": 0, "metrics": {"test_accuracy": 0.8}, "confusion": confusion_seed0},
            {"arm": "model", "seed": 1, "metrics": {"test_accuracy": 0.7}, "confusion": confusion_seed1},
            {"arm": "other", "seed": 0, "metrics": {"test_accuracy": 0.5}, "confusion": confusion_seed0},
        ],
        "comparisons": [{"a": "model", "b": "other", "metric": "test_accuracy", "verdict": "x"}],
        "bounds": [{"a": "other", "bound": 0.5}],
    }


def test_reversed_errors_match_a_hand_count():
    # seed 0 errors: row0 2+1, row1 3, row2 1, row3 1 -> 8; reversed (0<->1, 2<->3): 2 + 3 + 1 + 0 = 6
    # seed 1 errors: row0 1, row1 2, row2 1+3, row3 2 -> 9; reversed: 1 + 0 + 3 + 2 = 6
    assert report.reversed_errors(_run(), "model") == (12, 17)
    # another pairing (0<->2, 1<->3): seed 0: 1 + 0 + 0 + 1 = 2; seed 1: 0 + 0 + 1 + 0 = 1
    assert report.reversed_errors(_run(), "model", partner=lambda c: (c + 2) % 4) == (3, 17)


def test_lookups_find_what_was_stored():
    run = _run()
    assert report.per_seed(run, "model") == [0.8, 0.7]
    assert [u["seed"] for u in report.units(run, "model")] == [0, 1]
    assert report.comparison(run, "model", "other")["verdict"] == "x"
    assert report.bound(run, "other")["bound"] == 0.5


def test_missing_lookups_name_what_exists():
    run = _run()
    with pytest.raises(KeyError, match="other vs model"):
        report.comparison(run, "other", "model")  # the registered order is model vs other
    with pytest.raises(KeyError, match="its arms are"):
        report.units(run, "absent")
    with pytest.raises(KeyError, match="bounds: \\['other'\\]"):
        report.bound(run, "model")
