"""How big and how costly is a network? Parameters, FLOPs and a per-layer table.

FLOPs are counted by PyTorch itself (``torch.utils.flop_counter.FlopCounterMode``), which records
the operations actually executed in a forward pass. Two conventions matter when comparing with
papers:

- PyTorch counts one multiply-add as **2** FLOPs. Most video papers (R(2+1)D, CT-Net, TAdaConv)
  quote *multiply-adds* and call them FLOPs: divide by two (:func:`count_macs`) before comparing.
- Only matrix products and convolutions (and attention kernels) are counted. BatchNorm, activations,
  pooling, element-wise products (TAdaConv's calibration, attention gates) and ``grid_sample``
  (3TConv's kernel generation) are not: they are usually a small fraction, but a chapter that
  compares operators whose difference *is* such an operation says so.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared parameters counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


@torch.no_grad()
def count_flops(model: nn.Module, example_input: torch.Tensor) -> int:
    """FLOPs of one forward pass on ``example_input`` (1 multiply-add = 2 FLOPs), in eval mode."""
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(example_input)
    finally:
        model.train(was_training)
    return int(counter.get_total_flops())


def count_macs(model: nn.Module, example_input: torch.Tensor) -> int:
    """Multiply-adds of one forward pass: what most papers call "FLOPs"."""
    return count_flops(model, example_input) // 2


@torch.no_grad()
def layer_summary(model: nn.Module, example_input: torch.Tensor) -> list[dict]:
    """One row per leaf module: name, type, output shape, own parameters and FLOPs.

    FLOPs per layer come from the same ``FlopCounterMode`` pass, which attributes every operation
    to the modules it ran in.
    """
    leaves = {name: module for name, module in model.named_modules() if not list(module.children())}
    shapes: dict[str, tuple[int, ...]] = {}
    hooks = [
        module.register_forward_hook(
            lambda m, inputs, output, name=name: shapes.__setitem__(
                name, tuple(output.shape) if isinstance(output, torch.Tensor) else ()
            )
        )
        for name, module in leaves.items()
    ]
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            model(example_input)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    per_module = counter.get_flop_counts()
    rows = []
    for name, module in leaves.items():
        key = f"{type(model).__name__}.{name}" if f"{type(model).__name__}.{name}" in per_module else name
        flops = sum(per_module.get(key, {}).values())
        rows.append(
            {
                "name": name,
                "type": type(module).__name__,
                "output": shapes.get(name, ()),
                "params": sum(p.numel() for p in module.parameters(recurse=False)),
                "flops": int(flops),
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table of :func:`layer_summary` rows, with a total line."""
    lines = ["| layer | type | output | params | FLOPs |", "|---|---|---|---:|---:|"]
    for row in rows:
        shape = "x".join(str(s) for s in row["output"])
        lines.append(f"| {row['name']} | {row['type']} | {shape} | {row['params']:,} | {row['flops']:,} |")
    lines.append(
        f"| **total** | | | {sum(r['params'] for r in rows):,} | {sum(r['flops'] for r in rows):,} |"
    )
    return "\n".join(lines)
