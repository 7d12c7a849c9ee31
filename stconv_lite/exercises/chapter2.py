"""Exercises of chapter 2: 2D and 3D convolution, inflation, receptive fields and R(2+1)D's M_i."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stconv_lite.exercises.core import Choice, Exercise, Implements, Value

SETUP = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from stconv_lite.analysis.complexity import count_parameters, receptive_field
from stconv_lite.exercises import check
from stconv_lite.ops.inflate import inflate_2d_to_3d
from stconv_lite.ops.r2plus1d import Conv2Plus1d, midplanes
"""


def _compose_reference(spatial: torch.Tensor, temporal: torch.Tensor) -> torch.Tensor:
    return torch.einsum("nmt,mcxy->nctxy", temporal[:, :, :, 0, 0], spatial[:, :, 0])


def _compose_inputs(gen: torch.Generator) -> tuple:
    c, m, n = (int(v) for v in torch.randint(1, 5, (3,), generator=gen))
    return (
        torch.randn(m, c, 1, 3, 3, generator=gen, dtype=torch.float64),
        torch.randn(n, m, 3, 1, 1, generator=gen, dtype=torch.float64),
    )


def _temporal_reference(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return F.conv3d(x, weight, padding=(weight.shape[2] // 2, 0, 0))


def _temporal_inputs(gen: torch.Generator) -> tuple:
    c, o = (int(v) for v in torch.randint(1, 4, (2,), generator=gen))
    k = (1, 3, 5)[int(torch.randint(0, 3, (1,), generator=gen))]
    return (
        torch.randn(2, c, 6, 4, 5, generator=gen, dtype=torch.float64),
        torch.randn(o, c, k, 1, 1, generator=gen, dtype=torch.float64),
    )


EXERCISES = [
    Exercise(
        id="ex-2.1",
        title="Shapes with dilation",
        kind="predict-then-check",
        difficulty="easy",
        minutes=5,
        statement=(
            "Predict the output shape of `nn.Conv3d(8, 16, 3, stride=(2, 1, 1), padding=2, dilation=2)` "
            "on an input `(1, 8, 9, 20, 20)`, using the output-size formula of the chapter on each axis. "
            "Then run the layer."
        ),
        stub='answer = ...  # (B, C, T, H, W)\ncheck("ex-2.1", answer)\n',
        solution=(
            "def out_size(n, k, s, p, d):\n"
            "    return (n + 2 * p - d * (k - 1) - 1) // s + 1\n\n\n"
            "predicted = (1, 16, out_size(9, 3, 2, 2, 2), out_size(20, 3, 1, 2, 2), out_size(20, 3, 1, 2, 2))\n"
            "layer = nn.Conv3d(8, 16, 3, stride=(2, 1, 1), padding=2, dilation=2)\n"
            "assert tuple(layer(torch.zeros(1, 8, 9, 20, 20)).shape) == predicted\n"
            "answer = predicted\n"
            'check("ex-2.1", answer)\n'
        ),
        wrong="answer = (1, 16, 4, 20, 20)",
        check=Value(),
        answer_form="a shape tuple",
        hint="a dilated kernel of k taps spans d(k-1)+1 inputs; then apply floor((n + 2p - span)/s) + 1.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-2.2",
        title="Receptive field of a dilated stack",
        kind="derive",
        difficulty="medium",
        minutes=15,
        statement=(
            "Three 3x3x3 convolutions, stride 1, are stacked; the middle one has `dilation=(2, 1, 1)` "
            "(dilated in time only). Derive the extent `(T, H, W)` of the input that one output voxel "
            "depends on (each layer adds its span minus one), then measure it with "
            "`receptive_field(model, (1, 1, 21, 21, 21))`."
        ),
        stub='answer = ...  # (T, H, W)\ncheck("ex-2.2", answer)\n',
        solution=(
            "stack = nn.Sequential(nn.Conv3d(1, 2, 3), nn.Conv3d(2, 2, 3, dilation=(2, 1, 1)), nn.Conv3d(2, 1, 3))\n"
            "derived = (1 + 2 + 4 + 2, 1 + 2 + 2 + 2, 1 + 2 + 2 + 2)\n"
            "assert receptive_field(stack, (1, 1, 21, 21, 21)) == derived\n"
            "answer = derived\n"
            'check("ex-2.2", answer)\n'
        ),
        wrong="answer = (7, 7, 7)",
        check=Value(),
        answer_form="a tuple (T, H, W)",
        hint="the field grows by (span - 1) per layer, and a dilated 3-tap kernel spans 2*2 + 1 = 5 inputs.",
        explanation="Dilation widens the field without adding weights: 9 frames from 81 temporal weights per channel pair.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-2.3",
        title="M_i, and what the floor leaves out",
        kind="derive",
        difficulty="easy",
        minutes=10,
        statement=(
            r"For a $3\times3\times3$ convolution from $N_{i-1} = 64$ to $N_i = 128$ channels, compute "
            r"$M_i$ (Sec. 3.5 of the R(2+1)D paper) by hand, and how many weights the (2+1)D block has "
            "**fewer** than the full 3D convolution because of the floor (BatchNorm not counted). "
            "Answer `(M_i, missing_weights)` and compare with `Conv2Plus1d(64, 128)`."
        ),
        stub='answer = ...  # (M_i, missing weights)\ncheck("ex-2.3", answer)\n',
        solution=(
            "t, d, n_in, n_out = 3, 3, 64, 128\n"
            "m = (t * d * d * n_in * n_out) // (d * d * n_in + t * n_out)\n"
            "missing = t * d * d * n_in * n_out - m * (d * d * n_in + t * n_out)\n"
            "block = Conv2Plus1d(n_in, n_out)\n"
            "assert block.mid_channels == m\n"
            "assert count_parameters(nn.Conv3d(n_in, n_out, 3, bias=False)) - (count_parameters(block) - 2 * m) == missing\n"
            "answer = (m, missing)\n"
            'check("ex-2.3", answer)\n'
        ),
        wrong="answer = (230, 0)",
        check=Value(),
        answer_form="a tuple (M_i, missing_weights)",
        hint="M_i = floor(t d^2 N_{i-1} N_i / (d^2 N_{i-1} + t N_i)); the block has M_i (d^2 N_{i-1} + t N_i) weights.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-2.4",
        title="Without the ReLU, (2+1)D is one 3D kernel",
        kind="implement",
        difficulty="medium",
        minutes=20,
        statement=(
            r"Drop BatchNorm and ReLU from a (2+1)D block: a spatial kernel `(M, C, 1, 3, 3)` followed by a "
            r"temporal kernel `(N, M, 3, 1, 1)`. Their composition is a single $3\times3\times3$ convolution. "
            "Implement `compose_2plus1d(spatial, temporal)` returning its kernel `(N, C, 3, 3, 3)` with one "
            "`torch.einsum`, and verify `F.conv3d(x, composed, padding=1)` equals the two convolutions in "
            "turn. What is the largest rank of the composed kernel, seen as an `N x (C*27)` matrix?"
        ),
        stub=(
            "def compose_2plus1d(spatial, temporal):\n"
            "    raise NotImplementedError  # (M, C, 1, 3, 3), (N, M, 3, 1, 1) -> (N, C, 3, 3, 3)\n\n\n"
            'check("ex-2.4", compose_2plus1d)\n'
        ),
        solution=(
            "def compose_2plus1d(spatial, temporal):\n"
            "    # out[n, c, t, y, x] = sum_m temporal[n, m, t] * spatial[m, c, y, x]\n"
            "    return torch.einsum('nmt,mcyx->nctyx', temporal[:, :, :, 0, 0], spatial[:, :, 0])\n\n\n"
            "spatial, temporal = torch.randn(5, 3, 1, 3, 3), torch.randn(4, 5, 3, 1, 1)\n"
            "x = torch.randn(2, 3, 6, 8, 8)\n"
            "two_step = F.conv3d(F.conv3d(x, spatial, padding=(0, 1, 1)), temporal, padding=(1, 0, 0))\n"
            "torch.testing.assert_close(F.conv3d(x, compose_2plus1d(spatial, temporal), padding=1), two_step,\n"
            "                           rtol=1e-4, atol=1e-4)\n"
            "# rank <= M: every row is a combination of the M spatial kernels (times a time profile)\n"
            'check("ex-2.4", compose_2plus1d)\n'
        ),
        wrong="answer = lambda spatial, temporal: torch.einsum('nmt,mcyx->ncyxt', temporal[:, :, :, 0, 0], spatial[:, :, 0])",
        answer="compose_2plus1d",
        check=Implements(_compose_reference, _compose_inputs, rtol=1e-8, atol=1e-8),
        hint="write out[n, c, t, y, x] as a sum over the middle channel m; keep the axis order (N, C, T, H, W).",
        explanation="So R(2+1)D differs from a rank-limited 3D conv only through the non-linearity in the middle.",
    ),
    Exercise(
        id="ex-2.5",
        title="A temporal convolution with einsum",
        kind="implement",
        difficulty="medium",
        minutes=15,
        statement=(
            "Implement `temporal_conv(x, weight)` for a `(O, C, k, 1, 1)` kernel (k odd, stride 1, zero "
            "padding k//2 in time only) with `F.pad`, `Tensor.unfold` on the time axis and one `einsum`, "
            "no `conv3d`. Shapes: x `(B, C, T, H, W)` -> `(B, O, T, H, W)`."
        ),
        stub=('def temporal_conv(x, weight):\n    raise NotImplementedError\n\n\ncheck("ex-2.5", temporal_conv)\n'),
        solution=(
            "def temporal_conv(x, weight):\n"
            "    k = weight.shape[2]\n"
            "    padded = F.pad(x, (0, 0, 0, 0, k // 2, k // 2))  # pad T only\n"
            "    windows = padded.unfold(2, k, 1)  # (B, C, T, H, W, k)\n"
            "    return torch.einsum('bcthwr,ocr->bothw', windows, weight[:, :, :, 0, 0])\n\n\n"
            'check("ex-2.5", temporal_conv)\n'
        ),
        wrong="answer = lambda x, weight: torch.einsum('bcthw,oc->bothw', x, weight[:, :, weight.shape[2] // 2, 0, 0])",
        answer="temporal_conv",
        check=Implements(_temporal_reference, _temporal_inputs, rtol=1e-8, atol=1e-8),
        hint="F.pad lists pairs from the last axis backwards: (W, W, H, H, T, T); unfold(2, k, 1) adds a tap axis at the end.",
    ),
    Exercise(
        id="ex-2.6",
        title="A static clip through an inflated kernel",
        kind="predict-then-check",
        difficulty="medium",
        minutes=10,
        statement=(
            "Inflate a random 2D kernel `(4, 2, 3, 3)` to depth 3 with `mode='mean'` and apply it with "
            "`padding=1` (also in time) to a **static** clip: one random frame repeated 7 times. Which "
            "output frames equal the 2D response of that frame? (a) all 7; (b) all but the first and the "
            "last; (c) only the centre frame; (d) none. Predict, then check."
        ),
        stub='answer = ...  # "a", "b", "c" or "d"\ncheck("ex-2.6", answer)\n',
        solution=(
            "kernel2d, frame = torch.randn(4, 2, 3, 3), torch.randn(1, 2, 10, 10)\n"
            "static = frame[:, :, None].expand(1, 2, 7, 10, 10)\n"
            "out = F.conv3d(static, inflate_2d_to_3d(kernel2d, 3, 'mean'), padding=1)\n"
            "response = F.conv2d(frame, kernel2d, padding=1)\n"
            "equal = [torch.allclose(out[:, :, t], response, atol=1e-5) for t in range(7)]\n"
            "print(equal)\n"
            "answer = 'b' if equal == [False] + [True] * 5 + [False] else '?'\n"
            'check("ex-2.6", answer)\n'
        ),
        wrong='answer = "a"',
        check=Choice(["all", "all but the ends", "only the centre", "none"]),
        hint="at the first frame, the kernel's first time tap reads the zero padding.",
        explanation="The inflation property holds where the temporal window lies inside the clip; padding breaks it at the ends.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-2.7",
        title="What does the factorisation buy?",
        kind="explain",
        difficulty="medium",
        minutes=15,
        statement=(
            "At equal parameter counts, R(2+1)D can represent functions that a 3D convolution cannot. "
            "Which statement is right? (a) the (2+1)D block has more weights; (b) the ReLU (and BatchNorm) "
            "between the spatial and temporal convolutions makes the block non-linear, so it is not a "
            "3D convolution at all; (c) the temporal convolution sees more frames. Then write a paragraph: "
            "what, besides representational power, could make R(2+1)D easier to optimise than R3D, and "
            "how would you test it on Video-MNIST?"
        ),
        stub='answer = ...  # "a", "b" or "c"; then your paragraph in a Markdown cell\ncheck("ex-2.7", answer)\n',
        solution=(
            "# (a) is false by construction of M_i, (c) is false: both see 3 frames per layer.\n"
            "answer = 'b'\n"
            'check("ex-2.7", answer)\n'
        ),
        wrong='answer = "a"',
        check=Choice(["more weights", "non-linearity in the middle", "more frames"]),
        hint="exercise 2.4 shows what the block is without its middle non-linearity.",
        rubric=(
            "Full marks: (1) names the ReLU between the two convs as the extra non-linearity (M_i "
            "equalises parameters, so not capacity by count); (2) gives an optimisation argument from the "
            "paper: the factorisation splits one hard-to-fit kernel into two easier ones, observed as "
            "lower *training* error at equal depth; (3) proposes a test that separates the two: compare "
            "training-loss curves of r3d vs r2plus1d at matched parameters with paired seeds, and a "
            "(2+1)D without the middle ReLU as a control. Deduct for confusing test accuracy with ease "
            "of optimisation."
        ),
        use=("exam",),
    ),
]
