"""Exercises of chapter 4: CT-Net's channel tensorization and tensor-separable convolutions."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stconv_lite.exercises.core import Choice, Exercise, Implements, Value
from stconv_lite.ops.tensorize import from_subdim_layout, to_subdim_layout

SETUP = """\
import torch
import torch.nn.functional as F
from einops import rearrange

from stconv_lite.analysis.complexity import count_macs, count_parameters
from stconv_lite.analysis.interaction import interaction_field
from stconv_lite.exercises import check
from stconv_lite.ops.ctconv import CTModule, TensorSeparableConv3d, make_module
from stconv_lite.ops.tensorize import near_equal_factors, to_subdim_layout
"""

_FACTORS = [(2, 3), (3, 2), (4, 2), (2, 2, 3), (2, 3, 2)]


def _layout_inputs(gen: torch.Generator) -> tuple:
    factors = _FACTORS[int(torch.randint(0, len(_FACTORS), (1,), generator=gen))]
    dim = int(torch.randint(0, len(factors), (1,), generator=gen))
    channels = 1
    for f in factors:
        channels *= f
    return torch.randn(2, channels, 3, 2, 2, generator=gen), factors, dim


def _tsconv_reference(x: torch.Tensor, weight: torch.Tensor, factors: tuple, dim: int) -> torch.Tensor:
    groups = x.shape[1] // factors[dim]
    z = to_subdim_layout(x, factors, dim)
    padding = tuple(k // 2 for k in weight.shape[2:])
    return from_subdim_layout(F.conv3d(z, weight, padding=padding, groups=groups), factors, dim)


def _tsconv_inputs(gen: torch.Generator) -> tuple:
    x, factors, _ = _layout_inputs(gen)
    # never the innermost sub-dimension: there, a plain grouped conv is already right
    dim = int(torch.randint(0, len(factors) - 1, (1,), generator=gen))
    kernel = ((1, 3, 3), (3, 1, 1), (3, 3, 3))[int(torch.randint(0, 3, (1,), generator=gen))]
    weight = torch.randn(x.shape[1], factors[dim], *kernel, generator=gen)
    return x.double(), weight.double(), factors, dim


EXERCISES = [
    Exercise(
        id="ex-4.1",
        title="The cost of a CT module with point-wise convolutions",
        kind="derive",
        difficulty="easy",
        minutes=10,
        statement=(
            "Derive the multiply-adds **per voxel** of `make_module('ct_pw', 48, factors=2)`: $K$ "
            "sub-operations, each a parallel $1\\times3\\times3$ and $3\\times1\\times1$ tensor-separable "
            "convolution along one sub-dimension, and a $1\\times1\\times1$ convolution over all channels "
            "between consecutive sub-operations (BatchNorm, ReLU not counted). Use "
            "`near_equal_factors(48, 2)` for the factors. Then measure it with `count_macs` on a "
            "`(1, 48, 4, 6, 6)` input."
        ),
        stub='answer = ...  # multiply-adds per voxel (an int)\ncheck("ex-4.1", answer)\n',
        solution=(
            "c = 48\n"
            "factors = near_equal_factors(c, 2)\n"
            "derived = 12 * c * sum(factors) + (len(factors) - 1) * c * c\n"
            "measured = count_macs(make_module('ct_pw', c, factors=2), torch.randn(1, c, 4, 6, 6)) / (4 * 6 * 6)\n"
            "assert measured == derived, (measured, derived)\n"
            "answer = derived\n"
            'check("ex-4.1", answer)\n'
        ),
        wrong="answer = 12 * 48 * 14",
        check=Value(),
        answer_form="an int",
        hint="a grouped conv along C_k costs C * C_k * (kernel taps) per voxel; a 1x1x1 conv over C channels costs C^2.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-4.2",
        title="Derive the 45",
        kind="derive",
        difficulty="medium",
        minutes=15,
        statement=(
            "In a CT module with $K = 2$ parallel sub-operations (no point-wise conv), one output unit "
            "depends on input positions in a $5\\times5\\times5$ box, but not on all of them. Each "
            "sub-operation reaches a 'cross' of $9 + 3 - 1$ offsets ($1\\times3\\times3$ union "
            "$3\\times1\\times1$); two in a row reach the set of sums of two offsets. Count the voxels of "
            "that set by hand (by time offset: 0, ±1, ±2), then confirm with `interaction_field`."
        ),
        stub='answer = ...  # number of voxels\ncheck("ex-4.2", answer)\n',
        solution=(
            "by_time = {0: 5 * 5, 1: 3 * 3, 2: 1}  # cross + cross, sliced at each time offset\n"
            "derived = by_time[0] + 2 * by_time[1] + 2 * by_time[2]\n"
            "module = CTModule(16, factors=(4, 4), pointwise=False, excitation=False)\n"
            "field = interaction_field(module, 16, size=(9, 9, 9))\n"
            "assert int(field.any(dim=0).sum()) == derived\n"
            "answer = derived\n"
            'check("ex-4.2", answer)\n'
        ),
        wrong="answer = 125",
        check=Value(),
        answer_form="an int",
        hint="at time offset 0 both steps can be spatial (5x5); at ±1 one step is temporal, the other spatial (3x3); at ±2 both are temporal.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-4.3",
        title="Move one sub-dimension innermost",
        kind="implement",
        difficulty="medium",
        minutes=15,
        statement=(
            "Implement `to_subdim(x, factors, dim)`: read the channels of `x` `(B, C, T, H, W)` as "
            "`factors` (outer to inner) and move sub-dimension `dim` to the innermost position, so that a "
            "grouped convolution with `groups = C / C_dim` mixes exactly the channels that share every "
            "other index. Build the einops pattern from the factor names (`c1 c2 ...`)."
        ),
        stub=(
            "def to_subdim(x, factors, dim):\n"
            "    raise NotImplementedError  # (B, C, T, H, W) -> (B, C, T, H, W), channels reordered\n\n\n"
            'check("ex-4.3", to_subdim)\n'
        ),
        solution=(
            "def to_subdim(x, factors, dim):\n"
            "    names = [f'c{i + 1}' for i in range(len(factors))]\n"
            "    moved = [n for i, n in enumerate(names) if i != dim] + [names[dim]]\n"
            "    pattern = f\"b ({' '.join(names)}) t h w -> b ({' '.join(moved)}) t h w\"\n"
            "    return rearrange(x, pattern, **dict(zip(names, factors)))\n\n\n"
            'check("ex-4.3", to_subdim)\n'
        ),
        wrong=(
            "def answer(x, factors, dim):\n"
            "    names = [f'c{i + 1}' for i in range(len(factors))]\n"
            "    moved = [names[dim]] + [n for i, n in enumerate(names) if i != dim]\n"
            "    return rearrange(x, f\"b ({' '.join(names)}) t h w -> b ({' '.join(moved)}) t h w\",\n"
            "                     **dict(zip(names, factors)))\n"
        ),
        answer="to_subdim",
        check=Implements(to_subdim_layout, _layout_inputs, rtol=0, atol=0),
        hint="in '(c1 c2)' the last name varies fastest; groups of a grouped conv are contiguous channel blocks.",
    ),
    Exercise(
        id="ex-4.4",
        title="A tensor-separable convolution from a grouped one",
        kind="implement",
        difficulty="hard",
        minutes=25,
        statement=(
            "Implement eq. (2) of CT-Net: `tsconv(x, weight, factors, dim)` convolves along sub-dimension "
            "`dim` only, with one `(C_dim x C_dim x t x h x w)` kernel per fibre: `weight` has the shape "
            "`(C, C_dim, t, h, w)` of a grouped `conv3d` weight with `groups = C / C_dim` (same padding, "
            "stride 1). Use your `to_subdim` of exercise 4.3 (or the package's `to_subdim_layout`), "
            "`F.conv3d` and the inverse reordering. Output: `(B, C, T, H, W)` in the original channel order. "
            "Index order of `weight`: its rows follow the *reordered* channels (fibre by fibre, sub-dimension "
            "`dim` innermost, as `to_subdim_layout` leaves them), so `weight[g * C_dim + o, i]` maps input "
            "`i` to output `o` of fibre `g`: exactly what `F.conv3d(..., groups=C // C_dim)` expects."
        ),
        stub=('def tsconv(x, weight, factors, dim):\n    raise NotImplementedError\n\n\ncheck("ex-4.4", tsconv)\n'),
        solution=(
            "def tsconv(x, weight, factors, dim):\n"
            "    names = [f'c{i + 1}' for i in range(len(factors))]\n"
            "    moved = [n for i, n in enumerate(names) if i != dim] + [names[dim]]\n"
            "    sizes = dict(zip(names, factors))\n"
            "    z = rearrange(x, f\"b ({' '.join(names)}) t h w -> b ({' '.join(moved)}) t h w\", **sizes)\n"
            "    padding = tuple(k // 2 for k in weight.shape[2:])\n"
            "    z = F.conv3d(z, weight, padding=padding, groups=x.shape[1] // factors[dim])\n"
            "    return rearrange(z, f\"b ({' '.join(moved)}) t h w -> b ({' '.join(names)}) t h w\", **sizes)\n\n\n"
            'check("ex-4.4", tsconv)\n'
        ),
        wrong=(
            "def answer(x, weight, factors, dim):\n"
            "    padding = tuple(k // 2 for k in weight.shape[2:])\n"
            "    return F.conv3d(x, weight, padding=padding, groups=x.shape[1] // factors[dim])\n"
        ),
        answer="tsconv",
        check=Implements(_tsconv_reference, _tsconv_inputs, rtol=1e-8, atol=1e-8),
        hint="without the reordering, a grouped conv mixes neighbouring channels of the flat index, i.e. the innermost sub-dimension only.",
        explanation="Reorder, grouped conv, reorder back: no weight is ever reshaped, which is how the package does it.",
    ),
    Exercise(
        id="ex-4.5",
        title="Fewer MACs with more sub-dimensions?",
        kind="experiment",
        difficulty="medium",
        minutes=15,
        statement=(
            "Change one thing: tensorize $C = 64$ channels into $K = 3$ sub-dimensions instead of $K = 2$ "
            "(near-equal factors) in a plain CT module (`make_module('ct', 64, factors=K)`). State your "
            "expected effect first, as the ratio of multiply-adds (K = 3) / (K = 2). Then measure both "
            "with `count_macs` on a `(1, 64, 4, 6, 6)` input and also compare their interaction fields "
            "(`interaction_field(..., size=(9, 9, 9)).any(0).sum()`): what do you pay for the saving?"
        ),
        stub='answer = ...  # MACs(K=3) / MACs(K=2)\ncheck("ex-4.5", answer)\n',
        solution=(
            "probe = torch.randn(1, 64, 4, 6, 6)\n"
            "macs = {k: count_macs(make_module('ct', 64, factors=k), probe) for k in (2, 3)}\n"
            "fields = {k: int(interaction_field(make_module('ct', 64, factors=k), 64, size=(9, 9, 9)).any(0).sum())\n"
            "          for k in (2, 3)}\n"
            "print('factors', near_equal_factors(64, 2), near_equal_factors(64, 3), 'fields', fields)\n"
            "answer = macs[3] / macs[2]\n"
            'check("ex-4.5", answer)\n'
        ),
        wrong="answer = 1.5",
        check=Value(sig=3),
        answer_form="a ratio",
        hint="the cost is proportional to C (C_1 + ... + C_K); compare 8 + 8 with 4 + 4 + 4.",
        explanation="Fewer MACs, paid for with one more sub-operation in sequence (a deeper, slower-to-run module) and fewer channels per sub-dimension.",
    ),
    Exercise(
        id="ex-4.6",
        title="Serial fills the box; why parallel?",
        kind="explain",
        difficulty="medium",
        minutes=15,
        statement=(
            "A *serial* CT module (spatial then temporal on each sub-dimension, table 2c) costs the same "
            "and its interaction field fills all 125 voxels of the $5\\times5\\times5$ box; the parallel one "
            "fills 45. The paper still chose parallel (47.3 vs 47.2). Which argument is best? (a) in a deep "
            "stack the fields of consecutive modules compound, so a fuller field per module adds little "
            "reach; (b) the serial module has fewer parameters; (c) the parallel module sees more frames. "
            "Then explain in a paragraph why a per-module field is a weak predictor of accuracy."
        ),
        stub='answer = ...  # "a", "b" or "c"; then your paragraph in a Markdown cell\ncheck("ex-4.6", answer)\n',
        solution=(
            "serial = CTModule(16, factors=(4, 4), order=(1, 1, 0, 0), kernels=[((1, 3, 3),), ((3, 1, 1),)] * 2,\n"
            "                  pointwise=False, excitation=False)\n"
            "parallel = CTModule(16, factors=(4, 4), pointwise=False, excitation=False)\n"
            "assert count_parameters(serial) == count_parameters(parallel)  # (b) is false\n"
            "answer = 'a'\n"
            'check("ex-4.6", answer)\n'
        ),
        wrong='answer = "b"',
        check=Choice(["fields compound in a stack", "fewer parameters", "more frames"]),
        hint="count the parameters of both; then think of two CT modules in a row.",
        rubric=(
            "Full marks: (1) chooses (a); (2) explains that stacking modules composes their fields "
            "(Minkowski sums), so after two or three modules both designs cover the box and the difference "
            "per module vanishes; (3) names what else decides accuracy: optimisation (parallel branches "
            "are shallower, each with BN), the extra non-linearity in the serial path, the data's need for "
            "diagonal space-time interactions; (4) proposes a check, e.g. interaction_field of two stacked "
            "modules. Half marks for (1)+(2)."
        ),
        use=("exam",),
    ),
]
