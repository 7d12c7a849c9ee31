"""Exercises of chapter 1: videos as tensors, the affine matrix, Video-MNIST and the order of frames."""

from __future__ import annotations

import torch
from einops import reduce

from stconv_lite.exercises.core import Choice, Exercise, Implements, Value

SETUP = """\
import math

import torch
import torch.nn.functional as F
from einops import rearrange, reduce

from stconv_lite.exercises import check
from stconv_lite.ops.affine import affine_matrix, pixels_to_normalised, warp
"""


def _time_pool_reference(features: torch.Tensor, batch: int) -> torch.Tensor:
    return reduce(features, "(b t) d -> b d", "mean", b=batch)


def _time_pool_inputs(gen: torch.Generator) -> tuple:
    batch = int(torch.randint(2, 5, (1,), generator=gen))
    frames = int(torch.randint(3, 9, (1,), generator=gen))
    return torch.randn(batch * frames, 6, generator=gen), batch


def _inverse_reference(s, r, tx, ty):
    """(1/s, -r, -s R(r) t): the parameters whose matrix undoes Theta(s, r, tx, ty)."""
    cos, sin = torch.cos(r), torch.sin(r)
    return 1 / s, -r, -s * (cos * tx - sin * ty), -s * (sin * tx + cos * ty)


def _inverse_inputs(gen: torch.Generator) -> tuple:
    u = torch.rand(4, 5, generator=gen, dtype=torch.float64)
    return 0.5 + u[0], (u[1] - 0.5) * 3, u[2] - 0.5, u[3] - 0.5


EXERCISES = [
    Exercise(
        id="ex-1.1",
        title="Fold, convolve, unfold",
        kind="predict-then-check",
        difficulty="easy",
        minutes=5,
        statement=(
            "A batch of 6 grayscale clips of 20 frames at 64x64 is folded for a 2D network with "
            "`rearrange(x, 'b c t h w -> (b t) c h w')`, goes through "
            "`nn.Conv2d(1, 32, 3, stride=2, padding=1)` and is unfolded back to `(B, C, T, H, W)`. "
            "Write down the final shape **before** running anything, then check it."
        ),
        stub='answer = ...  # your predicted (B, C, T, H, W), e.g. (1, 2, 3, 4, 5)\ncheck("ex-1.1", answer)\n',
        solution=(
            "clips = torch.zeros(6, 1, 20, 64, 64)\n"
            "frames = rearrange(clips, 'b c t h w -> (b t) c h w')\n"
            "out = torch.nn.Conv2d(1, 32, 3, stride=2, padding=1)(frames)\n"
            "answer = tuple(rearrange(out, '(b t) c h w -> b c t h w', b=6).shape)\n"
            'check("ex-1.1", answer)\n'
        ),
        wrong="answer = (6, 32, 20, 64, 64)",
        check=Value(),
        answer_form="a shape tuple (B, C, T, H, W)",
        hint="a 2D network never touches T; stride 2 with padding 1 halves an even side.",
        explanation="The frames travel through the 2D network as a batch of B*T images; T is untouched.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-1.2",
        title="Average over time, the right way round",
        kind="implement",
        difficulty="easy",
        minutes=10,
        statement=(
            "A 2D network returns one feature vector per frame, `features` of shape `(B*T, D)` in the "
            "order of `'(b t)'` (all frames of clip 0 first). Implement `time_pool(features, batch)` "
            "that returns the mean over each clip's frames, `(B, D)`, with one einops call. "
            "What goes wrong with the pattern `'(t b) d -> b d'`?"
        ),
        stub=(
            "def time_pool(features, batch):\n"
            "    raise NotImplementedError  # one einops.reduce call\n\n\n"
            'check("ex-1.2", time_pool)\n'
        ),
        solution=(
            "def time_pool(features, batch):\n"
            "    return reduce(features, '(b t) d -> b d', 'mean', b=batch)\n\n\n"
            'check("ex-1.2", time_pool)\n'
        ),
        wrong="answer = lambda features, batch: reduce(features, '(t b) d -> b d', 'mean', b=batch)",
        answer="time_pool",
        check=Implements(_time_pool_reference, _time_pool_inputs),
        hint="the order inside the parentheses must be the order the frames were folded in: b outer, t inner.",
        explanation="'(t b)' would average frame t of every clip, mixing clips: the shape is right, the numbers are not.",
    ),
    Exercise(
        id="ex-1.3",
        title="Seven pixels to the right",
        kind="predict-then-check",
        difficulty="easy",
        minutes=5,
        statement=(
            "Frames are 28x28 and drawn with `affine_grid(..., align_corners=False)`. Which $t_x$ (in "
            "normalised units, with $s=1$, $r=t_y=0$) moves the digit **7 pixels to the right** on screen? "
            "Predict the number (mind the sign), then confirm by warping an image with a single bright "
            "pixel."
        ),
        stub='answer = ...  # t_x in normalised units\ncheck("ex-1.3", answer)\n',
        solution=(
            "tx = -pixels_to_normalised(7.0, 28, align_corners=False)  # > 0 would move the content left\n"
            "image = torch.zeros(1, 1, 28, 28)\n"
            "image[0, 0, 10, 5] = 1.0\n"
            "moved = warp(image, affine_matrix(1.0, 0.0, tx, 0.0)[None])\n"
            "assert moved[0, 0, 10, 12] > 0.99  # column 5 + 7\n"
            "answer = tx\n"
            'check("ex-1.3", answer)\n'
        ),
        wrong="answer = 0.5",
        check=Value(sig=3),
        answer_form="a number",
        hint="Theta maps output positions to input positions, so the picture moves the opposite way; "
        "one normalised unit is half the image.",
        explanation="Half the image (14 px) is one unit, and Theta maps output to input, so the sign flips.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-1.4",
        title="Undo a motion in closed form",
        kind="derive",
        difficulty="medium",
        minutes=20,
        statement=(
            r"The map $\Theta(s, r, t) : p \mapsto sR(r)(p + t)$ is invertible for $s > 0$. Derive the "
            r"parameters $(s', r', t_x', t_y')$ with $\Theta(s', r', t') = \Theta(s, r, t)^{-1}$ (as 3x3 "
            "homogeneous matrices), then implement `inverse_params(s, r, tx, ty)` returning the four "
            "tensors. Check your formula numerically with `affine_matrix` and `torch.linalg.inv` before "
            "you submit."
        ),
        stub=(
            "def inverse_params(s, r, tx, ty):\n"
            "    raise NotImplementedError  # return s', r', tx', ty'\n\n\n"
            'check("ex-1.4", inverse_params)\n'
        ),
        solution=(
            "def inverse_params(s, r, tx, ty):\n"
            "    # q = s R(r) (p + t)  =>  p = R(-r) q / s - t = (1/s) R(-r) (q - s R(r) t)\n"
            "    cos, sin = torch.cos(r), torch.sin(r)\n"
            "    return 1 / s, -r, -s * (cos * tx - sin * ty), -s * (sin * tx + cos * ty)\n\n\n"
            "def homogeneous(theta):\n"
            "    return torch.cat([theta, torch.tensor([[0.0, 0.0, 1.0]], dtype=theta.dtype)])\n\n\n"
            "params = [torch.tensor(v, dtype=torch.float64) for v in (1.2, math.radians(30), 0.1, -0.2)]\n"
            "product = homogeneous(affine_matrix(*inverse_params(*params))) @ homogeneous(affine_matrix(*params))\n"
            "torch.testing.assert_close(product, torch.eye(3, dtype=torch.float64))\n"
            'check("ex-1.4", inverse_params)\n'
        ),
        wrong="answer = lambda s, r, tx, ty: (1 / s, -r, -tx, -ty)",
        answer="inverse_params",
        check=Implements(_inverse_reference, _inverse_inputs, rtol=1e-6, atol=1e-9),
        hint="solve q = sR(r)(p + t) for p and bring the result into the form s'R(r')(q + t').",
        explanation="The translation of the inverse is not -t: it is -sR(r)t, the old translation seen after scaling and rotating.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-1.5",
        title="How much of the digit is on screen?",
        kind="derive",
        difficulty="easy",
        minutes=10,
        statement=(
            r"With $\Theta = sR(r)[I \mid t]$ the output reads an input region whose area is $s^2$ "
            r"times the output's. For $s = 1.25$ (and any $r$, $t$), by what factor is the **area of the "
            "digit as you see it** multiplied? Derive it from the determinant of the 2x2 block, then "
            "measure it: the total ink of a warped image (away from the border) over the ink of the original."
        ),
        stub='answer = ...  # the factor of the on-screen area\ncheck("ex-1.5", answer)\n',
        solution=(
            "s = 1.25\n"
            "factor = 1 / torch.linalg.det(affine_matrix(s, 0.3, 0.0, 0.0)[:, :2]).item()  # 1 / s^2\n"
            "blob = torch.zeros(1, 1, 64, 64)\n"
            "blob[0, 0, 24:40, 24:40] = 1.0\n"
            "ink_ratio = (warp(blob, affine_matrix(s, 0.3, 0.0, 0.0)[None]).sum() / blob.sum()).item()\n"
            "assert abs(ink_ratio - factor) < 0.02, ink_ratio\n"
            "answer = factor\n"
            'check("ex-1.5", answer)\n'
        ),
        wrong="answer = 1.25 ** 2",
        check=Value(sig=3),
        answer_form="a number",
        hint="the matrix maps screen to digit; the digit's area on screen is the inverse determinant.",
        explanation="det(sR) = s^2 is how much input one unit of screen reads, so the digit shows 1/s^2 as large.",
    ),
    Exercise(
        id="ex-1.6",
        title="Which network notices a reversed clip?",
        kind="predict-then-check",
        difficulty="medium",
        minutes=10,
        statement=(
            "Take two *untrained* networks of the package, `create('cnn3_2d', 10)` (the frame bag: a 2D CNN per "
            "frame, then the mean over time) and `create('cnn3_3d', 10)` (tiny C3D: 3x3x3 convolutions). Feed each "
            "a random clip `(2, 1, 8, 28, 28)` and the same clip reversed in time (`x.flip(2)`). "
            "Predict first: which outputs change? (a) both; (b) only the 3D CNN's; (c) only the frame "
            "bag's; (d) neither. Then run it (in `eval()` mode)."
        ),
        stub='answer = ...  # "a", "b", "c" or "d"\ncheck("ex-1.6", answer)\n',
        solution=(
            "from stconv_lite.models import create\n\n"
            "torch.manual_seed(0)\n"
            "x = torch.randn(1, 1, 8, 28, 28)\n"
            "changed = {}\n"
            "for name in ('cnn3_2d', 'cnn3_3d'):\n"
            "    model = create(name, 10).eval()\n"
            "    with torch.no_grad():\n"
            "        changed[name] = not torch.allclose(model(x), model(x.flip(2)), atol=1e-5)\n"
            "print(changed)\n"
            "answer = {(True, True): 'a', (False, True): 'b', (True, False): 'c', (False, False): 'd'}[\n"
            "    (changed['cnn3_2d'], changed['cnn3_3d'])]\n"
            'check("ex-1.6", answer)\n'
        ),
        wrong='answer = "a"',
        check=Choice(["both", "only the 3D CNN", "only the frame bag", "neither"]),
        hint="a mean over frames does not care in which order the frames come; does a 3x3x3 kernel?",
        explanation="This holds for any weights, trained or not: order-blindness is a property of the architecture.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-1.7",
        title="Why 'motion' labels do not hide time",
        kind="explain",
        difficulty="medium",
        minutes=15,
        statement=(
            "In `label='motion'` every clip shows a random digit and the label is its motion. An "
            "order-blind model (a bag of frames) *can*, in short clips, tell *rotate clockwise* from "
            "*rotate counter-clockwise* without reading the order of the frames. Which is the main "
            "reason? (a) the rotations start "
            "within ±20° of upright, so the tilt of the frames differs between the two classes; (b) the "
            "bag of frames secretly uses the frame order through its padding; (c) the two classes use "
            "different digits. Then explain in a paragraph what a dataset must do so that only the "
            "order of frames separates two classes (look at `label='reversal'`)."
        ),
        stub='answer = ...  # "a", "b" or "c"; then write your paragraph in a Markdown cell\ncheck("ex-1.7", answer)\n',
        solution=(
            "# An order-blind model is a function of the set of frames. Short clockwise clips that start\n"
            "# near upright show digits tilted one way, counter-clockwise ones the other: the sets differ.\n"
            "# label='reversal' pairs every clip with its exact time reverse in the partner class.\n"
            "answer = 'a'\n"
            'check("ex-1.7", answer)\n'
        ),
        wrong='answer = "c"',
        check=Choice(["pose at the start", "padding leaks order", "different digits"]),
        hint="an order-blind model sees the *set* of frames: do the two classes have the same sets?",
        explanation="Two classes are separable only by order when each clip's set of frames also occurs, reversed, in the other class.",
        rubric=(
            "Full marks: (1) an order-blind model is a function of the multiset of frames; (2) clockwise "
            "and counter-clockwise clips starting near upright produce frames tilted in opposite "
            "directions, so the multisets differ; (3) the fix pairs every clip with its exact time "
            "reverse in the other class (same digit, same parameters), as `label='reversal'` does, which "
            "caps an order-blind model at 50 % on every split. Half marks for (1)+(2) without the fix."
        ),
        use=("homework", "exam"),
    ),
]
