"""Tests for the variational drop-path gate and the KL regulariser (eq. S12, S13 of the fusion supplement)."""

import math

import pytest
import torch

from stconv_lite.ops.droppath import (
    DropPathGate,
    GatedPath,
    kl_term,
    logistic_noise,
    relaxed_drop,
    variational_kl,
)


def _gate(p: float, mode: str) -> DropPathGate:
    gate = DropPathGate(p0=p, mode=mode)
    return gate


def test_off_is_identity_and_expected_scales_by_keep():
    x = torch.randn(3, 2, 2, 3, 3)
    torch.testing.assert_close(_gate(0.3, "off")(x), x)
    torch.testing.assert_close(_gate(0.3, "expected")(x), 0.7 * x)


def test_relaxed_samples_in_unit_interval_one_draw_per_sample():
    gate = _gate(0.3, "relaxed")
    x = torch.ones(500, 2, 2, 2, 2)
    y = gate(x)
    assert y.min() >= 0 and y.max() <= 1
    # one factor per sample: constant over C, T, H, W, different between samples
    per_sample = y.flatten(1)
    torch.testing.assert_close(per_sample.min(1).values, per_sample.max(1).values)
    assert per_sample[:, 0].std() > 0.1


@pytest.mark.parametrize("p", [0.1, 0.3, 0.7])
def test_relaxed_drop_mean_tends_to_p_as_tau_shrinks(p):
    g = torch.Generator().manual_seed(0)
    noise = logistic_noise((100_000,), g)
    logit = torch.tensor(math.log(p / (1 - p)))
    d = relaxed_drop(logit, noise, tau=0.01)
    assert d.min() >= 0 and d.max() <= 1
    # d is the DROP indicator: its mean is p (and the keep factor 1 - d has mean 1 - p)
    assert abs(d.mean().item() - p) < 0.01
    assert abs((1 - d).mean().item() - (1 - p)) < 0.01
    # at tau -> 0 the samples are nearly binary
    assert ((d < 0.01) | (d > 0.99)).float().mean() > 0.97


def test_relaxed_mean_is_not_p_at_large_tau():
    # the test above can fail: at a large temperature the samples cluster at 1/2
    noise = logistic_noise((20_000,), torch.Generator().manual_seed(1))
    d = relaxed_drop(torch.tensor(math.log(0.1 / 0.9)), noise, tau=50.0)
    assert abs(d.mean().item() - 0.1) > 0.3


def test_hard_sampling_keeps_with_frequency_one_minus_p():
    gate = DropPathGate(p0=0.25)
    g = torch.Generator().manual_seed(0)
    keeps = [gate.sample_keep(g) for _ in range(10_000)]
    assert gate.mode == "fixed"
    assert abs(sum(keeps) / len(keeps) - 0.75) < 0.02


def test_kl_value_on_toy_gate():
    p, w = torch.tensor(0.2), torch.tensor([1.0, 2.0])
    k, n = 10.0, 100
    expected = (k / n) * 0.8 * 5.0 + (0.2 * math.log(0.2) + 0.8 * math.log(0.8)) / n
    torch.testing.assert_close(kl_term(p, w, k, n), torch.tensor(expected))
    paper = (k**2 / (2 * n)) * 0.8 * 5.0 + 0.2 * math.log(0.2) / n
    torch.testing.assert_close(kl_term(p, w, k, n, coefficient="paper", entropy="paper"), torch.tensor(paper))


@pytest.mark.parametrize("p0,k,sign", [(0.1, 1.0, -1), (0.4, 1.0, -1), (0.9, 0.0001, +1), (0.9, 100.0, -1)])
def test_kl_gradient_sign(p0, k, sign):
    # dKL/dp = -lambda ||w||^2 + log(p / (1 - p)) / N: < 0 below 1/2; > 0 above 1/2 only for a weak prior
    p = torch.tensor(p0, requires_grad=True)
    w = torch.ones(4)
    n = 10
    kl_term(p, w, k, n).backward()
    analytic = -(k / n) * 4 + math.log(p0 / (1 - p0)) / n
    assert math.copysign(1, p.grad.item()) == sign
    assert abs(p.grad.item() - analytic) < 1e-5


def test_gradcheck_relaxed_gate_with_fixed_noise():
    noise = logistic_noise((3,), torch.Generator().manual_seed(0), dtype=torch.float64)
    logit = torch.tensor(-1.0, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, 2, 1, 2, 2, dtype=torch.float64, requires_grad=True)

    def gated(logit, x):
        keep = 1 - relaxed_drop(logit, noise, 0.5)
        return x * keep[:, None, None, None, None]

    assert torch.autograd.gradcheck(gated, (logit, x))


def test_variational_kl_sums_over_paths_and_weights_grad():
    paths = [GatedPath(2, 3, (1, 1, 1)), GatedPath(2, 3, (3, 1, 1))]
    total = variational_kl(paths, length_scale=5.0, n_train=50)
    manual = sum(kl_term(q.gate.p, q.conv.weight, 5.0, 50) for q in paths)
    torch.testing.assert_close(total, manual)
    total.backward()
    assert all(q.gate.logit.grad is not None and q.conv.weight.grad is not None for q in paths)


def test_fixed_off_path_outputs_zeros_of_right_shape():
    path = GatedPath(2, 3, (3, 1, 1))
    path.gate.set_keep(False)
    out = path(torch.randn(2, 2, 4, 5, 5))
    assert out.shape == (2, 3, 4, 5, 5) and out.abs().sum() == 0


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="p0"):
        DropPathGate(p0=1.0)
    with pytest.raises(ValueError, match="mode"):
        DropPathGate().set_mode("sometimes")
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        DropPathGate()(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match="GatedPath expects"):
        GatedPath(2, 3, (1, 1, 1))(torch.randn(1, 4, 2, 3, 3))
    with pytest.raises(ValueError, match="coefficient"):
        kl_term(torch.tensor(0.1), torch.ones(1), 1.0, 10, coefficient="k3")
    with pytest.raises(ValueError, match="no GatedPath"):
        variational_kl(torch.nn.Linear(2, 2), 1.0, 10)
