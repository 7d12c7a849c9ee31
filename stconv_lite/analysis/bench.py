"""Every operator of the book side by side: time, parameters, FLOPs and memory on one shape.

Usage::

    python -m stconv_lite.analysis.bench                       # CPU, a small shape
    python -m stconv_lite.analysis.bench --device cuda --out book/benchmarks/ops_<gpu>.json

Each operator maps ``(B, C, T, H, W)`` to ``(B, C, T, H, W)`` with ``C -> C`` channels and a 3-tap
receptive field along every axis, so the numbers compare *how* they mix space and time, not how
much they compute per output. Times are forward + backward, the median of several repeats after
warm-up, measured in the same process one operator after the other, and reported as a ratio to the
plain 3x3x3 ``nn.Conv3d``: a ratio is meaningful on any machine, an absolute time only on the one
named in the output. Peak memory is measured on CUDA only (PyTorch's CPU allocator keeps no
statistics).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn

from stconv_lite.analysis.complexity import count_flops, count_parameters
from stconv_lite.ops.conv3t import Conv3T
from stconv_lite.ops.ctconv import CTModule
from stconv_lite.ops.r2plus1d import Conv2Plus1d
from stconv_lite.ops.tadaconv import TAdaConvWithGenerator


def operators(channels: int) -> dict[str, Callable[[], nn.Module]]:
    """Name -> constructor of every operator, C -> C channels, same padding."""
    c = channels
    return {
        "Conv3d 3x3x3 (C3D)": lambda: nn.Conv3d(c, c, 3, padding=1, bias=False),
        "Conv3d 1x3x3 (2D per frame)": lambda: nn.Conv3d(c, c, (1, 3, 3), padding=(0, 1, 1), bias=False),
        "(2+1)D": lambda: Conv2Plus1d(c, c, 3),
        "CSN (depthwise 3x3x3 + 1x1x1)": lambda: nn.Sequential(
            nn.Conv3d(c, c, 1, bias=False), nn.Conv3d(c, c, 3, padding=1, groups=c, bias=False)
        ),
        "3TConv 3x3x3": lambda: Conv3T(c, c, 3, padding=1, bias=False),
        "TAdaConv 3x3 + generator": lambda: TAdaConvWithGenerator(c, c, 3, padding=1, bias=False),
        "CT module (K=2, with TE)": lambda: CTModule(c),
    }


def _time(module: nn.Module, x: torch.Tensor, repeats: int, warmup: int) -> float:
    """Median seconds of one forward + backward pass."""
    def step():
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        if x.is_cuda:
            torch.cuda.synchronize()
        began = time.perf_counter()
        step()
        if x.is_cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def run(shape: tuple[int, int, int, int, int], device: str, repeats: int, warmup: int) -> dict:
    device_ = torch.device(device)
    x = torch.randn(shape, device=device_, requires_grad=True)
    rows = []
    for name, build in operators(shape[1]).items():
        torch.manual_seed(0)
        module = build().to(device_).train()
        if device_.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        seconds = _time(module, x, repeats, warmup)
        peak = (torch.cuda.max_memory_allocated() - base) / 2**20 if device_.type == "cuda" else None
        rows.append({
            "operator": name,
            "ms": seconds * 1e3,
            "params": count_parameters(module),
            "gflops": count_flops(module, x.detach()) / 1e9,
            "peak_mib": peak,
        })
    baseline = rows[0]["ms"]
    for row in rows:
        row["ratio"] = row["ms"] / baseline
    name = torch.cuda.get_device_name(device_) if device_.type == "cuda" else f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"
    return {"device": name, "torch": torch.__version__, "shape": list(shape), "repeats": repeats, "rows": rows}


def table(result: dict) -> str:
    lines = [f"{result['device']}, torch {result['torch']}, input (B, C, T, H, W) = {tuple(result['shape'])}, "
             f"forward+backward, median of {result['repeats']}",
             "| operator | time ratio | ms | params | GFLOPs (fwd) | peak MiB |", "|---|---:|---:|---:|---:|---:|"]
    for row in result["rows"]:
        peak = "—" if row["peak_mib"] is None else f"{row['peak_mib']:.0f}"
        lines.append(f"| {row['operator']} | {row['ratio']:.2f} | {row['ms']:.2f} | {row['params']:,} | "
                     f"{row['gflops']:.3f} | {peak} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark every operator of the book side by side.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--shape", type=int, nargs=5, metavar=("B", "C", "T", "H", "W"),
                        help="default: 2 64 8 28 28 on CPU, 8 64 16 56 56 on CUDA")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but no CUDA device is visible")
    shape = tuple(args.shape) if args.shape else ((8, 64, 16, 56, 56) if cuda else (2, 64, 8, 28, 28))
    result = run(shape, args.device, args.repeats or (20 if cuda else 5), args.warmup)
    print(table(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
