"""Chapter 6's experiments: the design facts they rely on, and the sentences they generate."""

import pytest
import torch

from stconv_lite.analysis.order import reverse_time, shuffle_frames
from stconv_lite.experiments import ch06_fusion as ch06
from stconv_lite.experiments import get, runfile, stats
from stconv_lite.experiments.tasks import datasets_for
from stconv_lite.models import create

QUICK = ch06.SETTINGS["quick"]


def test_both_experiments_are_registered_with_their_arms():
    assert get("ch06.table2") is ch06.TABLE2 and get("ch06.data_character") is ch06.DATA_CHARACTER
    assert {"S", "ST", "S+ST", "S+ST_long", "opt", "opt_bn", "opt_nokl"} == set(ch06.TABLE2.arms)
    assert ch06.DATA_CHARACTER.arms == ("full_rate", "half_rate", "appearance")
    for experiment in (ch06.TABLE2, ch06.DATA_CHARACTER):
        assert {"quick", "small", "full"} <= set(experiment.settings)


def test_the_all_s_network_is_order_blind_so_reversal_caps_it_at_half():
    """Why the S arm's 50 % bound holds by construction: its logits ignore the order of frames."""
    torch.manual_seed(0)
    net = create("densenet121_fusion_small", num_classes=10, in_channels=1, width=4, strategy="S").eval()
    clips = torch.rand(3, 1, 8, 20, 20)
    with torch.no_grad():
        torch.testing.assert_close(net(reverse_time(clips)), net(clips), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(net(shuffle_frames(clips)), net(clips), atol=1e-5, rtol=1e-5)
        st = create("densenet121_fusion_small", num_classes=10, in_channels=1, width=4, strategy="ST").eval()
        assert (st(reverse_time(clips)) - st(clips)).abs().max() > 1e-4  # a temporal path does see the order
    _, _, test = datasets_for(QUICK, 0)
    assert torch.equal(test[1][0], test[0][0].flip(1))  # backward clip = forward clip reversed


def test_the_s_plus_st_arm_is_the_template_with_gates_off():
    torch.manual_seed(3)
    alone = create("densenet121_fusion_small", num_classes=10, in_channels=1, width=4, strategy="S+ST")
    torch.manual_seed(3)
    template = create("densenet121_fusion_small", num_classes=10, in_channels=1, width=4)
    template.set_gate_mode("off")
    assert alone.state_dict().keys() == template.state_dict().keys()
    for key, value in alone.state_dict().items():
        torch.testing.assert_close(value, template.state_dict()[key])


def test_temporal_pool_halves_the_frames_and_exposes_the_gates():
    template = create("densenet121_fusion_small", num_classes=10, in_channels=1, width=4)
    seen = []
    template.stem.register_forward_hook(lambda module, args, out: seen.append(args[0].shape))
    pooled = ch06.TemporalPool(template)
    assert pooled.positions is template.positions and len(pooled.gates()) == 22
    pooled.eval()(torch.rand(2, 1, 16, 20, 20))
    assert seen[-1][2] == 8
    ramp = torch.arange(6.0).view(1, 1, 6, 1, 1)  # window 3, stride 2, padding 1 without the pad in the mean
    out = torch.nn.functional.avg_pool3d(ramp, (3, 1, 1), (2, 1, 1), padding=(1, 0, 0), count_include_pad=False)
    assert out.flatten().tolist() == [0.5, 2.0, 4.0]


def test_usage_counts_units_and_paths():
    u = ch06.usage(["S", "ST", "S+ST", "none", "S+ST"])
    assert u["best_S_fraction"] == 0.2 and u["best_S+ST_fraction"] == 0.4 and u["best_none_fraction"] == 0.2
    assert u["best_s_path_fraction"] == 0.6 and u["best_st_path_fraction"] == 0.6


def test_spearman_matches_known_values():
    assert ch06.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert ch06.spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert ch06.spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(4.5 / 22.5**0.5)  # average ranks for the tie
    assert ch06.spearman([1, 1, 1], [1, 2, 3]) != ch06.spearman([1, 1, 1], [1, 2, 3])  # NaN when constant


def _comparison(a, b):
    return {**stats.paired_comparison(a, b, a="half_rate", b="full_rate", metric="st_kept_fraction").as_dict()}


def test_direction_sentences_follow_the_verdict_and_the_prediction():
    lower = _comparison([0.5, 0.52, 0.51], [0.8, 0.81, 0.83])
    assert "as Fig. 6 predicts" in ch06.direction_sentence(lower, "kept", -1, "Fig. 6")
    assert "**opposite**" in ch06.direction_sentence(lower, "kept", +1, "Fig. 6")
    assert "lower for `half_rate`" in ch06.direction_sentence(lower, "kept", -1, "Fig. 6")
    tie = _comparison([0.5, 0.8, 0.6], [0.6, 0.6, 0.7])
    assert "no detectable difference" in ch06.direction_sentence(tie, "kept", -1, "Fig. 6")
    assert "neither confirms nor contradicts" in ch06.direction_sentence(tie, "kept", -1, "Fig. 6")


@pytest.fixture(scope="module")
def quick_table2():
    from stconv_lite.experiments import run_experiment

    return run_experiment("ch06.table2", "quick", device="cpu", verbose=False)


def test_a_quick_run_is_schema_valid_and_every_sentence_renders(quick_table2):
    run = quick_table2
    runfile.validate(run)
    opt = next(u for u in run["units"] if u["arm"] == "opt")
    assert len(opt["samples"]) == QUICK["samples"] and len(opt["p_S"]) == 11 == len(opt["best_units"])
    assert all(0 < p < 1 for p in opt["p_S"] + opt["p_ST"])
    assert len(opt["trace"]) == QUICK["vdp_epochs"] + 1
    assert "| uniform S+ST |" in ch06.inherited_table(run)
    assert "Spearman" in ch06.reranking_sentence(run) and "candidates" in ch06.winners_curse_sentence(run)
    assert "Best validation epoch" in ch06.budget_sentence(run)
    checks = ch06.observation_checks(run)
    assert len(checks["sst_top_fraction"]) == len(run["card"]["seeds"])
    assert "v-DropPath" in ch06.plateau_sentence(opt)


def test_the_same_candidates_are_ranked_with_and_without_bn_reestimation(quick_table2):
    plain = [u for u in quick_table2["units"] if u["arm"] == "opt"]
    recal = [u for u in quick_table2["units"] if u["arm"] == "opt_bn"]
    for a, b in zip(plain, recal):
        assert [s["units"] for s in a["samples"]] == [s["units"] for s in b["samples"]]
        assert a["p_S"] == b["p_S"]  # one template per seed, read twice
