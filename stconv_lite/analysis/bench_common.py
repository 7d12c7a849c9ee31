"""What every benchmark run file carries: a run card, the issue-19 goals, interleaved timing.

A ratio measured on a shared machine is only worth something next to the facts of its run, so every
run file written by the ``bench*`` commands starts with :func:`run_card` (machine, date, commit,
torch version, threads, shapes). The goals are those of issue 19 ("operators and training close to
what the hardware allows"): time ratios, forward + backward, to the plain 3x3x3 ``nn.Conv3d``
(TAdaConv: to the 2D conv), measured side by side in one run.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import time
from collections.abc import Callable

import torch

__all__ = ["GOALS", "goal", "verdict", "run_card", "device_name", "machine_slug", "interleaved_ms"]

# operator / case kind -> (goal on a GPU, goal on the 2-core CPU); None = no goal set
GOALS: dict[str, tuple[float | None, float | None]] = {
    "3tconv_small": (1.1, 1.05),  # 3TConv layer, LeNet-sized (5x5x5) kernels
    "3tconv_resnet": (1.2, 1.1),  # 3TConv layer, ResNet-18 3x3x3 stages
    "3t_resnet18": (1.3, 1.15),  # whole 3T-ResNet18 vs 3D-ResNet18
    "(2+1)D": (1.5, 1.2),
    "CT module (K=2, with TE)": (2.0, 0.7),
    "3TConv 3x3x3": (1.2, 1.1),
    "TAdaConv 3x3 + generator": (1.3, 1.3),
}


def goal(kind: str, device: str | torch.device) -> float | None:
    """The issue-19 goal for ``kind`` on this kind of device, or None."""
    gpu, cpu = GOALS.get(kind, (None, None))
    return gpu if torch.device(device).type == "cuda" else cpu


def verdict(ratio: float, target: float | None) -> str:
    """'met' / 'NOT met' against a goal, '—' without one."""
    if target is None:
        return "—"
    return "met" if ratio <= target else "NOT met"


def device_name(device: str | torch.device) -> str:
    """GPU name, or the CPU model name as the kernel reports it."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    from stconv_lite.experiments.runfile import cpu_name

    return f"CPU: {cpu_name()}"


def machine_slug(device: str | torch.device) -> str:
    """A short file-name part naming the machine: ``cpu`` or e.g. ``h200``."""
    device = torch.device(device)
    if device.type != "cuda":
        return "cpu"
    name = torch.cuda.get_device_name(device).lower()
    for model in ("h200", "h100", "a100", "l4", "t4", "v100", "a10g", "rtx"):
        if model in name:
            return model
    return "gpu"


def _git_commit() -> str | None:
    """The checkout's commit, the same way run files record it."""
    from stconv_lite.experiments.runfile import git_commit

    return git_commit()


def run_card(device: str | torch.device, **shapes) -> dict:
    """Machine, date, commit, torch version and threads of this run, plus the shapes it used."""
    return {
        "device": device_name(device),
        "device_type": torch.device(device).type,
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_cores": os.cpu_count(),
        # other processes on a shared machine: absolute times drift with it, interleaved ratios less
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "python": platform.python_version(),
        **shapes,
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_ms(
    steps: dict[str, Callable[[], None]], device: str | torch.device, repeats: int, warmup: int
) -> dict[str, float]:
    """Median milliseconds of each step, timed in alternation, the order rotated every round.

    Alternating makes slow phases of a shared machine (other processes, clock changes) hit every
    contender alike, so the ratios stay meaningful even when absolute times drift. Rotating the
    order (A, B, C, then B, C, A, then C, A, B, ...) keeps a contender from always following the
    same one: on a CPU a step's time depends on what the previous step left behind (caches, and
    which freed blocks the C library kept or gave back to the system), which a fixed order turns
    into a bias of up to 10-20 % for whoever comes second.
    """
    device = torch.device(device)
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for i in range(warmup + repeats):
        shift = i % len(names)
        for name in names[shift:] + names[:shift]:
            step = steps[name]
            _sync(device)
            began = time.perf_counter()
            step()
            _sync(device)
            if i >= warmup:
                times[name].append(1000 * (time.perf_counter() - began))
    return {name: statistics.median(t) for name, t in times.items()}
