"""UCF101 data layer on tiny AVI files written by the tests: splits, quirks, cache, resume, dataset."""

from __future__ import annotations

import io
import json
import pickle
import ssl
import urllib.error

import numpy as np
import pytest
import torch
from einops import rearrange
from ucf101_fixture import FRAMES, SIZE, ucf_cache, ucf_fixture  # noqa: F401  (pytest fixtures)

from stconv_lite.data.ucf101 import (
    CacheMismatchError,
    UCF101Clips,
    VideoIndex,
    build_cache,
    load_splits,
    open_cache,
    read_class_index,
    read_split_list,
)
from stconv_lite.data.ucf101 import cache as cache_module
from stconv_lite.data.ucf101.__main__ import main as cli_main
from stconv_lite.data.ucf101.decode import decode_uniform, uniform_indices
from stconv_lite.data.ucf101.fixture import grey_level


def _grey(clip: np.ndarray) -> np.ndarray:
    """Per-frame background grey level (median over pixels ignores the moving square)."""
    return np.median(clip.reshape(len(clip), -1), axis=1)


def _window(row: np.ndarray, start: int, length: int) -> torch.Tensor:
    return rearrange(torch.from_numpy(np.array(row[start : start + length])), "t h w c -> c t h w")


def report_videos(folder) -> list[str]:
    return json.loads((folder / "meta.json").read_text())["videos"]


def test_class_index_is_one_based_in_file_zero_based_in_code(ucf_fixture):
    classes = read_class_index(ucf_fixture.split_dir / "classInd.txt")
    assert classes == ["ApplyEyeMakeup", "Hammering", "HammerThrow", "HandstandPushups"]
    assert sorted(classes) != classes  # Python's sort would swap Hammering/HammerThrow, as torchvision does


def test_bad_class_index_is_refused(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 A\n3 B\n")
    with pytest.raises(ValueError, match="1..2"):
        read_class_index(tmp_path / "classInd.txt")


def test_split_lists_and_labels_come_from_class_index(ucf_fixture):
    splits = load_splits(ucf_fixture.root)  # found below the root
    assert len(splits.videos) == 8
    train, test = splits.subset(1, "train"), splits.subset(1, "test")
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(8))  # a partition of all rows
    assert all(splits.group_of(splits.videos[row]) == 1 for row in test)
    assert splits.labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert splits.videos[splits.labels.tolist().index(2)].startswith("HammerThrow/")
    assert read_split_list(ucf_fixture.split_dir / "trainlist01.txt")[0].endswith(".avi")  # label and CRLF dropped
    with pytest.raises(ValueError, match="split 2 train is not available"):
        splits.subset(2, "train")


def test_train_list_label_disagreeing_with_folder_is_refused(tmp_path):
    (tmp_path / "classInd.txt").write_text("1 A\r\n2 B\r\n")
    (tmp_path / "trainlist01.txt").write_text("A/v_A_g01_c01.avi 2\r\n")
    with pytest.raises(ValueError, match="labelled 2"):
        load_splits(tmp_path)


def test_video_index_resolves_casing_quirk_and_flat_layout(ucf_fixture, tmp_path):
    index = VideoIndex(ucf_fixture.video_root)
    found = index.resolve(ucf_fixture.quirk)  # listed as v_HandstandPushups_..., on disk v_HandStandPushups_...
    assert found is not None and "HandStandPushups" in found.name
    assert index.resolve(ucf_fixture.missing) is None
    flat = tmp_path / "UCF101"
    flat.mkdir()
    (flat / "v_Hammering_g01_c01.avi").write_bytes(b"x")
    assert VideoIndex(flat).resolve("Hammering/v_Hammering_g01_c01.avi") is not None


def test_decode_picks_uniform_frames(ucf_fixture):
    name, length = next(iter(ucf_fixture.frames_of.items()))
    clip, decoded = decode_uniform(ucf_fixture.video_root / name, FRAMES, SIZE)
    assert clip.shape == (FRAMES, *SIZE, 3) and clip.dtype == np.uint8 and decoded == length
    expected = grey_level(uniform_indices(length, FRAMES))
    np.testing.assert_allclose(_grey(clip), expected, atol=8)  # lossy MPEG-4 keeps flat grey within a few levels


def test_short_video_repeats_frames():
    assert uniform_indices(3, 6).tolist() == [0, 0, 1, 1, 2, 2]


def test_cache_contents_and_error_report(ucf_fixture, ucf_cache):
    folder, report = ucf_cache
    assert (report.total, report.cached) == (8, 6)
    assert set(report.errors) == {ucf_fixture.corrupt, ucf_fixture.missing}
    assert report.errors[ucf_fixture.missing].startswith("missing")
    assert report.errors[ucf_fixture.corrupt].startswith("corrupt")
    assert report.summary().startswith("cached 6 of 8")
    assert ucf_fixture.corrupt in report.summary() and ucf_fixture.missing in report.summary()
    cache = open_cache(folder, frames=FRAMES, size=SIZE)
    frames = cache.frames()
    assert frames.shape == (8, FRAMES, *SIZE, 3)
    assert cache.status.tolist().count(1) == 6
    for row, name in enumerate(cache.videos):
        if name in ucf_fixture.frames_of:
            expected = grey_level(uniform_indices(ucf_fixture.frames_of[name], FRAMES))
            np.testing.assert_allclose(_grey(frames[row]), expected, atol=8, err_msg=name)


def test_interrupted_build_resumes_where_it_stopped(ucf_fixture, ucf_cache, tmp_path, monkeypatch):
    real = cache_module.decode_module.decode_uniform
    calls, armed = [], [True]

    def interrupted(path, frames, size):
        calls.append(path)
        if armed[0] and len(calls) == 3:
            raise RuntimeError("runtime lost")  # stands for Ctrl-C or a Colab disconnect mid-build
        return real(path, frames, size)

    monkeypatch.setattr(cache_module.decode_module, "decode_uniform", interrupted)
    with pytest.raises(RuntimeError, match="runtime lost"):
        build_cache(ucf_fixture.video_root, ucf_fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False)
    status = np.load(tmp_path / "status.npy")
    assert (status == 0).sum() > 0 and (status != 0).sum() >= 2  # progress so far was flushed
    with pytest.raises(ValueError, match="unfinished"):
        open_cache(tmp_path)
    calls.clear()
    armed[0] = False
    report = build_cache(
        ucf_fixture.video_root, ucf_fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False
    )
    assert report.decoded_now == 6 - int((status == 1).sum())
    done_before = {name for name, state in zip(report_videos(tmp_path), status) if state != 0}
    redone = [path for path in calls for name in done_before if str(path).lower().endswith(name.split("/")[-1].lower())]
    assert calls and not redone
    reference = open_cache(ucf_cache[0]).frames()
    np.testing.assert_array_equal(open_cache(tmp_path).frames(), reference)  # same as an uninterrupted build
    assert set(report.errors) == set(ucf_cache[1].errors)
    calls.clear()
    build_cache(ucf_fixture.video_root, ucf_fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False)
    assert not calls  # a finished cache is not touched again


def test_mismatched_cache_is_refused_and_left_intact(ucf_fixture, ucf_cache, tmp_path):
    folder, _ = ucf_cache
    before = (folder / "frames.npy").stat().st_mtime_ns, (folder / "meta.json").read_text()
    with pytest.raises(CacheMismatchError, match="frames: cache has 8, asked for 4"):
        build_cache(ucf_fixture.video_root, ucf_fixture.split_dir, folder, frames=4, size=SIZE, progress=False)
    with pytest.raises(CacheMismatchError, match="size"):
        open_cache(folder, size=32)
    assert ((folder / "frames.npy").stat().st_mtime_ns, (folder / "meta.json").read_text()) == before
    np.save(tmp_path / "frames.npy", np.zeros(3))  # someone else's file
    with pytest.raises(CacheMismatchError, match="not a cache of ours"):
        build_cache(ucf_fixture.video_root, ucf_fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False)
    with pytest.raises(FileNotFoundError, match="prepare"):
        open_cache(tmp_path / "nothing")


def test_other_split_files_do_not_match(ucf_fixture, ucf_cache):
    meta = json.loads((ucf_cache[0] / "meta.json").read_text())
    assert meta["splits_fingerprint"] == load_splits(ucf_fixture.split_dir).fingerprint()
    assert meta["versions"]["av"]


def test_dataset_train_windows_and_labels(ucf_fixture, ucf_cache):
    train = UCF101Clips(ucf_cache[0], fold=1, subset="train", clip_len=4, mode="train")
    assert len(train) == 3 and train.skipped == [ucf_fixture.corrupt]  # the corrupt one is a train video
    torch.manual_seed(0)
    starts = set()
    full = train.cache.frames()
    for item in range(len(train)):
        clip, label = train[item]
        assert clip.shape == (3, 4, *SIZE) and clip.dtype == torch.uint8
        assert label == train.labels[item] == train.cache.labels[train.rows[item]]
    for _ in range(20):
        clip, _ = train[0]
        row = full[train.rows[0]]
        matches = [s for s in range(FRAMES - 4 + 1) if torch.equal(clip, _window(row, s, 4))]
        assert matches
        starts.add(matches[0])
    assert len(starts) > 1  # the window moves


def test_dataset_eval_modes(ucf_cache):
    center = UCF101Clips(ucf_cache[0], subset="test", clip_len=4, mode="center")
    multi = UCF101Clips(ucf_cache[0], subset="test", clip_len=4, mode="multi", clips_per_video=3)
    assert len(center) == 3 and len(multi) == 9  # 4 test videos, one missing
    assert multi.video_ids.tolist() == np.repeat(center.rows, 3).tolist()
    full = center.cache.frames()[center.rows[0]]
    assert torch.equal(center[0][0], _window(full, 2, 4))  # (8 - 4) // 2 = 2
    assert torch.equal(multi[0][0], _window(full, 0, 4))
    assert torch.equal(multi[2][0], _window(full, 4, 4))
    batch = next(iter(torch.utils.data.DataLoader(multi, batch_size=9)))
    assert batch[0].shape == (9, 3, 4, *SIZE)


def test_dataset_argument_errors(ucf_cache):
    with pytest.raises(ValueError, match="clip_len"):
        UCF101Clips(ucf_cache[0], clip_len=FRAMES + 1)
    with pytest.raises(ValueError, match="mode"):
        UCF101Clips(ucf_cache[0], mode="random")
    with pytest.raises(CacheMismatchError):
        UCF101Clips(ucf_cache[0], frames=FRAMES * 2)


def test_cli_help_and_prepare(ucf_fixture, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["prepare", "--help"])
    assert exit_info.value.code == 0 and "--workers" in capsys.readouterr().out
    assert (
        cli_main(
            [
                "prepare",
                "--root",
                str(ucf_fixture.root),
                "--cache",
                str(tmp_path / "c"),
                "--frames",
                "4",
                "--size",
                "8x10",
                "--workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "cached 6 of 8" in out and ucf_fixture.corrupt in out
    assert open_cache(tmp_path / "c", frames=4, size=(8, 10)).frames().shape == (8, 4, 8, 10, 3)
    # --root may also name the video folder itself; the split files beside it are found
    assert (
        cli_main(
            [
                "prepare",
                "--root",
                str(ucf_fixture.video_root),
                "--cache",
                str(tmp_path / "d"),
                "--frames",
                "2",
                "--size",
                "8",
                "--workers",
                "0",
                "--no-progress",
            ]
        )
        == 0
    )
    assert "cached 6 of 8" in capsys.readouterr().out


def test_parallel_workers_build_the_same_cache(ucf_fixture, ucf_cache, tmp_path):
    report = build_cache(
        ucf_fixture.video_root, ucf_fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, workers=2, progress=False
    )
    assert report.cached == 6 and set(report.errors) == set(ucf_cache[1].errors)
    np.testing.assert_array_equal(open_cache(tmp_path).frames(), open_cache(ucf_cache[0]).frames())


def test_dataset_pickles_without_its_memmap(ucf_cache):
    dataset = UCF101Clips(ucf_cache[0], subset="test", mode="center", clip_len=4)
    first = dataset[0][0]
    copy = pickle.loads(pickle.dumps(dataset))  # what a spawned DataLoader worker receives
    assert copy._frames is None and torch.equal(copy[0][0], first)


class _FakeResponse(io.BytesIO):
    headers = {"Content-Length": "5"}


def test_download_retries_once_without_verification_on_a_certificate_error(tmp_path, monkeypatch, capsys):
    from stconv_lite.data.ucf101 import download as download_module

    contexts = []

    def fake_urlopen(url, timeout=None, context=None):
        contexts.append(context)
        if context is None:
            raise urllib.error.URLError(ssl.SSLCertVerificationError("CERTIFICATE_VERIFY_FAILED"))
        return _FakeResponse(b"hello")

    monkeypatch.setattr(download_module.urllib.request, "urlopen", fake_urlopen)
    path = download_module.download("https://example.invalid/a.zip", tmp_path / "a.zip")
    assert path.read_bytes() == b"hello" and len(contexts) == 2 and contexts[1] is not None
    assert "could not be verified" in capsys.readouterr().out
    with pytest.raises(urllib.error.URLError):
        download_module.download("https://example.invalid/b.zip", tmp_path / "b.zip", allow_insecure_fallback=False)
    contexts.clear()
    download_module.download("https://example.invalid/a.zip", tmp_path / "a.zip")
    assert not contexts  # a finished download is not fetched again


def test_rar_tool_missing_says_how_to_install(monkeypatch):
    from stconv_lite.data.ucf101 import download as download_module

    monkeypatch.setattr(download_module.shutil, "which", lambda tool: None)
    with pytest.raises(RuntimeError, match="apt-get install -y unrar"):
        download_module.ensure_unrar(install=False)


def test_data_benchmark_runs_on_a_small_fixture():
    from stconv_lite.analysis.bench_throughput import benchmark_data

    report = benchmark_data(
        frames=4,
        size=(16, 16),
        clip_len=2,
        crop=12,
        passes=1,
        batch=2,
        video_size=(32, 40),
        video_frames=(8, 10),
        groups=2,
        cached_epochs=1,
        probe_torchvision=False,
    )
    assert report["fixture"]["train_videos"] == 4
    assert report["cached_clips_per_s"] > 0 and report["decode_on_the_fly_clips_per_s"] > 0
    assert report["ratio_cached_vs_on_the_fly"] == pytest.approx(
        report["cached_clips_per_s"] / report["decode_on_the_fly_clips_per_s"]
    )
    assert report["torchvision_ucf101"] == {"available": False, "reason": "not probed (probe_torchvision=False)"}
