"""Video-MNIST: shapes, determinism, label modes, ground truth, and motions as seen on screen."""

import math

import pytest
import torch
from torch.testing import assert_close

from stconv_lite.data.digits import DigitsFallbackWarning, load_digits
from stconv_lite.data.video_mnist import (
    MOTION_CLASSES,
    VideoMNIST,
    clip_thetas,
    clips_per_second,
    generate_clips,
    make_loaders,
    motion_parameters,
    render_clips,
    sampling_parameters,
)
from stconv_lite.ops.affine import affine_matrix, pixels_to_normalised, warp

ROWS, COLS = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")


def centre_of_mass(frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(T, H, W) -> x (right) and y (down) centre of mass per frame, in pixels."""
    mass = frames.sum(dim=(-2, -1))
    return (frames * COLS).sum(dim=(-2, -1)) / mass, (frames * ROWS).sum(dim=(-2, -1)) / mass


def dataset(**kwargs) -> VideoMNIST:
    options = dict(split="train", clips_per_class=3, frames=12, source="bundled")
    options.update(kwargs)
    return VideoMNIST(**options)


def test_shapes_dtype_and_range():
    data = dataset(return_params=True, frames=30)
    assert len(data) == 30 and len(MOTION_CLASSES) == 10
    clip, label, params = data[7]
    assert clip.shape == (1, 30, 28, 28) and clip.dtype == torch.float32
    assert 0.0 <= clip.min() and clip.max() <= 1.0 and clip.max() > 0.5
    assert isinstance(label, int) and label == 7
    assert params.shape == (30, 4)
    assert len(dataset()[0]) == 2
    assert dataset(size=20)[0][0].shape == (1, 12, 20, 20)


def test_same_seed_same_clips_other_seed_other_clips():
    a, b, c = dataset(seed=3), dataset(seed=3), dataset(seed=4)
    for i in (0, 5, 29):
        assert torch.equal(a[i][0], b[i][0])
        assert not torch.equal(a[i][0], c[i][0])
    assert not torch.equal(a[0][0], a[10][0])  # two clips of one class differ


def test_a_clip_does_not_depend_on_the_batch_or_the_cache():
    plain, cached = dataset(), dataset(cache=True)
    batch = plain.__getitems__([4, 17, 4, -1])
    assert torch.equal(batch[0][0], plain[4][0]) and torch.equal(batch[2][0], batch[0][0])
    assert torch.equal(batch[3][0], plain[29][0])
    assert torch.equal(cached[17][0], batch[1][0])
    assert torch.equal(cached[17][0], cached.__getitems__([17])[0][0])


def test_splits_use_disjoint_digit_images():
    train, val, test = dataset(split="train"), dataset(split="val"), dataset(split="test")
    seen = {bytes(image.flatten().tolist()) for image in train.digits}
    assert not any(bytes(image.flatten().tolist()) in seen for image in val.digits)
    assert torch.equal(test.digits, load_digits("bundled", train=False)[0])
    assert not torch.equal(train[0][0], val[0][0])


@pytest.mark.parametrize("mode", ["digit", "motion", "appearance"])
def test_label_modes(mode):
    data = dataset(label=mode, clips_per_class=6)
    specs = [data.describe_clip(i) for i in range(len(data))]
    assert all(spec["label"] == i % 10 for i, spec in enumerate(specs))
    digits_match = [spec["digit"] == spec["label"] for spec in specs]
    motions_match = [spec["motion"] == spec["label"] for spec in specs]
    assert all(motions_match) == (mode in ("digit", "motion"))
    assert all(digits_match) == (mode in ("digit", "appearance"))


def test_ground_truth_parameters_regenerate_the_frames():
    data = dataset(return_params=True, label="motion", frames=30)
    for i in range(10):
        clip, _, params = data[i]
        digit = data.digits[data.describe_clip(i)["row"]]
        assert_close(render_clips(digit[None], params[None])[0], clip)
        # The same frames from the 3TConv parameters (s, r, tx, ty) = (1/scale, rotation, -shift).
        s, r, tx, ty = sampling_parameters(params, 28).unbind(-1)
        one_px = pixels_to_normalised(1.0, 28, align_corners=False)
        assert_close(tx, -params[:, 2] * one_px)
        frames = warp(digit.float().expand(30, 1, 28, 28) / 255, affine_matrix(s, r, tx, ty))
        assert_close(frames[:, 0], clip[0])
        assert_close(clip_thetas(params, 28), affine_matrix(s, r, tx, ty))


def digit_clips(motion_class: int, n: int = 6, frames: int = 30):
    images, _ = load_digits("bundled", train=True)
    g = torch.Generator().manual_seed(motion_class)
    clips, params = generate_clips(images[:n], [motion_class] * n, frames=frames, generator=g)
    return clips[:, 0], params


@pytest.mark.parametrize("motion_class", [0, 1, 5])
def test_centre_of_mass_moves_as_the_parameters_say(motion_class):
    # tx_px > 0 is to the right and ty_px > 0 is down, as on screen.
    clips, params = digit_clips(motion_class)
    for frames, p in zip(clips, params):
        x, y = centre_of_mass(frames)
        assert_close(x - x[0], p[:, 2] - p[0, 2], atol=0.35, rtol=0)
        assert_close(y - y[0], p[:, 3] - p[0, 3], atol=0.35, rtol=0)
    moves = (params[:, :, 2:] - params[:, :1, 2:]).abs().amax(dim=1).unbind(-1)
    if motion_class == 0:
        assert (moves[0] > 2).all() and (moves[1] == 0).all()
    if motion_class == 1:
        assert (moves[1] > 2).all() and (moves[0] == 0).all()


@pytest.mark.parametrize("motion_class", [0, 1, 7])
def test_bouncing_digits_stay_in_the_frame(motion_class):
    clips, params = digit_clips(motion_class, n=10)
    mass = clips.sum(dim=(-2, -1))
    if motion_class != 7:  # pure translation: bilinear resampling keeps the ink unless it leaves
        assert_close(mass, mass[:, :1].expand_as(mass), rtol=0.01, atol=0)
    shift = params[:, :, 2] if motion_class != 1 else params[:, :, 3]
    turns = ((shift[:, 2:] - shift[:, 1:-1]) * (shift[:, 1:-1] - shift[:, :-2]) < 0).any(dim=1)
    assert turns.any()  # some clips do bounce within 30 frames


def screen_angle_of_dot(motion_class: int) -> torch.Tensor:
    """Angle (counter-clockwise positive, y up) of a dot that starts right of the centre."""
    dot = torch.zeros(1, 28, 28, dtype=torch.uint8)
    dot[0, 13:15, 20:22] = 255
    params = motion_parameters(motion_class, 30, torch.Generator().manual_seed(1))
    params[:, 0] = 1.0  # keep the dot's size so that it stays visible
    x, y = centre_of_mass(render_clips(dot, params[None])[0, 0])
    return torch.atan2(-(y - 13.5), x - 13.5)


def unwrap(angle: torch.Tensor) -> torch.Tensor:
    step = torch.remainder(angle.diff() + math.pi, 2 * math.pi) - math.pi
    return torch.cat([angle[:1], angle[0] + torch.cumsum(step, 0)])


@pytest.mark.parametrize("motion_class, sense", [(3, -1), (4, +1), (6, -1), (7, +1)])
def test_rotation_sense_on_screen(motion_class, sense):
    angle = unwrap(screen_angle_of_dot(motion_class))
    assert (sense * angle.diff() > 0).all()


def test_clockwise_then_counter_clockwise():
    angle = unwrap(screen_angle_of_dot(8))
    turn = int(angle.argmin())
    assert 8 < turn < 22
    assert (angle[: turn + 1].diff() < 0).all() and (angle[turn:].diff() > 0).all()


def test_shrink_then_grow_and_grow():
    shrink_grow, _ = digit_clips(2, n=3)
    mass = shrink_grow.sum(dim=(-2, -1))
    assert (mass[:, 15] < 0.5 * mass[:, 0]).all() and (mass[:, -1] > 0.9 * mass[:, 0]).all()
    growing, params = digit_clips(6, n=3)
    assert (params[:, :, 0].diff(dim=1) > 0).all()
    assert (growing.sum(dim=(-2, -1))[:, -1] > 3 * growing.sum(dim=(-2, -1))[:, 0]).all()


@pytest.mark.parametrize("motion_class", range(10))
def test_motions_are_smooth(motion_class):
    # No jumps: bounded change per frame (the authors' class 8 jumped by 180 degrees, class 5 by
    # whole radii).
    for seed in range(20):
        p = motion_parameters(motion_class, 30, torch.Generator().manual_seed(seed))
        assert (p[:, 0].log().diff().abs() < 0.2).all()
        assert (p[:, 1].diff().abs() < 25 * math.pi / 180).all()
        assert (p[:, 2:].diff(dim=0).abs() < 2.5).all()


def test_make_loaders_batches_and_reproducible_shuffle():
    train, val, test = make_loaders(clips_per_class=4, frames=6, batch_size=8, seed=2, source="bundled")
    assert (len(train.dataset), len(val.dataset), len(test.dataset)) == (40, 10, 40)
    clips, labels = next(iter(train))
    assert clips.shape == (8, 1, 6, 28, 28) and labels.dtype == torch.int64
    again = make_loaders(clips_per_class=4, frames=6, batch_size=8, seed=2, source="bundled")[0]
    assert torch.equal(next(iter(again))[1], labels)
    assert next(iter(test))[1].tolist() == [0, 1, 2, 3, 4, 5, 6, 7]


def test_auto_source_offline_warns_and_uses_bundled(monkeypatch, tmp_path):
    monkeypatch.setenv("STCONV_OFFLINE", "1")
    monkeypatch.setenv("STCONV_DATA_DIR", str(tmp_path))
    with pytest.warns(DigitsFallbackWarning):
        data = VideoMNIST(clips_per_class=1, frames=4, source="auto")
    assert data.source == "bundled"


def test_benchmark_reports_a_rate():
    assert clips_per_second(n_clips=20, batch_size=10, frames=4) > 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(split="validation"), "split must be one of"),
        (dict(label="colour"), "label must be one of"),
        (dict(frames=1), "frames must be an int >= 2"),
        (dict(clips_per_class=0), "clips_per_class must be an int >= 1"),
        (dict(size=2.5), "size must be an int"),
        (dict(seed=-1), "seed must be an int >= 0"),
        (dict(source="emnist"), "source must be one of"),
    ],
)
def test_bad_dataset_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dataset(**kwargs)


def test_bad_lower_level_arguments():
    with pytest.raises(ValueError, match="motion_class"):
        motion_parameters(10)
    with pytest.raises(ValueError, match="render_clips expects"):
        render_clips(torch.zeros(2, 28, 28), torch.ones(3, 5, 4))
    with pytest.raises(ValueError, match="one motion class per digit"):
        generate_clips(torch.zeros(2, 28, 28, dtype=torch.uint8), [0])
    with pytest.raises(ValueError, match="batch_size"):
        make_loaders(batch_size=0, source="bundled")
    with pytest.raises(IndexError):
        dataset()[30]


# --- label="reversal": the direction of time is the label, and nothing else carries it ----------

from stconv_lite.data.video_mnist import REVERSAL_CLASSES, class_names, reversal_parameters  # noqa: E402


def test_reversal_backward_clips_are_forward_clips_reversed_exactly():
    dataset = VideoMNIST("test", clips_per_class=3, label="reversal", frames=12, source="bundled", return_params=True)
    for first in range(0, len(dataset), 2):
        forward, backward = dataset[first], dataset[first + 1]
        assert forward[1] % 2 == 0 and backward[1] == forward[1] + 1
        torch.testing.assert_close(backward[0], forward[0].flip(1), rtol=0, atol=0)
        torch.testing.assert_close(backward[2], forward[2].flip(0), rtol=0, atol=0)
        assert dataset.describe_clip(first)["row"] == dataset.describe_clip(first + 1)["row"]
    assert len(REVERSAL_CLASSES) == 10 and class_names("reversal") == REVERSAL_CLASSES


def test_reversal_forward_motions_have_a_direction():
    g = torch.Generator().manual_seed(3)
    scale, angle, dx, dy = reversal_parameters(0, 10, g).unbind(-1)
    assert (dx.diff() > 0).all()  # translate right
    assert (reversal_parameters(1, 10, g)[:, 3].diff() > 0).all()  # down
    assert (reversal_parameters(2, 10, g)[:, 0].diff() > 0).all()  # grow
    assert (reversal_parameters(3, 10, g)[:, 1].diff() > 0).all()  # counter-clockwise
    with pytest.raises(ValueError, match="0..4"):
        reversal_parameters(5)


class _FrameOrderBlind(torch.nn.Module):
    """Permutation invariant by construction: per-frame features, summed over time."""

    def __init__(self):
        super().__init__()
        self.frame = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 16, 64), torch.nn.ReLU())
        self.head = torch.nn.Linear(64, 10)

    def forward(self, x):
        from einops import rearrange, reduce

        per_frame = self.frame(rearrange(x, "b c t h w -> (b t) c h w"))
        return self.head(reduce(per_frame, "(b t) d -> b d", "sum", b=x.shape[0]))


def test_a_frame_order_blind_model_is_at_most_50_percent_on_reversal_even_on_its_training_set():
    """The bound holds exactly (not just in expectation), for any trained weights."""
    from stconv_lite.train import evaluate, fit

    torch.manual_seed(0)
    data = VideoMNIST("train", clips_per_class=20, label="reversal", frames=6, size=16, source="bundled", cache=True)
    loader = torch.utils.data.DataLoader(data, batch_size=50, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = _FrameOrderBlind()
    fit(model, loader, 25, lr=3e-3, device="cpu", progress=False)
    train_accuracy = evaluate(model, torch.utils.data.DataLoader(data, batch_size=100), device="cpu")["accuracy"]
    assert 0.3 < train_accuracy <= 0.5  # it learned the five motions, and cannot learn more
    test = VideoMNIST("test", clips_per_class=20, label="reversal", frames=6, size=16, source="bundled")
    assert evaluate(model, torch.utils.data.DataLoader(test, batch_size=100), device="cpu")["accuracy"] <= 0.5


def test_the_stored_small_run_shows_the_bag_at_the_bound_and_the_3d_cnn_far_above():
    from stconv_lite.experiments import report

    run = report.stored("ch01.frame_order", "small")
    assert run is not None, "book/results/ch01.frame_order__small.json is missing"
    bag = [u["metrics"]["test_accuracy"] for u in run["units"] if u["arm"] == "frame_bag_2d"]
    c3d = [u["metrics"]["test_accuracy"] for u in run["units"] if u["arm"] == "tiny_c3d"]
    assert len(bag) >= 3 and max(bag) <= 0.5
    assert min(c3d) > 0.75
    verdict = next(c for c in run["comparisons"] if c["a"] == "tiny_c3d" and c["b"] == "frame_bag_2d")
    assert verdict["verdict_text"] == "tiny_c3d better than frame_bag_2d"
