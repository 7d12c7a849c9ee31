"""Command line: ``python -m stconv_lite.data.ucf101 prepare|download ...`` (``--help`` for each)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    if len(parts) not in (1, 2) or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"size must be N or HxW (e.g. 112 or 128x171); got {text!r}")
    return (int(parts[0]), int(parts[-1]))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m stconv_lite.data.ucf101",
        description="Prepare UCF101: download (Colab) and decode once into a cache.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    prepare = commands.add_parser("prepare", help="decode every listed video once into a uint8 cache (resumable)")
    prepare.add_argument(
        "--root",
        required=True,
        type=Path,
        help="the videos (UCF-101/ with class folders, a flat folder, or a folder above UCF-101/)",
    )
    prepare.add_argument(
        "--splits",
        type=Path,
        default=None,
        help="folder with classInd.txt and the lists (default: below --root, or ucfTrainTestlist/ beside it)",
    )
    prepare.add_argument("--cache", required=True, type=Path, help="cache folder (created; reruns resume it)")
    prepare.add_argument("--frames", type=int, default=16, help="frames per video, sampled uniformly (default 16)")
    prepare.add_argument("--size", type=_size, default=(112, 112), help="frame size N or HxW (default 112)")
    prepare.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="decoding processes (0: none)")
    prepare.add_argument("--retry-failed", action="store_true", help="decode videos that failed before again")
    prepare.add_argument("--no-progress", action="store_true", help="no progress bar")
    download = commands.add_parser("download", help="download and unpack UCF101 and its splits (needs network)")
    download.add_argument("--root", required=True, type=Path, help="where to put the archive and the videos")
    download.add_argument("--strict-tls", action="store_true", help="never retry without certificate verification")
    return parser


def _video_root(root: Path) -> Path:
    from stconv_lite.data.ucf101.download import find_video_root

    try:
        return find_video_root(root)
    except FileNotFoundError:
        return root


def _split_dir(root: Path, given: Path | None) -> Path:
    from stconv_lite.data.ucf101.splits import find_split_dir

    if given is not None:
        return find_split_dir(given)
    for near in (root.parent / "ucfTrainTestlist", root.parent):  # beside the videos, without walking the parent
        if (near / "classInd.txt").is_file():
            return near
    try:
        return find_split_dir(root)
    except FileNotFoundError:
        raise FileNotFoundError(f"no classInd.txt below {root} or beside it: pass --splits") from None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "download":
        from stconv_lite.data.ucf101.download import download_ucf101

        video_root, split_dir = download_ucf101(args.root, allow_insecure_fallback=not args.strict_tls)
        print(f"videos in {video_root}\nsplits in {split_dir}")
        return 0
    from stconv_lite.data.ucf101.cache import build_cache

    report = build_cache(
        _video_root(args.root),
        _split_dir(args.root, args.splits),
        args.cache,
        frames=args.frames,
        size=args.size,
        workers=args.workers,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
    )
    print(report.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
