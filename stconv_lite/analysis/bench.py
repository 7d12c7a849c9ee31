"""Every operator of the book side by side: time, parameters, FLOPs and memory on one shape.

Usage::

    python -m stconv_lite.analysis.bench --out book/benchmarks/ops_cpu.json   # CPU, 1 thread
    python -m stconv_lite.analysis.bench --keep-freed-memory --out book/benchmarks/ops_cpu_keep-freed-memory.json
    python -m stconv_lite.analysis.bench --device cuda --out book/benchmarks/ops_<gpu>.json

Each operator maps ``(B, C, T, H, W)`` to ``(B, C, T, H, W)`` with ``C -> C`` channels and a 3-tap
receptive field along every axis, so the numbers compare *how* they mix space and time, not how
much they compute per output. Times are forward + backward, the median of several repeats after
warm-up, measured in the same process with the operators interleaved (A, B, C, B, C, A, ...), and
reported as a ratio to the plain 3x3x3 ``nn.Conv3d`` beside the goal of issue 19: a ratio is
meaningful on any machine, an absolute time only on the one named in the output. Peak memory is measured on CUDA only (PyTorch's CPU allocator keeps no
statistics).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from stconv_lite.analysis.bench_common import GOALS, goal, interleaved_ms, run_card, verdict
from stconv_lite.analysis.complexity import count_flops, count_parameters
from stconv_lite.ops.allocator import keep_freed_memory
from stconv_lite.ops.conv3t import Conv3T
from stconv_lite.ops.ctconv import CTModule
from stconv_lite.ops.r2plus1d import Conv2Plus1d
from stconv_lite.ops.tadaconv import TAdaConvWithGenerator

GOAL_BASELINES = {"TAdaConv 3x3 + generator": "Conv3d 1x3x3 (2D per frame)"}


class _ConvolutionsOf2Plus1d(nn.Module):
    """The two convolutions of a (2+1)D block alone, as its fused CPU route runs them.

    No batch norm, no ReLU: channels-last 3D memory, the spatial conv as a 2D conv on the frames
    view and the temporal conv as a 2D conv on the columns view (both free views there). What is
    left of the (2+1)D row's time above this row is the block's element-wise work and layout changes.

    Shapes:
        x: (B, C, T, H, W) -> (B, C, T, H * W), channels-last
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        block = Conv2Plus1d(channels, channels, 3)
        self.spatial, self.temporal = block.spatial, block.temporal

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        frames = rearrange(x.contiguous(memory_format=torch.channels_last_3d), "b c t h w -> (b t) c h w")
        mid = F.conv2d(frames, rearrange(self.spatial.weight, "m c 1 kh kw -> m c kh kw"), None, 1, (1, 1))
        columns = rearrange(mid, "(b t) m h w -> b m t (h w)", b=x.shape[0])
        return F.conv2d(columns, rearrange(self.temporal.weight, "n m kt 1 1 -> n m kt 1"), None, 1, (1, 0))


def operators(channels: int) -> dict[str, Callable[[], nn.Module]]:
    """Name -> constructor of every operator, C -> C channels, same padding."""
    c = channels
    return {
        "Conv3d 3x3x3 (C3D)": lambda: nn.Conv3d(c, c, 3, padding=1, bias=False),
        "Conv3d 1x3x3 (2D per frame)": lambda: nn.Conv3d(c, c, (1, 3, 3), padding=(0, 1, 1), bias=False),
        "(2+1)D": lambda: Conv2Plus1d(c, c, 3),
        "(2+1)D, convolutions only": lambda: _ConvolutionsOf2Plus1d(c),
        "CSN (depthwise 3x3x3 + 1x1x1)": lambda: nn.Sequential(
            nn.Conv3d(c, c, 1, bias=False), nn.Conv3d(c, c, 3, padding=1, groups=c, bias=False)
        ),
        "3TConv 3x3x3": lambda: Conv3T(c, c, 3, padding=1, bias=False),
        "TAdaConv 3x3 + generator": lambda: TAdaConvWithGenerator(c, c, 3, padding=1, bias=False),
        "CT module (K=2, with TE)": lambda: CTModule(c),
        # Where the CT module's time goes (no goals): the same module without tensor excitation, and
        # with its convolutions alone (no TE, batch norm or ReLU). The gap between the rows is
        # element-wise work, which no FLOP count sees.
        "CT module, no TE": lambda: CTModule(c, excitation=False),
        "CT module, convolutions only": lambda: CTModule(c, excitation=False, norm=False, activation=False),
    }


def _step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        module.zero_grad(set_to_none=True)
        x.grad = None
        module(x).sum().backward()

    return step


def _peak_mib(module: nn.Module, x: torch.Tensor) -> float | None:
    """Peak CUDA memory of one forward + backward above what was allocated before (None on CPU)."""
    if not x.is_cuda:
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    _step(module, x)()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


def run(
    shape: tuple[int, int, int, int, int],
    device: str,
    repeats: int,
    warmup: int,
    channels_last: bool = False,
    malloc: str = "system default",
) -> dict:
    """Time every operator of :func:`operators`, interleaved, forward + backward, on one shape.

    ``channels_last`` stores the input (and every module) in ``torch.channels_last_3d``; ``malloc``
    names the allocator setting of this process for the run card (:mod:`stconv_lite.ops.allocator`).
    """
    device_ = torch.device(device)
    fmt = torch.channels_last_3d if channels_last else torch.contiguous_format
    x = torch.randn(shape, device=device_).to(memory_format=fmt).requires_grad_(True)
    modules = {}
    for name, build in operators(shape[1]).items():
        torch.manual_seed(0)
        module = build().to(device_).train()
        for parameter in module.parameters():  # 5D conv weights only: BN vectors have no such layout
            if parameter.dim() == 5:
                parameter.data = parameter.data.contiguous(memory_format=fmt)
        modules[name] = module
    peaks = {name: _peak_mib(module, x) for name, module in modules.items()}
    ms = interleaved_ms({name: _step(m, x) for name, m in modules.items()}, device_, repeats, warmup)
    baseline = ms["Conv3d 3x3x3 (C3D)"]
    rows = [
        {
            "operator": name,
            "ms": ms[name],
            "ratio": ms[name] / baseline,
            "goal": goal(name, device_),
            # the goal's own baseline where it is not the 3x3x3 conv (TAdaConv: the per-frame 2D conv)
            "goal_baseline": GOAL_BASELINES.get(name),
            "goal_ratio": ms[name] / ms[GOAL_BASELINES.get(name, "Conv3d 3x3x3 (C3D)")],
            "params": count_parameters(module),
            "gflops": count_flops(module, x.detach()) / 1e9,
            "peak_mib": peaks[name],
        }
        for name, module in modules.items()
    ]
    card = run_card(
        device_,
        shape=list(shape),
        repeats=repeats,
        warmup=warmup,
        channels_last=channels_last,
        malloc=malloc,
        timing="forward+backward, interleaved (order rotated every round), median",
    )
    return {**card, "rows": rows}


def table(result: dict) -> str:
    """A Markdown table of one run file, headed by the machine and the run card."""
    gpu = result.get("device_type", "cuda" if "NVIDIA" in result["device"] else "cpu") == "cuda"
    card = ", ".join(f"{key} {result[key]}" for key in ("date", "commit", "threads", "malloc") if result.get(key))
    lines = [
        f"**Machine: {result['device']}** (torch {result['torch']}{', ' + card if card else ''}); "
        f"input (B, C, T, H, W) = {tuple(result['shape'])}, forward + backward, median of "
        f"{result['repeats']}{', channels-last 3D' if result.get('channels_last') else ''}",
        "",
        "| operator | time ratio | goal | ms | params | GFLOPs (fwd) | peak MiB |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        peak = "—" if row.get("peak_mib") is None else f"{row['peak_mib']:.0f}"
        target = row.get("goal", GOALS.get(row["operator"], (None, None))[0 if gpu else 1])
        ratio, versus = row.get("goal_ratio", row["ratio"]), row.get("goal_baseline")
        met = (
            "—"
            if target is None
            else (f"≤ {target}{f' vs {versus}: {ratio:.2f}' if versus else ''} ({verdict(ratio, target)})")
        )
        lines.append(
            f"| {row['operator']} | {row['ratio']:.2f} | {met} | {row['ms']:.2f} | "
            f"{row['params']:,} | {row['gflops']:.3f} | {peak} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark every operator of the book side by side.")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--shape",
        type=int,
        nargs=5,
        metavar=("B", "C", "T", "H", "W"),
        help="default: 2 64 8 28 28 on CPU, 8 64 16 56 56 on CUDA",
    )
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=None, help="CPU threads (default 1: a shared machine gives steadier ratios)"
    )
    parser.add_argument("--channels-last", action="store_true", help="channels-last 3D input and weights")
    parser.add_argument(
        "--keep-freed-memory",
        action="store_true",
        help="CPU: let glibc keep freed memory (stconv_lite.ops.allocator; recorded in the run card)",
    )
    parser.add_argument("--out", type=Path, help="write the run file (JSON with run card) here")
    args = parser.parse_args(argv)
    cuda = args.device.startswith("cuda")
    if cuda and not torch.cuda.is_available():
        raise SystemExit("--device cuda asked for, but no CUDA device is visible")
    if not cuda:
        torch.set_num_threads(args.threads or 1)
    shape = tuple(args.shape) if args.shape else ((8, 64, 16, 56, 56) if cuda else (2, 64, 8, 28, 28))
    malloc = (keep_freed_memory() if args.keep_freed_memory else None) or "system default"
    result = run(shape, args.device, args.repeats or (20 if cuda else 7), args.warmup, args.channels_last, malloc)
    print(table(result))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
