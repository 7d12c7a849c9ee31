"""Exercises of chapter 5: TAdaConv, its calibration generator and TAda2D's temporal aggregation."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from stconv_lite.exercises.core import Choice, Exercise, Implements, Value

SETUP = """\
import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from stconv_lite.analysis.complexity import count_macs, count_parameters
from stconv_lite.exercises import check
from stconv_lite.ops.calibration import CalibrationGenerator
from stconv_lite.ops.tadaconv import TAdaConv2d
from stconv_lite.ops.temporal_aggregation import temporal_avg_pool
"""


def _tada_reference(x: torch.Tensor, weight: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
    """Eq. (3) literally, frame by frame: (alpha_t * W) convolved with x_t."""
    frames = []
    for b in range(x.shape[0]):
        per_t = [
            F.conv2d(x[b, :, t][None], weight * alpha[b, :, t][None, :, None, None], padding=1)[0]
            for t in range(x.shape[2])
        ]
        frames.append(torch.stack(per_t, dim=1))
    return torch.stack(frames)


def _tada_inputs(gen: torch.Generator) -> tuple:
    c_in, c_out = (int(v) for v in torch.randint(1, 5, (2,), generator=gen))
    x = torch.randn(2, c_in, 3, 5, 5, generator=gen, dtype=torch.float64)
    weight = torch.randn(c_out, c_in, 3, 3, generator=gen, dtype=torch.float64)
    alpha = 1 + 0.5 * torch.randn(2, c_in, 3, generator=gen, dtype=torch.float64)
    return x, weight, alpha


EXERCISES = [
    Exercise(
        id="ex-5.1",
        title="How many kernels does TAdaConv stand for?",
        kind="predict-then-check",
        difficulty="easy",
        minutes=5,
        statement=(
            "`TAdaConv2d(64, 128, 3, padding=1, cal_dim='cout')` runs on `x` of shape `(2, 64, 8, 14, 14)`. "
            "Predict the shape of the calibrated kernels $\\alpha_t \\cdot W_b$ that "
            "`conv.calibrated_weights(alpha)` builds (the layer itself never builds them), then check."
        ),
        stub='answer = ...  # a shape tuple\ncheck("ex-5.1", answer)\n',
        solution=(
            "conv = TAdaConv2d(64, 128, 3, padding=1, cal_dim='cout')\n"
            "alpha = torch.ones(2, conv.alpha_channels, 8)  # (B, C_alpha, T)\n"
            "answer = tuple(conv.calibrated_weights(alpha).shape)\n"
            'check("ex-5.1", answer)\n'
        ),
        wrong="answer = (2, 8, 64, 128, 3, 3)",
        check=Value(),
        answer_form="a shape tuple",
        hint="one kernel per clip and frame, each with nn.Conv2d's (C_out, C_in, k, k) layout.",
        explanation="B*T full kernels: this is why the layer scales the input or output channels instead.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-5.2",
        title="What does the generator cost?",
        kind="derive",
        difficulty="medium",
        minutes=15,
        statement=(
            "Count the learnable parameters of `CalibrationGenerator(64)` (reduction 4, temporal kernels "
            "(3, 3), global context on) from its description: a $C \\to C$ linear map of the global "
            "descriptor **with** bias, a $C \\to C/r$ temporal conv with bias, BatchNorm, a $C/r \\to C$ "
            "temporal conv **without** bias. Then compare with `count_parameters` and with the weights of "
            "the $3\\times3$ conv it calibrates."
        ),
        stub='answer = ...  # an int\ncheck("ex-5.2", answer)\n',
        solution=(
            "c, r, k = 64, 4, 3\n"
            "hidden = c // r\n"
            "derived = (c * c + c) + (c * hidden * k + hidden) + 2 * hidden + hidden * c * k\n"
            "assert count_parameters(CalibrationGenerator(c)) == derived\n"
            "print(f'{derived} generator parameters next to {c * c * 9} conv weights')\n"
            "answer = derived\n"
            'check("ex-5.2", answer)\n'
        ),
        wrong="answer = 64 * 64 + 64 * 16 * 3 + 16 * 64 * 3",
        check=Value(),
        answer_form="an int",
        hint="BatchNorm has two learnable vectors (weight and bias) of the hidden width.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-5.3",
        title="Calibrate the input instead of the kernel",
        kind="implement",
        difficulty="medium",
        minutes=15,
        statement=(
            "Eq. (3) convolves frame $t$ with $\\alpha_t \\cdot W_b$ (input-channel calibration). "
            "Implement `tada_cin(x, weight, alpha)` **without** building a kernel per frame: scale the "
            "input channels instead, fold time into the batch with einops and run one `F.conv2d` "
            "(padding 1, no bias). Shapes: x `(B, C_in, T, H, W)`, weight `(C_out, C_in, 3, 3)`, alpha "
            "`(B, C_in, T)` -> `(B, C_out, T, H, W)`."
        ),
        stub=('def tada_cin(x, weight, alpha):\n    raise NotImplementedError\n\n\ncheck("ex-5.3", tada_cin)\n'),
        solution=(
            "def tada_cin(x, weight, alpha):\n"
            "    # (alpha_t W) * x_t = W * (alpha_t x_t): scaling a kernel's input slices = scaling the input\n"
            "    scaled = x * rearrange(alpha, 'b c t -> b c t 1 1')\n"
            "    frames = rearrange(scaled, 'b c t h w -> (b t) c h w')\n"
            "    out = F.conv2d(frames, weight, padding=1)\n"
            "    return rearrange(out, '(b t) c h w -> b c t h w', b=x.shape[0])\n\n\n"
            'check("ex-5.3", tada_cin)\n'
        ),
        wrong=(
            "def answer(x, weight, alpha):\n"
            "    out = F.conv2d(rearrange(x, 'b c t h w -> (b t) c h w'), weight, padding=1)\n"
            "    return rearrange(out, '(b t) c h w -> b c t h w', b=x.shape[0])\n"
        ),
        answer="tada_cin",
        check=Implements(_tada_reference, _tada_inputs, rtol=1e-8, atol=1e-8),
        hint="alpha has one factor per (clip, input channel, frame): broadcast it over H and W before folding time.",
    ),
    Exercise(
        id="ex-5.4",
        title="How far does one alpha see?",
        kind="predict-then-check",
        difficulty="easy",
        minutes=10,
        statement=(
            "A `CalibrationGenerator(8, kernel_sizes=(5, 3), global_context=False)` computes $\\alpha_t$ "
            "from frame descriptors with two temporal convolutions. Predict the **radius** $R$ such that "
            "$\\alpha_t$ depends on frames $t-R, \\dots, t+R$. Then check: give the generator random "
            "weights (and a large BatchNorm bias so no ReLU is off), change frame 0 of a 9-frame clip and "
            "find the frames whose $\\alpha$ changes."
        ),
        stub='answer = ...  # an int\ncheck("ex-5.4", answer)\n',
        solution=(
            "g = CalibrationGenerator(8, kernel_sizes=(5, 3), global_context=False).eval()\n"
            "torch.manual_seed(1)\n"
            "for p in g.parameters():\n"
            "    nn.init.normal_(p)\n"
            "nn.init.constant_(g.bn.bias, 5.0)\n"
            "x = torch.randn(1, 8, 9, 4, 4)\n"
            "y = x.clone()\n"
            "y[:, :, 0] += 1\n"
            "with torch.no_grad():\n"
            "    changed = ((g(x) - g(y)).abs().amax(dim=(0, 1)) > 1e-6).nonzero().flatten().tolist()\n"
            "answer = max(changed)  # frame 0 reaches frames 0..R\n"
            'check("ex-5.4", answer)\n'
        ),
        wrong="answer = 2",
        check=Value(),
        answer_form="an int",
        hint="a temporal kernel of size k reaches k // 2 frames either side; radii of stacked convs add.",
        explanation="Radii add: 2 + 1. With the global descriptor on, every alpha sees every frame.",
    ),
    Exercise(
        id="ex-5.5",
        title="The cost the FLOP counter does not see",
        kind="derive",
        difficulty="medium",
        minutes=15,
        statement=(
            "With input calibration, TAdaConv2d(C, C, 3) multiplies every input element by its "
            "$\\alpha$ once before the convolution. `count_macs` counts only the convolution (element-wise "
            "products count zero). For $C = 64$, derive the ratio (calibration multiplications) / "
            "(convolution multiply-adds), independent of $T, H, W$ (padding 1, stride 1). Then measure "
            "the convolution's MACs on a small clip and compare."
        ),
        stub='answer = ...  # a ratio\ncheck("ex-5.5", answer)\n',
        solution=(
            "c = 64\n"
            "conv = TAdaConv2d(c, c, 3, padding=1, bias=False)\n"
            "x = torch.randn(1, c, 2, 6, 6)\n"
            "conv_macs = count_macs(conv, (x, torch.ones(1, c, 2)))\n"
            "calibration = x.numel()\n"
            "assert abs(calibration / conv_macs - 1 / (9 * c)) < 1e-12\n"
            "answer = calibration / conv_macs\n"
            'check("ex-5.5", answer)\n'
        ),
        wrong="answer = 1 / 9",
        check=Value(sig=3),
        answer_form="a ratio",
        hint="per output position the convolution does C_out * C_in * 9 multiply-adds; the calibration does C_in multiplications.",
        explanation="1/(9C): negligible in multiply-adds, though on a GPU the extra pass over memory is not free.",
    ),
    Exercise(
        id="ex-5.6",
        title="Average pooling at the ends of a clip",
        kind="predict-then-check",
        difficulty="easy",
        minutes=5,
        statement=(
            "TAda2D's aggregation uses `temporal_avg_pool(x, 3)`: stride 1, zero padding **counted** in "
            "the average. Predict its output at the 5 frames of a clip that is 1 everywhere "
            "`torch.ones(1, 1, 5, 2, 2)` (read one pixel), then check."
        ),
        stub='answer = ...  # 5 numbers, frame 0 to 4\ncheck("ex-5.6", answer)\n',
        solution=(
            "out = temporal_avg_pool(torch.ones(1, 1, 5, 2, 2), 3)\n"
            "answer = tuple(out[0, 0, :, 0, 0].tolist())\n"
            'check("ex-5.6", answer)\n'
        ),
        wrong="answer = (1.0, 1.0, 1.0, 1.0, 1.0)",
        check=Value(decimals=3),
        answer_form="a tuple of 5 numbers",
        hint="at frame 0 the window holds a padded zero, frame 0 and frame 1.",
        explanation="The end frames are damped by 2/3: a constant clip is not a fixed point of the aggregation.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-5.7",
        title="Depthwise: input or output calibration?",
        kind="explain",
        difficulty="medium",
        minutes=15,
        statement=(
            "For a **depthwise** TAdaConv2d (`groups = C_in = C_out`, no bias), are input calibration "
            "(`cal_dim='cin'`) and output calibration (`'cout'`) the same function for the same "
            "$\\alpha$? (a) yes, always; (b) only when $\\alpha$ is constant over time; (c) no. Check it "
            "numerically, then explain in a paragraph why, and what breaks for an ordinary (dense) conv."
        ),
        stub='answer = ...  # "a", "b" or "c"; then your paragraph in a Markdown cell\ncheck("ex-5.7", answer)\n',
        solution=(
            "torch.manual_seed(0)\n"
            "cin = TAdaConv2d(6, 6, 3, padding=1, groups=6, bias=False, cal_dim='cin').double()\n"
            "cout = TAdaConv2d(6, 6, 3, padding=1, groups=6, bias=False, cal_dim='cout').double()\n"
            "cout.weight.data.copy_(cin.weight.data)\n"
            "x, alpha = torch.randn(2, 6, 4, 5, 5, dtype=torch.float64), torch.rand(2, 6, 4, dtype=torch.float64)\n"
            "same = torch.allclose(cin(x, alpha), cout(x, alpha))\n"
            "answer = 'a' if same else 'c'\n"
            'check("ex-5.7", answer)\n'
        ),
        wrong='answer = "c"',
        check=Choice(["yes", "only for constant alpha", "no"]),
        hint="in a depthwise conv, which input channels does output channel c read?",
        rubric=(
            "Full marks: (1) yes; (2) output channel c reads only input channel c, so scaling the input "
            "channel by alpha_c or the output by alpha_c is the same (linearity of the conv in its input); "
            "(3) for a dense conv, output c mixes all inputs, so per-input scaling (C_in factors) and "
            "per-output scaling (C_out factors) span different function families, and the generator "
            "needs a different output width; (4) bias: with a bias only the cin form leaves it "
            "uncalibrated in both cases (bonus). Half marks for (1)+(2)."
        ),
        use=("exam",),
    ),
]
