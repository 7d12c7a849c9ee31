"""Chapter 7's stand-ins and experiments: the ground truth their decisive answers rest on."""

import numpy as np
import pytest

from stconv_lite.data.ucf101.standin import DIRECTION_CLASSES, direction_frames, write_standin
from stconv_lite.experiments import ch07_ucf101 as ch07
from stconv_lite.experiments.registry import get


def _clip(name, seed):
    return direction_frames(name, 12, (32, 32), np.random.default_rng(seed), (40, 40, 40))


@pytest.mark.parametrize("forward, backward", [("MoveRight", "MoveLeft"), ("MoveDown", "MoveUp")])
def test_opposite_direction_is_the_same_clip_played_backwards(forward, backward):
    # same random draws: the backward clip is exactly the forward one reversed, so the *set* of
    # frames (all an order-blind model sees) has the same distribution for both classes
    np.testing.assert_array_equal(_clip(backward, 3), _clip(forward, 3)[::-1])


def test_square_moves_and_stays_inside_the_frame():
    clip = _clip("MoveRight", 0)
    yellow = (clip[..., 0] == 255) & (clip[..., 2] == 0)
    xs = [np.nonzero(frame.any(0))[0].mean() for frame in yellow]
    assert all(frame.sum() == 36 for frame in yellow)  # the whole 6x6 square in every frame
    assert xs == sorted(xs) and xs[-1] > xs[0]


def test_opposite_labels_pair_the_directions():
    names = ch07.CLASS_NAMES
    assert names == DIRECTION_CLASSES == sorted(names, key=str.lower)
    assert [names[ch07.OPPOSITE[i]] for i in range(4)] == ["MoveUp", "MoveRight", "MoveLeft", "MoveDown"]


def test_splits_official_keeps_groups_apart_and_random_mixes_them(tmp_path, monkeypatch):
    monkeypatch.setattr(ch07, "_cache_root", lambda: tmp_path)
    settings = get("ch07.leakage").settings_for("quick")
    cache = ch07.standin_cache(settings, seed=0)
    group = lambda rows: {(cache.labels[r], ch07._group(cache.videos[r])) for r in rows}  # noqa: E731
    official, random = ch07.split_rows(cache, "official", 0), ch07.split_rows(cache, "random", 0)
    assert not group(official["test"]) & group(official["train"])
    assert not group(official["val"]) & group(official["train"])
    for part in ("train", "val", "test"):
        # the same videos per class on each side: groups are the only difference between the splits,
        # so an order-blind model's ceiling stays exactly 50 % under both
        counts = [np.bincount(cache.labels[split[part]], minlength=4).tolist() for split in (official, random)]
        assert counts[0] == counts[1], (part, counts)
    assert sorted(np.concatenate(list(random.values()))) == list(range(len(cache.videos)))
    assert group(random["test"]) & group(random["train"])  # leakage: shared groups


def test_write_standin_group_backgrounds_are_shared_within_a_group(tmp_path):
    from stconv_lite.data.ucf101 import build_cache, open_cache

    s = write_standin(
        tmp_path / "v", background="group", groups=3, clips=2, frames=(10, 10), size=(32, 32), test_groups=1
    )
    build_cache(s.video_root, s.split_dir, tmp_path / "c", frames=4, size=32, progress=False)
    cache = open_cache(tmp_path / "c")
    corner = np.median(cache.frames()[:, 0].reshape(len(cache.videos), -1, 3), axis=1)  # background of each video
    by_group = {}
    for row, video in enumerate(cache.videos):
        by_group.setdefault((cache.labels[row], ch07._group(video)), []).append(corner[row])
    for colours in by_group.values():
        assert np.abs(np.array(colours) - colours[0]).max() <= 8  # lossy coding only


def test_experiments_registered_with_bounds():
    for name in ("ch07.direction", "ch07.leakage"):
        experiment = get(name)
        assert experiment.chapter == 7 and {"quick", "small", "full"} <= set(experiment.settings)
        assert all(b.value == 0.5 for b in experiment.bounds)
