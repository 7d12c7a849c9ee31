"""Argument checks shared by every operator and model, so that bad input fails with one clear message.

- :func:`triple`: sizes given as an int or a ``(t, h, w)`` triple;
- :func:`check_video_input`: the one check at the top of every public ``forward``: a ``(B, C, T, H, W)``
  floating-point tensor, with the channels, dtype and clip size the layer was built for;
- :class:`ClipSpec`: which clip sizes a network accepts (a minimum, or exactly the size it was
  built for), so that a too-short clip is refused *before* it reaches a pooling layer that would
  fail deep inside torch with "Output size is too small";
- :func:`positive_int`: a count (classes, channels, width) that is an ``int`` and not a ``bool``.

Why a dtype check at all: raw clips come out of the data layer as ``uint8`` (they are 4 times
smaller than float32 and are converted per batch on the device), and PyTorch's own message for a
``uint8`` or ``float64`` batch fed to float32 weights ("expected scalar type Byte but found Float")
does not say what to do. Under ``torch.autocast`` layers legitimately see half-precision activations
with float32 weights, so the weight-dtype comparison is skipped there.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Triple", "triple", "InputDtypeError", "ClipSpec", "check_video_input", "positive_int", "conv_clip_spec"]

Triple = int | tuple[int, int, int]


def triple(value: Triple, name: str) -> tuple[int, int, int]:
    """``3 -> (3, 3, 3)``; a triple of ints passes through; anything else is a clear ``ValueError``."""
    if isinstance(value, int):
        return (value, value, value)
    if len(value) != 3 or not all(isinstance(v, int) for v in value):
        raise ValueError(f"{name} must be an int or a (t, h, w) triple of ints; got {value!r}")
    return tuple(value)  # type: ignore[return-value]


def positive_int(value: object, name: str) -> int:
    """``value`` if it is a positive ``int``; ``True`` is refused although Python counts it as 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int; got {value!r}")
    return value


class InputDtypeError(TypeError, ValueError):
    """A tensor of the wrong dtype (a ``TypeError``, and a ``ValueError`` like every other bad input)."""


@dataclass(frozen=True)
class ClipSpec:
    """The clip sizes ``(T, H, W)`` a network accepts.

    Attributes:
        minimum: the smallest ``(T, H, W)`` that survives every stride and pooling of the network.
        exact: per axis, the one size the network was built for (``None``: any size >= minimum),
            e.g. LeNet's fully connected layer fixes ``(T, H, W)``, R2D's stem fixes ``T``.
        hint: what to do instead, appended to the error (e.g. "build it with frames=T").
    """

    minimum: tuple[int, int, int] = (1, 1, 1)
    exact: tuple[int | None, int | None, int | None] = (None, None, None)
    hint: str = ""

    @property
    def smallest(self) -> tuple[int, int, int]:
        """The smallest accepted ``(T, H, W)`` (an exact size is its own minimum)."""
        return tuple(e if e is not None else m for m, e in zip(self.minimum, self.exact))  # type: ignore[return-value]

    def accepts(self, frames: int, height: int, width: int) -> bool:
        """Whether a ``frames x height x width`` clip can go through the network."""
        return all(
            (size == e) if e is not None else size >= m
            for size, m, e in zip((frames, height, width), self.minimum, self.exact)
        )

    def check(self, x: torch.Tensor, name: str) -> None:
        """Raise a ``ValueError`` naming the accepted sizes if ``x``'s ``(T, H, W)`` is not one of them."""
        t, h, w = x.shape[-3:]
        if self.accepts(t, h, w):
            return
        if any(e is not None for e in self.exact):
            wanted = " x ".join(str(e) if e is not None else f">={m}" for m, e in zip(self.minimum, self.exact))
            what = f"was built for clips of (T x H x W) = {wanted}"
        else:
            what = "needs clips of at least (T x H x W) = {} x {} x {}".format(*self.minimum)
        raise ValueError(
            f"{name} {what}; got a clip of {t} x {h} x {w} in input of shape {tuple(x.shape)}"
            + (f": {self.hint}" if self.hint else "")
        )


def check_video_input(
    x: object,
    name: str,
    channels: int | None = None,
    weight: torch.Tensor | None = None,
    clip: ClipSpec | None = None,
    layout: str | None = None,
) -> None:
    """The checks at the top of a ``forward``: shape ``(B, C, T, H, W)``, channels, dtype, clip size.

    Args:
        x: the input.
        name: the layer or model, as the user knows it (it starts every message).
        channels: the ``C`` the layer was built for (``None``: any).
        weight: a parameter of the layer: the input must have its dtype (unless autocast is on).
        clip: the clip sizes the network accepts.
        layout: the expected shape as the message spells it (default ``(B, C, T, H, W)`` with
            ``C`` replaced by ``channels`` when given).

    Raises:
        InputDtypeError: not a floating-point tensor, or another dtype than the weights.
        ValueError: another rank, channel count or clip size than expected.
    """
    if not isinstance(x, torch.Tensor):
        raise InputDtypeError(f"{name} expects a torch.Tensor video batch (B, C, T, H, W); got {type(x).__name__}")
    if layout is None:
        layout = f"(B, {'C' if channels is None else channels}, T, H, W)"
    if x.dim() != 5 or (channels is not None and x.shape[1] != channels):
        raise ValueError(f"{name} expects {layout}; got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise InputDtypeError(
            f"{name} expects floating-point clips; got dtype {x.dtype}. Raw video frames (uint8, 0..255, as "
            "UCF101Clips returns them) must be converted first, e.g. clip.float() / 255, or with "
            "stconv_lite.data.augment.augment_clips, which also crops and normalises"
        )
    if (
        weight is not None
        and x.dtype != weight.dtype
        and weight.is_floating_point()
        and not torch.is_autocast_enabled(x.device.type)
    ):
        raise InputDtypeError(
            f"{name} has {weight.dtype} weights but got a {x.dtype} input: convert the input with "
            f"x.to({weight.dtype}) (or the model with model.to({x.dtype}))"
        )
    if clip is not None:
        clip.check(x, name)


def conv_clip_spec(kernel_size: tuple[int, ...], padding: tuple[int, ...], dilation: tuple[int, ...]) -> ClipSpec:
    """The smallest ``(T, H, W)`` a 3D convolution accepts: its dilated kernel must fit the padded input.

    ``dilation * (k - 1) + 1 <= size + 2 * padding`` along every axis; e.g. an unpadded 5x5x5 kernel
    needs 5 frames, a padded 3x3x3 one needs 1.
    """
    minimum = tuple(max(1, d * (k - 1) + 1 - 2 * p) for k, p, d in zip(kernel_size, padding, dilation))
    return ClipSpec(minimum=minimum)  # type: ignore[arg-type]
