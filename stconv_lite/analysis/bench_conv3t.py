"""How much does generating the kernel cost? Conv3T vs nn.Conv3d, forward + backward, side by side.

The 3TConv paper reports training 3-4x slower than 3DConv. Here the whole kernel is generated with
one batched resampling per slice step and then a single ``conv3d`` runs, so the overhead is the
kernel generation alone, which is small next to convolving a batch of clips.

    python -m stconv_lite.analysis.bench_conv3t --device cuda --out bench_conv3t.json

Both layers are timed in alternation (A, B, A, B, ...) so that machine noise hits both alike; the
reported time is the median over repeats, the ratio is Conv3T / Conv3d.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from stconv_lite.ops.conv3t import Conv3T

__all__ = ["Case", "CPU_CASES", "GPU_CASES", "benchmark_case", "benchmark", "benchmark_models",
           "format_table"]


@dataclass(frozen=True)
class Case:
    """One layer shape: batch, channels in/out, clip (T, H, W), cubic kernel, stride."""

    name: str
    batch: int
    c_in: int
    c_out: int
    clip: tuple[int, int, int]
    kernel: int
    stride: int = 1


CPU_CASES = [
    Case("lenet conv1", 16, 1, 6, (30, 28, 28), 5),
    Case("lenet conv2", 16, 6, 16, (15, 14, 14), 5),
    Case("resnet18 layer1", 2, 64, 64, (8, 28, 28), 3),
    Case("resnet18 layer4", 2, 512, 512, (2, 7, 7), 3),
    Case("resnet18 layer4", 8, 512, 512, (2, 7, 7), 3),
]
GPU_CASES = [
    Case("lenet conv1", 64, 1, 6, (30, 28, 28), 5),
    Case("lenet conv2", 64, 6, 16, (15, 14, 14), 5),
    Case("resnet18 stem", 8, 3, 64, (16, 112, 112), 7, 2),
    Case("resnet18 layer1", 8, 64, 64, (8, 56, 56), 3),
    Case("resnet18 layer3", 8, 256, 256, (2, 14, 14), 3),
    Case("resnet18 layer4", 8, 512, 512, (1, 7, 7), 3),
]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step(layer: nn.Module, x: torch.Tensor) -> None:
    layer.zero_grad(set_to_none=True)
    x.grad = None
    layer(x).square().mean().backward()


def benchmark_case(case: Case, device: str | torch.device = "cpu", repeats: int = 10,
                   warmup: int = 2) -> dict:
    """Median forward+backward milliseconds of Conv3d and Conv3T for one shape, and their ratio."""
    device = torch.device(device)
    torch.manual_seed(0)
    options = dict(stride=case.stride, padding=case.kernel // 2, bias=False)
    layers = {
        "conv3d": nn.Conv3d(case.c_in, case.c_out, case.kernel, **options).to(device),
        "conv3t": Conv3T(case.c_in, case.c_out, case.kernel, **options).to(device),
    }
    with torch.no_grad():  # off the identity, as after training
        layers["conv3t"].rotation.normal_(0, 0.1)
        layers["conv3t"].tx.normal_(0, 0.1)
    x = torch.randn(case.batch, case.c_in, *case.clip, device=device, requires_grad=True)
    times: dict[str, list[float]] = {name: [] for name in layers}
    for i in range(warmup + repeats):
        for name, layer in layers.items():  # alternate so that noise hits both
            _sync(device)
            start = time.perf_counter()
            _step(layer, x)
            _sync(device)
            if i >= warmup:
                times[name].append(1000 * (time.perf_counter() - start))
    conv3d_ms = statistics.median(times["conv3d"])
    conv3t_ms = statistics.median(times["conv3t"])
    return {**asdict(case), "device": str(device), "conv3d_ms": conv3d_ms, "conv3t_ms": conv3t_ms,
            "ratio": conv3t_ms / conv3d_ms}


def benchmark(cases: list[Case] | None = None, device: str | torch.device = "cpu",
              repeats: int = 10, warmup: int = 2) -> list[dict]:
    """Run :func:`benchmark_case` for every case (default: the CPU or GPU list for ``device``)."""
    device = torch.device(device)
    if cases is None:
        cases = GPU_CASES if device.type == "cuda" else CPU_CASES
    return [benchmark_case(case, device, repeats, warmup) for case in cases]


def benchmark_models(names: tuple[str, str] = ("resnet18_3d", "resnet18_3t"),
                     clip: tuple[int, int, int, int, int] = (2, 3, 16, 64, 64),
                     device: str | torch.device = "cpu", repeats: int = 3, warmup: int = 1) -> dict:
    """Whole networks, forward+backward, alternated: the cost of one training step (no optimizer)."""
    from stconv_lite.models import create  # analysis may use models; ops may not

    device = torch.device(device)
    torch.manual_seed(0)
    models = {name: create(name, num_classes=27, in_channels=clip[1]).to(device) for name in names}
    x = torch.randn(*clip, device=device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + repeats):
        for name, model in models.items():
            model.zero_grad(set_to_none=True)
            _sync(device)
            start = time.perf_counter()
            model(x).square().mean().backward()
            _sync(device)
            if i >= warmup:
                times[name].append(1000 * (time.perf_counter() - start))
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {"clip": list(clip), "device": str(device), "ms": medians,
            "ratio": medians[names[1]] / medians[names[0]]}


def format_table(rows: list[dict]) -> str:
    """A plain-text table of benchmark rows."""
    lines = [f"{'layer':<16} {'B':>3} {'Cin':>4} {'Cout':>4} {'T x H x W':>12} {'k':>2} "
             f"{'conv3d ms':>10} {'conv3t ms':>10} {'ratio':>6}"]
    for r in rows:
        clip = "x".join(str(v) for v in r["clip"])
        lines.append(f"{r['name']:<16} {r['batch']:>3} {r['c_in']:>4} {r['c_out']:>4} {clip:>12} "
                     f"{r['kernel']:>2} {r['conv3d_ms']:>10.2f} {r['conv3t_ms']:>10.2f} "
                     f"{r['ratio']:>6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--cases", choices=("cpu", "gpu", "auto"), default="auto")
    parser.add_argument("--models", action="store_true",
                        help="also time whole ResNet-18s (3D vs 3T) on a batch of clips")
    parser.add_argument("--out", default=None, help="write the rows as JSON here")
    args = parser.parse_args(argv)
    cases = {"cpu": CPU_CASES, "gpu": GPU_CASES, "auto": None}[args.cases]
    rows = benchmark(cases, args.device, args.repeats, args.warmup)
    name = torch.cuda.get_device_name(0) if torch.device(args.device).type == "cuda" else "CPU"
    print(f"Conv3T vs nn.Conv3d, forward+backward, median of {args.repeats} ({name}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads)")
    print(format_table(rows))
    result = {"device": name, "torch": torch.__version__, "rows": rows}
    if args.models:
        on_gpu = torch.device(args.device).type == "cuda"
        clip = (8, 3, 30, 112, 112) if on_gpu else (2, 3, 16, 64, 64)
        result["models"] = benchmark_models(clip=clip, device=args.device)
        m = result["models"]
        print(f"resnet18_3d {m['ms']['resnet18_3d']:.1f} ms, resnet18_3t {m['ms']['resnet18_3t']:.1f} ms"
              f" on clips {tuple(clip)}: ratio {m['ratio']:.2f}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
    return rows


if __name__ == "__main__":
    main()
