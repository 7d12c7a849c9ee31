"""The 3TConv affine matrix, unit conversions and warping, including which way things move on screen."""

import math

import pytest
import torch
from torch.testing import assert_close

from stconv_lite.ops.affine import (
    affine_matrix,
    normalised_to_pixels,
    pixels_to_normalised,
    warp,
    warp_frames,
)


def dot_image(size: int, row: int, col: int) -> torch.Tensor:
    image = torch.zeros(1, 1, size, size)
    image[0, 0, row, col] = 1.0
    return image


def bright_pixel(image: torch.Tensor) -> tuple[int, int]:
    flat = int(image[0, 0].argmax())
    return divmod(flat, image.shape[-1])


def test_identity_parameters_give_identity_matrix():
    assert_close(affine_matrix(1.0, 0.0, 0.0, 0.0), torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))


def test_matrix_is_scale_times_rotation_times_translation():
    g = torch.Generator().manual_seed(0)
    ranges = torch.tensor([[2.0], [6.0], [1.0], [1.0]], dtype=torch.float64)
    s, r, tx, ty = torch.rand(4, 7, generator=g, dtype=torch.float64) * ranges
    cos, sin = torch.cos(r), torch.sin(r)
    rotation = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    translate = torch.zeros(7, 3, 3, dtype=torch.float64)
    translate[:, 0, 0] = translate[:, 1, 1] = translate[:, 2, 2] = 1
    translate[:, 0, 2], translate[:, 1, 2] = tx, ty
    composed = torch.einsum("n,nij,njk->nik", s, rotation, translate[:, :2, :])
    assert_close(affine_matrix(s, r, tx, ty), composed)


def test_matrix_broadcasts_and_is_differentiable():
    scale = torch.ones(3, 1, requires_grad=True)
    theta = affine_matrix(scale, torch.zeros(5), 0.1, torch.zeros(3, 5))
    assert theta.shape == (3, 5, 2, 3)
    theta.sum().backward()
    assert scale.grad is not None and torch.isfinite(scale.grad).all()


def test_integer_parameters_are_rejected():
    with pytest.raises(ValueError, match="floating-point"):
        affine_matrix(torch.tensor(1), 0, 0, 0)


@pytest.mark.parametrize("align_corners", [False, True])
def test_pixel_conversion_round_trip_and_unit(align_corners):
    one_pixel = pixels_to_normalised(1.0, 28, align_corners)
    assert one_pixel == pytest.approx(2 / 27 if align_corners else 2 / 28)
    there = pixels_to_normalised(3.5, 28, align_corners)
    assert normalised_to_pixels(there, 28, align_corners) == pytest.approx(3.5)


def test_pixel_conversion_rejects_bad_sizes():
    with pytest.raises(ValueError, match="size"):
        pixels_to_normalised(1.0, 1, align_corners=True)
    with pytest.raises(ValueError, match="size"):
        pixels_to_normalised(1.0, 2.5, align_corners=False)


@pytest.mark.parametrize("align_corners", [False, True])
def test_positive_translation_moves_content_left_and_up(align_corners):
    image = dot_image(9, 4, 4)
    step = pixels_to_normalised(2.0, 9, align_corners)
    moved = warp(image, affine_matrix(1.0, 0.0, step, step)[None], align_corners=align_corners)
    assert bright_pixel(moved) == (2, 2)
    assert_close(moved.sum(), torch.tensor(1.0))


@pytest.mark.parametrize("align_corners", [False, True])
def test_positive_rotation_turns_content_counter_clockwise_on_screen(align_corners):
    # y points down on screen: a dot right of the centre that turns counter-clockwise goes up.
    image = dot_image(9, 4, 7)
    turned = warp(image, affine_matrix(1.0, math.pi / 2, 0.0, 0.0)[None], align_corners=align_corners)
    assert bright_pixel(turned) == (1, 4)
    turned_back = warp(image, affine_matrix(1.0, -math.pi / 2, 0.0, 0.0)[None], align_corners=align_corners)
    assert bright_pixel(turned_back) == (7, 4)


def test_scale_above_one_shows_content_smaller():
    image = torch.zeros(1, 1, 28, 28)
    image[..., 4:24, 4:24] = 1.0
    smaller = warp(image, affine_matrix(2.0, 0.0, 0.0, 0.0)[None])
    larger = warp(image, affine_matrix(0.8, 0.0, 0.0, 0.0)[None])
    assert smaller.sum() < 0.3 * image.sum() and larger.sum() > 1.2 * image.sum()


def test_warp_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        warp(torch.zeros(1, 8, 8), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="theta"):
        warp(torch.zeros(2, 1, 8, 8), torch.zeros(1, 2, 3))
    with pytest.raises(ValueError, match="floating-point"):
        warp(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), torch.zeros(1, 2, 3))


def test_warp_frames_equals_one_warp_per_frame():
    g = torch.Generator().manual_seed(1)
    images = torch.rand(3, 2, 12, 12, generator=g)
    params = torch.rand(4, 3, 5, generator=g)
    thetas = affine_matrix(0.5 + params[0], 3 * params[1], params[2] - 0.5, params[3] - 0.5)
    video = warp_frames(images, thetas)
    assert video.shape == (3, 2, 5, 12, 12)
    for t in range(5):
        assert_close(video[:, :, t], warp(images, thetas[:, t]))
    assert warp_frames(images, thetas, out_size=(7, 9)).shape == (3, 2, 5, 7, 9)


def test_warp_frames_rejects_bad_shapes():
    with pytest.raises(ValueError, match="thetas"):
        warp_frames(torch.zeros(2, 1, 8, 8), torch.zeros(2, 2, 3))
