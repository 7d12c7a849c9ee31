"""analysis.explain: saliency, activation maximisation and Grad-CAM on models whose answer is known."""

import pytest
import torch
import torch.nn as nn

from stconv_lite.analysis.explain import activation_maximisation, gradcam_over_time, saliency


class OnePixel(nn.Module):
    """The score of class 0 is the pixel (t=1, h=2, w=3) times 5; class 1 is its negative."""

    def forward(self, x):
        value = 5 * x[:, 0, 1, 2, 3]
        return torch.stack([value, -value], dim=1)


def test_saliency_finds_the_only_pixel_that_matters():
    clip = torch.rand(1, 3, 5, 5)
    maps = saliency(OnePixel(), clip, lambda out: out[0, 0])
    assert maps.shape == (3, 5, 5)
    expected = torch.zeros(3, 5, 5)
    expected[1, 2, 3] = 5
    torch.testing.assert_close(maps, expected)


def test_activation_maximisation_raises_the_score_and_stays_in_range():
    start = torch.full((1, 3, 5, 5), 0.5)
    result = activation_maximisation(lambda x: OnePixel()(x)[0, 0], start, steps=30, lr=0.05)
    assert result.shape == start.shape and result.min() >= 0 and result.max() <= 1
    assert result[0, 1, 2, 3] > 0.9  # pushed to the top of the range
    with pytest.raises(ValueError, match="non-negative int"):
        activation_maximisation(lambda x: x.sum(), start, steps=-1)


def test_gradcam_points_at_where_and_when_the_evidence_is():
    torch.manual_seed(0)
    features = nn.Conv3d(1, 1, 1, bias=False)
    nn.init.constant_(features.weight, 1.0)
    model = nn.Sequential(features, nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(1, 2))
    with torch.no_grad():
        model[-1].weight.copy_(torch.tensor([[1.0], [-1.0]]))
        model[-1].bias.zero_()
    clip = torch.zeros(1, 4, 6, 6)
    clip[0, 2, 1:3, 4:6] = 1.0  # evidence only in frame 2, top right
    cam, predicted = gradcam_over_time(model, clip, features)
    assert predicted == 0 and cam.shape == (4, 6, 6)
    assert cam[2, 1:3, 4:6].min() == pytest.approx(1.0) and cam[0].max() == 0 and cam[2, 4:, :2].max() == 0
    with pytest.raises(ValueError, match=r"\(C, T, H, W\)"):
        gradcam_over_time(model, clip[0], features)
