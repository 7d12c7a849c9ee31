"""Tests for layer-level marginals and network-level sampled strategies of the fusion template."""

import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from stconv_lite.analysis.fusion_strategies import (
    apply_strategy,
    best_of_n,
    gate_probabilities,
    layer_table,
    marginals,
    recalibrate_bn,
    sample_strategy,
    strategy_units,
    uniform_strategy,
)
from stconv_lite.models.registry import create


def _tiny(**kw):
    torch.manual_seed(0)
    return create("densenet121_fusion_small", num_classes=3, in_channels=1, width=4, **kw)


def test_marginals_sum_to_one_and_sqrt_variant():
    m = marginals(0.25, 0.04)
    torch.testing.assert_close(m["path S"], torch.tensor(0.75, dtype=torch.float64))
    total = m["S+ST"] + m["S"] + m["ST"] + m["none"]
    torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64))
    ms = marginals(0.25, 0.04, sqrt=True)
    torch.testing.assert_close(ms["path S"], torch.tensor(0.5, dtype=torch.float64))
    torch.testing.assert_close(ms["path ST"], torch.tensor(0.8, dtype=torch.float64))
    with pytest.raises(ValueError, match="drop probabilities"):
        marginals(1.5, 0.1)


def test_sampled_frequency_matches_one_minus_p():
    model = _tiny()
    for _, path, gate in model.gates():
        gate.logit.data.fill_(math.log(0.3 / 0.7) if path == "S" else math.log(0.8 / 0.2))
    g = torch.Generator().manual_seed(0)
    draws = [sample_strategy(model, g) for _ in range(2000)]
    keep_s = sum(s["B1.L1"][0] for s in draws) / len(draws)
    keep_st = sum(s["B1.L1"][1] for s in draws) / len(draws)
    assert abs(keep_s - 0.7) < 0.03 and abs(keep_st - 0.2) < 0.03
    row = layer_table(model)[0]
    assert row["position"] == "B1.L1" and abs(row["path S"] - 0.7) < 1e-6


def test_apply_strategy_equals_strategy_network_for_keep_bits():
    template = _tiny().eval()
    x = torch.rand(2, 1, 4, 28, 28)
    apply_strategy(template, uniform_strategy(template, "S"))
    assert set(strategy_units(uniform_strategy(template, "S"))) == {"S"}
    s_net = _tiny(strategy="S").eval()
    s_net.load_state_dict(template.state_dict(), strict=False)
    torch.testing.assert_close(template(x), s_net(x))
    assert all(g.mode == "fixed" for _, _, g in template.gates())


def _loader(n=24, seed=0):
    g = torch.Generator().manual_seed(seed)
    return DataLoader(
        TensorDataset(torch.rand(n, 1, 3, 28, 28, generator=g), torch.randint(0, 3, (n,), generator=g)), batch_size=8
    )


def test_best_of_n_selects_on_val_and_reports_test():
    model = _tiny()
    out = best_of_n(
        model, 4, _loader(seed=1), _loader(seed=2), generator=torch.Generator().manual_seed(0), device="cpu"
    )
    vals = [r.val_accuracy for r in out["samples"]]
    assert vals == sorted(vals, reverse=True) and out["best"] is out["samples"][0]
    assert out["best"].test_accuracy is not None
    assert all(r.test_accuracy is None for r in out["samples"][1:])
    assert set(out["uniform"]) == {"S", "ST", "S+ST"}
    assert not out["best"].recalibrated


def test_recalibration_changes_a_copy_only():
    model = _tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = best_of_n(model, 1, _loader(seed=1), _loader(seed=2), recalibrate_loader=_loader(seed=3), device="cpu")
    assert out["best"].recalibrated
    for k, v in model.state_dict().items():
        if "running" in k or "logit" in k:
            torch.testing.assert_close(v, before[k])
    recalibrate_bn(model, _loader(seed=3), max_batches=1)
    assert not torch.equal(model.stem[1].running_mean, before["stem.1.running_mean"])


def test_bad_inputs_raise():
    model = _tiny()
    with pytest.raises(ValueError, match="every position"):
        apply_strategy(model, {"B1.L1": (True, True)})
    with pytest.raises(ValueError, match="unit"):
        uniform_strategy(model, "T")
    with pytest.raises(ValueError, match="FusionTemplate-like"):
        gate_probabilities(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="no ST path"):
        apply_strategy(_tiny(strategy="S"), uniform_strategy(model, "ST"))
