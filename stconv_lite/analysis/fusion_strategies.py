r"""Reading a trained fusion template: layer-level marginals and network-level sampled strategies.

**Layer level.** Every position has two gates with drop probabilities $p_S$ (1x1x1 path) and
$p_{ST}$ (3x1x1 path). The probability that a path is *on* in a sampled strategy is $1 - p$: that
is what :func:`sample_strategy` does and what a Monte Carlo count checks. The two versions of the
paper disagree on eq. 7:

- the submission supplement (our seed, eq. S17) derives $P(\hat M = 1) \approx 1 - p$ and calls
  the printed square root a typo;
- the camera-ready paper and supplement keep $1 - \sqrt{p}$, arguing that the learned $p$ is the
  product $\hat p \tilde p$ of an architecture Bernoulli and a weight-dropout Bernoulli that start
  equal, so $\hat p = \sqrt p$.

:func:`marginals` returns both (``sqrt=True`` for the camera-ready one). Both are monotone in $p$,
so rankings and trends agree; only bar heights differ. Three *unit* bars (S, ST, S+ST, plus "none")
come from treating the two gates as independent Bernoullis; the paper does not document its bar
recipe, so this is our reading.

**Network level.** Draw a hard keep bit ``1[u >= p]`` for every gate: a fixed strategy with
*inherited* weights, evaluated without retraining (paper section 3.3). :func:`best_of_n` ranks
``n`` such strategies on a validation loader and reports the chosen one on a separate test loader
(the paper selects and reports on the same split). BN statistics were collected under relaxed
gates; :func:`recalibrate_bn` re-estimates them for one fixed strategy and is always labelled as an
option (``recalibrated=True`` in the results), never the default.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from stconv_lite.ops.fusion import unit_from_keep
from stconv_lite.train import evaluate

__all__ = [
    "gate_probabilities",
    "marginals",
    "layer_table",
    "sample_strategy",
    "apply_strategy",
    "uniform_strategy",
    "strategy_units",
    "recalibrate_bn",
    "evaluate_strategy",
    "StrategyResult",
    "best_of_n",
]

Strategy = dict[str, tuple[bool, bool]]  # position -> (keep 1x1x1 path, keep 3x1x1 path)


def _positions(model: nn.Module):
    if not hasattr(model, "positions"):
        raise ValueError(f"expected a FusionTemplate-like model with .positions; got {type(model).__name__}")
    return model.positions


def gate_probabilities(model: nn.Module) -> dict[str, dict[str, float]]:
    """Position -> {"S": p_S, "ST": p_ST} (drop probabilities; a missing path counts as p = 1)."""
    table = {}
    for name, unit in _positions(model).items():
        gates = unit.gates()
        table[name] = {path: float(gates[path].p.detach()) if path in gates else 1.0 for path in ("S", "ST")}
    return table


def marginals(p_s: float | torch.Tensor, p_st: float | torch.Tensor, sqrt: bool = False) -> dict[str, torch.Tensor]:
    r"""Path and unit probabilities of a position from its two drop probabilities.

    ``sqrt=False``: $P(\text{path on}) = 1 - p$ (eq. S17, and what sampling does);
    ``sqrt=True``: $1 - \sqrt p$ (eq. 7 of the camera-ready paper). Units assume independent gates:
    S+ST $= q_S q_{ST}$, S $= q_S (1 - q_{ST})$, ST $= (1 - q_S) q_{ST}$, none $= (1-q_S)(1-q_{ST})$.
    """
    p_s, p_st = torch.as_tensor(p_s, dtype=torch.float64), torch.as_tensor(p_st, dtype=torch.float64)
    if ((p_s < 0) | (p_s > 1) | (p_st < 0) | (p_st > 1)).any():
        raise ValueError(f"drop probabilities must lie in [0, 1]; got p_s={p_s}, p_st={p_st}")
    q_s = 1 - (p_s.sqrt() if sqrt else p_s)
    q_st = 1 - (p_st.sqrt() if sqrt else p_st)
    return {
        "path S": q_s,
        "path ST": q_st,
        "S+ST": q_s * q_st,
        "S": q_s * (1 - q_st),
        "ST": (1 - q_s) * q_st,
        "none": (1 - q_s) * (1 - q_st),
    }


def layer_table(model: nn.Module, sqrt: bool = False) -> list[dict]:
    """One row per position: name, p_S, p_ST and the :func:`marginals` (floats)."""
    rows = []
    for name, probs in gate_probabilities(model).items():
        row = {"position": name, "p_S": probs["S"], "p_ST": probs["ST"]}
        row.update({k: float(v) for k, v in marginals(probs["S"], probs["ST"], sqrt=sqrt).items()})
        rows.append(row)
    return rows


def sample_strategy(model: nn.Module, generator: torch.Generator | None = None) -> Strategy:
    """Draw keep bits ``1[u >= p]`` for every gate (keep with probability 1 - p); does not apply them."""
    strategy = {}
    for name, probs in gate_probabilities(model).items():
        u = torch.rand(2, generator=generator, dtype=torch.float64)
        strategy[name] = (bool(u[0] >= probs["S"]), bool(u[1] >= probs["ST"]))
    return strategy


def uniform_strategy(model: nn.Module, unit: str) -> Strategy:
    """The same unit ("S", "ST" or "S+ST") at every position, as keep bits."""
    bits = {"S+ST": (True, True), "S": (True, False), "ST": (False, True)}
    if unit not in bits:
        raise ValueError(f"unit must be one of {tuple(bits)}; got {unit!r}")
    return {name: bits[unit] for name in _positions(model)}


def strategy_units(strategy: Strategy) -> list[str]:
    """Decode keep bits into units (S+ST, S, ST or none), in position order."""
    return [unit_from_keep(*bits) for bits in strategy.values()]


def apply_strategy(model: nn.Module, strategy: Strategy) -> None:
    """Fix every bottleneck gate of ``model`` to the strategy's keep bits ("fixed" mode)."""
    positions = _positions(model)
    if set(strategy) != set(positions):
        raise ValueError(f"strategy must name every position {list(positions)}; got {list(strategy)}")
    for name, unit in positions.items():
        gates = unit.gates()
        for path, keep in zip(("S", "ST"), strategy[name]):
            if path in gates:
                gates[path].set_keep(keep)
            elif keep:
                raise ValueError(f"position {name} has no {path} path to keep")


@torch.no_grad()
def recalibrate_bn(
    model: nn.Module, loader: DataLoader, max_batches: int = 8, device: torch.device | str | None = None
) -> nn.Module:
    """Re-estimate every BatchNorm's running statistics with the current gates (in place; returns model).

    Cumulative averages (``momentum=None``) over ``max_batches`` training batches in train mode;
    gate modes are left as they are, so fix a strategy first.
    """
    device = torch.device("cpu") if device is None else torch.device(device)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.to(device).train()
    for i, batch in enumerate(loader):
        if i >= max_batches:
            break
        model(batch[0].to(device))
    for m, momentum in zip(norms, saved):
        m.momentum = momentum
    model.eval()
    return model


@dataclass
class StrategyResult:
    """One evaluated strategy: its keep bits, units and accuracies (test filled for the chosen ones)."""

    strategy: Strategy
    units: list[str]
    val_accuracy: float
    test_accuracy: float | None = None
    recalibrated: bool = False
    label: str = "sampled"
    extra: dict = field(default_factory=dict)


def evaluate_strategy(
    model: nn.Module,
    strategy: Strategy,
    loader: DataLoader,
    recalibrate_loader: DataLoader | None = None,
    recalibrate_batches: int = 8,
    device: torch.device | str | None = None,
) -> float:
    """Accuracy of ``model`` with the strategy's hard gates and inherited weights (no retraining).

    With ``recalibrate_loader`` a *copy* of the model gets its BN statistics re-estimated first
    (labelled option); the template itself is never changed except for its gate modes.
    """
    net = copy.deepcopy(model) if recalibrate_loader is not None else model
    apply_strategy(net, strategy)
    if recalibrate_loader is not None:
        recalibrate_bn(net, recalibrate_loader, recalibrate_batches, device=device)
    return evaluate(net, loader, device=device)["accuracy"]


def best_of_n(
    model: nn.Module,
    n: int,
    val_loader: DataLoader,
    test_loader: DataLoader,
    generator: torch.Generator | None = None,
    recalibrate_loader: DataLoader | None = None,
    recalibrate_batches: int = 8,
    device: torch.device | str | None = None,
    uniform: Sequence[str] = ("S", "ST", "S+ST"),
) -> dict:
    """Sample ``n`` strategies, rank them on ``val_loader``, report the best (and uniform ones) on ``test_loader``.

    Returns ``{"samples": [StrategyResult sorted by val accuracy, best first], "best": StrategyResult,
    "uniform": {unit: StrategyResult}}``; only the best and the uniform strategies get a test accuracy,
    so test data never influences the choice. The gates are left in "fixed" mode at the best strategy.
    """
    if n < 1:
        raise ValueError(f"best_of_n needs n >= 1 samples; got {n}")
    recal = dict(recalibrate_loader=recalibrate_loader, recalibrate_batches=recalibrate_batches, device=device)
    samples = []
    for _ in range(n):
        strategy = sample_strategy(model, generator)
        acc = evaluate_strategy(model, strategy, val_loader, **recal)
        samples.append(
            StrategyResult(strategy, strategy_units(strategy), acc, recalibrated=recalibrate_loader is not None)
        )
    samples.sort(key=lambda r: r.val_accuracy, reverse=True)
    best = samples[0]
    best.test_accuracy = evaluate_strategy(model, best.strategy, test_loader, **recal)
    best.label = f"best of {n} (val)"
    uniform_results = {}
    for unit in uniform:
        strategy = uniform_strategy(model, unit)
        result = StrategyResult(
            strategy,
            strategy_units(strategy),
            evaluate_strategy(model, strategy, val_loader, **recal),
            recalibrated=recalibrate_loader is not None,
            label=f"uniform {unit} (inherited)",
        )
        result.test_accuracy = evaluate_strategy(model, strategy, test_loader, **recal)
        uniform_results[unit] = result
    apply_strategy(model, best.strategy)
    return {"samples": samples, "best": best, "uniform": uniform_results}
