"""Decode every UCF101 video once into a uint8 memory-mapped cache that survives interruptions.

A cache folder holds::

    frames.npy   (N, T, H, W, 3) uint8   one row per video of the split files, classInd order
    status.npy   (N,) uint8              0 = not yet decoded, 1 = cached, 2 = failed (see meta errors)
                                         (small: rewritten whole and atomically at every flush)
    meta.json                            what was asked for (T, size, split fingerprint, classes,
                                         videos, split indices), versions, errors by file name

Why this shape: training then reads a clip with one memcpy from the page cache, whereas decoding
MPEG-4 on the fly costs far more CPU than a 2-core Colab VM has. A Colab disconnect costs at most the
last few videos (flushes happen every 16):
``status.npy`` is replaced (atomically) only *after* the rows it vouches for were flushed to disk,
so a rerun of :func:`build_cache` with the same arguments continues with the rows still at 0. The three
files are created under temporary names and renamed into place with ``meta.json`` last, so a kill
during creation leaves either a complete new cache or only temporary files, which the rerun removes;
a folder left by a creation that older versions did not finish (``meta.json`` without the others) is
repaired when none of its rows was decoded yet. A cache is never overwritten: a folder whose ``meta.json`` asks for something else (other T, size or
split files) is refused with the difference spelled out, and a folder holding a ``frames.npy``
without our ``meta.json`` is refused too.

Robustness of a long build (hours on Colab):

- decoding runs in a :class:`concurrent.futures.ProcessPoolExecutor`, which notices a worker that
  dies (a segfault in FFmpeg, the out-of-memory killer), unlike ``multiprocessing.Pool``, which waits
  for it forever. The videos that were in flight are then decoded again one by one, each in a fresh
  process, so the one that kills its process is named in the report ("crashed: ...") and skipped;
- every worker ends when the main process ends, even when that is killed (``SIGKILL``, a lost
  runtime): it asks Linux for a signal on its parent's death and also watches its parent id;
- a video that decodes to fewer frames than its header declares (a truncated download) is reported
  by name in :attr:`BuildReport.short`, and kept or skipped by :data:`MIN_DECODED_FRACTION`.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stconv_lite.data.ucf101 import decode as decode_module
from stconv_lite.data.ucf101.splits import UCF101Splits, VideoIndex, load_splits

__all__ = ["CacheMismatchError", "CachedVideos", "BuildReport", "build_cache", "open_cache", "MIN_DECODED_FRACTION"]

FORMAT_VERSION = 1
PENDING, CACHED, FAILED = 0, 1, 2
_FLUSH_EVERY = 16
_CACHE_FILES = ("frames.npy", "status.npy", "meta.json")

MIN_DECODED_FRACTION = 0.9
"""The keep/skip rule for short decodes. A video that decodes to fewer frames than its header
declares is named in :attr:`BuildReport.short` either way; it is **kept** (its cached frames are spread
over the frames that did decode) when at least this fraction decoded, and **skipped** as
"truncated" below it. MPEG-4 files often lose a frame or two at the end (packed B-frames), which is
harmless; a download cut off at 60 % of its bytes decodes about half of its frames, which is not."""


class CacheMismatchError(ValueError):
    """The cache folder was built for other settings (or is not a cache of ours)."""


@dataclass
class BuildReport:
    """What :func:`build_cache` did: ``cached`` of ``total`` rows are usable; ``errors`` by file."""

    total: int
    cached: int
    decoded_now: int
    errors: dict[str, str]
    cache_dir: Path
    short: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Videos that decoded to fewer frames than declared: name -> (decoded, declared), kept or not."""

    def summary(self) -> str:
        lines = [f"cached {self.cached} of {self.total} videos in {self.cache_dir} ({self.decoded_now} decoded now)"]
        if self.errors:
            lines.append(f"{len(self.errors)} skipped:")
            lines += [f"  {name}: {message}" for name, message in sorted(self.errors.items())]
        kept_short = {name: counts for name, counts in self.short.items() if name not in self.errors}
        if kept_short:
            lines.append(
                f"{len(kept_short)} kept although short (>= {MIN_DECODED_FRACTION:.0%} of the declared frames):"
            )
            lines += [
                f"  {name}: decoded {got} of {declared} frames" for name, (got, declared) in sorted(kept_short.items())
            ]
        return "\n".join(lines)


def _requested(splits: UCF101Splits, frames: int, size: tuple[int, int]) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "frames": int(frames),
        "size": [int(size[0]), int(size[1])],
        "interpolation": "bilinear",
        "splits_fingerprint": splits.fingerprint(),
    }


def _check_matches(meta: dict, wanted: dict, cache_dir: Path) -> None:
    differences = [
        f"{key}: cache has {meta.get(key)!r}, asked for {value!r}"
        for key, value in wanted.items()
        if meta.get(key) != value
    ]
    if differences:
        raise CacheMismatchError(
            f"the cache in {cache_dir} was built with other settings ({'; '.join(differences)}). "
            "It is left untouched: choose another cache folder, or delete this one yourself to rebuild."
        )


def _write_json_atomic(data: dict, path: Path) -> None:
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(data, indent=1))
    os.replace(temporary, path)  # a reader sees the old or the new file, never half of one


def _save_atomic(array: np.ndarray, path: Path) -> None:
    temporary = path.with_name(path.stem + ".tmp.npy")
    np.save(temporary, array)
    os.replace(temporary, path)


def _versions() -> dict[str, str]:
    import av

    return {"python": sys.version.split()[0], "numpy": np.__version__, "av": av.__version__}


def _decode_job(job: tuple[int, str | None, str, int, tuple[int, int]]):
    """Worker: decode one video; never raises, returns (row, clip or None, decoded, declared, error)."""
    row, path, relpath, frames, size = job
    if path is None:
        return row, None, 0, 0, "missing: no such file under the video root (checked case-insensitively)"
    try:
        clip, available = decode_module.decode_uniform(path, frames, size)
    except decode_module.DecodeError as error:
        return row, None, 0, 0, f"corrupt: {error}"
    declared = decode_module.declared_frames(path)
    if declared and available < MIN_DECODED_FRACTION * declared:
        return (
            row,
            None,
            available,
            declared,
            (
                f"truncated: decoded {available} of the {declared} frames its header declares "
                f"(< {MIN_DECODED_FRACTION:.0%}; the file is probably cut off: download it again, then build with "
                "retry_failed=True)"
            ),
        )
    return row, clip, available, declared, None


def _end_with_parent(parent: int) -> None:
    """Worker initialiser: this process ends when the build's main process ``parent`` does.

    A killed main process (SIGKILL, a lost runtime) cannot tell its workers to stop, and they do
    not notice by themselves. Linux can send a signal on the parent's death (``PR_SET_PDEATHSIG``);
    a thread watching the parent id covers other systems and a parent thread that exits first.
    """
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (AttributeError, OSError):  # not Linux
        pass
    if os.getppid() != parent:  # died before the request above took effect
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="end-with-parent", daemon=True).start()


_CRASHED = (
    "crashed: the decoding process died on this video (e.g. a segfault in FFmpeg, or the out-of-memory "
    "killer); skipped. Check the file, then build with retry_failed=True"
)


def _decode_in_pool(jobs: list, workers: int, record) -> None:
    """Decode ``jobs`` in ``workers`` processes, calling ``record(result)`` for each, crash-proof.

    When a worker dies the pool is broken: every video in flight is suspect. Each suspect is then
    decoded alone in a fresh one-process pool, so the video that kills its process is recorded as
    crashed and skipped, and the others go on in a new pool.
    """
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context()

    def pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=context, initializer=_end_with_parent, initargs=(os.getpid(),))

    pending, suspects = list(reversed(jobs)), []
    while pending or suspects:
        if suspects:
            job = suspects.pop()
            alone = pool(1)
            try:
                record(alone.submit(_decode_job, job).result())
            except BrokenProcessPool:
                record((job[0], None, 0, 0, _CRASHED))
            finally:
                alone.shutdown(wait=True, cancel_futures=True)
            continue
        executor, in_flight = pool(workers), {}
        try:
            while pending or in_flight:
                while pending and len(in_flight) < 2 * workers:  # a few queued per worker, not all at once
                    job = pending.pop()
                    in_flight[executor.submit(_decode_job, job)] = job
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    result = future.result()  # raises BrokenProcessPool if a worker died
                    del in_flight[future]
                    record(result)
        except BrokenProcessPool:
            suspects.extend(in_flight.values())
        finally:
            executor.shutdown(wait=True, cancel_futures=True)


def _progress(total: int, initial: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, initial=initial, desc="decoding UCF101", unit="video")


def build_cache(
    video_root: str | Path,
    split_dir: str | Path,
    cache_dir: str | Path,
    frames: int = 16,
    size: tuple[int, int] | int = 112,
    workers: int = 0,
    retry_failed: bool = False,
    progress: bool = True,
) -> BuildReport:
    """Decode every video of the split files once into ``cache_dir`` (resuming a partial build).

    Args:
        video_root: the unpacked videos (``.../UCF-101`` with class folders, or a flat folder).
        split_dir: the folder with classInd.txt and the lists (or a folder above it).
        cache_dir: where the cache lives (created; a local disk, not a mounted Drive, is fastest).
        frames, size: ``T`` uniformly sampled frames of ``size = (H, W)`` (an int means square).
        workers: decoding processes (0: in this process; ``os.cpu_count()`` on Colab). A worker that
            dies is detected; its video is reported as crashed and skipped.
        retry_failed: decode rows that failed in an earlier run again (e.g. after fixing a file).
        progress: show a tqdm bar.

    Returns:
        a :class:`BuildReport`; corrupt, missing, truncated (see :data:`MIN_DECODED_FRACTION`) or
        crashing videos are skipped and named in it, never fatal.

    Raises:
        CacheMismatchError: ``cache_dir`` holds a cache built with other settings, or files that
            are not ours; nothing in it is changed.
    """
    size = (size, size) if isinstance(size, int) else tuple(size)
    if frames < 1 or len(size) != 2 or min(size) < 1:
        raise ValueError(f"frames must be >= 1 and size (H, W) positive; got frames={frames}, size={size}")
    splits = load_splits(split_dir)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta_path, frames_path, status_path = cache_dir / "meta.json", cache_dir / "frames.npy", cache_dir / "status.npy"
    wanted = _requested(splits, frames, size)
    shape = (len(splits.videos), frames, size[0], size[1], 3)

    _remove_creation_leftovers(cache_dir)
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        _check_matches(meta, wanted, cache_dir)
        clips, status = _open_or_repair(cache_dir, meta, shape)
    else:
        strays = [p.name for p in (frames_path, status_path) if p.exists()]
        if strays:
            raise CacheMismatchError(
                f"{cache_dir} holds {strays} but no meta.json: not a cache of ours, left untouched"
            )
        meta = {
            **wanted,
            "classes": splits.classes,
            "videos": splits.videos,
            "labels": splits.labels.tolist(),
            "splits": {f"{fold}/{subset}": idx.tolist() for (fold, subset), idx in splits.indices.items()},
            "errors": {},
            "source_frames": {},
            "short": {},
            "versions": _versions(),
            "complete": False,
        }
        clips, status = _create(cache_dir, meta, shape)
    meta.setdefault("short", {})

    todo_states = (PENDING, FAILED) if retry_failed else (PENDING,)
    todo = [row for row in range(len(splits.videos)) if status[row] in todo_states]
    index = VideoIndex(video_root) if todo else None
    jobs = []
    for row in todo:
        found = index.resolve(splits.videos[row])
        jobs.append((row, None if found is None else str(found), splits.videos[row], frames, size))

    bar = _progress(len(splits.videos), len(splits.videos) - len(todo), progress and bool(todo))
    decoded_now, since_flush = 0, 0

    def flush() -> None:
        clips.flush()  # the rows first: a status flag must never vouch for a row not on disk
        _save_atomic(status, status_path)
        _write_json_atomic(meta, meta_path)

    def record(result) -> None:
        nonlocal decoded_now, since_flush
        row, clip, available, declared, error = result
        name = splits.videos[row]
        if declared and available < declared:
            meta["short"][name] = [available, declared]
        else:
            meta["short"].pop(name, None)
        if error is None:
            clips[row] = clip
            status[row] = CACHED
            meta["errors"].pop(name, None)
            meta["source_frames"][name] = available
            decoded_now += 1
        else:
            status[row] = FAILED
            meta["errors"][name] = error
        since_flush += 1
        if since_flush >= _FLUSH_EVERY:
            flush()
            since_flush = 0
        if bar is not None:
            bar.update(1)

    try:
        if workers and workers > 0 and len(jobs) > 1:
            _decode_in_pool(jobs, workers, record)
        else:
            for job in jobs:
                record(_decode_job(job))
    finally:  # an interruption (Ctrl-C, a lost runtime) keeps everything recorded so far
        meta["complete"] = bool((status != PENDING).all())
        flush()
        if bar is not None:
            bar.close()
    cached = int((status == CACHED).sum())
    short = {name: (got, declared) for name, (got, declared) in meta["short"].items()}
    return BuildReport(len(splits.videos), cached, decoded_now, dict(meta["errors"]), cache_dir, short)


def _creating(name: str) -> str:
    """The temporary name of a cache file while the cache is being created (ours by its name)."""
    stem, suffix = name.split(".")
    return f".{stem}.creating.{suffix}"


def _remove_creation_leftovers(cache_dir: Path) -> None:
    """Remove what a creation killed before its last rename left (temporary files only).

    ``meta.json`` is renamed into place last; while its temporary file is still there, the creation
    did not finish and any ``frames.npy``/``status.npy`` beside it are ours and empty of results.
    """
    unfinished = (cache_dir / _creating("meta.json")).exists() and not (cache_dir / "meta.json").exists()
    for name in _CACHE_FILES:
        (cache_dir / _creating(name)).unlink(missing_ok=True)
        if unfinished and name != "meta.json":
            (cache_dir / name).unlink(missing_ok=True)


def _create(cache_dir: Path, meta: dict, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Create the three cache files under temporary names, then rename them, ``meta.json`` last.

    A kill at any point leaves either the finished files or temporary ones that the next run
    removes (:func:`_remove_creation_leftovers`); never a ``meta.json`` without its arrays.
    """
    temporary = {name: cache_dir / _creating(name) for name in _CACHE_FILES}
    clips = np.lib.format.open_memmap(temporary["frames.npy"], mode="w+", dtype=np.uint8, shape=shape)
    clips.flush()
    del clips
    np.save(temporary["status.npy"], np.zeros(shape[:1], dtype=np.uint8))
    temporary["meta.json"].write_text(json.dumps(meta, indent=1))
    for name in _CACHE_FILES:  # meta.json last: its presence says the other two are complete
        os.replace(temporary[name], cache_dir / name)
    return np.load(cache_dir / "frames.npy", mmap_mode="r+"), np.load(cache_dir / "status.npy")


def _open_or_repair(cache_dir: Path, meta: dict, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Open an existing cache's arrays; recreate them if a creation was cut off before any decoding.

    Older versions wrote ``meta.json`` first, so a kill during creation left it without (complete)
    arrays. Nothing was decoded then (``status.npy`` vouches for decoded rows and is rewritten only
    after them), so recreating the arrays loses nothing. A cache with decoded rows is never recreated.
    """
    frames_path, status_path = cache_dir / "frames.npy", cache_dir / "status.npy"
    problem = None
    try:
        status = np.load(status_path)
    except (OSError, ValueError, EOFError) as error:
        status, problem = None, f"status.npy unreadable ({type(error).__name__})"
    try:
        clips = np.load(frames_path, mmap_mode="r+")
    except (OSError, ValueError, EOFError) as error:
        clips, problem = None, f"frames.npy unreadable ({type(error).__name__})"
    if problem is None and (clips.shape != shape or status.shape != shape[:1]):
        problem = f"frames.npy {clips.shape} / status.npy {status.shape} do not fit meta.json {shape}"
    if problem is None:
        return clips, status
    if status is not None and status.shape == shape[:1] and (status != PENDING).any():
        raise CacheMismatchError(
            f"{cache_dir}: {problem}, and {int((status != PENDING).sum())} videos were already "
            "recorded: the folder is damaged. It is left untouched; rebuild in a new folder"
        )
    print(
        f"repairing the unfinished creation of the cache in {cache_dir} ({problem}; nothing was decoded yet)",
        file=sys.stderr,
    )
    del clips
    for name in ("frames.npy", "status.npy"):
        (cache_dir / name).unlink(missing_ok=True)
    meta.update(errors={}, source_frames={}, short={}, complete=False)
    (cache_dir / "meta.json").unlink()
    return _create(cache_dir, meta, shape)


@dataclass
class CachedVideos:
    """A finished cache, opened read-only: ``frames`` is a memmap; use rows with ``status == 1``."""

    cache_dir: Path
    meta: dict

    @property
    def classes(self) -> list[str]:
        return self.meta["classes"]

    @property
    def videos(self) -> list[str]:
        return self.meta["videos"]

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.meta["labels"], dtype=np.int64)

    @property
    def status(self) -> np.ndarray:
        return np.load(self.cache_dir / "status.npy")

    def frames(self) -> np.ndarray:
        """The ``(N, T, H, W, 3)`` uint8 memmap (opened per call: cheap, and fork/spawn safe)."""
        return np.load(self.cache_dir / "frames.npy", mmap_mode="r")

    def split(self, fold: int, subset: str) -> np.ndarray:
        key = f"{fold}/{subset}"
        if key not in self.meta["splits"]:
            raise ValueError(f"split {key!r} is not in this cache; it has {sorted(self.meta['splits'])}")
        return np.asarray(self.meta["splits"][key], dtype=np.int64)


def open_cache(
    cache_dir: str | Path,
    frames: int | None = None,
    size: tuple[int, int] | int | None = None,
    allow_incomplete: bool = False,
) -> CachedVideos:
    """Open a cache built by :func:`build_cache`, checking it is the one the caller expects.

    Raises:
        FileNotFoundError: no cache there.
        CacheMismatchError: other ``frames``/``size`` than requested, or a damaged folder.
        ValueError: the build has not finished (run it again to resume) unless ``allow_incomplete``.
    """
    cache_dir = Path(cache_dir)
    meta_path = cache_dir / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"no UCF101 cache in {cache_dir} (meta.json missing): run "
            "`python -m stconv_lite.data.ucf101 prepare --root ... --cache ...` first"
        )
    meta = json.loads(meta_path.read_text())
    wanted: dict = {"format_version": FORMAT_VERSION}
    if frames is not None:
        wanted["frames"] = int(frames)
    if size is not None:
        size = (size, size) if isinstance(size, int) else tuple(size)
        wanted["size"] = [int(size[0]), int(size[1])]
    _check_matches(meta, wanted, cache_dir)
    cache = CachedVideos(cache_dir, meta)
    expected = (len(meta["videos"]), meta["frames"], *meta["size"], 3)
    if cache.frames().shape != expected:
        raise CacheMismatchError(f"{cache_dir}/frames.npy has shape {cache.frames().shape}; meta.json says {expected}")
    if not meta.get("complete") and not allow_incomplete:
        pending = int((cache.status == PENDING).sum())
        raise ValueError(
            f"the cache in {cache_dir} is unfinished ({pending} videos not yet decoded): run the same "
            "prepare command again to resume, or pass allow_incomplete=True"
        )
    return cache
