"""LeNet-5 for Video-MNIST clips in three flavours: 3D, 3T and a per-frame 2D baseline.

The authors' layout for a 1 x 30 x 28 x 28 clip (3TConv paper, appendix B; their ``LeNet5_TTN3d``):

    conv 5x5x5, 1 -> 6, padding 2 -> ReLU -> max-pool 2     (6, 30, 28, 28) -> (6, 15, 14, 14)
    conv 5x5x5, 6 -> 16           -> ReLU -> max-pool 2     (16, 11, 10, 10) -> (16, 5, 5, 5)
    flatten 2000 -> FC 120 -> ReLU -> FC 84 -> ReLU -> FC classes

``lenet5_3d`` uses ``nn.Conv3d``, ``lenet5_3t`` uses :class:`~stconv_lite.ops.conv3t.Conv3T` (same
shapes, far fewer kernel parameters). ``lenet5_2d`` runs the 2D LeNet-5 on every frame and averages
the per-frame logits: it sees appearance only, never motion, which is the point of the baseline.
``channels`` and ``hidden`` change the widths; ``frames`` and ``size`` the expected clip size.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from einops import rearrange, reduce

from stconv_lite.models.registry import register
from stconv_lite.ops.arguments import ClipSpec, positive_int
from stconv_lite.ops.arguments import check_video_input as _check_input
from stconv_lite.ops.conv3t import Conv3T

__all__ = ["LeNet5Video", "LeNet5Frames", "lenet5_3d", "lenet5_3t", "lenet5_2d", "LENET_MIN_SIDE"]

# conv 5 (padding 2) keeps n, pool 2 gives n // 2, conv 5 gives n // 2 - 4, pool 2 needs that >= 2
# ... and >= 1 after it: n // 2 - 4 >= 2, so n >= 12 along every convolved axis.
LENET_MIN_SIDE = 12


def _check_built_size(frames: int | None, size: int) -> None:
    """Refuse at build time a clip size the two conv + pool stages would shrink to nothing."""
    for name, value in (("frames", frames), ("size", size)):
        if value is None:
            continue
        positive_int(value, name)
        if value < LENET_MIN_SIDE:
            raise ValueError(
                f"LeNet-5 needs {name} >= {LENET_MIN_SIDE} (two 5-wide convs and two 2x poolings); got {name}={value}"
            )


def _head(features: int, hidden: tuple[int, int], num_classes: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(features, hidden[0]),
        nn.ReLU(),
        nn.Linear(hidden[0], hidden[1]),
        nn.ReLU(),
        nn.Linear(hidden[1], num_classes),
    )


class LeNet5Video(nn.Module):
    """LeNet-5 with 5x5x5 video convolutions: ``conv="3d"`` (nn.Conv3d) or ``"3t"`` (Conv3T)."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        conv: str = "3t",
        channels: tuple[int, int] = (6, 16),
        hidden: tuple[int, int] = (120, 84),
        frames: int = 30,
        size: int = 28,
    ) -> None:
        super().__init__()
        layer = {"3d": nn.Conv3d, "3t": Conv3T}.get(conv)
        if layer is None:
            raise ValueError(f"conv must be '3d' or '3t'; got {conv!r}")
        self.in_channels, self.kind = positive_int(in_channels, "in_channels"), conv
        _check_built_size(frames, size)
        # The first FC layer's width is fixed by the clip size: another size cannot go through it.
        self.clip_spec = ClipSpec(
            exact=(frames, size, size),
            hint="LeNet-5 is built for one clip size; create it with frames=T, size=H (H = W)",
        )
        self.features = nn.Sequential(
            layer(in_channels, channels[0], 5, padding=2),
            nn.ReLU(),
            nn.MaxPool3d(2),
            layer(channels[0], channels[1], 5),
            nn.ReLU(),
            nn.MaxPool3d(2),
        )
        with torch.no_grad():  # the flattened size follows from the clip size
            flat = self.features(torch.zeros(1, in_channels, frames, size, size)).numel()
        self.classifier = _head(flat, hidden, num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Classify a clip: two (3D or 3T) conv stages, three FC layers (eq. (2) / (5) of the 3TConv paper).

        Shapes:
            video: (B, C, T, H, W) -> logits (B, num_classes)
        """
        _check_input(video, f"LeNet5Video[{self.kind}]", self.in_channels, self.classifier[0].weight, self.clip_spec)
        return self.classifier(rearrange(self.features(video), "b c t h w -> b (c t h w)"))


class LeNet5Frames(nn.Module):
    """The 2D LeNet-5 on every frame; per-frame logits averaged over time (order-blind baseline)."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        channels: tuple[int, int] = (6, 16),
        hidden: tuple[int, int] = (120, 84),
        size: int = 28,
        frames: int | None = None,
    ) -> None:
        # ``frames`` is accepted so that the three LeNets take the same options; any T goes through.
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        _check_built_size(None, size)
        self.clip_spec = ClipSpec(
            minimum=(1, size, size),
            exact=(None, size, size),
            hint="LeNet-5 is built for one frame size; create it with size=H (H = W)",
        )
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, channels[0], 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(channels[0], channels[1], 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        with torch.no_grad():
            flat = self.features(torch.zeros(1, in_channels, size, size)).numel()
        self.classifier = _head(flat, hidden, num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Classify every frame with a 2D LeNet-5 (eq. (1) of the 3TConv paper) and average the logits.

        Shapes:
            video: (B, C, T, H, W) -> logits (B, num_classes)
        """
        _check_input(video, "LeNet5Frames", self.in_channels, self.classifier[0].weight, self.clip_spec)
        frames = rearrange(video, "b c t h w -> (b t) c h w")
        logits = self.classifier(rearrange(self.features(frames), "n c h w -> n (c h w)"))
        return reduce(logits, "(b t) k -> b k", "mean", b=video.shape[0])


@register("lenet5_3d")
def lenet5_3d(num_classes: int, in_channels: int = 1, **kw) -> nn.Module:
    """LeNet-5-3D (authors' layout). Options: ``channels``, ``hidden``, ``frames``, ``size``."""
    return LeNet5Video(num_classes, in_channels, conv="3d", **kw)


@register("lenet5_3t")
def lenet5_3t(num_classes: int, in_channels: int = 1, **kw) -> nn.Module:
    """LeNet-5-3T: the same layout with 3TConv layers."""
    return LeNet5Video(num_classes, in_channels, conv="3t", **kw)


@register("lenet5_2d")
def lenet5_2d(num_classes: int, in_channels: int = 1, **kw) -> nn.Module:
    """Per-frame 2D LeNet-5 with logits averaged over time (appearance-only baseline)."""
    return LeNet5Frames(num_classes, in_channels, **kw)
