"""The operator comparison: one backbone for every operator, the roofline measurements, the page helpers."""

import pytest
import torch
from einops import rearrange, reduce

from stconv_lite.analysis import roofline
from stconv_lite.experiments import registry
from stconv_lite.experiments.ch08_backbone import OPERATOR_LABELS, OPERATORS, OperatorNet, make_operator
from stconv_lite.experiments.ch08_operators import ARMS, NAME, arm, split_arm


@pytest.mark.parametrize("name", list(OPERATORS))
def test_every_operator_keeps_the_shape_and_trains_in_the_backbone(name):
    torch.manual_seed(0)
    x = torch.randn(2, 8, 4, 6, 6)
    assert make_operator(name, 8)(x).shape == x.shape
    model = OperatorNet(name, 10, 1, width=8)
    logits = model(torch.rand(2, 1, 4, 16, 16))
    assert logits.shape == (2, 10)
    logits.sum().backward()
    # Every weight learns; the fusion unit's drop-path gates are off (a uniform strategy), so their logits do not.
    assert all(p.grad is not None for n, p in model.named_parameters() if ".gate." not in n)
    assert name in OPERATOR_LABELS


def test_the_per_frame_operator_makes_the_backbone_order_blind():
    torch.manual_seed(0)
    model = OperatorNet("conv2d", 10, 1, width=8).eval()
    clip = torch.rand(2, 1, 6, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), model(clip.flip(2)))
        assert not torch.allclose(
            OperatorNet("conv3d", 10, 1, width=8).eval()(clip),
            OperatorNet("conv3d", 10, 1, width=8).eval()(clip.flip(2)),
        )


def test_experiment_is_registered_with_every_operator_and_both_labels():
    experiment = registry.get(NAME)
    assert set(experiment.arms) == set(ARMS) and len(ARMS) == 2 * len(OPERATORS)
    assert split_arm(arm("ct", "digit")) == ("ct", "digit")
    assert {"quick", "small", "full"} <= set(experiment.settings)


def test_traffic_counter_counts_reads_and_writes_and_skips_views():
    x = torch.randn(64, 64)
    with roofline.TrafficCounter() as traffic:
        y = x + 1  # reads 16 KiB, writes 16 KiB
        reduce(y, "a c -> a", "mean")  # reads 16 KiB, writes 256 B
    assert traffic.bytes == 3 * x.numel() * 4 + 64 * 4 and traffic.ops == 2
    with roofline.TrafficCounter() as views:
        rearrange(x, "a c -> (a c)")  # a view of contiguous memory: no bytes move
    assert views.bytes == 0


def test_profile_and_point_are_consistent():
    conv = torch.nn.Conv3d(4, 4, 3, padding=1, bias=False)
    measured = roofline.profile(conv, torch.randn(1, 4, 4, 8, 8), repeats=1)
    forward = 2 * 27 * 4 * 4 * 4 * 8 * 8
    assert measured["flops"] == 3 * forward  # forward, input gradient, weight gradient
    where = roofline.point(measured, peak_flops_per_second=1e12, bytes_per_second=1e10)
    assert where["intensity"] == measured["flops"] / measured["bytes"]
    assert where["bound"] == min(1e12, where["intensity"] * 1e10)


def test_quick_run_and_page_helpers(tmp_path):
    from stconv_lite.experiments import book_comparison
    from stconv_lite.experiments.runner import run_experiment

    run = run_experiment(NAME, "quick", seeds=(0, 1), out=tmp_path, verbose=False)
    table = book_comparison.comparison_table(run, run)
    assert table.count("\n") == len(OPERATORS) + 1
    assert len(book_comparison.roofline_rows(run)) == len(OPERATORS)
    assert "ridge point" in book_comparison.roofline_sentences(run)
    book_comparison.roofline_figure(run)
