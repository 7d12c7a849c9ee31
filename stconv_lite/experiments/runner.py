"""Run an experiment: every (seed, arm) unit, resumable, then summaries and verdicts in one run file.

Resume: with an output folder, each finished unit is saved at once under
``OUT/.partial/<experiment>__<scale>__<settings hash>/``; a rerun with the same settings loads the
finished units and runs only the rest, so a dropped Colab session continues where it stopped.
Changed settings (another hash) never mix with old units.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence
from pathlib import Path

import torch

from stconv_lite import config
from stconv_lite.experiments import runfile, stats
from stconv_lite.experiments.registry import SCALES, Experiment, get
from stconv_lite.progress import progress_bar

__all__ = ["run_experiment", "summarise"]


def _settings_hash(experiment: Experiment, scale: str, settings: dict) -> str:
    text = json.dumps({"experiment": experiment.name, "scale": scale, "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _unit_path(folder: Path, arm: str, seed: int) -> Path:
    return folder / f"{arm}__seed{seed}.json"


def _storable(unit: dict) -> dict:
    """A unit result without what cannot go into JSON (the trained model)."""
    return {k: v for k, v in unit.items() if k != "model"}


def summarise(experiment: Experiment, units: list[dict]) -> tuple[dict, list[dict], list[dict]]:
    """Per-arm 95 % intervals of every metric, the paired comparisons and the bound checks."""
    by_arm: dict[str, list[dict]] = {
        arm: sorted((u for u in units if u["arm"] == arm), key=lambda u: u["seed"]) for arm in experiment.arms
    }
    summaries = {}
    for arm, arm_units in by_arm.items():
        shared = set.intersection(*(set(u["metrics"]) for u in arm_units)) if arm_units else set()
        summaries[arm] = {
            m: stats.mean_interval([u["metrics"][m] for u in arm_units]).as_dict() for m in sorted(shared)
        }
    comparisons = []
    for compare in experiment.comparisons:
        a = [u["metrics"][compare.metric] for u in by_arm[compare.a]]
        b = [u["metrics"][compare.metric] for u in by_arm[compare.b]]
        comparisons.append(
            stats.paired_comparison(
                a, b, a=compare.a, b=compare.b, metric=compare.metric, higher_is_better=compare.higher_is_better
            ).as_dict()
        )
    bounds = [
        stats.compare_to_value(
            [u["metrics"][bound.metric] for u in by_arm[bound.arm]],
            bound.value,
            name=bound.arm,
            reference=bound.label,
            metric=bound.metric,
        ).as_dict()
        for bound in experiment.bounds
    ]
    return summaries, comparisons, bounds


def run_experiment(
    name: str,
    scale: str = "small",
    seeds: Sequence[int] | None = None,
    device: str | torch.device | None = None,
    out: str | Path | None = None,
    resume: bool = True,
    progress: bool = False,
    verbose: bool = True,
    models: dict | None = None,
    threads: int | None = None,
) -> dict:
    """Run experiment ``name`` at ``scale``; return the run (a dict in the run-file schema).

    Args:
        seeds: default: the experiment's seeds for the scale (3 at small, 5 at full).
        device: default :func:`stconv_lite.config.get_device`.
        out: a folder: write ``<experiment>__<scale>.json`` there and keep finished units for resume.
        resume: reuse finished units from ``out`` (same settings only).
        progress: a progress bar over the units (the CLI turns it on; a notebook prints one line a unit).
        verbose: print one line per finished unit.
        models: a dict to receive the trained models, keyed ``(arm, seed)`` (units run in this call only).
        threads: torch threads (default :func:`stconv_lite.config.recommended_threads`).
    """
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}; got {scale!r}")
    experiment = get(name)
    settings = experiment.settings_for(scale)
    seeds = tuple(experiment.seeds_for(scale) if seeds is None else seeds)
    if (
        not seeds
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 0 for s in seeds)
        or len(set(seeds)) != len(seeds)
    ):
        raise ValueError(f"seeds must be distinct non-negative ints; got {seeds!r}")
    device = config.get_device() if device is None else torch.device(device)
    config.configure_threads(threads)
    partial = None
    if out is not None:
        partial = Path(out) / ".partial" / f"{experiment.name}__{scale}__{_settings_hash(experiment, scale, settings)}"
        partial.mkdir(parents=True, exist_ok=True)

    began, cpu_began = time.perf_counter(), time.process_time()
    todo = [(seed, arm) for seed in seeds for arm in experiment.arms]
    units, resumed_seconds, resumed_cpu = [], 0.0, 0.0
    bar = progress_bar(total=len(todo), desc=experiment.name, unit="unit", enabled=progress)
    for seed, arm in todo:
        saved = _unit_path(partial, arm, seed) if partial is not None else None
        if saved is not None and resume and saved.is_file():
            unit = json.loads(saved.read_text())
            resumed_seconds += unit.get("wall_seconds", 0.0)
            resumed_cpu += unit.get("cpu_seconds", 0.0)
            note = "resumed"
        else:
            unit_began, unit_cpu = time.perf_counter(), time.process_time()
            result = experiment.run_unit(arm, seed, settings, device)
            if models is not None and "model" in result:
                models[(arm, seed)] = result["model"]
            unit = {
                "arm": arm,
                "seed": seed,
                **_storable(result),
                "wall_seconds": time.perf_counter() - unit_began,
                "cpu_seconds": time.process_time() - unit_cpu,
            }
            if saved is not None:
                runfile_tmp = saved.with_suffix(".tmp")
                runfile_tmp.write_text(json.dumps(unit))
                runfile_tmp.replace(saved)  # a kill mid-write leaves no half unit behind
            note = f"{unit['wall_seconds']:.0f} s"
        units.append(unit)
        bar.update(1)
        if verbose:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in unit["metrics"].items() if "accuracy" in k)
            print(f"{experiment.name} [{scale}] seed {seed} {arm}: {shown} ({note})", flush=True)
    bar.close()

    summaries, comparisons, bounds = summarise(experiment, units)
    run = {
        "schema": runfile.SCHEMA,
        "experiment": experiment.name,
        "chapter": experiment.chapter,
        "title": experiment.title,
        "question": experiment.question,
        "paper_claim": experiment.paper_claim,
        "arms": list(experiment.arms),
        "card": runfile.run_card(
            scale,
            seeds,
            settings,
            device,
            time.perf_counter() - began + resumed_seconds,
            cpu_seconds=time.process_time() - cpu_began + resumed_cpu,
        ),
        "units": units,
        "summaries": summaries,
        "comparisons": comparisons,
        "bounds": bounds,
    }
    if out is not None:
        runfile.write(run, Path(out) / runfile.file_name(experiment.name, scale))
    return run
