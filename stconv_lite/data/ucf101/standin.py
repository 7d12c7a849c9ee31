"""Stand-ins for UCF101 built so that one question has a decisive answer (chapter 7's experiments).

They are written like :mod:`stconv_lite.data.ucf101.fixture` (MPEG-4/XVID AVI files in the
``UCF-101/<Class>/v_<Class>_gXX_cYY.avi`` layout, ``ucfTrainTestlist/`` with classInd and split 1,
groups ``1..test_groups`` on the test side, as UCF101's split 1 keeps g01-g07 for testing), so the
real split parser, cache builder and clip dataset read them. What differs is the content:

- **Four classes that differ only in the direction of motion**: a square moves right, left, down or
  up in a straight line, without wrapping. The path of a clip is drawn *symmetrically*: its centre
  uniformly where the whole path fits, so the first frame of a "MoveRight" clip is distributed exactly
  as the last frame of a "MoveLeft" clip. A "MoveLeft" clip is therefore a "MoveRight" clip played
  backwards, in distribution, and any model that ignores the order of frames can at best tell the
  axis (horizontal or vertical), never the direction: **at most 50 % on these 4 classes, by
  construction**. A model that reads the order of frames can reach 100 %.
- **Backgrounds** (the nuisance): ``background="video"`` draws one plain grey level per video (no
  information about the class); ``background="group"`` gives every (class, group) one colour shared
  by all of its clips, as the clips of one UCF101 group share actor and scene. Colours are drawn
  independently of the class, so a colour says nothing about a class *in general*; it identifies a
  group. A model evaluated on clips of groups it trained on can then read the label from the colour;
  evaluated on unseen groups (the official split) it cannot.

The frames are written at a high bit rate, so coding artefacts are small next to the square (the
first, intra-coded frame could otherwise be told apart from the others by a frame-bag model).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["DIRECTION_CLASSES", "BACKGROUNDS", "StandIn", "direction_frames", "write_standin"]

DIRECTION_CLASSES = ["MoveDown", "MoveLeft", "MoveRight", "MoveUp"]  # classInd order (case-insensitive sort)
_VELOCITY = {"MoveDown": (1, 0), "MoveLeft": (0, -1), "MoveRight": (0, 1), "MoveUp": (-1, 0)}  # (dy, dx)
BACKGROUNDS = ("video", "group")


def direction_frames(
    name: str,
    frames: int,
    size: tuple[int, int],
    rng: np.random.Generator,
    background: tuple[int, int, int],
    side: int | None = None,
    travel: float = 0.5,
) -> np.ndarray:
    """One clip of class ``name``: uint8 ``(T, H, W, 3)``, a yellow square moving in a straight line.

    The square travels ``travel`` of the free width (or height) over the clip; the centre of its path
    is uniform over the positions where the whole path fits, so the set of frames of a clip has the
    same distribution for a direction and its opposite.
    """
    if name not in _VELOCITY:
        raise ValueError(f"class must be one of {DIRECTION_CLASSES}; got {name!r}")
    height, width = size
    side = max(4, min(height, width) // 5) if side is None else side
    dy, dx = _VELOCITY[name]
    free_y, free_x = height - side, width - side
    length = travel * (free_x if dx else free_y)  # pixels travelled along the motion axis
    # along the axis: the path's centre is uniform where the path fits; across it: anywhere
    along = rng.uniform(length / 2, (free_x if dx else free_y) - length / 2)
    across = rng.uniform(0, free_y if dx else free_x)
    t = np.linspace(-0.5, 0.5, frames)
    pos_along = along + (dx or dy) * length * t
    ys = pos_along if dy else np.full(frames, across)
    xs = pos_along if dx else np.full(frames, across)
    clip = np.empty((frames, height, width, 3), dtype=np.uint8)
    clip[:] = np.asarray(background, dtype=np.uint8)
    for i in range(frames):
        y, x = int(round(ys[i])), int(round(xs[i]))
        clip[i, y : y + side, x : x + side] = (255, 220, 0)
    return clip


def _write_avi(path: Path, clip: np.ndarray, bit_rate: int = 4_000_000) -> None:
    import av

    height, width = clip.shape[1:3]
    with av.open(str(path), "w", format="avi") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = bit_rate
        stream.codec_context.codec_tag = "XVID"
        for image in clip:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@dataclass
class StandIn:
    """Where a stand-in was written and what it holds."""

    root: Path
    video_root: Path
    split_dir: Path
    classes: list[str]
    background: str
    groups: int
    test_groups: int
    clips: int


def write_standin(
    root: str | Path,
    background: str = "video",
    groups: int = 8,
    clips: int = 4,
    frames: tuple[int, int] = (16, 24),
    size: tuple[int, int] = (40, 40),
    test_groups: int = 2,
    seed: int = 0,
) -> StandIn:
    """Write the direction stand-in under ``root`` (see the module docstring); split 1 tests groups ``1..test_groups``.

    Args:
        background: ``"video"`` (one random grey per video) or ``"group"`` (one random colour per
            class and group, shared by the group's clips).
        groups, clips: groups per class and clips per group.
        frames: each video's length is drawn from this inclusive range.
    """
    if background not in BACKGROUNDS:
        raise ValueError(f"background must be one of {BACKGROUNDS}; got {background!r}")
    if groups <= test_groups or test_groups < 1:
        raise ValueError(f"need 1 <= test_groups < groups; got groups={groups}, test_groups={test_groups}")
    root = Path(root)
    video_root, split_dir = root / "UCF-101", root / "ucfTrainTestlist"
    split_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    train_lines, test_lines = [], []
    for label, name in enumerate(DIRECTION_CLASSES):
        folder = video_root / name
        folder.mkdir(parents=True, exist_ok=True)
        for group in range(1, groups + 1):
            group_colour = tuple(int(v) for v in rng.integers(0, 200, 3))
            for clip in range(1, clips + 1):
                colour = group_colour if background == "group" else (int(rng.integers(0, 160)),) * 3
                length = int(rng.integers(frames[0], frames[1] + 1))
                video = direction_frames(name, length, size, rng, colour)
                filename = f"v_{name}_g{group:02d}_c{clip:02d}.avi"
                _write_avi(folder / filename, video)
                listed = f"{name}/{filename}"
                if group <= test_groups:
                    test_lines.append(listed)
                else:
                    train_lines.append(f"{listed} {label + 1}")
    crlf = "\r\n"
    (split_dir / "classInd.txt").write_text(crlf.join(f"{i + 1} {n}" for i, n in enumerate(DIRECTION_CLASSES)) + crlf)
    (split_dir / "trainlist01.txt").write_text(crlf.join(train_lines) + crlf)
    (split_dir / "testlist01.txt").write_text(crlf.join(test_lines) + crlf)
    return StandIn(root, video_root, split_dir, list(DIRECTION_CLASSES), background, groups, test_groups, clips)
