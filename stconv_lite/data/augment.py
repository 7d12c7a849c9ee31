"""Per-sample video augmentation on batches, on whatever device the batch is on (GPU or CPU).

Why per batch on the device: decoding is done once (the UCF101 cache), so the loader only copies
uint8 clips; cropping, flipping and normalising a batch of 32 clips on the GPU is one indexing operation
and two element-wise ones.
Why per *sample*: transforms applied to a batched tensor usually draw one crop and one flip for the
whole batch; here every clip gets its own offset and its own coin flip.

Crop and flip are one indexing operation: the row indices of sample ``b`` are ``top_b + arange(h)``
and its column indices ``left_b + arange(w)``, reversed when the sample is flipped.

The default mean/std are those torchvision uses for its Kinetics-400 video models.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from einops import rearrange

__all__ = ["KINETICS_MEAN", "KINETICS_STD", "ClipAugment", "augment_clips"]

KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def _as_pair(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


def augment_clips(
    clips: torch.Tensor,
    crop: int | tuple[int, int],
    train: bool = True,
    flip_p: float = 0.5,
    mean: tuple[float, ...] | None = KINETICS_MEAN,
    std: tuple[float, ...] | None = KINETICS_STD,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Crop (random or centre), flip horizontally (random) and normalise a batch of clips.

    Args:
        clips: uint8 in 0..255 or float in [0, 1], ``(B, C, T, H, W)``, on any device.
        crop: output ``(h, w)`` (an int means square); at most ``(H, W)``.
        train: random crop offsets and flips per sample; else the centre crop, no flip.
        flip_p: probability of a horizontal flip per sample (train only).
        mean, std: per-channel normalisation after scaling to [0, 1] (``None``: no normalisation).
        generator: a CPU generator for the random draws (they are made on the CPU and moved, so a
            seed gives the same crops and flips on every device).

    Returns:
        float32 ``(B, C, T, h, w)``.

    Shapes:
        clips: (B, C, T, H, W) -> (B, C, T, h, w)
    """
    if clips.dim() != 5:
        raise ValueError(f"augment_clips expects (B, C, T, H, W); got {tuple(clips.shape)}")
    batch, channels, _, height, width = clips.shape
    crop_h, crop_w = _as_pair(crop)
    if not (0 < crop_h <= height and 0 < crop_w <= width):
        raise ValueError(f"crop must fit in the frames: got crop ({crop_h}, {crop_w}) for frames ({height}, {width})")
    for name, values in (("mean", mean), ("std", std)):
        if values is not None and len(values) != channels:
            raise ValueError(f"{name} needs one value per channel ({channels}); got {len(values)}")
    if not 0.0 <= flip_p <= 1.0:
        raise ValueError(f"flip_p must be in [0, 1]; got {flip_p}")
    device = clips.device
    if train:
        top = torch.randint(0, height - crop_h + 1, (batch,), generator=generator)
        left = torch.randint(0, width - crop_w + 1, (batch,), generator=generator)
        flip = torch.rand(batch, generator=generator) < flip_p
    else:
        top = torch.full((batch,), (height - crop_h) // 2)
        left = torch.full((batch,), (width - crop_w) // 2)
        flip = torch.zeros(batch, dtype=torch.bool)
    rows = top[:, None] + torch.arange(crop_h)
    columns = torch.arange(crop_w)
    columns = left[:, None] + torch.where(flip[:, None], crop_w - 1 - columns, columns)
    # broadcast indices (B,1,1), (B,h,1), (B,1,w): no index tensor as large as the batch is built
    picked = clips[
        torch.arange(batch, device=device)[:, None, None],
        :,
        :,
        rows.to(device)[:, :, None],
        columns.to(device)[:, None, :],
    ]
    out = rearrange(picked, "b h w c t -> b c t h w").float()
    if not clips.is_floating_point():
        out = out / 255.0
    if mean is not None:
        out = out - rearrange(torch.tensor(mean, device=device), "c -> 1 c 1 1 1")
    if std is not None:
        out = out / rearrange(torch.tensor(std, device=device), "c -> 1 c 1 1 1")
    return out


class ClipAugment(nn.Module):
    """:func:`augment_clips` as the first layer of a model: random in ``train()``, centre in ``eval()``.

    Putting it in front of the network, ``nn.Sequential(ClipAugment(112), model)``, lets any training
    loop that only moves ``(x, y)`` to the device (such as :func:`stconv_lite.train.fit`) train on
    uint8 cache clips with per-sample augmentation on the GPU. It has no parameters.
    """

    def __init__(
        self,
        crop: int | tuple[int, int],
        flip_p: float = 0.5,
        mean: tuple[float, ...] | None = KINETICS_MEAN,
        std: tuple[float, ...] | None = KINETICS_STD,
    ):
        super().__init__()
        self.crop, self.flip_p, self.mean, self.std = _as_pair(crop), flip_p, mean, std

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """Augmented, normalised float clips (no paper equation: standard video preprocessing).

        Shapes:
            clips: (B, C, T, H, W) uint8 or float -> (B, C, T, h, w) float32
        """
        return augment_clips(clips, self.crop, train=self.training, flip_p=self.flip_p, mean=self.mean, std=self.std)

    def extra_repr(self) -> str:
        return f"crop={self.crop}, flip_p={self.flip_p}"
