r"""Variational drop-path: a learnable, per-path drop probability and its KL regulariser.

Zhou et al. (CVPR 2020, "Spatiotemporal Fusion in 3D CNNs: A Probabilistic View") put every
candidate path of a template network behind a gate that *drops the whole path* with probability
$p$, learn $p$ jointly with the weights, and read the learned $p$'s as a posterior over fusion
strategies. This file holds the two pieces that do not depend on what the path computes:

- :class:`DropPathGate`, the gate, with an explicit ``mode``:

  ``"off"``       the path is always on (the warm-up template: every layer is S+ST);
  ``"relaxed"``   a binary-Concrete (Gumbel-sigmoid) sample of the *drop* indicator, eq. S13 of
                  the supplement, one draw per sample in the batch (DropPath, not dropout);
  ``"fixed"``     a hard keep bit (a sampled or hand-picked strategy);
  ``"expected"``  multiply by the keep probability $1-p$ (a "mean network"; not in the paper).

  The mode does **not** follow ``model.train()`` / ``model.eval()``: the authors' code keeps
  sampling at validation time, which mixes "template" and "random sub-network" numbers. Here the
  caller says which network it evaluates (discrepancy 7 of the notes).

- :func:`kl_term` and :class:`GatedPath` / :func:`variational_kl`, eq. S12: the keep-weighted
  squared norm of the guarded kernel times a length-scale coefficient over $N$, plus the Bernoulli
  negative entropy over $N$.

Decisions on the paper / code discrepancies (each is a keyword, so the chapter can compare):

1. **$p$ is the drop probability** everywhere. S7 reads $\epsilon$ as a keep variable, S13 and the
   code compute a drop variable $d$; we sample $d$ and multiply by $1-d$.
2. **S13's noise** $\log(\log r)$ is undefined for $r \in (0,1)$; we use $\log(-\log r_1) -
   \log(-\log r_2)$, a standard logistic variable, so $d \to \mathrm{Bernoulli}(p)$ as
   $\tau \to 0$. $\tau = 0.2$ as in the code.
3. **No $1/(1-p)$ rescaling** (as the code): the template at test time and a sampled sub-network
   use the same weights; the BN after every sum renormalises.
4. **Weight coefficient** ``coefficient="code"`` (default) is $k/N$; ``"paper"`` is $k^2/(2N)$.
   The published $k$ (10, 50, 250) only make sense linearly.
5. **Entropy** ``entropy="full"`` (default, as the code and Gal's concrete dropout) is
   $p\log p + (1-p)\log(1-p)$; ``"paper"`` keeps only $p \log p$ (eq. 5 / S12 as printed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from stconv_lite.ops.arguments import check_video_input

__all__ = [
    "GATE_MODES",
    "DropPathGate",
    "GatedPath",
    "relaxed_drop",
    "logistic_noise",
    "kl_term",
    "variational_kl",
    "gated_paths",
]

GATE_MODES = ("off", "relaxed", "fixed", "expected")
_EPS = 1e-7  # keeps log(-log u) finite for u at the ends of (0, 1)


def logistic_noise(
    shape: tuple[int, ...],
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Tensor:
    r"""$\log(-\log r_1) - \log(-\log r_2)$ with $r_1, r_2 \sim U(0,1)$: the noise of eq. S13 (fixed).

    The difference of two Gumbel variables is logistic: $P(L > -\theta) = \sigma(\theta)$.
    """
    u1 = torch.rand(shape, generator=generator, dtype=dtype, device=device).clamp(_EPS, 1 - _EPS)
    u2 = torch.rand(shape, generator=generator, dtype=dtype, device=device).clamp(_EPS, 1 - _EPS)
    return torch.log(-torch.log(u1)) - torch.log(-torch.log(u2))


def relaxed_drop(logit: Tensor, noise: Tensor, tau: float) -> Tensor:
    r"""The relaxed drop indicator $d = \sigma\big((\log p - \log(1-p) + L)/\tau\big)$ (eq. S13).

    ``logit`` is $\log p - \log(1-p)$; ``noise`` is logistic (see :func:`logistic_noise`). Values lie
    in $[0, 1]$; as $\tau \to 0$, $d \to \mathrm{Bernoulli}(p)$ with $p = \sigma(\text{logit})$.
    """
    if tau <= 0:
        raise ValueError(f"relaxed_drop expects a temperature tau > 0; got {tau}")
    return torch.sigmoid((logit + noise) / tau)


class DropPathGate(nn.Module):
    """A learnable drop probability ``p = sigmoid(logit)`` for one path, and how it is applied.

    Args:
        p0: initial drop probability (0.1 in the paper and the code).
        tau: Concrete temperature for ``"relaxed"`` (0.2 in the code).
        mode: one of :data:`GATE_MODES`; change it with :meth:`set_mode`.
    """

    def __init__(self, p0: float = 0.1, tau: float = 0.2, mode: str = "off") -> None:
        super().__init__()
        if not 0.0 < p0 < 1.0:
            raise ValueError(f"DropPathGate expects 0 < p0 < 1; got p0={p0}")
        if tau <= 0:
            raise ValueError(f"DropPathGate expects tau > 0; got tau={tau}")
        self.logit = nn.Parameter(torch.tensor(math.log(p0 / (1.0 - p0))))
        self.register_buffer("keep_bit", torch.tensor(1.0))
        self.tau = float(tau)
        self.mode = "off"
        self.set_mode(mode)
        self.generator: torch.Generator | None = None  # optional, for repeatable relaxed draws

    @property
    def p(self) -> Tensor:
        """The drop probability (a differentiable scalar)."""
        return torch.sigmoid(self.logit)

    def set_mode(self, mode: str) -> None:
        if mode not in GATE_MODES:
            raise ValueError(f"gate mode must be one of {GATE_MODES}; got {mode!r}")
        self.mode = mode

    def set_keep(self, keep: bool | float) -> None:
        """Fix a hard keep bit and switch to ``"fixed"`` mode."""
        self.keep_bit.fill_(1.0 if bool(keep) else 0.0)
        self.mode = "fixed"

    def sample_keep(self, generator: torch.Generator | None = None) -> bool:
        """Draw a hard keep bit, ``1[u >= p]`` (keep with probability ``1 - p``), and fix it."""
        u = torch.rand((), generator=generator)
        keep = bool(u >= self.p.detach().cpu())
        self.set_keep(keep)
        return keep

    def factor(self, batch: int, dtype: torch.dtype, device: torch.device) -> Tensor | None:
        """The multiplier of the path output: ``None`` (identity), a scalar, or one value per sample (B,)."""
        if self.mode == "off":
            return None
        if self.mode == "fixed":
            return self.keep_bit.to(dtype)
        if self.mode == "expected":
            return (1.0 - self.p).to(dtype)
        noise = logistic_noise((batch,), self.generator, dtype=dtype, device=device)
        return 1.0 - relaxed_drop(self.logit.to(dtype), noise, self.tau)

    def forward(self, x: Tensor) -> Tensor:
        """Scale a whole path output by its keep factor (eq. S13 in ``"relaxed"`` mode).

        Shapes:
            x: (B, C, T, H, W) -> (B, C, T, H, W); one factor per sample, broadcast over C, T, H, W.
        """
        # No weight-dtype check: the factor is computed in x's dtype, so float64 (gradcheck) works.
        check_video_input(x, "DropPathGate")
        factor = self.factor(x.shape[0], x.dtype, x.device)
        if factor is None:
            return x
        if factor.dim() == 1:
            return x * factor[:, None, None, None, None]
        return x * factor

    def extra_repr(self) -> str:
        return f"p={self.p.item():.3f}, tau={self.tau}, mode={self.mode!r}"


class GatedPath(nn.Module):
    """A pre-activation conv path guarded by a drop-path gate: BN -> ReLU -> Conv3d (no bias) -> gate.

    The gate multiplies the conv *output*; with no bias ``conv(m x) = m conv(x)``, so this equals
    masking the input as the authors' code does, and a fixed-off path skips its conv entirely.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: tuple[int, int, int], p0: float = 0.1, tau: float = 0.2
    ) -> None:
        super().__init__()
        padding = tuple(k // 2 for k in kernel_size)
        self.bn = nn.BatchNorm3d(in_channels)
        self.conv = nn.Conv3d(in_channels, out_channels, kernel_size, padding=padding, bias=False)
        self.gate = DropPathGate(p0=p0, tau=tau)

    def forward(self, x: Tensor) -> Tensor:
        """``gate(conv(relu(bn(x))))``: one path of eq. S7, $w \\cdot \\epsilon$ applied to features.

        Shapes:
            x: (B, C_in, T, H, W) -> (B, C_out, T, H, W)
        """
        # Checked before the fixed-off shortcut below, which would otherwise return zeros for any input.
        check_video_input(x, "GatedPath", self.bn.num_features, self.conv.weight)
        if self.gate.mode == "fixed" and self.gate.keep_bit.item() == 0.0:
            batch, _, t, h, w = x.shape
            return x.new_zeros(batch, self.conv.out_channels, t, h, w)
        return self.gate(self.conv(F.relu(self.bn(x))))


def kl_term(
    p: Tensor, weight: Tensor, length_scale: float, n_train: int, coefficient: str = "code", entropy: str = "full"
) -> Tensor:
    r"""KL of one gated kernel to its prior, eq. S12 (decisions 4 and 5 of the module docstring).

    $$\mathrm{KL} \approx \lambda_w (1-p)\,\lVert w \rVert^2 + \tfrac1N\big[p\log p + (1-p)\log(1-p)\big],
    \qquad \lambda_w = k/N \text{ (code) or } k^2/(2N) \text{ (paper)}.$$
    """
    if n_train < 1:
        raise ValueError(f"kl_term expects n_train >= 1 (the number of training clips); got {n_train}")
    if coefficient == "code":
        lam = length_scale / n_train
    elif coefficient == "paper":
        lam = length_scale**2 / (2 * n_train)
    else:
        raise ValueError(f"coefficient must be 'code' (k/N) or 'paper' (k^2/(2N)); got {coefficient!r}")
    if entropy == "full":
        neg_entropy = p * torch.log(p) + (1 - p) * torch.log(1 - p)
    elif entropy == "paper":
        neg_entropy = p * torch.log(p)
    else:
        raise ValueError(f"entropy must be 'full' or 'paper'; got {entropy!r}")
    return lam * (1 - p) * weight.pow(2).sum() + neg_entropy / n_train


def gated_paths(model: nn.Module) -> Iterator[GatedPath]:
    """Every :class:`GatedPath` inside ``model``, in module order."""
    return (m for m in model.modules() if isinstance(m, GatedPath))


def variational_kl(
    model: nn.Module | Iterable[GatedPath],
    length_scale: float,
    n_train: int,
    coefficient: str = "code",
    entropy: str = "full",
) -> Tensor:
    """The whole KL of eq. S12 / eq. 5: :func:`kl_term` summed over every gated path.

    Add it to a per-sample *mean* cross-entropy once per step (eq. 5 is the ELBO divided by N).
    Use it as ``fit(..., regulariser=lambda m: variational_kl(m, k, N))``.
    """
    paths = list(gated_paths(model)) if isinstance(model, nn.Module) else list(model)
    if not paths:
        raise ValueError("variational_kl found no GatedPath: the model has nothing to regularise")
    terms = [kl_term(path.gate.p, path.conv.weight, length_scale, n_train, coefficient, entropy) for path in paths]
    return torch.stack(terms).sum()
