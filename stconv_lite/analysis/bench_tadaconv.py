r"""What does temporal adaptivity cost? TAdaConv vs a plain 2D conv on all frames, side by side.

Four ways to compute one layer, forward + backward, timed in alternation so that machine noise hits
all alike (median over repeats):

* ``conv2d``: ``nn.Conv2d`` on all frames at once (``(b t)`` batched) -- the baseline, ratio 1;
* ``tadaconv``: :class:`~stconv_lite.ops.tadaconv.TAdaConv2d` with a given $\alpha$ (input scaling +
  one batched conv);
* ``tadaconv+G``: the same plus its calibration generator (what a TAda2D block pays);
* ``grouped``: the authors' formulation, $B \cdot T$ calibrated kernels in one grouped conv;
* ``per-frame loop``: eq. (3) literally, a Python loop over clips and frames.

    python -m stconv_lite.analysis.bench_tadaconv --device cuda --out bench_tadaconv.json

:func:`table1_costs` evaluates the parameter and FLOP formulas of table 1 of the TAdaConv paper
(multiply-adds, which the paper calls FLOPs); :func:`measured_macs` counts the same layers with
PyTorch's flop counter for comparison.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from einops import rearrange

from stconv_lite.analysis.complexity import count_macs
from stconv_lite.ops.r2plus1d import Conv2Plus1d
from stconv_lite.ops.tadaconv import TAdaConvWithGenerator, tadaconv2d_grouped, tadaconv2d_per_frame

__all__ = [
    "Case",
    "CPU_CASES",
    "GPU_CASES",
    "benchmark_case",
    "benchmark",
    "format_table",
    "table1_costs",
    "measured_macs",
]


@dataclass(frozen=True)
class Case:
    """One 3x3 layer: batch, channels (in = out), clip (T, H, W), stride."""

    name: str
    batch: int
    channels: int
    clip: tuple[int, int, int]
    stride: int = 1


CPU_CASES = [
    Case("small res2", 4, 16, (8, 28, 28)),
    Case("R50 res3", 2, 128, (8, 28, 28)),
    Case("R50 res5", 4, 512, (8, 7, 7)),
]
GPU_CASES = [
    Case("R50 res2", 8, 64, (8, 56, 56)),
    Case("R50 res3", 8, 128, (8, 28, 28)),
    Case("R50 res4", 8, 256, (8, 14, 14)),
    Case("R50 res5", 8, 512, (8, 7, 7)),
    Case("R50 res3 16f", 8, 128, (16, 28, 28)),
]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _methods(case: Case, device: torch.device, loop: bool) -> dict:
    c, s = case.channels, case.stride
    conv2d = nn.Conv2d(c, c, 3, s, 1, bias=False).to(device)
    layer = TAdaConvWithGenerator(c, c, 3, stride=s, padding=1, bias=False).to(device)
    nn.init.normal_(layer.generator.expand.weight, std=0.01)  # a trained-like, non-trivial alpha
    alpha = (1 + 0.1 * torch.randn(case.batch, c, case.clip[0], device=device)).requires_grad_()

    def frames2d(x):
        out = conv2d(rearrange(x, "b c t h w -> (b t) c h w"))
        return rearrange(out, "(b t) c h w -> b c t h w", b=x.shape[0])

    methods = {
        "conv2d": frames2d,
        "tadaconv": lambda x: layer.conv(x, alpha),
        "tadaconv+G": layer,
        "grouped": lambda x: tadaconv2d_grouped(layer.conv, x, alpha),
    }
    if loop:
        methods["per-frame loop"] = lambda x: tadaconv2d_per_frame(layer.conv, x, alpha)
    return methods


def benchmark_case(
    case: Case, device: str | torch.device = "cpu", repeats: int = 10, warmup: int = 2, loop: bool = True
) -> dict:
    """Median forward+backward milliseconds of every method for one shape, and ratios to ``conv2d``."""
    device = torch.device(device)
    torch.manual_seed(0)
    methods = _methods(case, device, loop)
    x = torch.randn(case.batch, case.channels, *case.clip, device=device, requires_grad=True)
    times: dict[str, list[float]] = {name: [] for name in methods}
    for repeat in range(warmup + repeats):
        for name, run in methods.items():
            _sync(device)
            start = time.perf_counter()
            run(x).square().mean().backward()
            _sync(device)
            if repeat >= warmup:
                times[name].append(1000 * (time.perf_counter() - start))
    ms = {name: statistics.median(values) for name, values in times.items()}
    return {
        "case": asdict(case),
        "device": str(device),
        "ms": ms,
        "ratio": {name: ms[name] / ms["conv2d"] for name in ms},
    }


def benchmark(cases: list[Case], device: str = "cpu", repeats: int = 10, loop: bool = True) -> list[dict]:
    """:func:`benchmark_case` for each case."""
    return [benchmark_case(case, device, repeats, loop=loop) for case in cases]


def format_table(results: list[dict]) -> str:
    """A plain-text table: one row per case, ms and ratio to conv2d per method."""
    names = list(results[0]["ms"])
    lines = ["case                 shape (B,C,T,H,W)        " + "  ".join(f"{n:>22}" for n in names)]
    for result in results:
        c = result["case"]
        shape = f"({c['batch']},{c['channels']},{','.join(map(str, c['clip']))})"
        cells = "  ".join(f"{result['ms'][n]:9.2f} ms ({result['ratio'][n]:5.2f}x)" for n in names)
        lines.append(f"{c['name']:<20} {shape:<24} {cells}")
    return "\n".join(lines)


def table1_costs(c_out: int, c_in: int, k: int, t: int, h: int, w: int, r: int) -> dict[str, dict[str, int]]:
    """Parameters and multiply-adds of table 1 of the TAdaConv paper, exactly as printed."""
    thw = t * h * w
    return {
        "spatial conv": {"params": c_out * c_in * k**2, "flops": c_out * c_in * k**2 * thw},
        "temporal conv": {"params": c_out * c_in * k, "flops": c_out * c_in * k * thw},
        "(2+1)D conv": {"params": c_out * c_in * (k**2 + k), "flops": c_out * c_in * (k**2 + k) * thw},
        "3D conv": {"params": c_out * c_in * k**3, "flops": c_out * c_in * k**3 * thw},
        "TAdaConv": {
            "params": c_out * c_in * k**2 + 2 * c_in * (c_in // r) * k,
            "flops": c_out * c_in * k**2 * thw + c_in * thw + 2 * c_in * (c_in // r) * k * t + c_out * c_in * k**2 * t,
        },
    }


def measured_macs(c_out: int, c_in: int, k: int, t: int, h: int, w: int, r: int) -> dict[str, int]:
    """Multiply-adds of our layers on one clip, by PyTorch's flop counter (convolutions only)."""
    with torch.device("meta"):
        x = torch.randn(1, c_in, t, h, w)
        conv = nn.Conv3d(c_in, c_out, (1, k, k), padding=(0, k // 2, k // 2), bias=False)
        r21 = Conv2Plus1d(c_in, c_out, (k, k, k), padding=(k // 2, k // 2, k // 2), mid_channels=c_out)
        tada = TAdaConvWithGenerator(c_in, c_out, k, padding=k // 2, bias=False, reduction=r)
        return {
            "spatial conv": count_macs(conv, x),
            "(2+1)D conv": count_macs(nn.Sequential(r21[0], r21[3]), x),  # the convs only, as in table 1
            "TAdaConv": count_macs(tada, x),
            "TAdaConv generator": count_macs(tada.generator, x),
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-loop", action="store_true", help="skip the slow per-frame loop")
    parser.add_argument("--tiny", action="store_true", help="one tiny case: a smoke test, not a measurement")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default 1)")
    parser.add_argument("--out", help="write the results as JSON (with a run card) here")
    args = parser.parse_args(argv)
    on_gpu = args.device.startswith("cuda")
    if not on_gpu:
        torch.set_num_threads(args.threads or 1)
    cases = GPU_CASES if on_gpu else CPU_CASES
    if args.tiny:
        cases = [Case("tiny", 1, 8, (4, 8, 8))]
    results = benchmark(cases, args.device, args.repeats, loop=not args.no_loop)
    print(format_table(results))
    if args.out:
        from stconv_lite.analysis.bench_common import run_card

        with open(args.out, "w") as handle:
            json.dump({**run_card(args.device, repeats=args.repeats), "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()
