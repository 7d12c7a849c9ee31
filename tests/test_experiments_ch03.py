"""Chapter 3's experiment code: the LeNet-5 variants' ground truth and the time-to-accuracy metric."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from stconv_lite.experiments.ch03_3tconv import DIGIT_ARMS, LOW_DATA_DIGIT, TIME_ARMS, TRANSFORMS_TIME, time_to_target
from stconv_lite.models.lenet_variants import (
    bake_transforms,
    build_lenet,
    freeze_transforms,
    reversal_invariant_frames,
    speed_up_transforms,
    transforms_at_identity,
)
from stconv_lite.ops.conv3t import Conv3T


def _reversal_change(model, frames: int, size: int = 28) -> float:
    torch.manual_seed(0)
    clips = torch.rand(3, 1, frames, size, size)
    with torch.no_grad():
        return (model.eval()(clips) - model(clips.flip(2))).abs().max().item()


@pytest.mark.parametrize("frames", [12, 14, 16, 18, 20, 24, 28, 30])
def test_frozen_time_pooled_3t_is_reversal_invariant_exactly_when_predicted(frames):
    torch.manual_seed(1)
    change = _reversal_change(build_lenet("3t", "pool", frozen=True, frames=frames), frames)
    if reversal_invariant_frames(frames):
        assert change < 1e-5
    else:
        assert change > 1e-5  # the poolings pair different frames forwards and backwards


def test_the_flatten_head_and_learned_transforms_can_read_the_order():
    torch.manual_seed(2)
    assert _reversal_change(build_lenet("3t", "flatten", frozen=True, frames=16), 16) > 1e-4
    moved = build_lenet("3t", "pool", frames=16)
    moved.features[0].set_transforms(tx_px=0.5, rotation_deg=5.0)
    assert _reversal_change(moved, 16) > 1e-4
    assert _reversal_change(build_lenet("3d", "pool", frames=16), 16) > 1e-4


def test_frozen_transforms_stay_at_the_identity_while_the_slices_train():
    torch.manual_seed(3)
    model = build_lenet("3t", "pool", frozen=True, frames=12, size=20)
    before = model.features[0].first_slice.detach().clone()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2)
    for _ in range(3):
        loss = F.cross_entropy(model(torch.rand(4, 1, 12, 20, 20)), torch.tensor([0, 1, 2, 3]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert transforms_at_identity(model)
    assert not torch.equal(before, model.features[0].first_slice)
    # the frozen 3T has the trainable weights of the per-frame 2D LeNet: first slices + biases + head
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert trainable == sum(p.numel() for p in build_lenet("2d", size=20).parameters())


def test_speed_up_moves_adam_k_times_as_far_and_bakes_back_to_plain_parameters():
    torch.manual_seed(4)
    plain, fast = build_lenet("3t", "pool", frames=12, size=20), build_lenet("3t", "pool", frames=12, size=20)
    fast.load_state_dict(plain.state_dict())
    speed_up_transforms(fast, 10.0)
    clips = torch.rand(2, 1, 12, 20, 20)
    torch.testing.assert_close(plain(clips), fast(clips))  # values unchanged
    moves = []
    for model in (plain, fast):
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
        model(clips).sum().backward()
        optimiser.step()
        moves.append((model.features[0].tx.detach() - 0).abs().max().item())
    assert moves[1] == pytest.approx(10 * moves[0], rel=1e-3)
    bake_transforms(fast)
    names = [name for name, _ in fast.named_parameters()]
    assert "features.0.tx" in names and not any("parametrizations" in n for n in names)
    assert isinstance(fast.features[0], Conv3T) and fast(clips).shape == (2, 10)


def test_build_lenet_refuses_contradictory_choices():
    with pytest.raises(ValueError, match="transforms to freeze"):
        build_lenet("3d", frozen=True)
    with pytest.raises(ValueError, match="averages its logits"):
        build_lenet("2d", head="pool")
    with pytest.raises(ValueError, match="Conv3T"):
        freeze_transforms(build_lenet("3d"))
    with pytest.raises(ValueError, match="expects"):
        build_lenet("3t", "pool", frames=16)(torch.rand(1, 1, 12, 28, 28))


def test_time_to_target_reads_the_first_epoch_at_target_or_censors():
    curves = {"val_acc": [0.2, 0.6, 0.8, 0.9], "epoch_seconds": [1.0, 2.0, 3.0, 4.0], "steps": [5, 10, 15, 20]}
    reached = time_to_target(curves, 0.75)
    assert reached == {
        "seconds_to_target": 6.0,
        "steps_to_target": 15.0,
        "reached_target": 1.0,
        "seconds_per_step": 0.5,
    }
    censored = time_to_target(curves, 0.95)
    assert censored["seconds_to_target"] == 10.0 and censored["reached_target"] == 0.0
    assert censored["steps_to_target"] == 20.0


def test_registered_settings_keep_the_designs_promises():
    for scale in ("quick", "small", "full"):
        assert reversal_invariant_frames(TRANSFORMS_TIME.settings_for(scale)["frames"])
    for scale in ("quick", "small", "full", "paper"):
        settings = LOW_DATA_DIGIT.settings_for(scale)
        assert settings["sizes"][0] == settings["clips_per_class"]
    assert set(LOW_DATA_DIGIT.arms) == set(DIGIT_ARMS) and set(TRANSFORMS_TIME.arms) == set(TIME_ARMS)
    assert LOW_DATA_DIGIT.settings_for("paper")["sizes"][-1] == 1000  # the paper's figure 4 range
