"""Named experiments: what each one asks, which arms it compares, and how one (arm, seed) unit runs.

An experiment is data plus two functions, so a reader can see the whole design in one place:

- ``question`` and ``paper_claim``: what the experiment settles and what the paper says (with its
  table or section);
- ``arms``: the variants compared (models, or one model with something switched off);
- ``settings``: per scale (``quick``, ``small``, ``full``, optionally ``paper``), a plain
  JSON-able dict (data, budget, widths) that is stored in the run card;
- ``run_unit(arm, seed, settings, device) -> dict``: trains and evaluates one arm with one seed
  and returns its metrics (see :mod:`stconv_lite.experiments.runfile` for the fields);
- ``comparisons``: the paired comparisons whose verdicts the chapter reports;
- ``bounds``: per-arm comparisons with a fixed number (e.g. "the frame bag is at most 50 %").

Experiments register themselves with :func:`register` in the chapter modules ``chNN_*.py`` of this
package, which :func:`names` and :func:`get` import on first use.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

__all__ = ["SCALES", "DEFAULT_SEEDS", "Compare", "Bound", "Experiment", "register", "get", "names", "all_experiments"]

SCALES = ("quick", "small", "full", "paper")
# 2 seeds even at quick, so that every code path that builds an interval runs in CI.
DEFAULT_SEEDS = {"quick": (0, 1), "small": (0, 1, 2), "full": (0, 1, 2, 3, 4), "paper": (0, 1, 2, 3, 4)}

UnitFn = Callable[[str, int, dict, torch.device], dict]


@dataclass(frozen=True)
class Compare:
    """A paired comparison the experiment reports: arm ``a`` vs arm ``b`` on ``metric``."""

    a: str
    b: str
    metric: str = "test_accuracy"
    higher_is_better: bool = True


@dataclass(frozen=True)
class Bound:
    """A comparison of one arm's metric with a fixed value, e.g. the 50 % an order-blind model cannot pass."""

    arm: str
    value: float
    label: str  # how the value is named in sentences, e.g. "the 50 % bound"
    metric: str = "test_accuracy"


@dataclass(frozen=True)
class Experiment:
    name: str  # "chNN.slug"
    chapter: int
    title: str
    question: str
    paper_claim: str
    arms: tuple[str, ...]
    settings: dict[str, dict]
    run_unit: UnitFn
    comparisons: tuple[Compare, ...] = ()
    bounds: tuple[Bound, ...] = ()
    seeds: dict[str, tuple[int, ...]] = field(default_factory=lambda: dict(DEFAULT_SEEDS))

    def settings_for(self, scale: str) -> dict:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}; got {scale!r}")
        if scale not in self.settings:
            raise ValueError(f"experiment {self.name} has no {scale!r} scale; it has {sorted(self.settings)}")
        return dict(self.settings[scale])

    def seeds_for(self, scale: str) -> tuple[int, ...]:
        return tuple(self.seeds.get(scale, DEFAULT_SEEDS[scale]))


_REGISTRY: dict[str, Experiment] = {}


def register(experiment: Experiment) -> Experiment:
    """Add ``experiment`` to the registry (names are unique; arms named in comparisons must exist)."""
    if experiment.name in _REGISTRY and _REGISTRY[experiment.name] is not experiment:
        raise ValueError(f"an experiment named {experiment.name!r} is already registered")
    for compare in experiment.comparisons:
        unknown = {compare.a, compare.b} - set(experiment.arms)
        if unknown:
            raise ValueError(f"{experiment.name}: comparison names arms {sorted(unknown)} not in {experiment.arms}")
    for bound in experiment.bounds:
        if bound.arm not in experiment.arms:
            raise ValueError(f"{experiment.name}: bound names arm {bound.arm!r} not in {experiment.arms}")
    missing = {"quick", "small", "full"} - set(experiment.settings)
    if missing:
        raise ValueError(f"{experiment.name}: settings must cover quick, small and full; missing {sorted(missing)}")
    _REGISTRY[experiment.name] = experiment
    return experiment


def _discover() -> None:
    import stconv_lite.experiments as package

    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("ch"):
            importlib.import_module(f"stconv_lite.experiments.{module.name}")


def names() -> list[str]:
    """Every registered experiment name, by chapter."""
    _discover()
    return sorted(_REGISTRY, key=lambda n: (_REGISTRY[n].chapter, n))


def all_experiments() -> list[Experiment]:
    return [_REGISTRY[n] for n in names()]


def get(name: str) -> Experiment:
    """The experiment called ``name``; a clear error lists the registered ones."""
    _discover()
    if name not in _REGISTRY:
        raise KeyError(f"no experiment named {name!r}; registered: {', '.join(names())}")
    return _REGISTRY[name]
