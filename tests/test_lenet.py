"""LeNet-5 in 3D, 3T and per-frame 2D: shapes, parameter counts, registry, input checks."""

import pytest
import torch
from torch.testing import assert_close

from stconv_lite.models import available, create
from stconv_lite.ops.conv3t import Conv3T


def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


FC = (2000 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)  # the shared head for 10 classes


def test_registered():
    assert {"lenet5_3d", "lenet5_3t", "lenet5_2d"} <= set(available())


@pytest.mark.parametrize("name", ["lenet5_3d", "lenet5_3t", "lenet5_2d"])
def test_shapes_on_video_mnist_clips(name):
    model = create(name, num_classes=10, in_channels=1)
    assert model(torch.randn(2, 1, 30, 28, 28)).shape == (2, 10)


def test_parameter_counts_follow_the_formulas():
    conv3d = (6 * 1 * 125 + 6) + (16 * 6 * 125 + 16)
    conv3t = (6 * 1 * 25 + 4 * 4 * 6 + 6) + (16 * 6 * 25 + 4 * 4 * 16 + 16)
    assert _count(create("lenet5_3d", 10, 1)) == conv3d + FC
    assert _count(create("lenet5_3t", 10, 1)) == conv3t + FC
    conv2d = (6 * 25 + 6) + (16 * 6 * 25 + 16)
    assert _count(create("lenet5_2d", 10, 1)) == conv2d + 400 * 120 + 120 + 120 * 84 + 84 + 850


def test_3t_uses_conv3t_layers_and_feature_shapes_match_the_authors():
    model = create("lenet5_3t", 10, 1)
    assert sum(isinstance(m, Conv3T) for m in model.modules()) == 2
    assert model.features(torch.zeros(1, 1, 30, 28, 28)).shape == (1, 16, 5, 5, 5)


def test_width_and_clip_size_options():
    model = create("lenet5_3t", 4, 1, channels=(2, 4), hidden=(16, 8), frames=12, size=20)
    assert model(torch.randn(3, 1, 12, 20, 20)).shape == (3, 4)


def test_2d_baseline_is_blind_to_frame_order():
    model = create("lenet5_2d", 10, 1).eval()
    clip = torch.randn(2, 1, 8, 28, 28)
    assert_close(model(clip), model(clip.flip(2)), rtol=1e-5, atol=1e-6)


def test_3t_at_identity_sees_frame_order():
    torch.manual_seed(0)
    model = create("lenet5_3t", 10, 1).eval()
    clip = torch.randn(1, 1, 30, 28, 28)
    assert not torch.allclose(model(clip), model(clip.flip(2)))


@pytest.mark.parametrize("name", ["lenet5_3d", "lenet5_3t", "lenet5_2d"])
def test_bad_input_raises_value_error(name):
    model = create(name, 10, 1)
    with pytest.raises(ValueError, match=r"expects \(B, 1, T, H, W\); got \(2, 30, 28, 28\)"):
        model(torch.randn(2, 30, 28, 28))
    with pytest.raises(ValueError, match="conv must be"):
        from stconv_lite.models.lenet import LeNet5Video

        LeNet5Video(10, conv="2d")
