"""Exercises of chapter 3: 3TConv, kernels grown from one slice by affine transforms."""

from __future__ import annotations

import torch

from stconv_lite.exercises.core import Choice, Exercise, Implements, Property, Value
from stconv_lite.ops.affine import affine_matrix, warp

SETUP = """\
import torch
import torch.nn as nn
import torch.nn.functional as F

from stconv_lite.analysis.complexity import count_parameters
from stconv_lite.exercises import check
from stconv_lite.ops.affine import affine_matrix, warp
from stconv_lite.ops.conv3t import Conv3T
"""


def _next_slice_reference(kernel_slice, s, r, tx, ty):
    theta = affine_matrix(s, r, tx, ty).to(kernel_slice.dtype)
    return warp(kernel_slice[None, None], theta[None], align_corners=True)[0, 0]


def _next_slice_inputs(gen: torch.Generator) -> tuple:
    u = torch.rand(4, generator=gen, dtype=torch.float64)
    return (
        torch.randn(5, 5, generator=gen, dtype=torch.float64),
        float(0.8 + 0.4 * u[0]),
        float(u[1] - 0.5),
        float(u[2] - 0.5),
        float(u[3] - 0.5),
    )


def _moving_dot(direction: int, frames: int = 5, size: int = 15) -> torch.Tensor:
    """A single bright pixel moving one pixel per frame to the right (+1) or left (-1)."""
    clip = torch.zeros(1, 1, frames, size, size)
    for t in range(frames):
        clip[0, 0, t, size // 2, size // 2 + direction * (t - frames // 2)] = 1.0
    return clip


def _detector_test(layer) -> tuple[bool, str]:
    from stconv_lite.ops.conv3t import Conv3T

    if not isinstance(layer, Conv3T) or layer.in_channels != 1 or layer.out_channels != 1:
        return False, "`detector` should be a Conv3T with 1 input and 1 output channel"
    if layer.kernel_size[0] < 3:
        return False, "the kernel needs at least 3 time taps to see a motion"
    if layer.first_slice.detach().abs().max() == 0:
        return False, "no answer yet: the first slice is still all zeros"
    if layer.rotation.detach().abs().max() > 1e-6 or (layer.scale.detach() - 1).abs().max() > 1e-6:
        return False, "use translations only (scale 1, rotation 0)"
    with torch.no_grad():
        right = layer(_moving_dot(+1)).max().item()
        left = layer(_moving_dot(-1)).max().item()
    if right > 2 * max(left, 1e-6) and right > 0:
        return True, ""
    return False, f"its strongest response to a right-moving dot is {right:.3g}, to a left-moving dot {left:.3g}"


EXERCISES = [
    Exercise(
        id="ex-3.1",
        title="Count before you build",
        kind="derive",
        difficulty="easy",
        minutes=5,
        statement=(
            "A 3TConv layer maps 32 to 64 channels with a $5\\times3\\times3$ kernel (5 time taps) and a "
            "bias. How many parameters does it have? Derive the count from the parameters it learns "
            "(first slice, four transform numbers per filter and step, bias), then check with "
            "`count_parameters(Conv3T(32, 64, (5, 3, 3)))`."
        ),
        stub='answer = ...  # an int\ncheck("ex-3.1", answer)\n',
        solution=(
            "c_in, c_out, l, n, m = 32, 64, 5, 3, 3\n"
            "derived = c_out * c_in * n * m + 4 * (l - 1) * c_out + c_out\n"
            "assert count_parameters(Conv3T(c_in, c_out, (l, n, m))) == derived\n"
            "answer = derived\n"
            'check("ex-3.1", answer)\n'
        ),
        wrong="answer = 64 * 32 * 9 + 4 * 5 * 64 + 64",
        check=Value(),
        answer_form="an int",
        hint="l slices need l - 1 transforms, each of 4 numbers, one set per output filter.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-3.2",
        title="Which way does the slice move?",
        kind="predict-then-check",
        difficulty="easy",
        minutes=10,
        statement=(
            "A $3\\times7\\times7$ 3TConv kernel has $t_x = 0.5$ (normalised, `align_corners=True`) and "
            "otherwise identity transforms. By how many taps does the content of slice 2 move "
            "horizontally relative to slice 1 (positive = to the right)? Predict, then measure the shift "
            "of the centre of mass of a slice holding one bright tap."
        ),
        stub='answer = ...  # taps, positive to the right\ncheck("ex-3.2", answer)\n',
        solution=(
            "layer = Conv3T(1, 1, (3, 7, 7), bias=False)\n"
            "with torch.no_grad():\n"
            "    layer.first_slice.zero_()\n"
            "    layer.first_slice[0, 0, 3, 3] = 1.0\n"
            "    layer.tx.fill_(0.5)\n"
            "kernel = layer.kernel().detach()[0, 0]  # (l, n, m)\n"
            "columns = torch.arange(7.0)\n"
            "centre = [(kernel[i].sum(0) * columns).sum() / kernel[i].sum() for i in range(2)]\n"
            "answer = (centre[1] - centre[0]).item()\n"
            'check("ex-3.2", answer)\n'
        ),
        wrong="answer = 1.5",
        check=Value(sig=3),
        answer_form="a number of taps",
        hint="one normalised unit is (7 - 1) / 2 taps with align_corners=True, and a positive t_x moves the content left.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-3.3",
        title="One resampling step",
        kind="implement",
        difficulty="medium",
        minutes=15,
        statement=(
            "Implement `next_slice(kernel_slice, s, r, tx, ty)`: the slice `(n, m)` resampled under "
            "$\\Theta = sR(r)[I \\mid t]$ with `affine_matrix`, `F.affine_grid` and `F.grid_sample` "
            "(bilinear, zeros outside, `align_corners=True`, as 3TConv). This is one step of eq. 3."
        ),
        stub=(
            "def next_slice(kernel_slice, s, r, tx, ty):\n"
            "    raise NotImplementedError  # (n, m) -> (n, m)\n\n\n"
            'check("ex-3.3", next_slice)\n'
        ),
        solution=(
            "def next_slice(kernel_slice, s, r, tx, ty):\n"
            "    theta = affine_matrix(s, r, tx, ty).to(kernel_slice.dtype)[None]  # (1, 2, 3)\n"
            "    image = kernel_slice[None, None]  # (1, 1, n, m)\n"
            "    grid = F.affine_grid(theta, list(image.shape), align_corners=True)\n"
            "    return F.grid_sample(image, grid, mode='bilinear', padding_mode='zeros', align_corners=True)[0, 0]\n\n\n"
            'check("ex-3.3", next_slice)\n'
        ),
        wrong=(
            "def answer(kernel_slice, s, r, tx, ty):\n"
            "    theta = affine_matrix(s, r, tx, ty).to(kernel_slice.dtype)[None]\n"
            "    grid = F.affine_grid(theta, [1, 1, *kernel_slice.shape], align_corners=False)\n"
            "    return F.grid_sample(kernel_slice[None, None], grid, align_corners=False)[0, 0]\n"
        ),
        answer="next_slice",
        check=Implements(_next_slice_reference, _next_slice_inputs, rtol=1e-6, atol=1e-9),
        hint="affine_grid wants a batch of matrices (N, 2, 3) and a size [N, C, H, W]; use the same align_corners in both calls.",
    ),
    Exercise(
        id="ex-3.4",
        title="Sequential resampling vs composed matrices, fairly",
        kind="predict-then-check",
        difficulty="medium",
        minutes=15,
        statement=(
            "Grow a $5\\times7\\times7$ kernel from a random first slice with a translation of **0.3 taps** "
            "per step, (i) as 3TConv does (resample the previous slice four times) and (ii) by composing "
            "the four translations into one matrix and resampling the *first* slice once. Which last "
            "slice has the smaller sum of squares (is blurrier)? (a) sequential; (b) composed; (c) equal."
        ),
        stub='answer = ...  # "a", "b" or "c"\ncheck("ex-3.4", answer)\n',
        solution=(
            "torch.manual_seed(0)\n"
            "layer = Conv3T(1, 1, (5, 7, 7), bias=False).set_transforms(tx_px=0.3)\n"
            "first = layer.first_slice.detach()[0, 0]\n"
            "sequential = layer.kernel().detach()[0, 0, -1]\n"
            "composed = warp(first[None, None], affine_matrix(1.0, 0.0, layer.tx.detach()[0, 0].item() * 4, 0.0)[None],\n"
            "                align_corners=True)[0, 0]\n"
            "energy = sequential.square().sum().item(), composed.square().sum().item()\n"
            "print(f'sum of squares: sequential {energy[0]:.3f}, composed {energy[1]:.3f}')\n"
            "answer = 'a' if energy[0] < energy[1] else 'b'\n"
            'check("ex-3.4", answer)\n'
        ),
        wrong='answer = "c"',
        check=Choice(["sequential", "composed", "equal"]),
        hint="every bilinear resampling off the grid averages neighbouring taps; how many times does each scheme average?",
        explanation="Each off-grid step is a small blur, and blurs add up: that is the cost of eq. 3's recursion.",
    ),
    Exercise(
        id="ex-3.5",
        title="A motion detector by hand",
        kind="implement",
        difficulty="hard",
        minutes=25,
        statement=(
            "Build `detector = Conv3T(1, 1, (3, 3, 3), padding=1, bias=False)` and set its first slice "
            "and translations **by hand** (no training, scale 1, rotation 0) so that its strongest "
            "response to a single bright pixel moving one pixel per frame **to the right** is more than "
            "twice its strongest response to the same pixel moving left. Remember that a deep-learning "
            "convolution is a cross-correlation: slice $\\tau$ is matched against frame $t + \\tau$."
        ),
        stub=(
            "detector = Conv3T(1, 1, (3, 3, 3), padding=1, bias=False)\n"
            "with torch.no_grad():\n"
            "    detector.first_slice.zero_()  # your first slice here\n"
            "detector.set_transforms(tx_px=0.0)  # your translations here\n"
            'check("ex-3.5", detector)\n'
        ),
        solution=(
            "detector = Conv3T(1, 1, (3, 3, 3), padding=1, bias=False)\n"
            "with torch.no_grad():\n"
            "    detector.first_slice.zero_()\n"
            "    detector.first_slice[0, 0, 1, 0] = 1.0  # slice 1: the dot one tap left of centre\n"
            "# later slices must show the dot further right: content moves right for t_x < 0\n"
            "detector.set_transforms(tx_px=-1.0)\n"
            'check("ex-3.5", detector)\n'
        ),
        wrong=(
            "answer = Conv3T(1, 1, (3, 3, 3), padding=1, bias=False)\n"
            "with torch.no_grad():\n"
            "    answer.first_slice.zero_()\n"
            "    answer.first_slice[0, 0, 1, 2] = 1.0\n"
            "answer.set_transforms(tx_px=1.0)\n"
        ),
        answer="detector",
        check=Property(_detector_test, "responds > 2x more to a right-moving dot than to a left-moving one"),
        hint="put one bright tap in the first slice and make the content of each later slice move one tap to the "
        "right; check the sign convention of tx_px in Conv3T.readable_parameters.",
        explanation="A 3T filter tuned to a motion is a first slice plus the motion itself: the transforms are readable.",
        use=("homework",),
    ),
    Exercise(
        id="ex-3.6",
        title="When is 3T worth it?",
        kind="explain",
        difficulty="medium",
        minutes=15,
        statement=(
            "Which statement about a 3TConv layer with an $l\\times n\\times m$ kernel is **false**? "
            "(a) it has about $l$ times fewer weights than the 3D convolution when $C_{in}$ is large; "
            "(b) it costs about the same multiply-adds as the 3D convolution in the forward pass; "
            "(c) every slice can hold a pattern that no affine transform of the first slice produces. "
            "Then explain in a paragraph for which kinds of video motion the affine constraint is a "
            "good prior and where it fails (think of occlusion and of appearing objects)."
        ),
        stub='answer = ...  # "a", "b" or "c"; then your paragraph in a Markdown cell\ncheck("ex-3.6", answer)\n',
        solution=(
            "c_in, c_out = 256, 256\n"
            "ratio = count_parameters(nn.Conv3d(c_in, c_out, 3, bias=False)) / count_parameters(Conv3T(c_in, c_out, 3, bias=False))\n"
            "print(f'3D / 3T weights at 256 channels: {ratio:.2f}')  # close to l = 3: (a) is true\n"
            "# (b) is true: the generated kernel runs as one ordinary conv3d. (c) is false: every slice is\n"
            "# the first one resampled.\n"
            "answer = 'c'\n"
            'check("ex-3.6", answer)\n'
        ),
        wrong='answer = "b"',
        check=Choice(["l times fewer weights", "same multiply-adds", "free slices"]),
        hint="where does slice b + 1 come from?",
        rubric=(
            "Full marks: (1) identifies (c) as false (slices are resampled copies of the first); "
            "(2) good prior: rigid or smoothly deforming motion of a pattern that stays in view (translation, "
            "rotation, zoom of a textured object, camera motion), where the same local pattern reappears "
            "moved; (3) failure cases: occlusion/disocclusion, objects entering the frame, changes in "
            "appearance or lighting, non-affine deformation, motions larger than the kernel; (4) notes that "
            "repeated resampling loses mass at the border, so large transforms in small kernels fade. "
            "Half marks for (1)+(2)."
        ),
        use=("exam",),
    ),
]
