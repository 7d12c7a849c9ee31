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
so a rerun of :func:`build_cache` with the same arguments continues with the rows still at 0. A
cache is never overwritten: a folder whose ``meta.json`` asks for something else (other T, size or
split files) is refused with the difference spelled out, and a folder holding a ``frames.npy``
without our ``meta.json`` is refused too.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stconv_lite.data.ucf101 import decode as decode_module
from stconv_lite.data.ucf101.splits import UCF101Splits, VideoIndex, load_splits

__all__ = ["CacheMismatchError", "CachedVideos", "BuildReport", "build_cache", "open_cache"]

FORMAT_VERSION = 1
PENDING, CACHED, FAILED = 0, 1, 2
_FLUSH_EVERY = 16


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

    def summary(self) -> str:
        lines = [f"cached {self.cached} of {self.total} videos in {self.cache_dir} ({self.decoded_now} decoded now)"]
        if self.errors:
            lines.append(f"{len(self.errors)} skipped:")
            lines += [f"  {name}: {message}" for name, message in sorted(self.errors.items())]
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
    differences = [f"{key}: cache has {meta.get(key)!r}, asked for {value!r}"
                   for key, value in wanted.items() if meta.get(key) != value]
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
    """Worker: decode one video; never raises, returns (row, clip or None, frames, error)."""
    row, path, relpath, frames, size = job
    if path is None:
        return row, None, 0, "missing: no such file under the video root (checked case-insensitively)"
    try:
        clip, available = decode_module.decode_uniform(path, frames, size)
    except decode_module.DecodeError as error:
        return row, None, 0, f"corrupt: {error}"
    return row, clip, available, None


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
        workers: decoding processes (0: in this process; ``os.cpu_count()`` on Colab).
        retry_failed: decode rows that failed in an earlier run again (e.g. after fixing a file).
        progress: show a tqdm bar.

    Returns:
        a :class:`BuildReport`; corrupt or missing videos are skipped and named in it, never fatal.

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

    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
        _check_matches(meta, wanted, cache_dir)
        clips = np.load(frames_path, mmap_mode="r+")
        status = np.load(status_path)
        if clips.shape != shape or status.shape != shape[:1]:
            raise CacheMismatchError(f"{cache_dir}: frames.npy {clips.shape} / status.npy {status.shape} do not fit "
                                     f"meta.json {shape}; the folder is damaged, rebuild it in a new folder")
    else:
        strays = [p.name for p in (frames_path, status_path) if p.exists()]
        if strays:
            raise CacheMismatchError(f"{cache_dir} holds {strays} but no meta.json: not a cache of ours, left untouched")
        meta = {**wanted, "classes": splits.classes, "videos": splits.videos, "labels": splits.labels.tolist(),
                "splits": {f"{fold}/{subset}": idx.tolist() for (fold, subset), idx in splits.indices.items()},
                "errors": {}, "source_frames": {}, "versions": _versions(), "complete": False}
        _write_json_atomic(meta, meta_path)  # first, so that the frames below are never orphans
        clips = np.lib.format.open_memmap(frames_path, mode="w+", dtype=np.uint8, shape=shape)
        status = np.zeros(shape[:1], dtype=np.uint8)
        _save_atomic(status, status_path)

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
        row, clip, available, error = result
        name = splits.videos[row]
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
            import multiprocessing

            with multiprocessing.get_context().Pool(workers) as pool:
                for result in pool.imap_unordered(_decode_job, jobs, chunksize=4):
                    record(result)
        else:
            for job in jobs:
                record(_decode_job(job))
    finally:  # an interruption (Ctrl-C, a lost runtime) keeps everything recorded so far
        meta["complete"] = bool((status != PENDING).all())
        flush()
        if bar is not None:
            bar.close()
    cached = int((status == CACHED).sum())
    return BuildReport(len(splits.videos), cached, decoded_now, dict(meta["errors"]), cache_dir)


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


def open_cache(cache_dir: str | Path, frames: int | None = None, size: tuple[int, int] | int | None = None,
               allow_incomplete: bool = False) -> CachedVideos:
    """Open a cache built by :func:`build_cache`, checking it is the one the caller expects.

    Raises:
        FileNotFoundError: no cache there.
        CacheMismatchError: other ``frames``/``size`` than requested, or a damaged folder.
        ValueError: the build has not finished (run it again to resume) unless ``allow_incomplete``.
    """
    cache_dir = Path(cache_dir)
    meta_path = cache_dir / "meta.json"
    if not meta_path.is_file():
        raise FileNotFoundError(f"no UCF101 cache in {cache_dir} (meta.json missing): run "
                                "`python -m stconv_lite.data.ucf101 prepare --root ... --cache ...` first")
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
        raise ValueError(f"the cache in {cache_dir} is unfinished ({pending} videos not yet decoded): run the same "
                         "prepare command again to resume, or pass allow_incomplete=True")
    return cache
