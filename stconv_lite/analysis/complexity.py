"""How big and how costly is a network? Parameters, FLOPs, a per-layer table, receptive fields.

FLOPs are counted by PyTorch itself (``torch.utils.flop_counter.FlopCounterMode``), which records
the operations actually executed in a forward pass. Two conventions matter when comparing with
papers:

- PyTorch counts one multiply-add (MAC) as **2** FLOPs. Most video papers (C3D, R(2+1)D, CT-Net,
  TAdaConv) quote *multiply-adds* and call them "FLOPs": use :func:`count_macs` (FLOPs // 2) before
  comparing, and say in the text which of the two a number is.
- Only matrix products (``mm``, ``addmm``, ``bmm``, ``einsum`` lowered to them), convolutions and
  attention kernels are counted. BatchNorm, activations (ReLU, sigmoid), pooling, softmax,
  element-wise sums and products (TAdaConv's calibration, excitation gates) and ``grid_sample``
  (3TConv's kernel generation) count **zero**. They are usually a small fraction of a CNN's cost,
  but a chapter that compares operators whose difference *is* such an operation must say so.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

ExampleInput = torch.Tensor | Sequence[torch.Tensor]


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared parameters counted once); ``trainable_only`` skips frozen ones."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _forward(model: nn.Module, example_input: ExampleInput):
    inputs = (example_input,) if isinstance(example_input, torch.Tensor) else tuple(example_input)
    return model(*inputs)


@torch.no_grad()
def _counted_forward(model: nn.Module, example_input: ExampleInput) -> FlopCounterMode:
    """One eval-mode forward under a FlopCounterMode; the model's train/eval mode is restored."""
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            _forward(model, example_input)
    finally:
        model.train(was_training)
    return counter


def count_flops(model: nn.Module, example_input: ExampleInput) -> int:
    """FLOPs of one forward pass on ``example_input`` (a tensor or a tuple of inputs), in eval mode.

    1 multiply-add = 2 FLOPs. Counts convolutions and matrix products only: BatchNorm, activations,
    pooling, element-wise operations and ``grid_sample`` are not counted (see the module docstring).
    The count covers the whole batch: divide by the batch size for a per-clip figure.
    """
    return int(_counted_forward(model, example_input).get_total_flops())


def count_macs(model: nn.Module, example_input: ExampleInput) -> int:
    """Multiply-adds of one forward pass (``count_flops // 2``): what most papers call "FLOPs"."""
    return count_flops(model, example_input) // 2


def layer_summary(model: nn.Module, example_input: ExampleInput) -> list[dict]:
    """One row per layer: ``name, type, output (shape), params, flops`` (the layer's *own* share).

    Rows are the leaf modules, plus any module that holds parameters or runs counted operations
    itself (e.g. an operator calling ``F.conv3d`` with its own weight, or the model's ``forward``
    doing an ``einsum``; the model itself is then the row ``"(self)"``). Parameters and FLOPs are
    each counted in exactly one row, so the columns sum to :func:`count_parameters` and
    :func:`count_flops`. A module called twice shows the shape of its last call and both calls' FLOPs.
    """
    shapes: dict[str, tuple[int, ...]] = {}

    def remember(name: str):
        def hook(module, inputs, output):
            shapes[name] = tuple(output.shape) if isinstance(output, torch.Tensor) else ()

        return hook

    modules = dict(model.named_modules())
    hooks = [module.register_forward_hook(remember(name)) for name, module in modules.items()]
    try:
        counter = _counted_forward(model, example_input)
    finally:
        for hook in hooks:
            hook.remove()
    per_module = counter.get_flop_counts()
    root = type(model).__name__

    def total(name: str) -> int:
        return int(sum(per_module.get(f"{root}.{name}" if name else root, {}).values()))

    rows = []
    for name, module in modules.items():
        children = [f"{name}.{child}" if name else child for child, _ in module.named_children()]
        own_flops = total(name) - sum(total(child) for child in children)
        own_params = sum(p.numel() for p in module.parameters(recurse=False))
        if children and own_flops == 0 and own_params == 0:
            continue
        rows.append(
            {
                "name": name or "(self)",
                "type": type(module).__name__,
                "output": shapes.get(name, ()),
                "params": own_params,
                "flops": own_flops,
            }
        )
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table of :func:`layer_summary` rows, with a total line (FLOPs: 1 MAC = 2 FLOPs)."""
    lines = ["| layer | type | output | params | FLOPs |", "|---|---|---|---:|---:|"]
    for row in rows:
        shape = "x".join(str(s) for s in row["output"])
        lines.append(f"| {row['name']} | {row['type']} | {shape} | {row['params']:,} | {row['flops']:,} |")
    lines.append(f"| **total** | | | {sum(r['params'] for r in rows):,} | {sum(r['flops'] for r in rows):,} |")
    return "\n".join(lines)


def receptive_field(
    model: nn.Module, input_shape: Sequence[int], position: Sequence[int] | None = None, trials: int = 4
) -> tuple[int, int, int]:
    """Extent ``(T, H, W)`` of the input voxels that one output position depends on, by gradients.

    The gradient of the output at ``position`` (default: the centre; all channels summed) with
    respect to a random input is non-zero exactly where that output looks. This is the *effective*
    support: a ReLU that is off or a max-pool that picks another voxel hides part of the theoretical
    receptive field, so the supports of ``trials`` random inputs are united (exact for stacks of
    convolutions; a lower bound in general). Use an input large enough that the centre output does
    not see the padding.

    Shapes:
        input_shape: (B, C, T, H, W); the model's output must be (B, C', T', H', W').
        position: (t', h', w') in the output.
    """
    if len(input_shape) != 5:
        raise ValueError(f"receptive_field expects input_shape (B, C, T, H, W); got {tuple(input_shape)}")
    was_training = model.training
    model.eval()
    support = torch.zeros(tuple(input_shape[2:]), dtype=torch.bool)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    generator = torch.Generator().manual_seed(0)
    try:
        for _ in range(trials):
            x = torch.randn(tuple(input_shape), generator=generator).to(device).requires_grad_(True)
            out = model(x)
            if out.dim() != 5:
                raise ValueError(f"receptive_field needs a (B, C, T, H, W) output; got {tuple(out.shape)}")
            where = [s // 2 for s in out.shape[2:]] if position is None else list(position)
            out[:, :, where[0], where[1], where[2]].sum().backward()
            support |= (x.grad != 0).any(dim=1).any(dim=0).cpu()
    finally:
        model.train(was_training)
    extents = []
    for axis in range(3):
        others = tuple(a for a in range(3) if a != axis)
        hit = torch.nonzero(support.any(dim=others[1]).any(dim=others[0]))
        extents.append(int(hit.max() - hit.min() + 1) if len(hit) else 0)
    return tuple(extents)
