r"""Video-MNIST: one handwritten digit per clip under a smooth, class-specific affine motion.

The 3TConv paper's toy dataset (Ras et al., appendix B): 10 classes, 30 frames of 28x28, each
frame the clip's digit under an affine map made of scale, rotation and x/y translation.

Ground truth in screen terms
----------------------------
Every clip comes with per-frame parameters ``(scale, rotation_rad, tx_px, ty_px)`` that say what you
*see*: the digit is scaled by ``scale`` (> 1 bigger) about the frame centre, turned by
``rotation_rad`` (> 0 **counter-clockwise on screen**), then its centre is moved ``tx_px`` pixels to
the right and ``ty_px`` pixels **down** (image axes). The frame is drawn by
:func:`stconv_lite.ops.affine.warp_frames` with the 3TConv matrix $\Theta = sR(r)[I \mid t]$, a map from
output to input positions, so the matrix holds the *inverse* motion. Inverting
"scale by $g$, rotate by $a$, shift by $d$" gives exactly the 3TConv form with

$$ s = 1/g, \qquad r = a, \qquad t = -d $$

(:func:`sampling_parameters`): same rotation, reciprocal scale, negated translation.

Classes (:data:`MOTION_CLASSES`) follow the authors' table, with two quirks of their generator fixed
(their circle jumped because ``cos`` got degrees; their class 8 angle jumped back to 0 halfway):
every motion here is continuous, and amplitudes, speeds and phases are drawn per clip, so two clips
of a class differ. Clips are a pure function of ``(seed, split, index)``: nothing is stored.

Label modes
-----------
``"digit"`` (the paper): digit d always gets motion d, so one frame reveals the label.
``"appearance"``: label = digit, random motion (motion is a nuisance).
``"motion"``: random digit, label = one of the ten motions above. Beware: this mode does **not**
hide the direction of time from an order-blind model. The rotations start within +-20 degrees of
upright, so in short clips clockwise digits lean one way and counter-clockwise digits the other
(over 30 frames both directions sweep past a full turn and the leans overlap), and scale or
position give other classes away: a bag of frames can read part of the label from pose.
``"reversal"``: the honest test of time. Ten classes = five motions with a direction
(:data:`REVERSAL_MOTIONS`) x {forward, backward}; label ``2 m + b``. Clip ``2k + 1`` of a split is
*exactly* clip ``2k`` (same digit image, same drawn parameters) with its frames in reverse order,
so the two clips hold the same set of frames. A model that ignores frame order gives both the same
prediction and is right on at most one of them: its accuracy is **at most 50 % by construction**,
on every split of every size, not just in expectation. A model that reads the order can reach 100 %.
"""

from __future__ import annotations

import hashlib
import math
import time

import torch
from einops import rearrange
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from stconv_lite.data.digits import load_digits_with_source
from stconv_lite.ops.affine import affine_matrix, pixels_to_normalised, warp_frames

__all__ = [
    "MOTION_CLASSES",
    "LABEL_MODES",
    "REVERSAL_MOTIONS",
    "REVERSAL_CLASSES",
    "class_names",
    "reversal_parameters",
    "SPLITS",
    "ALIGN_CORNERS",
    "motion_parameters",
    "sampling_parameters",
    "clip_thetas",
    "render_clips",
    "ink_room",
    "generate_clips",
    "VideoMNIST",
    "make_loaders",
    "clips_per_second",
]

MOTION_CLASSES = [
    "translate horizontally, bouncing",
    "translate vertically, bouncing",
    "shrink then grow",
    "rotate clockwise",
    "rotate counter-clockwise",
    "move on a circle",
    "grow while rotating clockwise",
    "translate horizontally while rotating counter-clockwise",
    "rotate clockwise then counter-clockwise",
    "random walk with random rotation",
]
LABEL_MODES = ("digit", "motion", "appearance", "reversal")
# label="reversal": five motions that have a direction in time; backward = the forward clip reversed.
REVERSAL_MOTIONS = [
    ("translate right", "translate left"),
    ("translate down", "translate up"),
    ("grow", "shrink"),
    ("rotate counter-clockwise", "rotate clockwise"),
    ("circle counter-clockwise", "circle clockwise"),
]
REVERSAL_CLASSES = [
    name
    for forward, backward in REVERSAL_MOTIONS
    for name in (f"{forward} (forward)", f"{backward} (backward: {forward} reversed)")
]
SPLITS = ("train", "val", "test")
ALIGN_CORNERS = False  # pixel edges at +-1: one pixel is 2 / size in normalised units
VAL_FRACTION = 1 / 6  # of each class's training digits (MNIST: 10 000 of 60 000, as the authors)
INK_THRESHOLD = 25  # uint8 value above which a pixel counts as ink (bounding box for bouncing)
DEG = math.pi / 180


def _uniform(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * torch.rand((), generator=generator, dtype=torch.float64).item()


def _sign(generator: torch.Generator) -> float:
    return 1.0 if torch.rand((), generator=generator).item() < 0.5 else -1.0


def _bounce(position: Tensor, low: float, high: float) -> Tensor:
    """Fold a free path into [low, high] like a ball between two walls (continuous, no jumps)."""
    width = max(high - low, 1e-6)
    folded = torch.remainder(position - low, 2 * width)
    return low + torch.where(folded > width, 2 * width - folded, folded)


def _there_and_back(u: Tensor, turn: float) -> Tensor:
    """0 -> 1 at clip time ``turn`` -> 0, arriving at 1 with zero speed (a smooth turn)."""
    rising, falling = torch.sin(0.5 * math.pi * u / turn), torch.sin(0.5 * math.pi * (1 - u) / (1 - turn))
    return torch.where(u <= turn, rising, falling)


def _smooth_noise(generator: torch.Generator, frames: int, std: float, memory: float) -> Tensor:
    """AR(1) noise v_t = memory * v_(t-1) + N(0, std): smooth velocities for the random walk."""
    lag = torch.arange(frames)[:, None] - torch.arange(frames)[None, :]
    weights = torch.where(lag >= 0, memory ** lag.clamp(min=0).double(), torch.zeros((), dtype=torch.float64))
    shocks = std * torch.randn(frames, generator=generator, dtype=torch.float64)
    return torch.einsum("tk,k->t", weights, shocks)


def motion_parameters(
    motion_class: int,
    frames: int = 30,
    generator: torch.Generator | None = None,
    room_px: tuple[float, float, float, float] = (4.0, 4.0, 4.0, 4.0),
) -> Tensor:
    """Draw the per-frame screen motion of one clip of ``motion_class``.

    ``room_px`` is how far (pixels) the digit may move left, right, up and down before its ink
    touches the border; bouncing classes bounce there.

    Shapes:
        returns (frames, 4): per frame (scale, rotation_rad, tx_px, ty_px), float32, screen terms
        (rotation > 0 counter-clockwise, tx right, ty down; see the module docstring).
    """
    if not isinstance(motion_class, int) or not 0 <= motion_class < len(MOTION_CLASSES):
        raise ValueError(f"motion_class must be an int in 0..9; got {motion_class!r}")
    if not isinstance(frames, int) or frames < 2:
        raise ValueError(f"frames must be an int >= 2; got {frames!r}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    left, right, up, down = (max(float(r), 1.0) for r in room_px)
    t = torch.arange(frames, dtype=torch.float64)
    u = t / (frames - 1)  # clip time in [0, 1]
    scale, angle, dx, dy = torch.ones(frames, dtype=torch.float64), 0 * t, 0 * t, 0 * t
    spin = _uniform(g, 8, 16) * DEG  # rotation speed per frame (the authors: 12 degrees)
    start_angle = _uniform(g, -20, 20) * DEG
    c = motion_class
    if c in (0, 7):
        dx = _bounce(_uniform(g, -left, right) + _sign(g) * _uniform(g, 1.0, 2.0) * t, -left, right)
    if c == 1:
        dy = _bounce(_uniform(g, -up, down) + _sign(g) * _uniform(g, 1.0, 2.0) * t, -up, down)
    if c == 2:  # 1 -> smallest at a random moment -> 1, with zero speed at the turn
        smallest, turn = _uniform(g, 0.25, 0.5), _uniform(g, 0.4, 0.6)
        scale = 1 - (1 - smallest) * _there_and_back(u, turn) ** 2
    if c in (3, 6):
        angle = start_angle - spin * t
    if c in (4, 7):
        angle = start_angle + spin * t
    if c == 5:
        radius = _uniform(g, 0.7, 1.0) * min(left, right, up, down)
        phase = _uniform(g, 0, 2 * math.pi) + _sign(g) * _uniform(g, 0.75, 1.25) * 2 * math.pi * u
        dx, dy = radius * torch.cos(phase), radius * torch.sin(phase)
    if c == 6:  # constant relative growth rate, from small to about full size
        first, last = _uniform(g, 0.25, 0.45), _uniform(g, 1.0, 1.15)
        scale = first * (last / first) ** u
    if c == 8:  # angle decreases (clockwise), stops at a random moment, comes back
        amplitude, turn = _uniform(g, 120, 200) * DEG, _uniform(g, 0.4, 0.6)
        angle = start_angle - amplitude * _there_and_back(u, turn)
    if c == 9:
        velocity = [_smooth_noise(g, frames, 0.45, 0.75).clamp(-2, 2) for _ in "xy"]  # px per frame
        dx = _bounce(torch.cumsum(velocity[0], 0), -left, right)
        dy = _bounce(torch.cumsum(velocity[1], 0), -up, down)
        drift = _smooth_noise(g, frames, 2.5 * DEG, 0.85) + _uniform(g, -8, 8) * DEG
        angular_velocity = drift.clamp(-14 * DEG, 14 * DEG)  # the authors' step was +-12 degrees
        angle = start_angle + torch.cumsum(angular_velocity, 0)
    return torch.stack([scale, angle, dx, dy], dim=-1).float()


def reversal_parameters(
    motion: int,
    frames: int = 30,
    generator: torch.Generator | None = None,
    room_px: tuple[float, float, float, float] = (4.0, 4.0, 4.0, 4.0),
) -> Tensor:
    """Draw the *forward* screen motion of one clip of reversal motion ``motion`` (0..4).

    The backward class is this clip with its frames reversed (see :class:`VideoMNIST`). Every
    path is drawn symmetric about its middle frame (positions from -a to +a, angles centred on a
    random offset, scale from small to full size), so that nothing in a single frame sits at a
    preferred place for one direction; the exact pairing of forward and backward clips makes the
    order-blind bound exact anyway.

    Shapes:
        returns (frames, 4): per frame (scale, rotation_rad, tx_px, ty_px), float32, screen terms.
    """
    if isinstance(motion, bool) or not isinstance(motion, int) or not 0 <= motion < len(REVERSAL_MOTIONS):
        raise ValueError(f"motion must be an int in 0..{len(REVERSAL_MOTIONS) - 1}; got {motion!r}")
    if not isinstance(frames, int) or frames < 2:
        raise ValueError(f"frames must be an int >= 2; got {frames!r}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    left, right, up, down = (max(float(r), 1.0) for r in room_px)
    centred = torch.linspace(-1.0, 1.0, frames, dtype=torch.float64)  # -1 at the first frame, +1 at the last
    scale, angle = torch.ones(frames, dtype=torch.float64), torch.full((frames,), _uniform(g, -15, 15) * DEG)
    dx = torch.full((frames,), _uniform(g, -0.3, 0.3) * min(left, right), dtype=torch.float64)
    dy = torch.full((frames,), _uniform(g, -0.3, 0.3) * min(up, down), dtype=torch.float64)
    if motion == 0:  # left -> right across the room the digit has
        dx = _uniform(g, 0.6, 1.0) * min(left, right) * centred
    if motion == 1:  # top -> bottom
        dy = _uniform(g, 0.6, 1.0) * min(up, down) * centred
    if motion == 2:  # small -> full size at a constant relative rate
        first, last = _uniform(g, 0.4, 0.6), _uniform(g, 0.95, 1.1)
        scale = first * (last / first) ** ((centred + 1) / 2)
    if motion == 3:  # counter-clockwise on screen, by 8-16 degrees per frame
        angle = angle + _uniform(g, 8, 16) * DEG * (frames - 1) / 2 * centred
    if motion == 4:  # counter-clockwise on screen (y points down, so the y offset is -sin)
        radius = _uniform(g, 0.7, 1.0) * min(left, right, up, down)
        phase = _uniform(g, 0, 2 * math.pi) + _uniform(g, 0.75, 1.25) * math.pi * centred
        dx, dy = radius * torch.cos(phase), -radius * torch.sin(phase)
    return torch.stack([scale, angle, dx, dy], dim=-1).float()


def class_names(label: str) -> list[str]:
    """The ten class names of a label mode (digits for ``"digit"`` and ``"appearance"``)."""
    if label not in LABEL_MODES:
        raise ValueError(f"label must be one of {LABEL_MODES}; got {label!r}")
    if label == "reversal":
        return list(REVERSAL_CLASSES)
    if label == "motion":
        return list(MOTION_CLASSES)
    return [f"digit {d}" for d in range(10)]


def sampling_parameters(params: Tensor, size: int) -> Tensor:
    """Screen motion (scale, rotation, tx_px, ty_px) -> 3TConv parameters (s, r, tx, ty) that draw it.

    ``s = 1/scale``, ``r = rotation``, ``(tx, ty) = -(tx_px, ty_px)`` in normalised units.

    Shapes:
        params: (..., 4) -> (..., 4).
    """
    scale, rotation, tx_px, ty_px = params.unbind(-1)
    to_norm = pixels_to_normalised(torch.ones((), dtype=params.dtype), size, ALIGN_CORNERS)
    return torch.stack([1 / scale, rotation, -tx_px * to_norm, -ty_px * to_norm], dim=-1)


def clip_thetas(params: Tensor, size: int) -> Tensor:
    """The ``affine_grid`` matrices that draw frames with screen motion ``params``.

    Shapes:
        params: (..., 4) -> (..., 2, 3).
    """
    return affine_matrix(*sampling_parameters(params, size).unbind(-1))


def render_clips(digit_images: Tensor, params: Tensor, size: int = 28) -> Tensor:
    """Draw clips: frame t of clip n is ``digit_images[n]`` under screen motion ``params[n, t]``.

    Shapes:
        digit_images: (N, H, W), uint8 (0..255) or float (0..1); params: (N, T, 4)
        -> (N, 1, T, size, size) float32 in [0, 1].
    """
    shapes_ok = digit_images.dim() == 3 and params.dim() == 3 and params.shape[-1] == 4
    if not shapes_ok or len(params) != len(digit_images):
        raise ValueError(
            "render_clips expects digit_images (N, H, W) and params (N, T, 4); "
            f"got {tuple(digit_images.shape)} and {tuple(params.shape)}"
        )
    images = digit_images.float() / 255 if digit_images.dtype == torch.uint8 else digit_images.float()
    thetas = clip_thetas(params.float(), size)
    return warp_frames(rearrange(images, "n h w -> n 1 h w"), thetas, (size, size), ALIGN_CORNERS)


def ink_room(digit_images: Tensor, size: int = 28) -> Tensor:
    """How far each digit can move (left, right, up, down), in output pixels, before ink leaves the frame.

    Shapes:
        digit_images: (N, H, W) uint8 -> (N, 4) float32.
    """
    threshold = INK_THRESHOLD if digit_images.dtype == torch.uint8 else INK_THRESHOLD / 255
    ink = digit_images > threshold
    n, h, w = ink.shape
    cols, rows = ink.any(dim=1), ink.any(dim=2)  # (N, W), (N, H)
    first_col = torch.where(cols.any(1), cols.float().argmax(1), torch.full((n,), w // 2))
    last_col = torch.where(cols.any(1), w - 1 - cols.flip(1).float().argmax(1), torch.full((n,), w // 2))
    first_row = torch.where(rows.any(1), rows.float().argmax(1), torch.full((n,), h // 2))
    last_row = torch.where(rows.any(1), h - 1 - rows.flip(1).float().argmax(1), torch.full((n,), h // 2))
    room = torch.stack([first_col, w - 1 - last_col, first_row, h - 1 - last_row], dim=1).float()
    return room * (size / torch.tensor([w, w, h, h], dtype=torch.float32))


def generate_clips(
    digit_images: Tensor,
    motion_classes: Tensor | list[int],
    frames: int = 30,
    size: int = 28,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw a random motion of the given class for each digit and render the clips in one call.

    Shapes:
        digit_images: (N, H, W); motion_classes: (N,) -> clips (N, 1, T, size, size), params (N, T, 4).
    """
    classes = [int(c) for c in motion_classes]
    if len(classes) != len(digit_images):
        raise ValueError(f"need one motion class per digit; got {len(classes)} for {len(digit_images)}")
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    rooms = ink_room(digit_images, size)
    params = torch.stack([motion_parameters(c, frames, g, tuple(r.tolist())) for c, r in zip(classes, rooms)])
    return render_clips(digit_images, params, size), params


def _clip_seed(seed: int, split: str, index: int) -> int:
    # A hash, not seed + index, so that neighbouring seeds do not share clips.
    digest = hashlib.blake2b(f"video-mnist/{seed}/{split}/{index}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**63 - 1)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}; got {value!r}")
    return value


class VideoMNIST(Dataset):
    """Video-MNIST clips generated on the fly, deterministic per ``(seed, split, index)``.

    Args:
        split: ``"train"`` and ``"val"`` use disjoint parts of the training digits, ``"test"`` the
            test digits.
        clips_per_class: the dataset has ``10 * clips_per_class`` clips; clip ``i`` has label ``i % 10``.
        label: ``"digit"``, ``"motion"``, ``"appearance"`` or ``"reversal"`` (see the module
            docstring; :func:`class_names` names the classes of each).
        frames, size: clip length and frame side in pixels.
        seed: changes every clip; the same seed gives the same clips on every machine.
        source: digits from ``"mnist"``, ``"bundled"`` or ``"auto"`` (see :mod:`stconv_lite.data.digits`).
        return_params: also return the ground-truth screen motion ``(T, 4)``.
        cache: keep generated clips in memory (about 94 KB per 30x28x28 clip).

    ``dataset[i]`` is ``(clip, label)`` or ``(clip, label, params)``, clip float32 ``(1, T, H, W)``
    in [0, 1]. A DataLoader fetches whole batches through ``__getitems__``, which renders all their
    frames in one ``grid_sample`` call.
    """

    def __init__(
        self,
        split: str = "train",
        clips_per_class: int = 100,
        label: str = "digit",
        frames: int = 30,
        size: int = 28,
        seed: int = 0,
        source: str = "auto",
        return_params: bool = False,
        cache: bool = False,
        root: str | None = None,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}; got {split!r}")
        if label not in LABEL_MODES:
            raise ValueError(f"label must be one of {LABEL_MODES}; got {label!r}")
        self.clips_per_class = _check_int("clips_per_class", clips_per_class, 1)
        self.frames = _check_int("frames", frames, 2)
        self.size = _check_int("size", size, 4)
        self.seed = _check_int("seed", seed, 0)
        self.split, self.label, self.return_params = split, label, return_params
        images, labels, self.source = load_digits_with_source(source, root, train=split != "test")
        if split != "test":  # the last VAL_FRACTION of each class's training digits is validation
            keep = torch.zeros(len(labels), dtype=torch.bool)
            for digit in range(10):
                rows = torch.nonzero(labels == digit).flatten()
                n_val = max(1, round(VAL_FRACTION * len(rows)))
                keep[rows[len(rows) - n_val :] if split == "val" else rows[: len(rows) - n_val]] = True
            images, labels = images[keep], labels[keep]
        self.digits, self.digit_labels = images, labels
        self.rows_of_digit = [torch.nonzero(labels == d).flatten() for d in range(10)]
        self.rooms = ink_room(images, self.size)
        self._cache: dict[int, tuple] | None = {} if cache else None

    def __len__(self) -> int:
        return len(MOTION_CLASSES) * self.clips_per_class

    def describe_clip(self, index: int) -> dict:
        """Which digit image, digit, motion and label clip ``index`` uses, and its motion parameters."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"clip index {index} out of range for {len(self)} clips")
        index %= len(self)
        cls = index % 10
        if self.label == "reversal":
            # Clip 2k+1 is clip 2k reversed: both draw from the seed of the pair (labels 2m, 2m+1).
            backward = cls % 2
            g = torch.Generator().manual_seed(_clip_seed(self.seed, self.split, index - backward))
            row = int(torch.randint(len(self.digits), (), generator=g))
            motion = cls // 2
            params = reversal_parameters(motion, self.frames, g, tuple(self.rooms[row].tolist()))
            params = params.flip(0) if backward else params
            digit = int(self.digit_labels[row])
            return {
                "row": row,
                "digit": digit,
                "motion": motion,
                "backward": bool(backward),
                "label": cls,
                "params": params,
            }
        g = torch.Generator().manual_seed(_clip_seed(self.seed, self.split, index))
        if self.label == "motion":  # any digit
            row = int(torch.randint(len(self.digits), (), generator=g))
            motion = cls
        else:
            rows = self.rows_of_digit[cls]
            row = int(rows[torch.randint(len(rows), (), generator=g)])
            motion = cls if self.label == "digit" else int(torch.randint(10, (), generator=g))
        params = motion_parameters(motion, self.frames, g, tuple(self.rooms[row].tolist()))
        digit = int(self.digit_labels[row])
        return {"row": row, "digit": digit, "motion": motion, "label": cls, "params": params}

    def __getitem__(self, index: int):
        return self.__getitems__([index])[0]

    def __getitems__(self, indices: list[int]) -> list[tuple]:
        indices = [int(i) % len(self) if -len(self) <= int(i) < len(self) else int(i) for i in indices]
        todo = [i for i in dict.fromkeys(indices) if self._cache is None or i not in self._cache]
        made: dict[int, tuple] = {}
        if todo:
            specs = [self.describe_clip(i) for i in todo]
            params = torch.stack([s["params"] for s in specs])
            clips = render_clips(self.digits[[s["row"] for s in specs]], params, self.size)
            for i, spec, clip, p in zip(todo, specs, clips, params):
                made[i] = (clip, spec["label"], p)
            if self._cache is not None:
                self._cache.update(made)
        samples = [made[i] if i in made else self._cache[i] for i in indices]
        return [s if self.return_params else s[:2] for s in samples]

    def __repr__(self) -> str:
        return (
            f"VideoMNIST(split={self.split!r}, clips={len(self)}, label={self.label!r}, "
            f"frames={self.frames}, size={self.size}, seed={self.seed}, source={self.source!r})"
        )


def make_loaders(
    label: str = "digit",
    clips_per_class: int = 100,
    frames: int = 30,
    batch_size: int = 32,
    seed: int = 0,
    val_clips_per_class: int | None = None,
    test_clips_per_class: int | None = None,
    size: int = 28,
    source: str = "auto",
    return_params: bool = False,
    cache: bool = False,
    num_workers: int = 0,
) -> tuple[DataLoader, DataLoader, DataLoader]:
    """Train (shuffled, seeded), validation and test loaders of Video-MNIST.

    Defaults: ``val_clips_per_class = max(1, clips_per_class // 5)``,
    ``test_clips_per_class = clips_per_class``. Batches are ``(clips (B, 1, T, H, W), labels (B,))``.
    """
    _check_int("batch_size", batch_size, 1)
    val_clips_per_class = max(1, clips_per_class // 5) if val_clips_per_class is None else val_clips_per_class
    test_clips_per_class = clips_per_class if test_clips_per_class is None else test_clips_per_class
    common = dict(label=label, frames=frames, size=size, seed=seed, source=source)
    common.update(return_params=return_params, cache=cache)
    per_split = {"train": clips_per_class, "val": val_clips_per_class, "test": test_clips_per_class}
    loaders = []
    for split, per_class in per_split.items():
        dataset = VideoMNIST(split=split, clips_per_class=per_class, **common)
        shuffle = split == "train"
        loaders.append(
            DataLoader(
                dataset,
                batch_size=batch_size,
                shuffle=shuffle,
                generator=torch.Generator().manual_seed(seed) if shuffle else None,
                num_workers=num_workers,
            )
        )
    return loaders[0], loaders[1], loaders[2]


def clips_per_second(
    n_clips: int = 512,
    batch_size: int = 64,
    frames: int = 30,
    size: int = 28,
    source: str = "bundled",
    num_threads: int | None = 1,
) -> float:
    """Benchmark: Video-MNIST clips generated per second (batched, as a DataLoader fetches them)."""
    previous = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        per_class = max(1, n_clips // 10)
        dataset = VideoMNIST("train", clips_per_class=per_class, frames=frames, size=size, source=source)
        dataset.__getitems__(list(range(min(batch_size, len(dataset)))))  # warm-up
        start = time.perf_counter()
        for first in range(0, len(dataset), batch_size):
            dataset.__getitems__(list(range(first, min(first + batch_size, len(dataset)))))
        return len(dataset) / (time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
