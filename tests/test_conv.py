"""Reference 2D/3D convolution (pad + unfold + einsum) against PyTorch's, and its errors."""

import pytest
import torch
import torch.nn.functional as F
from torch.testing import assert_close

from stconv_lite.ops.conv import conv2d_reference, conv3d_reference

CASES_2D = [  # (H, W, kernel, stride, padding, dilation, groups)
    (7, 8, (3, 3), 1, 0, 1, 1),
    (8, 7, (3, 2), (2, 1), (1, 2), 1, 1),
    (9, 9, (3, 3), 2, 1, 2, 2),
    (6, 5, (1, 1), 3, 0, 1, 4),
    (5, 6, (2, 3), 1, (0, 1), (2, 1), 1),
]


@pytest.mark.parametrize("h,w,kernel,stride,padding,dilation,groups", CASES_2D)
def test_conv2d_matches_pytorch(h, w, kernel, stride, padding, dilation, groups):
    torch.manual_seed(0)
    x = torch.randn(2, 4, h, w, dtype=torch.float64)
    weight = torch.randn(8, 4 // groups, *kernel, dtype=torch.float64)
    bias = torch.randn(8, dtype=torch.float64)
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    assert_close(conv2d_reference(x, weight, bias, **options), F.conv2d(x, weight, bias, **options))
    assert_close(conv2d_reference(x, weight, **options), F.conv2d(x, weight, **options))


CASES_3D = [  # (T, H, W, kernel, stride, padding, dilation, groups): odd and even sizes
    (5, 6, 7, (3, 3, 3), 1, 1, 1, 1),
    (4, 7, 6, (3, 3, 3), 2, 1, 1, 1),
    (6, 5, 5, (2, 3, 1), (2, 1, 2), (1, 0, 1), 1, 2),
    (7, 8, 8, (3, 2, 2), (1, 2, 2), (2, 1, 0), (2, 1, 2), 1),
    (3, 4, 5, (1, 3, 3), 1, (0, 1, 1), 1, 4),
    (8, 4, 4, (3, 1, 1), (2, 1, 1), (1, 0, 0), 1, 1),
]


@pytest.mark.parametrize("t,h,w,kernel,stride,padding,dilation,groups", CASES_3D)
def test_conv3d_matches_pytorch(t, h, w, kernel, stride, padding, dilation, groups):
    torch.manual_seed(1)
    x = torch.randn(2, 4, t, h, w, dtype=torch.float64)
    weight = torch.randn(4, 4 // groups, *kernel, dtype=torch.float64)
    bias = torch.randn(4, dtype=torch.float64)
    options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    expected = F.conv3d(x, weight, bias, **options)
    out = conv3d_reference(x, weight, bias, **options)
    assert out.shape == expected.shape
    assert_close(out, expected)


def test_conv3d_with_one_time_tap_is_conv2d_per_frame():
    """Eq. (2) with k_t = 1 reduces to eq. (1) applied to every frame."""
    torch.manual_seed(2)
    x = torch.randn(1, 3, 4, 6, 6, dtype=torch.float64)
    weight = torch.randn(5, 3, 1, 3, 3, dtype=torch.float64)
    out = conv3d_reference(x, weight, padding=(0, 1, 1))
    for t in range(4):
        assert_close(out[:, :, t], conv2d_reference(x[:, :, t], weight[:, :, 0], padding=1))


def test_gradients_match_pytorch():
    torch.manual_seed(3)
    x = torch.randn(1, 2, 3, 5, 5, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    ours = torch.autograd.grad(conv3d_reference(x, weight, stride=(1, 2, 2)).sum(), (x, weight))
    theirs = torch.autograd.grad(F.conv3d(x, weight, stride=(1, 2, 2)).sum(), (x, weight))
    for a, b in zip(ours, theirs):
        assert_close(a, b)


def test_errors_name_the_expected_shapes():
    with pytest.raises(ValueError, match=r"\(B, C, T, H, W\)"):
        conv3d_reference(torch.randn(1, 2, 5, 5), torch.randn(3, 2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        conv2d_reference(torch.randn(1, 2, 3, 5, 5), torch.randn(3, 2, 3, 3))
    with pytest.raises(ValueError, match="groups=2"):
        conv2d_reference(torch.randn(1, 3, 5, 5), torch.randn(4, 2, 3, 3), groups=2)
    with pytest.raises(ValueError, match="stride"):
        conv3d_reference(torch.randn(1, 2, 3, 5, 5), torch.randn(3, 2, 1, 3, 3), stride=(1, 2))
    with pytest.raises(ValueError, match="spans"):
        conv2d_reference(torch.randn(1, 2, 2, 2), torch.randn(3, 2, 3, 3))
