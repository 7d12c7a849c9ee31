"""Issue 18, cases 2, 3, 4 and 7: the UCF101 cache build survives dying workers, truncated files and
kills, and its workers never outlive it. Tiny AVI fixtures are written with PyAV."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

pytest.importorskip("av")

from stconv_lite.data.ucf101 import cache as cache_module  # noqa: E402
from stconv_lite.data.ucf101.cache import CacheMismatchError, build_cache, open_cache  # noqa: E402
from stconv_lite.data.ucf101.fixture import write_fixture  # noqa: E402

FRAMES, SIZE = 6, (16, 20)


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    """2 classes x 2 groups of 20-frame videos, nothing corrupt or missing."""
    return write_fixture(
        tmp_path_factory.mktemp("ucf_hard"),
        classes=["ApplyEyeMakeup", "Hammering"],
        groups=2,
        frames=(20, 20),
        corrupt=False,
        missing=False,
    )


def _run_build(script: str, timeout: float) -> subprocess.CompletedProcess:
    """Run a build in its own process group, so that a hang can be ended with every worker."""
    child = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        pytest.fail(f"the build hung for more than {timeout} s")
    return subprocess.CompletedProcess(child.args, child.returncode, out.decode(), err.decode())


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


def test_a_dying_worker_is_reported_and_the_build_goes_on(fixture, tmp_path):
    victim = sorted(fixture.frames_of)[1]
    script = textwrap.dedent(f"""
        import json, os, signal
        from stconv_lite.data.ucf101 import cache
        real = cache.decode_module.decode_uniform
        def decode(path, frames, size):
            if str(path).endswith({victim.split("/")[-1]!r}):
                os.kill(os.getpid(), signal.SIGKILL)  # stands for a segfault inside FFmpeg
            return real(path, frames, size)
        cache.decode_module.decode_uniform = decode
        report = cache.build_cache({str(fixture.video_root)!r}, {str(fixture.split_dir)!r}, {str(tmp_path)!r},
                                   frames={FRAMES}, size={SIZE}, workers=2, progress=False)
        print(json.dumps({{"cached": report.cached, "errors": report.errors}}))
    """)
    done = _run_build(script, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert list(report["errors"]) == [victim]
    assert report["errors"][victim].startswith("crashed: the decoding process died on this video")
    assert report["cached"] == len(fixture.frames_of) - 1


def test_workers_end_when_the_build_is_killed(fixture, tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    script = textwrap.dedent(f"""
        import os, time
        from stconv_lite.data.ucf101 import cache
        def decode(path, frames, size):
            open(os.path.join({str(pids)!r}, str(os.getpid())), "w").close()
            time.sleep(60)  # a long video
        cache.decode_module.decode_uniform = decode
        cache.build_cache({str(fixture.video_root)!r}, {str(fixture.split_dir)!r}, {str(tmp_path / "cache")!r},
                          frames={FRAMES}, size={SIZE}, workers=2, progress=False)
    """)
    build = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    workers: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            workers = [int(p.name) for p in pids.iterdir()]
        assert len(workers) == 2, "the workers did not start"
        build.kill()  # SIGKILL: the build cannot clean up
        build.wait()
        deadline = time.monotonic() + 5
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)], "workers outlived the killed build"
    finally:
        for pid in workers:  # only the workers this test started, by id
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_truncated_video_is_named_and_skipped(fixture, tmp_path):
    root = tmp_path / "data"
    short = write_fixture(
        root,
        classes=["ApplyEyeMakeup", "Hammering"],
        groups=2,
        frames=(60, 60),
        size=(60, 80),
        corrupt=False,
        missing=False,
    )
    victim = sorted(short.frames_of)[0]
    path = short.video_root / victim
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.8)])  # a download cut off at 80 %: about half the frames decode
    report = build_cache(
        short.video_root, short.split_dir, tmp_path / "cache", frames=FRAMES, size=SIZE, progress=False
    )
    assert list(report.errors) == [victim]
    assert report.errors[victim].startswith("truncated: decoded ")
    assert "of the 60 frames its header declares" in report.errors[victim]
    got, declared = report.short[victim]
    assert declared == 60 and got < 0.9 * declared
    assert victim in report.summary()
    assert open_cache(tmp_path / "cache").meta["short"][victim] == [got, declared]


def test_a_slightly_short_video_is_kept_and_named(fixture, tmp_path, monkeypatch):
    victim = sorted(fixture.frames_of)[2]
    real = cache_module.decode_module.declared_frames

    def one_more(path):  # the header announces one frame that does not decode (as packed MPEG-4 B-frames do)
        return real(path) + (1 if str(path).endswith(victim.split("/")[-1]) else 0)

    monkeypatch.setattr(cache_module.decode_module, "declared_frames", one_more)
    report = build_cache(fixture.video_root, fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False)
    assert not report.errors and report.cached == len(fixture.frames_of)
    assert report.short == {victim: (20, 21)}
    assert "kept although short" in report.summary() and victim in report.summary()


def test_a_kill_during_cache_creation_is_repaired_by_the_rerun(fixture, tmp_path, monkeypatch):
    real_save = np.save

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands for a kill between creating the cache's files

    monkeypatch.setattr(cache_module.np, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        build_cache(fixture.video_root, fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False)
    monkeypatch.setattr(cache_module.np, "save", real_save)
    report = build_cache(fixture.video_root, fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False)
    assert report.cached == len(fixture.frames_of) and not report.errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames.npy", "meta.json", "status.npy"]
    assert open_cache(tmp_path).status.tolist() == [1] * len(fixture.frames_of)


def test_a_creation_cut_off_by_an_older_version_is_repaired(fixture, tmp_path):
    build_cache(fixture.video_root, fixture.split_dir, tmp_path / "done", frames=FRAMES, size=SIZE, progress=False)
    meta = json.loads((tmp_path / "done" / "meta.json").read_text())
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "meta.json").write_text(json.dumps({**meta, "complete": False, "errors": {}}))  # meta.json came first
    report = build_cache(fixture.video_root, fixture.split_dir, broken, frames=FRAMES, size=SIZE, progress=False)
    assert report.cached == len(fixture.frames_of)
    np.testing.assert_array_equal(open_cache(broken).frames(), open_cache(tmp_path / "done").frames())


def test_a_damaged_cache_with_decoded_rows_is_never_recreated(fixture, tmp_path):
    build_cache(fixture.video_root, fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False)
    (tmp_path / "frames.npy").unlink()
    with pytest.raises(CacheMismatchError, match="videos were already recorded: the folder is damaged"):
        build_cache(fixture.video_root, fixture.split_dir, tmp_path, frames=FRAMES, size=SIZE, progress=False)
    assert (tmp_path / "status.npy").exists() and (tmp_path / "meta.json").exists()
