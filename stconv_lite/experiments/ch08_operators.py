"""The one comparison table: every operator of the book in the same backbone, task and budget.

Arms are ``"<operator>@<label>"``: each operator of :data:`~.ch08_backbone.OPERATORS` in
:class:`~.ch08_backbone.OperatorNet`, trained on Video-MNIST with ``label="reversal"`` (the
direction of time is the class: an order-blind network is at most 50 %) and ``label="digit"`` (the
paper's mode of the 3TConv study: the digit is the class). Same clips per seed for every arm, same
budget, same optimiser.

Besides accuracy, every unit measures

- ``forward_flops_per_clip``: FLOPs of one clip through the trained network (PyTorch's count);
- ``train_clips_per_second``: training throughput, timed over a few optimiser steps of a batch
  after warm-up (on CUDA under the same autocast as :func:`stconv_lite.train.fit`);

and the units of the ``reversal`` arms also profile the operator alone at a fixed probe size
(:func:`stconv_lite.analysis.roofline.profile`) together with the machine's measured peak FLOP/s
and memory bandwidth: ``module_*`` and ``peak_*`` metrics, one roofline per run and device. The
probe does not depend on the label, so it runs once per (operator, seed), and the seeds give the
timings an interval.
"""

from __future__ import annotations

import copy
import functools
import time

import torch
import torch.nn.functional as F

from stconv_lite.analysis import roofline
from stconv_lite.analysis.complexity import count_flops
from stconv_lite.experiments.ch08_backbone import OPERATORS, OperatorNet, make_operator
from stconv_lite.experiments.registry import Bound, Compare, Experiment, register
from stconv_lite.experiments.tasks import train_and_evaluate

__all__ = ["LABELS", "NAME", "arm", "split_arm", "measure_throughput", "probe_operator", "OPERATOR_COMPARISON"]

NAME = "book.operator_comparison"
LABELS = ("reversal", "digit")
REFERENCE = "conv3d"  # every operator is compared with the full 3D conv, per label

# quick: CI seconds. small: the CPU book build (16 arms x 3 seeds, tiny backbone, few clips).
# full: one H200, about a minute. ``probe`` is the operator-alone roofline input (B, C, T, H, W);
# ``peak_n`` the matmul side and ``copy_mb`` the copy size of the peak measurements.
_SETTINGS = {
    "quick": dict(
        clips_per_class=3,
        frames=6,
        epochs=1,
        width=8,
        batch_size=16,
        throughput_steps=1,
        probe=[1, 8, 4, 8, 8],
        peak_n=256,
        copy_mb=16,
        repeats=2,
    ),
    "small": dict(
        clips_per_class=20,
        frames=8,
        epochs=6,
        width=8,
        batch_size=16,
        lr=3e-3,
        throughput_steps=3,
        probe=[2, 32, 8, 28, 28],
        peak_n=1024,
        copy_mb=128,
        repeats=3,
    ),
    "full": dict(
        clips_per_class=64,
        frames=16,
        epochs=6,
        width=16,
        batch_size=64,
        lr=3e-3,
        throughput_steps=10,
        probe=[8, 64, 16, 56, 56],
        peak_n=8192,
        copy_mb=2048,
        repeats=10,
    ),
}


def arm(operator: str, label: str) -> str:
    """``arm("ct", "digit") -> "ct@digit"``."""
    return f"{operator}@{label}"


def split_arm(name: str) -> tuple[str, str]:
    """``"ct@digit" -> ("ct", "digit")``."""
    operator, label = name.split("@")
    return operator, label


def measure_throughput(model: torch.nn.Module, settings: dict, device: torch.device) -> float:
    """Training clips per second: a few AdamW steps on one batch of random clips, after one warm-up step.

    A copy of ``model`` is used, so the trained weights are left alone. Shapes of the batch:
    (batch_size, 1, frames, 28, 28), as the training clips.
    """
    model = copy.deepcopy(model).to(device).train()
    batch, frames, size = settings["batch_size"], settings["frames"], settings.get("size", 28)
    clips = torch.rand(batch, 1, frames, size, size, device=device)
    labels = torch.randint(0, 10, (batch,), device=device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    )

    def step() -> None:
        with autocast:
            loss = F.cross_entropy(model(clips), labels)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    step()  # warm-up: first-call allocations and kernel selection are not throughput
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    began = time.perf_counter()
    for _ in range(settings["throughput_steps"]):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return batch * settings["throughput_steps"] / (time.perf_counter() - began)


def probe_operator(operator: str, settings: dict, device: torch.device, seed: int) -> dict:
    """The operator alone at the probe size: its training-step profile and the machine's peaks.

    Returns metrics ``module_flops``, ``module_bytes``, ``module_ops``, ``module_seconds``,
    ``peak_flops_per_second`` and ``peak_bytes_per_second`` (float32 throughout).
    """
    torch.manual_seed(seed)
    b, c, t, h, w = settings["probe"]
    module = make_operator(operator, c).to(device)
    x = torch.randn(b, c, t, h, w, device=device)
    measured = roofline.profile(module, x, settings["repeats"])
    del module, x
    return {
        **{f"module_{k}": v for k, v in measured.items()},
        "peak_flops_per_second": roofline.peak_flops(device, settings["peak_n"], settings["repeats"]),
        "peak_bytes_per_second": roofline.peak_bandwidth(device, settings["copy_mb"], settings["repeats"]),
    }


def _unit(name: str, seed: int, settings: dict, device) -> dict:
    operator, label = split_arm(name)
    device = torch.device(device)
    build = functools.partial(OperatorNet, operator, num_classes=10, in_channels=1, width=settings["width"])
    result = train_and_evaluate(build, {**settings, "label": label}, seed, device)
    model = result["model"]
    clip = torch.rand(1, 1, settings["frames"], settings.get("size", 28), settings.get("size", 28), device=device)
    result["metrics"]["forward_flops_per_clip"] = float(count_flops(model, clip))
    result["metrics"]["train_clips_per_second"] = measure_throughput(model, settings, device)
    if label == LABELS[0]:
        result["metrics"].update(probe_operator(operator, settings, device, seed))
    return result


ARMS = tuple(arm(op, label) for label in LABELS for op in OPERATORS)

OPERATOR_COMPARISON = register(
    Experiment(
        name=NAME,
        chapter=8,
        title="Every operator of the book in one backbone, on one task and budget",
        question=(
            "In the same small backbone, on the same Video-MNIST clips and budget, how accurate, how large, "
            "how costly and how fast is each operator of the book, when the direction of time is the label "
            "and when the digit is?"
        ),
        paper_claim=(
            "Each paper compares its operator with others on its own backbone and data: 3TConv vs 3D conv and "
            "R(2+1)D (Ras et al., table 1), CT vs C3D, R(2+1)D and CSN (Li et al., table 2a), TAdaConv vs "
            "(2+1)D and TSN (Huang et al., tables 1-2), fusion units S, ST, S+ST (Zhou et al.)."
        ),
        arms=ARMS,
        settings={scale: dict(values) for scale, values in _SETTINGS.items()},
        run_unit=_unit,
        comparisons=tuple(
            [Compare(arm(op, label), arm(REFERENCE, label)) for label in LABELS for op in OPERATORS if op != REFERENCE]
            # The papers' own pairings beyond "vs the 3D conv": 3TConv vs R(2+1)D from scratch (3TConv table 1),
            # CT vs CSN and vs R(2+1)D (CT-Net table 2a, Something-Something: motion, hence "reversal").
            + [
                Compare(arm("conv3t", "digit"), arm("r2plus1d", "digit")),
                Compare(arm("ct", "reversal"), arm("csn", "reversal")),
                Compare(arm("ct", "reversal"), arm("r2plus1d", "reversal")),
            ]
            + [
                Compare(arm(op, LABELS[0]), arm(REFERENCE, LABELS[0]), metric="train_clips_per_second")
                for op in OPERATORS
                if op != REFERENCE
            ]
            + [
                Compare(arm(op, LABELS[0]), arm(REFERENCE, LABELS[0]), metric="module_seconds", higher_is_better=False)
                for op in OPERATORS
                if op != REFERENCE
            ]
        ),
        bounds=tuple(Bound(arm(op, "reversal"), 0.5, "the 50 % bound") for op in OPERATORS),
    )
)
