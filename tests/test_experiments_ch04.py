"""Chapter 4's experiment-specific code: the two-dot task's ground truth, the reach prediction, TE starting at 1."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from stconv_lite.experiments import ch04_ctnet as ch
from stconv_lite.experiments.registry import get
from stconv_lite.ops.tensor_excitation import TensorExcitation


def test_twins_hold_the_same_dots_in_the_same_frames():
    clips, labels = ch.apparent_motion_pairs(20, seed=3)
    assert clips.shape == (40, 1, *ch.CLIP_SHAPE) and labels.tolist() == [0, 1] * 20
    right, left = clips[0::2], clips[1::2]
    # Same brightness in every frame (the frames hold the same dots), same total, two dots per clip.
    torch.testing.assert_close(right.sum(dim=(3, 4)), left.sum(dim=(3, 4)))
    assert ((clips > 0).flatten(1).sum(1) == 2).all()
    dt, _, dw = ch.OFFSET
    for r, l in zip(right, left):
        (t1, _, w1), (t2, _, w2) = (r[0] > 0).nonzero().tolist()
        assert (t2 - t1, w2 - w1) == (dt, dw)  # the later dot is right of the earlier one
        (t1, _, w1), (t2, _, w2) = (l[0] > 0).nonzero().tolist()
        assert (t2 - t1, w2 - w1) == (dt, -dw)  # ... and left of it in the twin
    # Every dot is at least MARGIN voxels from the time and width borders.
    t, _, w = torch.nonzero(clips[:, 0] > 0)[:, 1:].T
    assert t.min() >= ch.MARGIN and t.max() <= ch.CLIP_SHAPE[0] - 1 - ch.MARGIN
    assert w.min() >= ch.MARGIN and w.max() <= ch.CLIP_SHAPE[2] - 1 - ch.MARGIN


def test_pairs_are_deterministic_per_seed_and_reject_a_clip_too_small():
    a, _ = ch.apparent_motion_pairs(5, seed=1)
    b, _ = ch.apparent_motion_pairs(5, seed=1)
    c, _ = ch.apparent_motion_pairs(5, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="room"):
        ch.apparent_motion_pairs(5, seed=0, shape=(10, 1, 16))


def _randomise_batchnorm(model: nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
                m.weight.normal_()
                m.bias.normal_()


@pytest.mark.parametrize("arm", sorted(ch.INTERACTION_ARMS))
def test_reach_prediction_matches_the_twin_logits(arm):
    """An arm whose field cannot hold both dots gives twins identical logits (any weights); the others can differ."""
    reaches = ch.field_reaches(ch.interaction_module(arm), ch.CHANNELS)
    assert reaches == (arm not in ("c3d", "ct_parallel"))
    clips, _ = ch.apparent_motion_pairs(16, seed=0)
    changes = []
    for seed in range(4):
        torch.manual_seed(seed)
        model = ch.DotReader(ch.interaction_module(arm)).double().eval()
        _randomise_batchnorm(model)
        with torch.no_grad():
            nn.init.normal_(model.lift.weight, std=2.0)
        changes.append(ch.twin_logit_change(model, 3 * clips.double()))
    if reaches:
        assert max(changes) > 1e-9
    else:
        assert max(changes) < 1e-12


def test_serial_ct_has_the_parallel_cost_and_the_full_box():
    from stconv_lite.analysis.complexity import count_macs
    from stconv_lite.analysis.interaction import interaction_field

    x = torch.randn(1, 16, 4, 6, 6)
    serial, parallel = ch.interaction_module("ct_serial"), ch.interaction_module("ct_parallel")
    assert count_macs(serial, x) == count_macs(parallel, x)
    assert int(interaction_field(serial, 16, size=(9, 9, 9)).any(0).sum()) == 125
    assert int(interaction_field(parallel, 16, size=(9, 9, 9)).any(0).sum()) == 45


def test_identity_start_excitation_starts_at_one_and_learns():
    module = ch.identity_start_excitation(ch.make_module("ct_full", 16))
    gates = [m for m in module.modules() if isinstance(m, TensorExcitation)]
    assert gates and all(isinstance(m, ch.IdentityStartExcitation) for m in gates)
    x = torch.randn(2, 16, 4, 5, 5)
    with torch.no_grad():
        for gate in gates:
            values = gate.gate(torch.randn(2, 16, 4, 5, 5))
            assert torch.equal(values, torch.ones_like(values))
    module.train()
    module(x).sum().backward()
    assert all(g.expand.weight.grad is not None and g.expand.weight.grad.abs().sum() > 0 for g in gates)


def test_network_arms_build_and_only_frame_2d_is_order_blind():
    x = torch.randn(2, 1, 8, 14, 14)
    for arm in ch.NETWORK_ARMS:
        model = ch.network(arm).eval()
        with torch.no_grad():
            change = (model(x) - model(x.flip(2))).abs().max().item()
        assert (change < 1e-5) == (arm == "frame_2d"), (arm, change)


def test_ranking_report_names_the_pairs_against_the_paper():
    def unit(arm, seed, acc):
        return {"arm": arm, "seed": seed, "metrics": {"test_accuracy": acc}}

    values = {"ct": [0.6, 0.62, 0.61], "r2plus1d": [0.7, 0.71, 0.72], "csn": [0.5, 0.5, 0.52], "c3d": [0.4, 0.41, 0.4]}
    run = {"units": [unit(a, s, v) for a, vs in values.items() for s, v in enumerate(vs)]}
    text = ch.ranking_report(run, ch.TABLE_2A)
    assert "1 of 6 pairs are in the opposite order" in text
    assert "paper ct > r2plus1d; here **r2plus1d better than ct**" in text


def test_registered_experiments_cover_the_scales():
    for name in ("ch04.interaction", "ch04.modules", "ch04.excitation"):
        experiment = get(name)
        assert {"quick", "small", "full"} <= set(experiment.settings)
        assert experiment.seeds_for("small") == (0, 1, 2) and len(experiment.seeds_for("full")) == 5
