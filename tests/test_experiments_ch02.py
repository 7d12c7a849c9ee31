"""Chapter 2's experiments: the metrics they add, the R(2+1)D-without-ReLU arm, and one quick unit."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.testing import assert_close

from stconv_lite.analysis.complexity import count_macs, count_parameters
from stconv_lite.analysis.order import reverse_time
from stconv_lite.experiments import get
from stconv_lite.experiments.ch02_r2plus1d import (
    OPTIMISATION,
    TIME_ORDER,
    _unit,
    build_variant,
    clip_macs,
    direction_accuracy,
    pair_accuracy,
    r2plus1d_without_middle_relu,
)
from stconv_lite.ops.r2plus1d import Conv2Plus1d


def _confusion(pairs):
    """A 10x10 confusion from {(true, predicted): count}."""
    matrix = [[0] * 10 for _ in range(10)]
    for (true, predicted), count in pairs.items():
        matrix[true][predicted] = count
    return matrix


def test_pair_and_direction_accuracy_on_known_confusions():
    # An order-blind model: both clips of each pair get the same prediction, the forward class.
    blind = _confusion({**{(2 * m, 2 * m): 4 for m in range(5)}, **{(2 * m + 1, 2 * m): 4 for m in range(5)}})
    assert pair_accuracy(blind) == 1.0 and direction_accuracy(blind) == 0.5
    # Perfect: right motion, right direction.
    perfect = _confusion({(c, c): 3 for c in range(10)})
    assert pair_accuracy(perfect) == 1.0 and direction_accuracy(perfect) == 1.0
    # Half the clips in the wrong motion, the others right: pair 0.5, direction 1.
    mixed = _confusion({**{(c, c): 2 for c in range(10)}, **{(c, (c + 2) % 10): 2 for c in range(10)}})
    assert pair_accuracy(mixed) == 0.5 and direction_accuracy(mixed) == 1.0


def test_removing_the_middle_relu_keeps_parameters_and_leaves_a_rank_limited_3d_conv():
    model = build_variant("r2plus1d", 10, width=4, frames=8, blocks=1)
    plain = build_variant("r2plus1d_norelu", 10, width=4, frames=8, blocks=1)
    assert count_parameters(plain) == count_parameters(model)
    factorised = [m for m in plain.modules() if isinstance(m, Conv2Plus1d)]
    assert factorised and all(isinstance(m[2], nn.Identity) for m in factorised)
    assert isinstance(plain.stem[2], nn.Identity) and isinstance(plain.stem[5], nn.ReLU)
    assert all(isinstance(m[2], nn.ReLU) for m in model.modules() if isinstance(m, Conv2Plus1d))

    # In eval mode, spatial conv -> BN -> temporal conv is one 3D conv whose kernel is
    # sum_m temporal[o, m, r] * (BN scale_m * spatial[m, c, p, q]), plus a bias from the BN shift.
    torch.manual_seed(0)
    conv = r2plus1d_without_middle_relu(nn.Sequential(Conv2Plus1d(3, 5, 3, mid_channels=4)))[0].double()
    norm = conv[1]
    norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2)
    norm.weight.data.uniform_(0.5, 2), norm.bias.data.uniform_(-1, 1)
    conv.eval()
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    shift = norm.bias - norm.running_mean * scale
    spatial, temporal = conv.spatial.weight, conv.temporal.weight  # (M, C, 1, 3, 3), (O, M, 3, 1, 1)
    kernel = torch.einsum("omr,m,mcpq->ocrpq", temporal[:, :, :, 0, 0], scale, spatial[:, :, 0])
    clip = torch.randn(2, 3, 6, 7, 7, dtype=torch.float64)
    constant = torch.ones(1, 4, 6, 7, 7, dtype=torch.float64) * shift.view(1, -1, 1, 1, 1)
    shifted = F.conv3d(constant, temporal, padding=(1, 0, 0))  # the BN shift, through the temporal conv
    with torch.no_grad():
        assert_close(conv(clip), F.conv3d(clip, kernel, padding=1) + shifted)


def test_removing_the_relu_refuses_a_model_without_2plus1d_convs():
    with pytest.raises(ValueError, match="no \\(2\\+1\\)D"):
        r2plus1d_without_middle_relu(build_variant("r3d", 10, width=4, frames=8, blocks=1))


@pytest.mark.parametrize("arm", TIME_ORDER.arms + ("r2plus1d_norelu",))
def test_every_arm_builds_and_classifies_a_clip(arm):
    model = build_variant(arm, 10, width=4, frames=8, blocks=1).eval()
    with torch.no_grad():
        assert model(torch.rand(2, 1, 8, 16, 16)).shape == (2, 10)


def test_f_r2d_is_blind_to_the_order_of_frames_and_r3d_is_not():
    torch.manual_seed(0)
    clips = torch.rand(3, 1, 8, 16, 16)
    for arm, blind in (("fr2d", True), ("r3d", False)):
        model = build_variant(arm, 10, width=4, frames=8, blocks=1).eval()
        with torch.no_grad():
            change = (model(clips) - model(reverse_time(clips))).abs().max().item()
        assert (change < 1e-5) == blind, (arm, change)


def test_macs_are_counted_for_the_settings_clip():
    settings = TIME_ORDER.settings_for("small")
    with torch.device("meta"):
        model = build_variant("r3d", 10, settings["width"], settings["frames"], settings["blocks"])
        expected = count_macs(model, torch.empty(1, 1, settings["frames"], settings["size"], settings["size"]))
    assert clip_macs("r3d", settings) == expected > 0


def test_registered_experiments_share_settings_and_compare_metrics_the_unit_returns():
    assert get("ch02.time_order") is TIME_ORDER and get("ch02.optimisation") is OPTIMISATION
    for scale in ("quick", "small", "full"):
        assert TIME_ORDER.settings_for(scale) == OPTIMISATION.settings_for(scale)
        assert TIME_ORDER.settings_for(scale)["label"] == "reversal"
    result = _unit("fr2d", 0, TIME_ORDER.settings_for("quick"), torch.device("cpu"))
    metrics = result["metrics"]
    for experiment in (TIME_ORDER, OPTIMISATION):
        for compare in experiment.comparisons:
            assert compare.metric in metrics
    assert metrics["test_accuracy"] <= 0.5 and metrics["direction_accuracy"] == 0.5
    assert metrics["reversal_agreement"] == 1.0 and metrics["reversal_max_logit_change"] < 1e-4
    # the same unit is trained once per process: both experiments reuse it
    assert _unit("fr2d", 0, TIME_ORDER.settings_for("quick"), torch.device("cpu")) is result
