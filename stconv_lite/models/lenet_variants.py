"""Two LeNet-5 variants for controlled comparisons: a head that pools over time, and frozen transforms.

The authors' LeNet-5 (:mod:`stconv_lite.models.lenet`) flattens ``(c t h w)`` into its first fully
connected layer, so the classifier sees every time position separately and can read the order of
frames *without any temporal kernel*: a 3D, a 3T and even a 3T whose transforms never move could
all tell a motion from its reverse through the classifier. Two variants remove that confound:

- :class:`LeNet5TimePooled`: the same two (3D or 3T) conv stages, then the features are **averaged
  over time** before the fully connected layers. Order can now enter only through the temporal
  kernels.
- :func:`freeze_transforms`: a 3T model whose transforms stay at the identity (``s = 1``,
  ``r = t_x = t_y = 0``) for the whole training run. Every slice of every kernel then equals the
  first slice, so each 3T layer is a 2D convolution summed over ``l`` consecutive frames: a kernel
  that is symmetric in time. With the time-pooled head and an even number of frames whose halvings
  stay even (e.g. 16: 16 -> 8 -> 4 -> 2), the whole network is *exactly* invariant to reversing the
  clip (see :func:`reversal_invariant_frames`); it is the "3T without its transforms" ablation.

And one training aid, :func:`speed_up_transforms`: with Adam, the transforms barely leave the
identity at the weights' learning rate in a short run (each of the four numbers steers a whole
kernel). Adam's step does not depend on the scale of a gradient, so a parameter stored divided by
``k`` and multiplied back by ``k`` in the forward pass moves ``k`` times as far per step: exactly a
``k`` times larger learning rate for the transforms alone, while the one training loop of the book
(:func:`stconv_lite.train.fit`, one AdamW over ``model.parameters()``) stays unchanged.
:func:`bake_transforms` removes that wrapper after training, leaving plain parameters.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.utils.parametrize as parametrize
from einops import reduce

from stconv_lite.models.lenet import LeNet5Video
from stconv_lite.ops.conv3t import TRANSFORM_NAMES, Conv3T

__all__ = [
    "LeNet5TimePooled",
    "freeze_transforms",
    "transforms_at_identity",
    "build_lenet",
    "reversal_invariant_frames",
    "speed_up_transforms",
    "bake_transforms",
]


class LeNet5TimePooled(nn.Module):
    """LeNet-5 (3D or 3T convs, the authors' layout) whose head averages the features over time.

    Shapes:
        video (B, C, T, H, W) -> features (B, 16, T', H', W') -> mean over T' -> (B, 16 H' W')
        -> three FC layers -> logits (B, num_classes)
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        conv: str = "3t",
        channels: tuple[int, int] = (6, 16),
        hidden: tuple[int, int] = (120, 84),
        frames: int = 16,
        size: int = 28,
    ) -> None:
        super().__init__()
        base = LeNet5Video(
            num_classes, in_channels, conv=conv, channels=channels, hidden=hidden, frames=frames, size=size
        )
        self.in_channels, self.kind, self.frames, self.size = in_channels, conv, frames, size
        self.features = base.features
        with torch.no_grad():
            c, _, h, w = self.features(torch.zeros(1, in_channels, frames, size, size)).shape[1:]
        self.classifier = nn.Sequential(
            nn.Linear(c * h * w, hidden[0]),
            nn.ReLU(),
            nn.Linear(hidden[0], hidden[1]),
            nn.ReLU(),
            nn.Linear(hidden[1], num_classes),
        )

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Two conv stages (eq. (2) or (5) of the 3TConv paper), a mean over time, three FC layers.

        Shapes:
            video: (B, C, T, H, W) -> logits (B, num_classes)
        """
        expected = (self.in_channels, self.frames, self.size, self.size)
        if video.dim() != 5 or tuple(video.shape[1:]) != expected:
            raise ValueError(
                f"LeNet5TimePooled[{self.kind}] expects (B, {', '.join(map(str, expected))}) "
                f"= (B, C, T, H, W); got {tuple(video.shape)}"
            )
        return self.classifier(reduce(self.features(video), "b c t h w -> b (c h w)", "mean"))


def freeze_transforms(model: nn.Module) -> nn.Module:
    """Reset every 3TConv transform of ``model`` to the identity and stop it from training (in place).

    The first slices and all other weights still train. An optimiser built afterwards from
    ``model.parameters()`` skips the frozen transforms (they never get a gradient).
    """
    layers = [m for m in model.modules() if isinstance(m, Conv3T)]
    if not layers:
        raise ValueError(f"freeze_transforms needs a model with Conv3T layers; {type(model).__name__} has none")
    for layer in layers:
        with torch.no_grad():
            layer.scale.fill_(1.0)
            for name in ("rotation", "tx", "ty"):
                getattr(layer, name).zero_()
        for name in TRANSFORM_NAMES:
            getattr(layer, name).requires_grad_(False)
    return model


def transforms_at_identity(model: nn.Module) -> bool:
    """True when every 3TConv layer of ``model`` still has s = 1 and r = t_x = t_y = 0 exactly."""
    for layer in (m for m in model.modules() if isinstance(m, Conv3T)):
        if not (
            torch.all(layer.scale == 1) and all(torch.all(getattr(layer, n) == 0) for n in ("rotation", "tx", "ty"))
        ):
            return False
    return True


class _Gain(nn.Module):
    """``forward(stored) = gain * stored``; ``right_inverse`` stores a value divided by the gain."""

    def __init__(self, gain: float) -> None:
        super().__init__()
        self.gain = float(gain)

    def forward(self, stored: torch.Tensor) -> torch.Tensor:
        return self.gain * stored

    def right_inverse(self, value: torch.Tensor) -> torch.Tensor:
        return value / self.gain


def speed_up_transforms(model: nn.Module, factor: float) -> nn.Module:
    """Make Adam move every 3TConv transform of ``model`` ``factor`` times faster (in place; see the module docstring).

    Equivalent, for Adam/AdamW without weight decay, to a parameter group with ``factor`` times the
    learning rate for the transforms (:func:`stconv_lite.ops.conv3t.param_groups`). Values are unchanged.
    """
    if not factor > 0:
        raise ValueError(f"factor must be > 0; got {factor!r}")
    for layer in (m for m in model.modules() if isinstance(m, Conv3T)):
        for name in TRANSFORM_NAMES:
            if getattr(layer, name).requires_grad:  # frozen transforms stay plain parameters
                parametrize.register_parametrization(layer, name, _Gain(factor))
    return model


def bake_transforms(model: nn.Module) -> nn.Module:
    """Undo :func:`speed_up_transforms`: plain ``nn.Parameter`` transforms with their current values (in place)."""
    for layer in (m for m in model.modules() if isinstance(m, Conv3T)):
        for name in TRANSFORM_NAMES:
            if parametrize.is_parametrized(layer, name):
                parametrize.remove_parametrizations(layer, name, leave_parametrized=True)
        layer._kernel_cache = None
    return model


def build_lenet(
    conv: str,
    head: str = "flatten",
    frozen: bool = False,
    num_classes: int = 10,
    frames: int = 16,
    size: int = 28,
    transform_speed: float = 1.0,
    **kw,
) -> nn.Module:
    """A LeNet-5 by its three choices: ``conv`` "2d" | "3d" | "3t", ``head`` "flatten" (the authors') or
    "pool" (mean over time), ``frozen`` (3T transforms fixed at the identity), ``transform_speed``
    (:func:`speed_up_transforms`; 1 leaves the transforms at the weights' learning rate).

    ``conv="2d"`` is the per-frame model of :mod:`stconv_lite.models.lenet` (its logits are averaged
    over time, so it is order-blind whatever ``head`` says; only ``head="flatten"`` is accepted).
    """
    from stconv_lite.models.lenet import LeNet5Frames

    if conv not in ("2d", "3d", "3t") or head not in ("flatten", "pool"):
        raise ValueError(f"conv must be '2d', '3d' or '3t' and head 'flatten' or 'pool'; got {conv!r}, {head!r}")
    if frozen and conv != "3t":
        raise ValueError(f"only a 3T model has transforms to freeze; got conv={conv!r}")
    if conv == "2d":
        if head != "flatten":
            raise ValueError("the per-frame 2D LeNet averages its logits over time already; use head='flatten'")
        return LeNet5Frames(num_classes, size=size, **kw)
    if head == "pool":
        model = LeNet5TimePooled(num_classes, conv=conv, frames=frames, size=size, **kw)
    else:
        model = LeNet5Video(num_classes, conv=conv, frames=frames, size=size, **kw)
    if frozen:
        return freeze_transforms(model)
    return speed_up_transforms(model, transform_speed) if conv == "3t" and transform_speed != 1 else model


def reversal_invariant_frames(frames: int) -> bool:
    """Whether a frozen-3T, time-pooled LeNet-5 is exactly reversal-invariant for clips of ``frames`` frames.

    Conv 1 (padding 2) keeps T; pool 2 pairs frames (2k, 2k+1), which reversal maps onto pairs
    only when T is even; conv 2 (no padding) gives T/2 - 4; pool 2 again needs an even count.
    """
    return frames % 2 == 0 and (frames // 2 - 4) % 2 == 0
