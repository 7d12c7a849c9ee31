"""stconv_lite.analysis.complexity: counts that agree with the formulas."""

import pytest
import torch
import torch.nn as nn

from stconv_lite.analysis.complexity import count_flops, count_macs, count_parameters, format_table, layer_summary


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
