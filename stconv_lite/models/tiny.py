"""Two tiny networks for chapter 1: a bag of per-frame 2D features, and a small 3D CNN.

They answer one question on Video-MNIST in ``"motion"`` mode: does the order of frames matter?

- ``cnn3_2d`` (the "frame bag") runs the same 2D CNN on every frame and *averages the frame features over time*
  before classifying. Averaging is permutation invariant, so this network sees an unordered bag of
  frames: a clip and its time-reversed copy give exactly the same output, and it cannot tell
  "rotate clockwise" from "rotate counter-clockwise".
- ``cnn3_3d`` (the tiny C3D) convolves over time as well (3x3x3 kernels), so it can use the order of frames.

Both have the same widths so that the comparison is about the temporal axis, not capacity.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from einops import rearrange, reduce

from stconv_lite.models.registry import register
from stconv_lite.ops.arguments import ClipSpec, check_video_input, positive_int


def _check_video(x: torch.Tensor, name: str) -> None:
    if isinstance(x, torch.Tensor) and x.dim() != 5:
        raise ValueError(f"{name} expects a video batch (B, C, T, H, W); got shape {tuple(x.shape)}")


# Two spatial max-pools of 2 need H, W >= 4; TinyC3d's second pool also halves time, so T >= 2.
FRAME_BAG_CLIP = ClipSpec(minimum=(1, 4, 4))
TINY_C3D_CLIP = ClipSpec(minimum=(2, 4, 4))


def _block(conv: type[nn.Module], bn: type[nn.Module], c_in: int, c_out: int) -> nn.Sequential:
    """conv 3 (padding 1) -> BN -> ReLU, in 2D or 3D depending on the classes passed."""
    return nn.Sequential(conv(c_in, c_out, 3, padding=1, bias=False), bn(c_out), nn.ReLU(inplace=True))


class FrameBag2d(nn.Module):
    """A 2D CNN applied to every frame, features averaged over time, then a linear classifier."""

    clip_spec = FRAME_BAG_CLIP

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        positive_int(width, "width")
        self.features = nn.Sequential(
            _block(nn.Conv2d, nn.BatchNorm2d, in_channels, width),
            nn.MaxPool2d(2),
            _block(nn.Conv2d, nn.BatchNorm2d, width, 2 * width),
            nn.MaxPool2d(2),
            _block(nn.Conv2d, nn.BatchNorm2d, 2 * width, 4 * width),
        )
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Classify a clip from the unordered set of its frames.

        Shapes:
            video: (B, C, T, H, W) -> logits (B, num_classes)
        """
        _check_video(video, "FrameBag2d")
        check_video_input(video, "FrameBag2d", self.in_channels, self.classifier.weight, self.clip_spec)
        batch = video.shape[0]
        frames = rearrange(video, "b c t h w -> (b t) c h w")
        per_frame = reduce(self.features(frames), "(b t) c h w -> b t c", "mean", b=batch)
        # The mean over t is where the order of frames is lost.
        return self.classifier(reduce(per_frame, "b t c -> b c", "mean"))


class TinyC3d(nn.Module):
    """Three 3x3x3 conv blocks with pooling, global average over (T, H, W), linear classifier."""

    clip_spec = TINY_C3D_CLIP

    def __init__(self, num_classes: int, in_channels: int = 1, width: int = 16) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        positive_int(width, "width")
        self.features = nn.Sequential(
            _block(nn.Conv3d, nn.BatchNorm3d, in_channels, width),
            nn.MaxPool3d((1, 2, 2)),  # keep every frame early: motion is the signal
            _block(nn.Conv3d, nn.BatchNorm3d, width, 2 * width),
            nn.MaxPool3d(2),
            _block(nn.Conv3d, nn.BatchNorm3d, 2 * width, 4 * width),
        )
        self.classifier = nn.Linear(4 * width, num_classes)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Classify a clip with kernels that span three frames.

        Shapes:
            video: (B, C, T, H, W) -> logits (B, num_classes)
        """
        _check_video(video, "TinyC3d")
        check_video_input(video, "TinyC3d", self.in_channels, self.classifier.weight, self.clip_spec)
        pooled = reduce(self.features(video), "b c t h w -> b c", "mean")
        return self.classifier(pooled)


@register("cnn3_2d")
def cnn3_2d(num_classes: int, in_channels: int = 1, width: int = 16) -> FrameBag2d:
    """Per-frame 2D CNN with temporal averaging (order-blind baseline of chapter 1)."""
    return FrameBag2d(num_classes, in_channels, width)


@register("cnn3_3d")
def cnn3_3d(num_classes: int, in_channels: int = 1, width: int = 16) -> TinyC3d:
    """Small 3D CNN (3x3x3 kernels) of chapter 1."""
    return TinyC3d(num_classes, in_channels, width)
