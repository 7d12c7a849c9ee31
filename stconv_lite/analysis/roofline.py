r"""Why fewer FLOPs is not faster: a roofline, measured on the machine that runs the code.

A kernel that performs $F$ floating-point operations and moves $Q$ bytes to and from memory has the
*arithmetic intensity* $I = F / Q$ (FLOP per byte). On a machine whose arithmetic peak is $P$ FLOP/s
and whose memory bandwidth is $B$ byte/s, it cannot run faster than

$$\text{attainable}(I) = \min(P,\; I \cdot B),$$

the *roofline* (Williams, Waterman and Patterson, 2009). Left of the ridge point $I^* = P / B$ a
kernel is memory-bound: halving its FLOPs does not halve its time, because the bytes it moves stay.
A depthwise 3x3x3 conv (CSN), a grouped conv (CT-Net's tensor-separable convs), BatchNorm, ReLU and
the gates of an excitation do few FLOPs per byte; a dense 3x3x3 conv does many.

Everything here is measured, nothing is taken from a data sheet:

- :func:`peak_flops`: the achievable arithmetic peak, from a large float32 matrix product;
- :func:`peak_bandwidth`: the achievable memory bandwidth, from a large copy (read + write);
- :func:`profile`: one training step of a module (forward and backward): FLOPs counted by PyTorch
  (:mod:`stconv_lite.analysis.complexity`'s convention: 1 multiply-add = 2 FLOPs, only convolutions
  and matrix products count), bytes moved and the number of operators launched (counted by
  :class:`TrafficCounter`), and the fastest wall time of a few repeats;
- :func:`point`: where the module sits under the roofline (intensity, achieved FLOP/s, the bound,
  the fraction of the bound reached).

*Bytes moved* is a model, stated so that it can be checked: every operator reads each tensor it is
given and writes each tensor it returns, once (views move nothing). That is the traffic when
nothing stays in cache between two operators, which is what happens to activations of video size.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn as nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

__all__ = ["peak_flops", "peak_bandwidth", "TrafficCounter", "profile", "point", "ridge"]


def _timed(step: Callable[[], object], device: torch.device, repeats: int, warmup: int = 1) -> float:
    """The fastest wall time of ``step()`` over ``repeats`` runs (after ``warmup`` runs).

    The fastest, not the mean: other processes on a shared machine only ever *add* time, so the
    minimum is the best estimate of what the hardware does (for the peaks and the modules alike).
    """
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = []
    for _ in range(repeats):
        began = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # GPU kernels run asynchronously: wait before reading the clock
        seconds.append(time.perf_counter() - began)
    return min(seconds)


def peak_flops(device: torch.device | str = "cpu", n: int = 1024, repeats: int = 3) -> float:
    """Achievable float32 FLOP/s: an ``n x n`` by ``n x n`` matrix product does ``2 n^3`` FLOPs.

    A large matmul is the most compute-bound kernel a library has, so its rate is the practical
    ceiling for everything else on this device (at the current thread count).
    """
    device = torch.device(device)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return 2 * n**3 / _timed(lambda: a @ b, device, repeats)


def peak_bandwidth(device: torch.device | str = "cpu", megabytes: int = 64, repeats: int = 3) -> float:
    """Achievable bytes/s: copying a buffer of ``megabytes`` reads it once and writes it once.

    The buffer must be much larger than the last-level cache, or the copy measures the cache.
    """
    device = torch.device(device)
    source = torch.randn(megabytes * 2**20 // 4, device=device)
    target = torch.empty_like(source)
    return 2 * source.numel() * 4 / _timed(lambda: target.copy_(source), device, repeats)


def ridge(peak_flops_per_second: float, bytes_per_second: float) -> float:
    """The intensity (FLOP/byte) where the memory roof meets the compute roof: below it, memory-bound."""
    return peak_flops_per_second / bytes_per_second


def _is_view(func) -> bool:
    """A view shares its input's storage (``alias_info`` without a write): it moves no bytes."""
    returns = func._schema.returns
    return bool(returns) and returns[0].alias_info is not None and not returns[0].alias_info.is_write


class TrafficCounter(TorchDispatchMode):
    """Counts, for every operator that runs inside it, the bytes of its tensor inputs and outputs.

    ``bytes`` sums them (reads + writes, the model of the module docstring); ``ops`` counts the
    operators that moved data (a proxy for kernel launches: each one pays a fixed overhead).
    """

    def __init__(self) -> None:
        super().__init__()
        self.bytes, self.ops = 0, 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if not _is_view(func):
            tensors = [
                t for t in tree_flatten((args, kwargs or {}))[0] + tree_flatten(out)[0] if isinstance(t, torch.Tensor)
            ]
            moved = sum(t.numel() * t.element_size() for t in tensors)
            if moved:
                self.bytes += moved
                self.ops += 1
        return out


def _training_step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    """Forward and backward through ``module`` (what one training step costs it), gradients dropped."""
    grad = None

    def step() -> None:
        nonlocal grad
        out = module(x)
        if grad is None:
            grad = torch.randn_like(out)  # a fixed upstream gradient, so no loss kernel is timed
        out.backward(grad)
        module.zero_grad(set_to_none=True)
        x.grad = None

    return step


def profile(module: nn.Module, x: torch.Tensor, repeats: int = 5) -> dict:
    """FLOPs, bytes moved, operators launched and seconds of one training step of ``module``.

    The input requires a gradient, as an operator in the middle of a network does (its backward
    then computes the gradient of its input as well as of its weights).

    Shapes:
        x: whatever ``module`` takes, e.g. (B, C, T, H, W), on the module's device.
    Returns:
        ``{"flops", "bytes", "ops", "seconds"}`` (FLOPs of forward and backward together).
    """
    module.train()
    x = x.detach().requires_grad_(True)
    step = _training_step(module, x)
    step()  # build lazy state (e.g. a cached kernel's first generation) outside the counts
    with FlopCounterMode(display=False) as flops:
        step()
    with TrafficCounter() as traffic:
        step()
    seconds = _timed(step, x.device, repeats)
    return {
        "flops": float(flops.get_total_flops()),
        "bytes": float(traffic.bytes),
        "ops": float(traffic.ops),
        "seconds": seconds,
    }


def point(measured: dict, peak_flops_per_second: float, bytes_per_second: float) -> dict:
    """Where a profiled module sits under the roofline of the machine that profiled it.

    Returns ``intensity`` (FLOP/byte), ``achieved`` (FLOP/s), ``bound`` (the roofline at that
    intensity, FLOP/s), ``fraction_of_bound`` (achieved / bound), ``memory_bound`` (intensity
    below the ridge) and ``memory_seconds`` (bytes / bandwidth: the time the traffic alone takes).
    """
    intensity = measured["flops"] / measured["bytes"]
    achieved = measured["flops"] / measured["seconds"]
    bound = min(peak_flops_per_second, intensity * bytes_per_second)
    return {
        "intensity": intensity,
        "achieved": achieved,
        "bound": bound,
        "fraction_of_bound": achieved / bound,
        "memory_bound": intensity < ridge(peak_flops_per_second, bytes_per_second),
        "memory_seconds": measured["bytes"] / bytes_per_second,
    }
