"""Clips from the decode-once cache: a random temporal window for training, fixed ones for evaluation.

Items are uint8 ``(C, T, H, W)`` at the cached size; cropping, flipping and normalising happen per
batch on the device (:mod:`stconv_lite.data.augment`), where they cost nothing next to the model.

Evaluation modes (the usual video protocol, e.g. Tran et al. average 10 clips per video):

- ``"center"``: one window in the middle of each video: ``len == videos``;
- ``"multi"``: ``clips_per_video`` windows evenly spaced from the first to the last cached frame:
  ``len == videos * clips_per_video``, ordered video by video, and :attr:`video_ids` says which video
  each item came from, so that :func:`stconv_lite.analysis.video_accuracy.video_accuracy` can average
  a video's clip scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from einops import rearrange
from torch.utils.data import Dataset

from stconv_lite.data.ucf101.cache import CACHED, CachedVideos, open_cache

__all__ = ["UCF101Clips", "MODES"]

MODES = ("train", "center", "multi")


class UCF101Clips(Dataset):
    """UCF101 clips of ``clip_len`` frames from a cache built by :func:`build_cache`.

    Args:
        cache: a cache folder or an opened :class:`CachedVideos`.
        fold: official split 1, 2 or 3.
        subset: ``"train"`` or ``"test"``.
        clip_len: frames per clip (at most the cache's ``T``).
        mode: ``"train"`` (random window), ``"center"`` or ``"multi"`` (see the module docstring).
        clips_per_video: windows per video in ``"multi"`` mode.
        rows: restrict to these cache rows (e.g. a validation part of the training list).
        frames, size: if given, the cache must have been built with them (else CacheMismatchError).

    Videos that failed to decode are left out; :attr:`skipped` names them.
    """

    def __init__(
        self,
        cache: str | Path | CachedVideos,
        fold: int = 1,
        subset: str = "train",
        clip_len: int = 16,
        mode: str = "train",
        clips_per_video: int = 3,
        rows: np.ndarray | None = None,
        frames: int | None = None,
        size: tuple[int, int] | int | None = None,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; got {mode!r}")
        self.cache = cache if isinstance(cache, CachedVideos) else open_cache(cache, frames=frames, size=size)
        cached_frames = self.cache.meta["frames"]
        if not 1 <= clip_len <= cached_frames:
            raise ValueError(f"clip_len must be between 1 and the cache's {cached_frames} frames; got {clip_len}")
        if mode == "multi" and clips_per_video < 1:
            raise ValueError(f"clips_per_video must be >= 1; got {clips_per_video}")
        listed = self.cache.split(fold, subset) if rows is None else np.asarray(rows, dtype=np.int64)
        status = self.cache.status
        ok = status[listed] == CACHED
        self.rows = listed[ok]
        self.skipped = [self.cache.videos[row] for row in listed[~ok]]
        self.labels_all = self.cache.labels
        self.classes = self.cache.classes
        self.clip_len, self.mode = clip_len, mode
        self.clips_per_video = clips_per_video if mode == "multi" else 1
        span = cached_frames - clip_len
        self._eval_starts = (
            np.linspace(0, span, self.clips_per_video).round().astype(np.int64)
            if mode == "multi"
            else np.array([span // 2])
        )
        self._frames: np.ndarray | None = None  # opened lazily: a DataLoader worker never pickles the memmap

    def __len__(self) -> int:
        return len(self.rows) * self.clips_per_video

    @property
    def labels(self) -> np.ndarray:
        """Label of every item, ``(len(self),)``."""
        return np.repeat(self.labels_all[self.rows], self.clips_per_video)

    @property
    def video_ids(self) -> np.ndarray:
        """Cache row (= video) of every item, ``(len(self),)``: clips of one video share an id."""
        return np.repeat(self.rows, self.clips_per_video)

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_frames": None}

    def __getitem__(self, item: int) -> tuple[torch.Tensor, int]:
        """``(clip, label)``: clip uint8 ``(3, clip_len, H, W)``.

        Shapes:
            cache row (T, H, W, 3) -> window (clip_len, H, W, 3) -> (3, clip_len, H, W)
        """
        if not 0 <= item < len(self):
            raise IndexError(f"index {item} out of range for {len(self)} clips")
        video, clip = divmod(item, self.clips_per_video)
        row = int(self.rows[video])
        if self.mode == "train":
            # torch's generator, not NumPy's: fit() seeds it and DataLoader workers get distinct seeds
            start = int(torch.randint(0, self.cache.meta["frames"] - self.clip_len + 1, ()).item())
        else:
            start = int(self._eval_starts[clip])
        if self._frames is None:
            self._frames = self.cache.frames()
        window = torch.from_numpy(np.array(self._frames[row, start : start + self.clip_len]))
        return rearrange(window, "t h w c -> c t h w").contiguous(), int(self.labels_all[row])
