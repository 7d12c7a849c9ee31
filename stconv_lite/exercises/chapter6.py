"""Exercises of chapter 6: spatiotemporal fusion as a probability space (fusion units, drop-path, KL)."""

from __future__ import annotations

import torch

from stconv_lite.exercises.core import Choice, Exercise, Implements, Value
from stconv_lite.ops.droppath import relaxed_drop

SETUP = """\
import math

import torch
import torch.nn as nn

from stconv_lite.analysis.complexity import count_parameters
from stconv_lite.exercises import check
from stconv_lite.ops.droppath import kl_term, logistic_noise, relaxed_drop
from stconv_lite.ops.fusion import FusionLayer, FusionTransition
"""


def _stationary_reference(weight_cost: torch.Tensor, n_train: int) -> torch.Tensor:
    return torch.sigmoid(n_train * weight_cost)


def _stationary_inputs(gen: torch.Generator) -> tuple:
    n = int(torch.randint(10, 1000, (1,), generator=gen))
    return torch.rand(6, generator=gen, dtype=torch.float64) * 3 / n, n


def _keep_reference(logit: torch.Tensor, noise: torch.Tensor, tau: float) -> torch.Tensor:
    return 1 - relaxed_drop(logit, noise, tau)


def _keep_inputs(gen: torch.Generator) -> tuple:
    logit = torch.randn((), generator=gen, dtype=torch.float64) * 2
    u = torch.rand(2, 50, generator=gen, dtype=torch.float64).clamp(1e-6, 1 - 1e-6)
    noise = torch.log(-torch.log(u[0])) - torch.log(-torch.log(u[1]))
    return logit, noise, float(0.1 + torch.rand((), generator=gen))


EXERCISES = [
    Exercise(
        id="ex-6.1",
        title="Where the KL term alone sends p",
        kind="derive",
        difficulty="medium",
        minutes=20,
        statement=(
            "For one gate, the KL term is $\\mathrm{KL}(p) = \\lambda_w (1-p)\\lVert w\\rVert^2 + "
            "\\tfrac1N[p\\log p + (1-p)\\log(1-p)]$ (`kl_term`, code convention). Fix the weights and "
            "minimise over $p$ alone: set $d\\mathrm{KL}/dp = 0$ and solve for $p^*$ in closed form. "
            "Implement `stationary_p(weight_cost, n_train)` where `weight_cost` is "
            "$\\lambda_w\\lVert w\\rVert^2$ (a tensor). Check it against a few hundred gradient steps on "
            "`kl_term` before you submit. What does $p^*$ say about paths whose weights are small?"
        ),
        stub=(
            "def stationary_p(weight_cost, n_train):\n"
            "    raise NotImplementedError\n\n\n"
            'check("ex-6.1", stationary_p)\n'
        ),
        solution=(
            "def stationary_p(weight_cost, n_train):\n"
            "    # dKL/dp = -weight_cost + log(p / (1 - p)) / N = 0  =>  logit(p*) = N * weight_cost\n"
            "    return torch.sigmoid(n_train * weight_cost)\n\n\n"
            "logit = torch.tensor(-2.0, requires_grad=True)\n"
            "optimiser = torch.optim.SGD([logit], lr=50.0)\n"
            "for _ in range(300):\n"
            "    loss = kl_term(torch.sigmoid(logit), torch.tensor([0.1]), length_scale=1.0, n_train=100)\n"
            "    optimiser.zero_grad(); loss.backward(); optimiser.step()\n"
            "weight_cost = torch.tensor(1.0 / 100 * 0.1 ** 2)  # lambda_w = k / N, ||w||^2 = 0.01\n"
            "assert abs(torch.sigmoid(logit).item() - stationary_p(weight_cost, 100).item()) < 1e-3\n"
            'check("ex-6.1", stationary_p)\n'
        ),
        wrong="answer = lambda weight_cost, n_train: torch.sigmoid(weight_cost)",
        answer="stationary_p",
        check=Implements(_stationary_reference, _stationary_inputs, rtol=1e-8, atol=1e-10),
        hint="d/dp [p log p + (1-p) log(1-p)] = log(p / (1 - p)), the logit.",
        explanation="p* = sigmoid(N lambda ||w||^2) >= 1/2: the prior alone never switches a path on; only the data term can.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-6.2",
        title="From drop probabilities to units",
        kind="derive",
        difficulty="easy",
        minutes=10,
        statement=(
            "At one position the S path has drop probability $p_S = 0.2$ and the ST path $p_{ST} = 0.5$, "
            "drawn independently. Derive the probabilities of the four units this position can take, in "
            "the order (S+ST, S, ST, none)."
        ),
        stub='answer = ...  # four probabilities: (S+ST, S, ST, none)\ncheck("ex-6.2", answer)\n',
        solution=(
            "p_s, p_st = 0.2, 0.5\n"
            "answer = ((1 - p_s) * (1 - p_st), (1 - p_s) * p_st, p_s * (1 - p_st), p_s * p_st)\n"
            "assert abs(sum(answer) - 1) < 1e-12\n"
            'check("ex-6.2", answer)\n'
        ),
        wrong="answer = (0.8 * 0.5, 0.8, 0.5, 0.2 * 0.5)",
        check=Value(decimals=3),
        answer_form="a tuple of 4 probabilities",
        hint="a path is kept with probability 1 - p; 'S' means S kept and ST dropped.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-6.3",
        title="The relaxed keep factor",
        kind="implement",
        difficulty="medium",
        minutes=15,
        statement=(
            "Implement the keep factor of a relaxed gate (eq. S13 with the fixed noise): "
            "`relaxed_keep(logit, noise, tau)` $= 1 - \\sigma((\\text{logit} + L)/\\tau)$, where "
            "logit $= \\log p - \\log(1-p)$ and $L$ is logistic noise. Write $\\sigma$ yourself with "
            "`torch.exp` (mind overflow for small $\\tau$: use `torch.sigmoid` only to compare)."
        ),
        stub=(
            'def relaxed_keep(logit, noise, tau):\n    raise NotImplementedError\n\n\ncheck("ex-6.3", relaxed_keep)\n'
        ),
        solution=(
            "def relaxed_keep(logit, noise, tau):\n"
            "    z = (logit + noise) / tau\n"
            "    # 1 - sigmoid(z) = sigmoid(-z) = 1 / (1 + exp(z)); exp(-|z|) never overflows\n"
            "    e = torch.exp(-z.abs())\n"
            "    return torch.where(z > 0, e / (1 + e), 1 / (1 + e))\n\n\n"
            'check("ex-6.3", relaxed_keep)\n'
        ),
        wrong="answer = lambda logit, noise, tau: torch.sigmoid((logit + noise) / tau)",
        answer="relaxed_keep",
        check=Implements(_keep_reference, _keep_inputs, rtol=1e-8, atol=1e-12),
        hint="the package's relaxed_drop returns the *drop* indicator d; the gate multiplies by 1 - d.",
    ),
    Exercise(
        id="ex-6.4",
        title="Does the temperature change how often a path is mostly on?",
        kind="predict-then-check",
        difficulty="medium",
        minutes=15,
        statement=(
            "For $p = 0.1$ and a **large** temperature $\\tau = 5$, what fraction of relaxed keep factors "
            "$1 - d$ exceed $1/2$? Predict before you sample (think of the sign of logit + L), then "
            "estimate it from 200,000 draws of `logistic_noise` and `relaxed_drop`. Does the answer "
            "depend on $\\tau$?"
        ),
        stub='answer = ...  # a fraction, 2 decimals\ncheck("ex-6.4", answer)\n',
        solution=(
            "noise = logistic_noise((200_000,), torch.Generator().manual_seed(0))\n"
            "logit = torch.logit(torch.tensor(0.1))\n"
            "fractions = {tau: (1 - relaxed_drop(logit, noise, tau) > 0.5).float().mean().item() for tau in (0.05, 1.0, 5.0)}\n"
            "print(fractions)  # the same for every tau\n"
            "answer = fractions[5.0]\n"
            'check("ex-6.4", answer)\n'
        ),
        wrong="answer = 0.5",
        check=Value(decimals=2),
        answer_form="a fraction",
        hint="1 - d > 1/2 exactly when logit + L < 0, whatever tau is; and P(L < -logit) = sigmoid(-logit).",
        explanation="tau only squeezes the values towards 1/2; which side of 1/2 they fall on is Bernoulli(1 - p) for every tau.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-6.5",
        title="Parameters of one fusion layer",
        kind="derive",
        difficulty="easy",
        minutes=10,
        statement=(
            "Count the parameters of `FusionLayer(16, growth=8, bottleneck=32)` (unit S+ST): two gated "
            "bottleneck paths, each BN (2 per channel) -> ReLU -> conv without bias ($1\\times1\\times1$ "
            "for S, $3\\times1\\times1$ for ST) with one learnable gate logit; then BN -> ReLU -> a "
            "$1\\times3\\times3$ conv (no bias) to the growth channels. Check with `count_parameters`."
        ),
        stub='answer = ...  # an int\ncheck("ex-6.5", answer)\n',
        solution=(
            "c_in, growth, bottleneck = 16, 8, 32\n"
            "path_s = 2 * c_in + c_in * bottleneck * 1 + 1\n"
            "path_st = 2 * c_in + c_in * bottleneck * 3 + 1\n"
            "shared = 2 * bottleneck + bottleneck * growth * 9\n"
            "derived = path_s + path_st + shared\n"
            "assert count_parameters(FusionLayer(c_in, growth, bottleneck)) == derived\n"
            "answer = derived\n"
            'check("ex-6.5", answer)\n'
        ),
        wrong="answer = 16 * 32 + 16 * 32 * 3 + 32 * 8 * 9",
        check=Value(),
        answer_form="an int",
        hint="do not forget the two BatchNorms of the paths, the shared BatchNorm and the two gate logits.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-6.6",
        title="Channels through a dense block and a transition",
        kind="predict-then-check",
        difficulty="easy",
        minutes=5,
        statement=(
            "A dense block of 4 `FusionLayer`s with growth 12 starts from 24 channels; a "
            "`FusionTransition` then halves the channels and pools space by 2. For an input "
            "`(2, 24, 8, 14, 14)`, predict the output shape of block + transition, then build it."
        ),
        stub='answer = ...  # a shape tuple\ncheck("ex-6.6", answer)\n',
        solution=(
            "layers, c = [], 24\n"
            "for _ in range(4):\n"
            "    layers.append(FusionLayer(c, growth=12, bottleneck=48))\n"
            "    c += 12\n"
            "net = nn.Sequential(*layers, FusionTransition(c, c // 2)).eval()\n"
            "with torch.no_grad():\n"
            "    answer = tuple(net(torch.randn(2, 24, 8, 14, 14)).shape)\n"
            'check("ex-6.6", answer)\n'
        ),
        wrong="answer = (2, 12, 8, 7, 7)",
        check=Value(),
        answer_form="a shape tuple",
        hint="each dense layer concatenates its growth channels to its input; the transition pools H and W only.",
        use=("homework", "exam"),
    ),
    Exercise(
        id="ex-6.7",
        title="Why re-estimate BatchNorm for a sampled network?",
        kind="explain",
        difficulty="medium",
        minutes=15,
        statement=(
            "After training the template, a strategy is sampled (each gate fixed on or off) and "
            "evaluated with the template's weights. Why does the chapter's `opt_bn` arm re-estimate the "
            "BatchNorm statistics first? (a) the running statistics were collected under random relaxed "
            "gates, so the sum entering each shared BN of a sampled sub-network has a different mean and "
            "variance; (b) BatchNorm has no running statistics in eval mode; (c) the sampled network has "
            "more parameters. Then explain in a paragraph what goes wrong without it and how you would "
            "measure the effect."
        ),
        stub='answer = ...  # "a", "b" or "c"; then your paragraph in a Markdown cell\ncheck("ex-6.7", answer)\n',
        solution=(
            "layer = FusionLayer(8, growth=4, bottleneck=8).train()\n"
            "x = torch.randn(4, 8, 4, 6, 6)\n"
            "with torch.no_grad():\n"
            "    both = layer.fused(x).var().item()\n"
            "    layer.paths['ST'].gate.set_keep(False)\n"
            "    only_s = layer.fused(x).var().item()\n"
            "print(f'variance of the fused input to the shared BN: both paths {both:.3f}, S only {only_s:.3f}')\n"
            "answer = 'a'\n"
            'check("ex-6.7", answer)\n'
        ),
        wrong='answer = "c"',
        check=Choice(["statistics of the sum change", "no running statistics", "more parameters"]),
        hint="what does the shared BatchNorm after the sum of the paths see when one path is switched off?",
        rubric=(
            "Full marks: (1) chooses (a); (2) explains that dropping a path changes the distribution of "
            "the summed bottleneck (mean and variance), so the template's running statistics mis-normalise "
            "every later layer and accuracy of sub-networks is underestimated, unevenly across "
            "strategies (which biases the ranking); (3) no 1/(1-p) rescaling is used, so nothing else "
            "compensates; (4) proposes to measure accuracy of the same sampled strategies with and without "
            "re-estimation on a held-out split, paired by seed. Half marks for (1)+(2)."
        ),
        use=("exam",),
    ),
]
