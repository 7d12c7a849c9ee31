"""Training throughput side by side: our R(2+1)D-18 vs torchvision's, and our cached data vs decoding.

Two ratios, each measured in one run with both contenders alternating (A, B, A, B, ...) so that
machine noise hits both alike:

1. **model**: training clips/s (forward, cross-entropy, backward, SGD step) of
   ``create("videoresnet18_2plus1d")`` (our builder; ``torchvision_compat=True`` gives the exact same layer
   widths as torchvision, the default uses the paper's ``M_i`` everywhere) against
   ``torchvision.models.video.r2plus1d_18``, same batch, same input, channels-last-3d, AMP on CUDA.
   Ratio = ours / torchvision (1.0 = as fast).
2. **data**: clips/s delivered by :class:`~stconv_lite.data.ucf101.UCF101Clips` over the
   decode-once cache (plus the per-batch augmentation) against decoding each clip's video on the
   fly with PyAV, which is what a loader without a cache does, on the same generated fixture.
   ``torchvision.datasets.UCF101`` is tried as well; it needs TorchCodec and a system FFmpeg, and
   where it cannot decode the report says why instead of inventing a number.

    python -m stconv_lite.analysis.bench_throughput --device cpu --out bench_throughput.json
    python -m stconv_lite.analysis.bench_throughput --device cuda      # full shape, records the GPU
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["benchmark_data", "benchmark_models", "main"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, amp: bool
) -> None:
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=amp):
        loss = F.cross_entropy(model(x).float(), y)
    loss.backward()
    optimizer.step()


def benchmark_models(
    device: str | torch.device = "cpu",
    batch: int = 2,
    clip: tuple[int, int, int] = (8, 56, 56),
    num_classes: int = 101,
    repeats: int = 5,
    warmup: int = 1,
) -> dict:
    """Median training-step time and clips/s of our videoresnet18_2plus1d variants and torchvision's."""
    import torchvision.models.video as tv_video

    from stconv_lite.models.registry import create

    device = torch.device(device)
    amp = device.type == "cuda"
    torch.manual_seed(0)
    models = {
        "ours (torchvision-compatible widths)": create(
            "videoresnet18_2plus1d", num_classes=num_classes, torchvision_compat=True
        ),
        "ours (paper M_i)": create("videoresnet18_2plus1d", num_classes=num_classes),
        "torchvision": tv_video.r2plus1d_18(num_classes=num_classes),
    }
    x = torch.randn(batch, 3, *clip, device=device).contiguous(memory_format=torch.channels_last_3d)
    y = torch.randint(0, num_classes, (batch,), device=device)
    optimizers = {}
    for name, model in models.items():
        model.to(device).to(memory_format=torch.channels_last_3d).train()
        optimizers[name] = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        for _ in range(warmup):
            _train_step(model, optimizers[name], x, y, amp)
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            _sync(device)
            began = time.perf_counter()
            _train_step(model, optimizers[name], x, y, amp)
            _sync(device)
            times[name].append(time.perf_counter() - began)
    rows = {}
    for name, model in models.items():
        median = statistics.median(times[name])
        rows[name] = {
            "seconds_per_step": median,
            "clips_per_s": batch / median,
            "parameters": sum(p.numel() for p in model.parameters()),
        }
    reference = rows["torchvision"]["clips_per_s"]
    for row in rows.values():
        row["ratio_vs_torchvision"] = row["clips_per_s"] / reference
    return {"batch": batch, "clip": list(clip), "amp": amp, "channels_last": True, "repeats": repeats, "models": rows}


class _DecodeOnTheFly(torch.utils.data.Dataset):
    """The no-cache baseline: every item decodes its whole video with PyAV and takes a random window."""

    def __init__(self, paths: list[Path], labels: list[int], frames: int, size: tuple[int, int], clip_len: int):
        self.paths, self.labels, self.frames, self.size, self.clip_len = paths, labels, frames, size, clip_len

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, item: int):
        from einops import rearrange

        from stconv_lite.data.ucf101.decode import decode_uniform

        clip, _ = decode_uniform(self.paths[item], self.frames, self.size)
        start = int(torch.randint(0, self.frames - self.clip_len + 1, ()).item())
        window = torch.from_numpy(clip[start : start + self.clip_len])
        return rearrange(window, "t h w c -> c t h w").contiguous(), self.labels[item]


def _clips_per_second(loader, passes: int, crop: int | None) -> float:
    from stconv_lite.data.augment import augment_clips

    count, began = 0, time.perf_counter()
    for _ in range(passes):
        for x, _ in loader:
            if crop is not None:
                augment_clips(x, crop)
            count += len(x)
    return count / (time.perf_counter() - began)


def _try_torchvision(fixture, frames: int) -> dict:
    try:
        import torchvision

        dataset = torchvision.datasets.UCF101(
            str(fixture.video_root),
            str(fixture.split_dir),
            frames_per_clip=frames,
            step_between_clips=frames,
            fold=1,
            train=True,
            output_format="TCHW",
        )
        began = time.perf_counter()
        count = sum(1 for _ in (dataset[i] for i in range(len(dataset))))
        return {"available": True, "clips_per_s": count / (time.perf_counter() - began)}
    except Exception as error:  # report any failure: this is a probe of someone else's stack
        lines = [line.strip() for line in str(error).splitlines() if line.strip()] or [""]
        reason = lines[-1] if lines[-1].startswith(type(error).__name__) else f"{type(error).__name__}: {lines[-1]}"
        return {"available": False, "reason": reason[:300]}


def benchmark_data(
    frames: int = 16,
    size: tuple[int, int] = (112, 112),
    clip_len: int = 8,
    crop: int = 96,
    passes: int = 3,
    batch: int = 4,
    video_size: tuple[int, int] = (240, 320),
    video_frames: tuple[int, int] = (48, 72),
    groups: int = 3,
    cached_epochs: int = 10,
    probe_torchvision: bool = True,
) -> dict:
    """clips/s of the cached dataset vs on-the-fly PyAV decoding (and torchvision if it can decode).

    The fixture's videos are UCF101-sized (320x240) but shorter (48-72 frames against UCF101's mean
    of about 187), so on real data decoding on the fly is slower still and the ratio larger. The
    cached side runs ``cached_epochs`` epochs per timing so that its few milliseconds are measurable.
    """
    from stconv_lite.data.ucf101 import UCF101Clips, build_cache
    from stconv_lite.data.ucf101.fixture import write_fixture
    from stconv_lite.data.ucf101.splits import VideoIndex, load_splits

    with tempfile.TemporaryDirectory() as folder:
        fixture = write_fixture(
            Path(folder) / "ucf", groups=groups, frames=video_frames, size=video_size, corrupt=False, missing=False
        )
        began = time.perf_counter()
        build_cache(
            fixture.video_root, fixture.split_dir, Path(folder) / "cache", frames=frames, size=size, progress=False
        )
        build_seconds = time.perf_counter() - began
        cached = UCF101Clips(Path(folder) / "cache", subset="train", clip_len=clip_len)
        splits, index = load_splits(fixture.split_dir), VideoIndex(fixture.video_root)
        rows = splits.subset(1, "train")
        raw = _DecodeOnTheFly(
            [index.resolve(splits.videos[r]) for r in rows], splits.labels[rows].tolist(), frames, size, clip_len
        )
        torch.manual_seed(0)
        make = lambda dataset: torch.utils.data.DataLoader(dataset, batch_size=batch, shuffle=True)  # noqa: E731
        speeds = {"cached": [], "decode_on_the_fly": []}
        for _ in range(passes):  # alternate, one pass each
            speeds["cached"].append(_clips_per_second(make(cached), cached_epochs, crop))
            speeds["decode_on_the_fly"].append(_clips_per_second(make(raw), 1, crop))
        torchvision_result = (
            _try_torchvision(fixture, clip_len)
            if probe_torchvision
            else {"available": False, "reason": "not probed (probe_torchvision=False)"}
        )
    result = {name: statistics.median(values) for name, values in speeds.items()}
    report = {
        "fixture": {"train_videos": len(cached), "video_size": list(video_size), "video_frames": list(video_frames)},
        "cache": {"frames": frames, "size": list(size), "build_seconds": build_seconds},
        "clip_len": clip_len,
        "crop": crop,
        "batch": batch,
        "num_workers": 0,
        "cached_clips_per_s": result["cached"],
        "decode_on_the_fly_clips_per_s": result["decode_on_the_fly"],
        "ratio_cached_vs_on_the_fly": result["cached"] / result["decode_on_the_fly"],
        "torchvision_ucf101": torchvision_result,
    }
    if torchvision_result.get("available"):
        report["ratio_cached_vs_torchvision"] = result["cached"] / torchvision_result["clips_per_s"]
    return report


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m stconv_lite.analysis.bench_throughput",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    parser.add_argument("--skip-data", action="store_true", help="only the model benchmark")
    parser.add_argument("--skip-models", action="store_true", help="only the data benchmark")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    results: dict = {"device": _device_name(device), "torch": torch.__version__}
    if not args.skip_models:
        if device.type == "cuda":
            results["models"] = benchmark_models(device, batch=16, clip=(16, 112, 112), repeats=10, warmup=3)
        else:
            results["models"] = benchmark_models(device)
        for name, row in results["models"]["models"].items():
            print(
                f"{name:38s} {row['clips_per_s']:8.2f} clips/s  ratio vs torchvision {row['ratio_vs_torchvision']:.3f}"
            )
    if not args.skip_data:
        results["data"] = benchmark_data()
        data = results["data"]
        print(
            f"cached dataset {data['cached_clips_per_s']:.1f} clips/s, decoding on the fly "
            f"{data['decode_on_the_fly_clips_per_s']:.1f} clips/s: ratio {data['ratio_cached_vs_on_the_fly']:.1f}"
        )
        tv = data["torchvision_ucf101"]
        print(
            "torchvision.datasets.UCF101: "
            + (
                f"{tv['clips_per_s']:.1f} clips/s, ratio {data['ratio_cached_vs_torchvision']:.1f}"
                if tv["available"]
                else f"cannot decode here ({tv['reason']})"
            )
        )
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
