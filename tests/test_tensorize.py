"""Channel tensorization: round trips, factor choices for any K and C, and clear errors."""

import math

import pytest
import torch
from einops import rearrange

from stconv_lite.ops.tensorize import (
    detensorize,
    from_subdim_layout,
    near_equal_factors,
    pow2_factors,
    resolve_factors,
    tensorize,
    to_subdim_layout,
)


@pytest.mark.parametrize("factors", [(4, 6), (2, 3, 4), (2, 2, 2, 3), (24,), (3, 1, 8)])
def test_tensorize_round_trip_and_index_convention(factors):
    x = torch.randn(2, math.prod(factors), 3, 4, 5)
    tensor = tensorize(x, factors)
    assert tensor.shape == (2, *factors, 3, 4, 5)
    torch.testing.assert_close(detensorize(tensor), x)
    # Outer-to-inner convention: the last index is fastest in the flat channel index.
    index = tuple(f - 1 for f in factors)
    torch.testing.assert_close(tensor[(1, *index)], x[1, math.prod(factors) - 1])


def test_tensorize_matches_flat_index_formula():
    x = torch.randn(1, 12, 1, 1, 1)
    tensor = tensorize(x, (3, 4))
    for i in range(3):
        for j in range(4):
            assert tensor[0, i, j].item() == x[0, i * 4 + j].item()


@pytest.mark.parametrize("factors,dim", [((8, 16), 0), ((8, 16), 1), ((2, 3, 4), 1), ((2, 3, 4), 0), ((5,), 0)])
def test_subdim_layout_round_trip_and_grouping(factors, dim):
    c = math.prod(factors)
    x = torch.randn(2, c, 2, 3, 3)
    moved = to_subdim_layout(x, factors, dim)
    torch.testing.assert_close(from_subdim_layout(moved, factors, dim), x)
    # Contiguous groups of C_dim channels are the fibres along sub-dimension `dim`.
    fibres = rearrange(moved, "b (g k) t h w -> b g k t h w", k=factors[dim])
    tensor = tensorize(x, factors)
    fibre = torch.movedim(tensor, 1 + dim, -4)  # (b, others..., C_dim, t, h, w)
    torch.testing.assert_close(fibres, fibre.reshape(fibres.shape))


def test_authors_layout_for_k2_is_c2_c1():
    x = torch.arange(128.0).reshape(1, 128, 1, 1, 1)
    ours = to_subdim_layout(x, (8, 16), 0)
    theirs = rearrange(x, "b (c1 c2) t h w -> b (c2 c1) t h w", c1=8)
    torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize("channels", [6, 12, 30, 64, 96, 100, 128, 210, 256, 360, 512, 1000])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_near_equal_factors_for_any_c(channels, k):
    try:
        factors = near_equal_factors(channels, k)
    except ValueError:
        # Only allowed when C has fewer than K prime factors.
        assert k == 3 and channels in (6,)
        return
    assert math.prod(factors) == channels and len(factors) == k
    assert list(factors) == sorted(factors)
    if k > 1:
        assert min(factors) >= 2


def test_near_equal_factors_values():
    assert near_equal_factors(64, 2) == (8, 8)
    assert near_equal_factors(128, 2) == (8, 16)
    assert near_equal_factors(96, 2) == (8, 12)
    assert near_equal_factors(64, 3) == (4, 4, 4)
    assert near_equal_factors(512, 3) == (8, 8, 8)


def test_pow2_matches_authors_get_xy():
    # The authors' get_xy, as recorded beside their reference vectors (ctnet_ref.pt["get_xy"]).
    ref = {16: (4, 4), 32: (4, 8), 64: (8, 8), 128: (8, 16), 256: (16, 16), 512: (16, 32), 1024: (32, 32)}
    for channels, split in ref.items():
        if channels & (channels - 1):
            continue  # their 96 -> (8, 16) is the power-of-two bug; ours refuses, see below
        assert pow2_factors(channels) == tuple(split)
    assert pow2_factors(64, 3) == (4, 4, 4)
    assert pow2_factors(128, 3) == (4, 4, 8)


def test_errors_for_c_that_cannot_be_factorised_as_asked():
    with pytest.raises(ValueError, match="K=2"):
        near_equal_factors(7, 2)  # prime
    with pytest.raises(ValueError, match="K=4"):
        near_equal_factors(12, 4)  # 12 = 2*2*3 has only three prime factors
    with pytest.raises(ValueError, match="power of two"):
        pow2_factors(96)
    with pytest.raises(ValueError, match="multiply to"):
        resolve_factors(64, (8, 4))
    with pytest.raises(ValueError, match="pow2"):
        resolve_factors(64, "square")
    with pytest.raises(ValueError, match="positive int"):
        resolve_factors(64, (8, 0))
    with pytest.raises(ValueError, match="positive int"):
        near_equal_factors(64, 0)


def test_bad_input_shapes():
    with pytest.raises(ValueError, match=r"expects \(B, C, T, H, W\)"):
        tensorize(torch.zeros(2, 12, 4, 4), (3, 4))
    with pytest.raises(ValueError, match="C=12"):
        tensorize(torch.zeros(2, 10, 1, 4, 4), (3, 4))
    with pytest.raises(ValueError, match="sub-dimension index"):
        to_subdim_layout(torch.zeros(1, 12, 1, 1, 1), (3, 4), 2)
