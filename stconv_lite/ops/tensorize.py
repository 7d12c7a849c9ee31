"""Channel tensorization: read the channel axis C of a video tensor as C = C1 x C2 x ... x CK.

CT-Net (Li et al., ICLR 2021) treats the flat channel index of a feature map as the flattening of K
sub-dimensions. Nothing is copied or learned: tensorization is a *view* of the same numbers, which
einops makes explicit::

    'b (c1 c2) t h w -> b c1 c2 t h w'            # K = 2, c1 the outer (slow) index

Conventions of this package:

- ``factors`` are listed outer to inner, exactly as they appear in the einops group ``(c1 ... cK)``:
  flat channel ``c = ((i1 * C2 + i2) * C3 + i3) ...``.
- A convolution "along sub-dimension k" mixes the C_k channels that share every other index. It is
  a grouped convolution once c_k is moved to the innermost position
  (:func:`to_subdim_layout`), with ``C / C_k`` groups of ``C_k`` contiguous channels.

How to choose the factors (:func:`resolve_factors`):

- ``K`` (an int): near-equal factors of any C, e.g. 96 -> (8, 12), 64 -> (4, 4, 4) for K = 3. Among all
  factorisations into K factors >= 2 we take the one with the smallest sum, because the cost of a
  CT module is proportional to C * (C1 + ... + CK) (each sub-operation mixes C_k channels); ties are
  broken by the most balanced factors, and factors are sorted ascending (small outer, large inner).
- ``"pow2"``: the authors' split (their ``get_xy``), C1 = 2^floor(log2(C)/2), C2 = 2^ceil(log2(C)/2),
  defined for powers of two only (64 -> (8, 8), 128 -> (8, 16)); generalised here to any K by
  spreading the exponent as evenly as possible, smaller factors outer.
- an explicit tuple, checked to multiply to C (factors of 1 are allowed here: they express the
  degenerate cases, e.g. CSN as C = C x 1).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

import torch
from einops import rearrange

__all__ = [
    "near_equal_factors",
    "pow2_factors",
    "resolve_factors",
    "subdim_names",
    "tensorize",
    "detensorize",
    "to_subdim_layout",
    "from_subdim_layout",
]


@cache
def _factorisations(n: int, k: int, smallest: int) -> tuple[tuple[int, ...], ...]:
    """Every non-decreasing tuple of k factors >= ``smallest`` whose product is n."""
    if k == 1:
        return ((n,),) if n >= smallest else ()
    found = []
    factor = smallest
    while factor**k <= n:
        if n % factor == 0:
            found.extend((factor, *rest) for rest in _factorisations(n // factor, k - 1, factor))
        factor += 1
    return tuple(found)


def _check_positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a positive int; got {value!r}")
    return value


def near_equal_factors(channels: int, k: int) -> tuple[int, ...]:
    """Factors (C1, ..., CK) of ``channels``, each >= 2, with the smallest sum; ascending.

    Raises:
        ValueError: when ``channels`` has no factorisation into ``k`` factors >= 2 (e.g. a prime
            number of channels and k = 2).
    """
    _check_positive_int(channels, "channels")
    _check_positive_int(k, "the number of sub-dimensions K")
    if k == 1:
        return (channels,)
    candidates = _factorisations(channels, k, 2)
    if not candidates:
        raise ValueError(
            f"cannot tensorize C={channels} into K={k} sub-dimensions of size >= 2 "
            f"(C needs at least {k} prime factors); choose a smaller K or pass explicit factors"
        )
    # Smallest sum = cheapest CT module; then the most balanced (smallest largest factor).
    return min(candidates, key=lambda f: (sum(f), max(f)))


def pow2_factors(channels: int, k: int = 2) -> tuple[int, ...]:
    """The CT-Net authors' power-of-two split (``get_xy`` for k = 2), ascending.

    Raises:
        ValueError: when ``channels`` is not a power of two (the authors' code silently builds a
            wrong shape then, e.g. 96 -> 8 x 16 = 128).
    """
    _check_positive_int(channels, "channels")
    _check_positive_int(k, "the number of sub-dimensions K")
    if channels & (channels - 1):
        raise ValueError(
            f"the power-of-two split needs C to be a power of two; got C={channels} "
            f"(use near-equal factors, factors={k}, for any C)"
        )
    exponent = int(math.log2(channels))
    # Spread the exponent evenly; the remainder goes to the inner (larger) factors, as in get_xy.
    base, extra = divmod(exponent, k)
    return tuple(2 ** (base + (1 if i >= k - extra else 0)) for i in range(k))


def resolve_factors(channels: int, factors: int | str | Sequence[int]) -> tuple[int, ...]:
    """Turn a factor specification into a checked tuple (C1, ..., CK), outer to inner.

    Args:
        channels: C, the number of channels to tensorize.
        factors: ``K`` (near-equal factors), ``"pow2"`` (the authors' K = 2 split) or an explicit
            sequence whose product must be C.
    """
    _check_positive_int(channels, "channels")
    if isinstance(factors, str):
        if factors != "pow2":
            raise ValueError(f'factors must be an int K, "pow2" or a sequence of ints; got {factors!r}')
        return pow2_factors(channels, 2)
    if isinstance(factors, int) and not isinstance(factors, bool):
        return near_equal_factors(channels, factors)
    if not isinstance(factors, Sequence) or len(factors) == 0:
        raise ValueError(f"factors must be an int K, 'pow2' or a non-empty sequence; got {factors!r}")
    checked = tuple(_check_positive_int(f, "every factor") for f in factors)
    if math.prod(checked) != channels:
        raise ValueError(
            f"factors {checked} multiply to {math.prod(checked)}, but C={channels}: "
            f"a tensorization must satisfy C = C1 x ... x CK"
        )
    return checked


def subdim_names(k: int) -> list[str]:
    """einops axis names of the K channel sub-dimensions: ``['c1', ..., 'cK']``."""
    return [f"c{i + 1}" for i in range(k)]


def _check_video(x: torch.Tensor, factors: Sequence[int], who: str) -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 5:
        raise ValueError(f"{who} expects (B, C, T, H, W); got {tuple(getattr(x, 'shape', ()))}")
    if x.shape[1] != math.prod(factors):
        raise ValueError(
            f"{who}: factors {tuple(factors)} describe C={math.prod(factors)} channels; "
            f"got C={x.shape[1]} in input of shape {tuple(x.shape)}"
        )


def tensorize(x: torch.Tensor, factors: Sequence[int]) -> torch.Tensor:
    """View the channel axis as K sub-dimensions.

    Shapes:
        x: (B, C, T, H, W) -> (B, C1, ..., CK, T, H, W), C = C1 x ... x CK (section 3.1 of CT-Net).
    """
    _check_video(x, factors, "tensorize")
    names = subdim_names(len(factors))
    sizes = dict(zip(names, factors))
    return rearrange(x, f"b ({' '.join(names)}) t h w -> b {' '.join(names)} t h w", **sizes)


def detensorize(x: torch.Tensor) -> torch.Tensor:
    """Flatten K channel sub-dimensions back into one channel axis (inverse of :func:`tensorize`).

    Shapes:
        x: (B, C1, ..., CK, T, H, W) -> (B, C, T, H, W)
    """
    if x.dim() < 5:
        raise ValueError(f"detensorize expects (B, C1, ..., CK, T, H, W); got {tuple(x.shape)}")
    names = subdim_names(x.dim() - 4)
    return rearrange(x, f"b {' '.join(names)} t h w -> b ({' '.join(names)}) t h w")


def _layout_patterns(k: int, dim: int) -> tuple[str, str]:
    if not 0 <= dim < k:
        raise ValueError(f"sub-dimension index must be in [0, {k}); got {dim}")
    names = subdim_names(k)
    others = [n for i, n in enumerate(names) if i != dim]
    flat = f"({' '.join(names)})"
    grouped = f"({' '.join(others + [names[dim]])})"
    return flat, grouped


def to_subdim_layout(x: torch.Tensor, factors: Sequence[int], dim: int) -> torch.Tensor:
    """Reorder channels so that sub-dimension ``dim`` is innermost (the others keep their order).

    After this, the C_dim channels that share all other indices are contiguous, so a convolution
    with ``groups = C / C_dim`` mixes exactly along sub-dimension ``dim``. For K = 2 and dim = 0 this
    is the authors' ``'(c1 c2) -> (c2 c1)'`` re-indexing before their second stage.

    Shapes:
        x: (B, C, T, H, W) -> (B, C, T, H, W), channels as ``(c_others... c_dim)``
    """
    _check_video(x, factors, "to_subdim_layout")
    flat, grouped = _layout_patterns(len(factors), dim)
    sizes = dict(zip(subdim_names(len(factors)), factors))
    return rearrange(x, f"b {flat} t h w -> b {grouped} t h w", **sizes)


def from_subdim_layout(x: torch.Tensor, factors: Sequence[int], dim: int) -> torch.Tensor:
    """Inverse of :func:`to_subdim_layout`: restore the ``(c1 ... cK)`` channel order.

    Shapes:
        x: (B, C, T, H, W) channels as ``(c_others... c_dim)`` -> (B, C, T, H, W)
    """
    _check_video(x, factors, "from_subdim_layout")
    flat, grouped = _layout_patterns(len(factors), dim)
    sizes = dict(zip(subdim_names(len(factors)), factors))
    return rearrange(x, f"b {grouped} t h w -> b {flat} t h w", **sizes)
