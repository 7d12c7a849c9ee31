"""A tiny stand-in for UCF101, written with PyAV: the real layout, split files and quirks.

Used by the tests, the throughput benchmark and the chapter notebook whenever the real dataset is
absent. Numbers obtained on it say that the code runs, nothing about UCF101.

What it contains (all on purpose):

- ``UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` written with FFmpeg's ``mpeg4`` encoder, FourCC XVID,
  as UCF101's files are; ``ucfTrainTestlist/`` with CRLF line ends, a 1-based classInd, train lists
  with labels and test lists without;
- class names whose case-insensitive order (classInd's) differs from Python's ``sorted()``
  (Hammering / HammerThrow), and the ``HandstandPushups/v_HandStandPushups_*`` casing quirk, listed
  once with a casing that differs from the file on disk;
- one corrupt file (random bytes) and one listed file that does not exist.

Every frame encodes its time index as the background grey level ``5 + 8 t`` (it survives lossy
coding to within a few levels, so tests can tell which frames were sampled), and a bright square
moves in a class-specific direction, so a model can actually learn the classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["FIXTURE_CLASSES", "Fixture", "grey_level", "write_fixture", "write_video"]

FIXTURE_CLASSES = ["ApplyEyeMakeup", "Hammering", "HammerThrow", "HandstandPushups"]
_DIRECTIONS = [(1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1)]


def grey_level(t: np.ndarray | int) -> np.ndarray:
    """Background grey level of frame ``t`` in fixture videos."""
    return np.clip(5 + 8 * np.asarray(t), 0, 255)


def write_video(path: str | Path, frames: int, label: int, size: tuple[int, int] = (32, 40), seed: int = 0) -> None:
    """Write one fixture AVI (mpeg4/XVID, 25 fps) of ``frames`` frames of ``size = (H, W)``."""
    import av

    height, width = size
    rng = np.random.default_rng(seed)
    side = max(4, min(height, width) // 4)
    dy, dx = _DIRECTIONS[label % len(_DIRECTIONS)]
    y0, x0 = rng.integers(0, height - side), rng.integers(0, width - side)
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.codec_tag = "XVID"
        for t in range(frames):
            image = np.full((height, width, 3), grey_level(t), dtype=np.uint8)
            y = (y0 + dy * 2 * t) % (height - side)
            x = (x0 + dx * 2 * t) % (width - side)
            image[y : y + side, x : x + side] = (255, 255, 0)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@dataclass
class Fixture:
    """Where a fixture was written and what it holds (relative paths as the split files list them)."""

    root: Path
    video_root: Path
    split_dir: Path
    classes: list[str]
    frames_of: dict[str, int]
    corrupt: str | None
    missing: str | None
    quirk: str | None


def write_fixture(
    root: str | Path,
    classes: list[str] | None = None,
    groups: int = 2,
    clips: int = 1,
    frames: tuple[int, int] = (12, 20),
    size: tuple[int, int] = (32, 40),
    test_groups: int = 1,
    corrupt: bool = True,
    missing: bool = True,
    seed: int = 0,
) -> Fixture:
    """Write a UCF101-shaped fixture under ``root``; groups ``1..test_groups`` form test split 1.

    Args:
        classes: class names in classInd order (default :data:`FIXTURE_CLASSES`).
        groups, clips: groups per class and clips per group.
        frames: each video's length is drawn from this inclusive range.
    """
    classes = list(FIXTURE_CLASSES if classes is None else classes)
    if sorted(classes, key=str.lower) != classes:
        raise ValueError(f"classInd order is case-insensitive alphabetical; got {classes}")
    if groups <= test_groups:
        raise ValueError(f"need more groups than test groups; got groups={groups}, test_groups={test_groups}")
    root = Path(root)
    video_root, split_dir = root / "UCF-101", root / "ucfTrainTestlist"
    split_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_lines, test_lines, frames_of = [], [], {}
    corrupt_name = missing_name = quirk_name = None
    for label, name in enumerate(classes):
        folder = video_root / name
        folder.mkdir(parents=True, exist_ok=True)
        file_class = "HandStandPushups" if name == "HandstandPushups" else name
        for group in range(1, groups + 1):
            for clip in range(1, clips + 1):
                filename = f"v_{file_class}_g{group:02d}_c{clip:02d}.avi"
                listed = f"{name}/{filename}"
                if name == "HandstandPushups" and group == groups and clip == 1:
                    listed = f"{name}/v_HandstandPushups_g{group:02d}_c{clip:02d}.avi"  # casing differs from disk
                    quirk_name = listed
                is_test = group <= test_groups
                (test_lines if is_test else train_lines).append(listed if is_test else f"{listed} {label + 1}")
                if missing and missing_name is None and label == len(classes) - 1 and group == groups - 1:
                    missing_name = listed  # listed, never written
                    continue
                if corrupt and corrupt_name is None and label == 1 and group == groups:
                    (folder / filename).write_bytes(rng.integers(0, 256, 2048, dtype=np.uint8).tobytes())
                    corrupt_name = listed
                    continue
                length = int(rng.integers(frames[0], frames[1] + 1))
                write_video(folder / filename, length, label, size, seed=int(rng.integers(1 << 30)))
                frames_of[listed] = length
    crlf = "\r\n"
    (split_dir / "classInd.txt").write_text(crlf.join(f"{i + 1} {n}" for i, n in enumerate(classes)) + crlf)
    (split_dir / "trainlist01.txt").write_text(crlf.join(train_lines) + crlf)
    (split_dir / "testlist01.txt").write_text(crlf.join(test_lines) + crlf)
    return Fixture(root, video_root, split_dir, classes, frames_of, corrupt_name, missing_name, quirk_name)
