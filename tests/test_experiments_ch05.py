"""Chapter 5's experiments: the symmetry claims the chapter builds on, and its generated text."""

import pytest
import torch
import torch.nn as nn

from stconv_lite.analysis.order import reverse_time, shuffle_frames
from stconv_lite.data.video_mnist import VideoMNIST
from stconv_lite.experiments import ch05_tadaconv as ch05
from stconv_lite.experiments import stats
from stconv_lite.experiments.registry import get
from stconv_lite.experiments.runner import run_experiment
from stconv_lite.ops.calibration import CalibrationGenerator
from stconv_lite.ops.temporal_aggregation import TemporalAggregation


def _trained_looking(model: nn.Module) -> nn.Module:
    """Move every zero-initialised part (generators' last conv, BN_2) and the BN statistics off their start."""
    torch.manual_seed(3)
    for module in model.modules():
        if isinstance(module, CalibrationGenerator):
            nn.init.normal_(module.expand.weight, std=0.5)
        if isinstance(module, TemporalAggregation) and module.pool_bn is not None:
            nn.init.normal_(module.pool_bn.weight, std=0.5)
            nn.init.normal_(module.pool_bn.bias, std=0.5)
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.normal_(0, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.double().eval()


def _change(model: nn.Module, clips: torch.Tensor, transform) -> float:
    with torch.no_grad():
        return (model(clips) - model(transform(clips))).abs().max().item()


CLIPS = torch.rand(3, 1, 8, 20, 20, dtype=torch.float64)
SHUFFLE = lambda x: shuffle_frames(x, generator=torch.Generator().manual_seed(1))  # noqa: E731


@pytest.mark.parametrize("arm", ch05.ORDER_BLIND)
def test_order_blind_arms_give_the_same_logits_for_any_frame_order(arm):
    model = _trained_looking(ch05.build_arm(arm, width=4))
    assert _change(model, CLIPS, reverse_time) < 1e-10
    assert _change(model, CLIPS, SHUFFLE) < 1e-10


def test_the_aggregation_alone_is_blind_to_reversal_but_not_to_shuffling():
    model = _trained_looking(ch05.build_arm("tsn_aggr", width=4))
    assert _change(model, CLIPS, reverse_time) < 1e-10
    assert _change(model, CLIPS, SHUFFLE) > 1e-4


@pytest.mark.parametrize("arm", ["tada_k33_g", "tada2d", "r2plus1d", "tada_r2plus1d"])
def test_arms_with_temporal_kernels_can_see_the_order(arm):
    model = _trained_looking(ch05.build_arm(arm, width=4))
    if arm == "r2plus1d":  # its temporal convs are random at init already; make them asymmetric for sure
        for module in model.modules():
            if isinstance(module, nn.Conv3d) and module.kernel_size == (3, 1, 1):
                module.weight.data[:, :, 0] += 0.5
    assert _change(model, CLIPS, reverse_time) > 1e-4


def test_fresh_variants_compute_what_their_baselines_compute():
    """Identity init: TSN + aggregation = TSN, and R(2+1)D + TAdaConv = R(2+1)D, with the same weights."""
    x = torch.rand(2, 1, 8, 20, 20)
    for arm, base in (("tsn_aggr", "tsn"), ("tada_r2plus1d", "r2plus1d")):
        torch.manual_seed(0)
        model, reference = ch05.build_arm(arm, width=4).eval(), ch05.build_arm(base, width=4).eval()
        ours = model.state_dict()
        mapped = {}
        for key, value in reference.state_dict().items():
            for target in (key, key.replace("conv2.0.", "conv2.0.conv."), key.replace(".bn2.", ".bn2.bn.")):
                if target in ours:
                    mapped[target] = value.reshape(ours[target].shape)
                    break
        model.load_state_dict(mapped, strict=False)
        torch.testing.assert_close(model(x), reference(x))


def test_pair_and_direction_split_the_accuracy():
    confusion = [[0] * 4 for _ in range(4)]
    confusion[0][0], confusion[0][1], confusion[0][2] = 6, 2, 2  # class 0: 6 right, 2 wrong direction, 2 wrong motion
    confusion[1][1], confusion[1][0] = 5, 5
    confusion[2][2], confusion[3][3] = 10, 10
    out = ch05.pair_and_direction(confusion)
    assert out["motion_pair_accuracy"] == pytest.approx(38 / 40)
    assert out["direction_accuracy"] == pytest.approx(31 / 38)
    assert out["motion_pair_accuracy"] * out["direction_accuracy"] == pytest.approx(31 / 40)
    assert ch05.pair_and_direction([[0, 3], [0, 0]]) == {"motion_pair_accuracy": 1.0, "direction_accuracy": 0.0}
    assert ch05.pair_and_direction([[0, 0, 3, 0]] * 4)["direction_accuracy"] == 0.5  # no right motion: no evidence
    with pytest.raises(ValueError, match="even"):
        ch05.pair_and_direction([[1]])


def test_a_reversal_blind_model_has_exactly_half_direction_accuracy_on_real_clips():
    """The bound the chapter leans on: any reversal-blind predictor, on the real test split."""
    test = VideoMNIST("test", clips_per_class=3, label="reversal", frames=6, size=16, seed=0, source="bundled")
    clips = torch.stack([test[i][0] for i in range(len(test))])
    labels = torch.tensor([test[i][1] for i in range(len(test))])
    torch.manual_seed(0)
    for _ in range(5):  # a random reversal-symmetric scorer: f(x) + f(reverse x)
        w = torch.randn(10, clips[0].numel())
        scores = clips.flatten(1) @ w.T + reverse_time(clips).flatten(1) @ w.T
        confusion = torch.zeros(10, 10, dtype=torch.long)
        confusion.index_put_((labels, scores.argmax(1)), torch.ones_like(labels), accumulate=True)
        out = ch05.pair_and_direction(confusion.tolist())
        assert out["direction_accuracy"] == 0.5 or out["motion_pair_accuracy"] == 0


def test_both_experiments_run_at_quick_scale_and_their_text_is_generated(tmp_path):
    models = {}
    run = run_experiment("ch05.plugin", "quick", seeds=(0, 1), out=tmp_path, verbose=False, models=models)
    assert set(models) == {(arm, seed) for arm in ch05.PLUGIN_ARMS for seed in (0, 1)}
    for unit in run["units"]:
        m = unit["metrics"]
        assert m["test_accuracy"] == pytest.approx(m["motion_pair_accuracy"] * m["direction_accuracy"])
    text = ch05.plugin_story(run)
    assert "R(2+1)D" in text and "table 2" in text
    table = ch05.motion_table(run, [("f", "b")] * 5, run["arms"], ch05.PLUGIN_LABELS)
    assert table.count("| f / b |") == 5


def test_the_ablation_text_follows_the_verdicts():
    """The stories are built from the verdicts: forge a run and flip one verdict at a time."""
    experiment = get("ch05.ablation")
    units = []
    values = {"tsn": 0.3, "tada_k11_g": 0.3, "tsn_aggr": 0.32, "tada_k33_g": 0.6, "tada2d": 0.65}
    for seed in (0, 1, 2):
        for arm, v in values.items():
            direction = 0.5 if arm in ch05.REVERSAL_BLIND else 0.9 + 0.01 * seed
            units.append(
                {
                    "arm": arm,
                    "seed": seed,
                    "params": 1,
                    "metrics": {
                        "test_accuracy": v + 0.01 * seed,
                        "motion_pair_accuracy": 2 * v,
                        "direction_accuracy": direction,
                        "mean_train_loss": 2.0 - v,
                        "reversal_agreement": 1.0,
                        "shuffle_agreement": 1.0,
                        "reversal_max_logit_change": 0.0,
                        "shuffle_max_logit_change": 0.0,
                    },
                    "confusion": [[1 if i == j else 0 for j in range(10)] for i in range(10)],
                }
            )
    from stconv_lite.experiments.runner import summarise

    summaries, comparisons, bounds = summarise(experiment, units)
    run = {
        "experiment": experiment.name,
        "arms": list(experiment.arms),
        "units": units,
        "summaries": summaries,
        "comparisons": comparisons,
        "bounds": bounds,
    }
    story = ch05.ablation_story(run)
    assert "Local temporal context is what reads the order" in story
    assert "TAda2D is more accurate than TSN" in story
    assert ch05.comparison(run, "tada_k33_g", "tada_k11_g", "direction_accuracy")["verdict"] == stats.BETTER
    assert "TAda2D's training loss is lower" in ch05.loss_sentence(run)
    # the same run with no gain from local context reads the other way
    for u in units:
        if u["arm"] == "tada_k33_g":
            u["metrics"]["direction_accuracy"] = 0.5 + (0.01 if u["seed"] == 0 else -0.01 if u["seed"] == 1 else 0)
    summaries, comparisons, bounds = summarise(experiment, units)
    run.update(summaries=summaries, comparisons=comparisons, bounds=bounds)
    assert "Not shown at this scale that local context reads the order" in ch05.ablation_story(run)
    assert ch05.check_invariances(run)


def test_tada2d_and_r2plus1d_are_paired_only_across_runs_with_the_same_clips():
    def fake(arm, values, settings):
        units = [{"arm": arm, "seed": s, "metrics": {"test_accuracy": v}} for s, v in enumerate(values)]
        return {"card": {"settings": settings, "seeds": list(range(len(values)))}, "units": units}

    a, b = fake("tada2d", [0.6, 0.7, 0.65], {"x": 1}), fake("r2plus1d", [0.8, 0.85, 0.9], {"x": 1})
    c = ch05.tada2d_vs_r2plus1d(a, b)
    assert c["verdict"] == stats.WORSE and c["mean_difference"] == pytest.approx(-0.2)
    assert "R(2+1)D is more accurate than TAda2D here**, against the paper" in ch05.across_sentence(c)
    with pytest.raises(ValueError, match="share settings"):
        ch05.tada2d_vs_r2plus1d(a, fake("r2plus1d", [0.8, 0.85, 0.9], {"x": 2}))
