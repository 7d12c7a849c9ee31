"""2D -> 3D / 3T network conversion: Table 1 of the 3TConv paper, weight transfer, forward passes."""

import importlib.util

import pytest
import torch
import torch.nn as nn
import torchvision
from torch.testing import assert_close

from stconv_lite.models import create
from stconv_lite.models.convert2d import convert_conv2d
from stconv_lite.ops.conv3t import Conv3T

HAS_INFLATE = importlib.util.find_spec("stconv_lite.ops.inflate") is not None


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    "classes,expected_3t,expected_3d", [(27, 11_222_619, 33_217_755), (101, 11_260_581, 33_255_717)]
)
def test_table1_resnet18_counts(classes, expected_3t, expected_3d):
    assert _count(create("resnet18_3t", classes)) == expected_3t
    assert _count(create("resnet18_3d", classes)) == expected_3d


@pytest.mark.parametrize("classes,expected", [(27, 31_313_976), (101, 31_351_938)])
def test_table1_r2plus1d_count_is_torchvision_r2plus1d_18(classes, expected):
    assert _count(torchvision.models.video.r2plus1d_18(num_classes=classes)) == expected


@pytest.mark.parametrize("classes,expected_3t,expected_3d", [(27, 7_419_121, 14_078_833), (101, 7_646_671, 14_306_383)])
def test_table1_googlenet_counts_with_the_authors_auxiliary_heads(classes, expected_3t, expected_3d):
    assert _count(create("googlenet_3t", classes, aux_logits=True)) == expected_3t
    assert _count(create("googlenet_3d", classes, aux_logits=True)) == expected_3d


def test_googlenet_3d_minus_3t_is_the_papers_difference_without_auxiliary_heads():
    difference = _count(create("googlenet_3d", 27)) - _count(create("googlenet_3t", 27))
    assert difference == 14_078_833 - 7_419_121 == 6_659_712


def test_conversion_rules():
    model = create("resnet18_3t", 10).net
    assert isinstance(model.conv1, Conv3T) and model.conv1.kernel_size == (7, 7, 7)
    assert model.conv1.stride == (2, 2, 2)
    down = model.layer2[0].downsample[0]
    assert isinstance(down, nn.Conv3d) and down.kernel_size == (1, 1, 1) and down.stride == (2, 2, 2)
    assert isinstance(model.bn1, nn.BatchNorm3d) and isinstance(model.maxpool, nn.MaxPool3d)
    assert not any(isinstance(m, (nn.Conv2d, nn.BatchNorm2d)) for m in model.modules())


def _interior(out_len: int, in_len: int, k: int, stride: int, pad: int) -> list[int]:
    """Output frames whose temporal window lies inside the clip (no zero padding involved)."""
    return [t for t in range(out_len) if t * stride - pad >= 0 and t * stride - pad + k <= in_len]


@pytest.mark.parametrize(
    "kind",
    [
        "3t",
        pytest.param("3d", marks=pytest.mark.skipif(not HAS_INFLATE, reason="stconv_lite.ops.inflate not written yet")),
    ],
)
def test_weight_transfer_static_clip_gives_the_2d_response(kind):
    torch.manual_seed(0)
    model2d = torchvision.models.resnet18(num_classes=10)
    convs2d = [m for m in model2d.modules() if isinstance(m, nn.Conv2d)]
    for conv2d in convs2d:
        layer = convert_conv2d(conv2d, kind)
        k, s, p = conv2d.kernel_size[0], conv2d.stride[0], conv2d.padding[0]
        frames, size = 2 * k + 1, max(3, k)
        frame = torch.randn(1, conv2d.in_channels, size, size)
        with torch.no_grad():
            expected = conv2d(frame) * (k if kind == "3t" and k > 1 else 1)
            out = layer(frame.unsqueeze(2).expand(-1, -1, frames, -1, -1))
        inside = _interior(out.shape[2], frames, k, s, p)
        assert inside, (k, s, p)
        for t in inside:
            assert_close(out[:, :, t], expected, rtol=1e-4, atol=1e-5)


def test_from_2d_copies_weights_and_keeps_a_matching_head():
    torch.manual_seed(0)
    model2d = torchvision.models.resnet18(num_classes=7)
    model = create("resnet18_3t", 7, from_2d=model2d).net
    assert_close(model.conv1.first_slice, model2d.conv1.weight)
    assert_close(model.layer3[1].conv2.first_slice, model2d.layer3[1].conv2.weight)
    assert_close(model.bn1.running_var, model2d.bn1.running_var)
    assert_close(model.fc.weight, model2d.fc.weight)
    grey = create("resnet18_3t", 7, in_channels=1, from_2d=model2d).net
    assert_close(grey.conv1.first_slice, model2d.conv1.weight.sum(1, keepdim=True))


@pytest.mark.parametrize("name", ["resnet18_3t", "googlenet_3t"])
def test_forward_on_small_clips(name):
    model = create(name, 5, in_channels=1).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 1, 16, 48, 48)).shape == (1, 5)


def test_googlenet_auxiliary_heads_in_training():
    model = create("googlenet_3t", 4, in_channels=1, aux_logits=True).train()
    logits, aux2, aux1 = model(torch.randn(2, 1, 16, 48, 48))
    assert logits.shape == aux1.shape == aux2.shape == (2, 4)


def test_bad_input_and_options_raise_value_error():
    model = create("resnet18_3t", 5)
    with pytest.raises(ValueError, match=r"resnet18_3t expects \(B, 3, T, H, W\); got \(1, 3, 32, 32\)"):
        model(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match="kind must be"):
        convert_conv2d(nn.Conv2d(1, 1, 3), "2d")
    with pytest.raises(ValueError, match="torchvision ResNet"):
        create("resnet18_3d", 5, from_2d=nn.Conv2d(1, 1, 3))
