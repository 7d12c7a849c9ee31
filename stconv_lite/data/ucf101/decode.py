"""Decode one video with PyAV into ``T`` uniformly spaced RGB frames of a fixed size.

This module imports only ``av`` and ``numpy`` (no torch), so the cache builder's worker processes
start in milliseconds instead of seconds.

Uniform sampling takes frame indices ``round(linspace(0, n - 1, T))`` over the *whole* video, so a
16-frame cache row spans the clip from its first to its last frame. A video shorter than ``T``
frames repeats frames (the indices repeat), which UCF101 needs: its shortest clips have ~29 frames
and a 32-frame cache must cover them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["DecodeError", "decode_uniform", "declared_frames", "uniform_indices"]


class DecodeError(ValueError):
    """A video that cannot be decoded (corrupt, empty, or not a video)."""


def uniform_indices(available: int, frames: int) -> np.ndarray:
    """``frames`` indices spread evenly over ``0 .. available - 1`` (repeats when too few frames)."""
    if available < 1 or frames < 1:
        raise ValueError(f"need at least one frame available and requested; got {available} and {frames}")
    return np.linspace(0, available - 1, frames).round().astype(np.int64)


def decode_uniform(path: str | Path, frames: int, size: tuple[int, int]) -> tuple[np.ndarray, int]:
    """Decode ``path`` and return ``(clip, n)``: clip is uint8 ``(T, H, W, 3)``, n the frames decoded.

    Every frame is resized to ``size = (H, W)`` as it is decoded (bilinear, aspect ratio not kept:
    UCF101 is 320x240 throughout, so one fixed squash is the same for every video), so memory stays
    ``n * H * W * 3`` bytes even for UCF101's longest (71 s) clips.

    Raises:
        DecodeError: the file cannot be opened or decoded, or holds no video frames.
    """
    import av  # only the decoder needs PyAV; parsing splits and reading a cache do not

    height, width = size
    kept: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError(f"{path}: no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                kept.append(frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="BILINEAR"))
    except DecodeError:
        raise
    except (av.FFmpegError, ValueError, OSError, EOFError) as error:
        # a truncated file often decodes its first frames before failing: keep those if any
        if not kept:
            raise DecodeError(f"{type(error).__name__}: {error}") from error
    if not kept:
        raise DecodeError(f"{Path(path).name}: no frames could be decoded")
    picked = uniform_indices(len(kept), frames)
    return np.stack([kept[i] for i in picked]), len(kept)


def declared_frames(path: str | Path) -> int:
    """The frame count the container's header announces (0 when it does not say).

    A file truncated mid-stream does not raise when decoded: it simply yields fewer frames than
    this, so the cache builder compares the two (see :data:`stconv_lite.data.ucf101.cache.MIN_DECODED_FRACTION`).
    """
    import av

    try:
        with av.open(str(path)) as container:
            return int(container.streams.video[0].frames) if container.streams.video else 0
    except (av.FFmpegError, ValueError, OSError, EOFError):
        return 0
