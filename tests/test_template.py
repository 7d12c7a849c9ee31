"""Tests for the fusion template network (supplement Fig. 1) and its fixed-strategy variants."""

import pytest
import torch

from stconv_lite.analysis.complexity import count_parameters
from stconv_lite.models.registry import available, create
from stconv_lite.models.template import FusionTemplate, position_names
from stconv_lite.ops.droppath import variational_kl


def test_registered():
    assert {"densenet121_fusion", "densenet121_fusion_small"} <= set(available())


def test_full_template_matches_table_1_parameter_count():
    model = create("densenet121_fusion", num_classes=174)
    # Table 1 of the paper: 21.4M parameters (the count includes 122 gate logits)
    assert round(count_parameters(model) / 1e6, 1) == 21.4
    assert len(model.positions) == 61 and len(model.gates()) == 122
    assert model.out_channels == 1024
    assert list(model.positions)[:7] == ["B1.L1", "B1.L2", "B1.L3", "B1.L4", "B1.L5", "B1.L6", "T1"]


def test_tiny_template_shapes_through_blocks_and_transitions():
    model = create("densenet121_fusion_small", num_classes=10, in_channels=1).eval()
    assert len(model.positions) == 11 and len(model.gates()) == 22
    assert 25_000 < count_parameters(model) < 35_000
    shapes = {}
    hooks = [
        m.register_forward_hook(lambda m, i, o, n=n: shapes.__setitem__(n, tuple(o.shape)))
        for n, m in model.positions.items()
    ]
    out = model(torch.rand(2, 1, 6, 28, 28))
    for h in hooks:
        h.remove()
    assert out.shape == (2, 10)
    assert shapes["B1.L1"] == (2, 16, 6, 7, 7) and shapes["B1.L3"] == (2, 32, 6, 7, 7)
    assert shapes["T1"] == (2, 16, 6, 3, 3) and shapes["B2.L3"] == (2, 40, 6, 3, 3)
    assert shapes["T2"] == (2, 20, 6, 1, 1) and shapes["B3.L3"] == (2, 44, 6, 1, 1)


def test_position_names():
    assert position_names((2, 1)) == ["B1.L1", "B1.L2", "T1", "B2.L1"]


@pytest.mark.parametrize("strategy", ["S", "ST", "S+ST", ["S", "ST", "S+ST", "S", "ST"]])
def test_strategy_networks_from_the_same_code(strategy):
    model = FusionTemplate(
        4,
        1,
        block_layers=(2, 2),
        growth=2,
        bottleneck=4,
        stem_channels=4,
        stem_t=1,
        stem_k=3,
        stem_pool_t=1,
        strategy=strategy,
    )
    units = [strategy] * 5 if isinstance(strategy, str) else strategy
    for unit, module in zip(units, model.positions.values()):
        assert module.unit == unit
        assert set(module.paths) == ({"S", "ST"} if unit == "S+ST" else {unit})
    assert model(torch.rand(1, 1, 3, 16, 16)).shape == (1, 4)


def test_uniform_s_ignores_frame_order_until_the_head():
    model = create("densenet121_fusion_small", num_classes=3, in_channels=1, strategy="S").eval()
    x = torch.rand(2, 1, 5, 28, 28)
    torch.testing.assert_close(model(x), model(x.flip(2)))
    st = create("densenet121_fusion_small", num_classes=3, in_channels=1, strategy="ST").eval()
    assert not torch.allclose(st(x), st(x.flip(2)))


def test_kl_over_template_and_gate_modes():
    model = create("densenet121_fusion_small", num_classes=10, in_channels=1)
    model.set_gate_mode("relaxed")
    kl = variational_kl(model, length_scale=100.0, n_train=1000)
    loss = model(torch.rand(3, 1, 4, 28, 28)).logsumexp(1).mean() + kl
    loss.backward()
    assert all(g.logit.grad is not None and g.logit.grad != 0 for _, _, g in model.gates())


def test_bad_inputs_raise():
    model = create("densenet121_fusion_small", num_classes=10, in_channels=1)
    with pytest.raises(ValueError, match=r"FusionTemplate expects \(B, 1, T, H, W\)"):
        model(torch.rand(2, 3, 4, 28, 28))
    with pytest.raises(ValueError, match="11 units"):
        create("densenet121_fusion_small", num_classes=10, in_channels=1, strategy=["S"] * 3)
    with pytest.raises(ValueError, match="strategy"):
        create("densenet121_fusion_small", num_classes=10, in_channels=1, strategy="T")


def test_deepcopy_keeps_positions_pointing_at_the_copy():
    import copy

    model = create("densenet121_fusion_small", num_classes=10, in_channels=1)
    clone = copy.deepcopy(model)
    copied = {id(m) for m in clone.modules()}
    assert all(id(unit) in copied for unit in clone.positions.values())
    assert all(id(gate) in copied for _, _, gate in clone.gates())
    assert "_positions" not in "".join(clone.state_dict())
