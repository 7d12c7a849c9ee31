"""Chapter 1's tiny models: shapes, order blindness of the frame bag, order sensitivity of the C3D."""

import pytest
import torch

from stconv_lite.models import create


@pytest.mark.parametrize("name", ["cnn3_2d", "cnn3_3d"])
@pytest.mark.parametrize("frames, size", [(8, 28), (7, 27)])
def test_output_shape(name, frames, size):
    model = create(name, num_classes=10, in_channels=1, width=4).eval()
    assert model(torch.rand(2, 1, frames, size, size)).shape == (2, 10)


def test_frame_bag_cannot_see_the_order_of_frames():
    torch.manual_seed(0)
    model = create("cnn3_2d", num_classes=10, in_channels=1, width=4).eval()
    clip = torch.rand(3, 1, 8, 28, 28)
    torch.testing.assert_close(model(clip), model(clip.flip(2)))


def test_tiny_c3d_sees_the_order_of_frames():
    torch.manual_seed(0)
    model = create("cnn3_3d", num_classes=10, in_channels=1, width=4).eval()
    clip = torch.rand(3, 1, 8, 28, 28)
    assert not torch.allclose(model(clip), model(clip.flip(2)), atol=1e-4)


@pytest.mark.parametrize("name", ["cnn3_2d", "cnn3_3d"])
def test_a_4d_input_is_a_clear_error(name):
    model = create(name, num_classes=10, in_channels=1, width=4)
    with pytest.raises(ValueError, match=r"expects a video batch \(B, C, T, H, W\); got shape \(2, 1, 28, 28\)"):
        model(torch.rand(2, 1, 28, 28))
