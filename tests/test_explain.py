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


def test_saliency_accepts_a_score_read_from_a_forward_hook():
    """Chapter 3's per-channel saliency: the score ignores the output and reads one channel of a layer."""
    torch.manual_seed(0)
    conv = nn.Conv3d(1, 4, 3, padding=1)
    model = nn.Sequential(conv, nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 2))
    store = {}
    handle = conv.register_forward_hook(lambda module, inputs, output: store.update(out=output))
    try:
        maps = saliency(model, clip := torch.rand(1, 4, 6, 6), lambda output: store["out"][0, 2].relu().mean())
    finally:
        handle.remove()
    x = clip[None].clone().requires_grad_(True)
    conv(x)[0, 2].relu().mean().backward()
    torch.testing.assert_close(maps, x.grad[0, 0].abs())


def test_gradcam_of_a_layer_that_keeps_the_frames_is_bilinear_per_frame():
    """Chapter 5's case: a per-frame 2D stage (T' = T) is upsampled in space only, frame by frame."""
    torch.manual_seed(0)
    stage = nn.Conv3d(1, 3, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
    model = nn.Sequential(stage, nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(3, 4))
    clip = torch.rand(1, 5, 8, 8)
    cam, predicted = gradcam_over_time(model, clip, stage)
    activation = stage(clip[None])
    logits = model[1:](activation)
    gradient = torch.autograd.grad(logits[0, predicted], activation)[0]
    by_hand = torch.relu((gradient.mean(dim=(2, 3, 4))[0, :, None, None, None] * activation[0]).sum(0)).detach()
    by_hand = nn.functional.interpolate(by_hand[None], size=(8, 8), mode="bilinear", align_corners=False)[0]
    assert predicted == int(logits.argmax(1))
    torch.testing.assert_close(cam, by_hand / by_hand.max().clamp_min(1e-8))


def test_gradcam_upsamples_a_coarser_time_axis_to_every_frame():
    torch.manual_seed(0)
    stage = nn.Conv3d(1, 2, 3, stride=2, padding=1)
    model = nn.Sequential(stage, nn.ReLU(), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(2, 3))
    cam, _ = gradcam_over_time(model, torch.rand(1, 8, 10, 10), stage, target=1)
    assert cam.shape == (8, 10, 10) and cam.min() >= 0 and cam.max() <= 1
