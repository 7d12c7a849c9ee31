"""2D -> 3D kernel inflation: shapes, the static-clip property, errors."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from stconv_lite.ops.inflate import inflate_2d_to_3d


@pytest.mark.parametrize("mode", ["mean", "centre"])
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_static_clip_gives_the_2d_response(mode, depth):
    torch.manual_seed(depth)
    weight2d = torch.randn(5, 3, 3, 3, dtype=torch.float64)
    frame = torch.randn(2, 3, 7, 6, dtype=torch.float64)
    frames = depth + 3
    clip = frame.unsqueeze(2).expand(-1, -1, frames, -1, -1)
    weight3d = inflate_2d_to_3d(weight2d, depth, mode)
    assert weight3d.shape == (5, 3, depth, 3, 3)
    out = F.conv3d(clip, weight3d, padding=(0, 1, 1))  # valid in time: every window is inside the clip
    expected = F.conv2d(frame, weight2d, padding=1)
    assert out.shape[2] == frames - depth + 1
    for t in range(out.shape[2]):
        assert_close(out[:, :, t], expected)


def test_mean_and_centre_layouts():
    weight2d = torch.randn(2, 3, 5, 5)
    mean = inflate_2d_to_3d(weight2d, 4, "mean")
    assert_close(mean.sum(dim=2), weight2d)
    assert all(torch.equal(mean[:, :, t], weight2d / 4) for t in range(4))
    centre = inflate_2d_to_3d(weight2d, 4, "centre")
    assert torch.equal(centre[:, :, 2], weight2d)
    assert torch.count_nonzero(centre[:, :, [0, 1, 3]]) == 0


def test_moving_clip_tells_the_two_modes_apart():
    """Only a static clip is guaranteed the 2D response; a moving one separates the modes."""
    torch.manual_seed(0)
    weight2d = torch.randn(1, 1, 3, 3)
    clip = torch.randn(1, 1, 3, 8, 8)
    outs = [F.conv3d(clip, inflate_2d_to_3d(weight2d, 3, mode)) for mode in ("mean", "centre")]
    assert not torch.allclose(*outs)


def test_errors():
    with pytest.raises(ValueError, match=r"\(O, I, kh, kw\)"):
        inflate_2d_to_3d(torch.randn(2, 3, 3), 3)
    with pytest.raises(ValueError, match="depth"):
        inflate_2d_to_3d(torch.randn(2, 3, 3, 3), 0)
    with pytest.raises(ValueError, match="mode"):
        inflate_2d_to_3d(torch.randn(2, 3, 3, 3), 3, mode="random")
