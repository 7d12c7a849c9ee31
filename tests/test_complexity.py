"""stconv_lite.analysis.complexity: counts that agree with the formulas."""

import pytest
import torch
import torch.nn as nn

from stconv_lite.analysis.complexity import (
    count_flops,
    count_macs,
    count_parameters,
    format_table,
    layer_summary,
    receptive_field,
)


def test_parameters_of_a_conv3d_follow_the_formula():
    conv = nn.Conv3d(5, 7, (3, 4, 2))
    assert count_parameters(conv) == 7 * 5 * 3 * 4 * 2 + 7


def test_trainable_only_skips_frozen_parameters():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    assert count_parameters(model, trainable_only=True) == 3 * 2 + 2
    assert count_parameters(model) == 4 * 3 + 3 + 3 * 2 + 2


@pytest.mark.parametrize("stride", [1, 2])
def test_conv3d_flops_are_two_per_multiply_add(stride):
    conv = nn.Conv3d(3, 8, 3, stride=stride, padding=1, bias=False)
    x = torch.randn(2, 3, 6, 10, 10)
    out_t, out_h, out_w = (6 + stride - 1) // stride, (10 + stride - 1) // stride, (10 + stride - 1) // stride
    macs = 2 * 8 * 3 * 27 * out_t * out_h * out_w
    assert count_flops(conv, x) == 2 * macs
    assert count_macs(conv, x) == macs


def test_count_flops_keeps_the_training_mode():
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout())
    model.train()
    count_flops(model, torch.randn(1, 4))
    assert model.training


def test_layer_summary_attributes_flops_to_layers():
    model = nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.ReLU(), nn.Conv3d(4, 4, 1))
    x = torch.randn(1, 2, 4, 5, 5)
    rows = layer_summary(model, x)
    assert [r["type"] for r in rows] == ["Conv3d", "ReLU", "Conv3d"]
    assert rows[0]["flops"] == 2 * 4 * 2 * 27 * 100 and rows[2]["flops"] == 2 * 4 * 4 * 100
    assert rows[0]["output"] == (1, 4, 4, 5, 5)
    assert sum(r["flops"] for r in rows) == count_flops(model, x)
    table = format_table(rows)
    assert "| **total** | | | 240 | 46,400 |" in table


class OwnWeight(nn.Module):
    """An operator with its own kernel *and* a child: its conv must appear in the table."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 2, 1, 3, 3))
        self.gate = nn.Linear(3, 3)

    def forward(self, x):
        y = nn.functional.conv3d(x, self.weight, padding=(0, 1, 1))
        return y * self.gate(y.mean((2, 3, 4)))[:, :, None, None, None]


class TwoInputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = OwnWeight()

    def forward(self, x, scale):
        y = self.body(x)
        return torch.einsum("bcthw,cd->bdthw", y, scale)  # the model's own matmul


def test_layer_summary_counts_non_leaf_operators_and_the_model_itself():
    model = TwoInputs()
    x, scale = torch.randn(1, 2, 2, 4, 4), torch.randn(3, 5)
    rows = {r["name"]: r for r in layer_summary(model, (x, scale))}
    assert set(rows) == {"(self)", "body", "body.gate"}
    assert rows["body"]["flops"] == 2 * 3 * 2 * 9 * (2 * 4 * 4) and rows["body"]["params"] == 54
    assert rows["body.gate"]["flops"] == 2 * 3 * 3
    assert rows["(self)"]["flops"] == 2 * 3 * 5 * (2 * 4 * 4) and rows["(self)"]["params"] == 0
    assert rows["body"]["output"] == (1, 3, 2, 4, 4)
    assert sum(r["flops"] for r in rows.values()) == count_flops(model, (x, scale))
    assert sum(r["params"] for r in rows.values()) == count_parameters(model)


def test_uncounted_operations_are_zero():
    """The documented blind spots: BN, activations, pooling count nothing."""
    model = nn.Sequential(nn.BatchNorm3d(2), nn.ReLU(), nn.MaxPool3d(2), nn.AdaptiveAvgPool3d(1))
    assert count_flops(model, torch.randn(1, 2, 4, 4, 4)) == 0


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([nn.Conv3d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv3d(2, 2, 3, padding=1)], (5, 5, 5)),
        # (2+1)D: 1x3x3 spatial with stride 2, then 3x1x1 temporal, then 3x3x3: 3+2=5 in T, 3+2*2=7 in H, W
        (
            [
                nn.Conv3d(1, 2, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
                nn.Conv3d(2, 2, (3, 1, 1), padding=(1, 0, 0)),
                nn.Conv3d(2, 2, 3, padding=1),
            ],
            (5, 7, 7),
        ),
    ],
)
def test_receptive_field_matches_the_formula(layers, expected):
    assert receptive_field(nn.Sequential(*layers), (1, 1, 9, 17, 17)) == expected


def test_receptive_field_rejects_frame_inputs():
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        receptive_field(nn.Conv2d(1, 1, 3), (1, 1, 8, 8))
