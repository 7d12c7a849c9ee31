"""Run files: one JSON file per run of an experiment, with a run card that says where it came from.

Schema ``stconv_lite.run/1`` (every key required unless marked optional)::

    {
      "schema": "stconv_lite.run/1",
      "experiment": "ch01.frame_order",         # registry name
      "chapter": 1, "title": str, "question": str, "paper_claim": str,
      "arms": [str, ...],
      "card": {
        "scale": "quick" | "small" | "full" | "paper",
        "seeds": [int, ...],
        "settings": {...},                       # the experiment's settings at that scale
        "package_version": str, "torch_version": str, "python_version": str,
        "git_commit": str | null,                # null outside a git checkout (e.g. a pip install)
        "device": "cpu" | "cuda" | ...,
        "device_name": str,                      # e.g. "NVIDIA H200" or the CPU model
        "threads": int,                          # torch intra-op threads
        "date": "YYYY-MM-DDTHH:MM:SSZ",          # UTC, when the run finished
        "wall_seconds": float,                   # the whole run, resumed parts included
        "cpu_seconds": float,                    # optional: CPU time of this process (on a busy
                                                 # machine closer to what an idle one would take)
        "load_average": float                    # optional: 1-minute load when the run ended
      },
      "units": [                                 # one per (seed, arm)
        {"arm": str, "seed": int,
         "metrics": {"test_accuracy": float, ...},
         "per_class_accuracy": [float, ...],     # optional
         "confusion": [[int, ...], ...],         # optional, [true][predicted]
         "curves": {"train_loss": [...], "val_acc": [...], ...},   # optional
         "params": int, "best_epoch": int, "stop_reason": str}     # optional
      ],
      "summaries": {arm: {metric: {"mean", "low", "high", "n"}}},  # 95 % t-intervals over seeds
      "comparisons": [Comparison.as_dict(), ...],                  # paired, see stats.py
      "bounds": [Comparison.as_dict(), ...]                        # an arm vs a fixed value
    }

:func:`validate` checks a loaded file against this schema and lists every problem at once; the
tests run it over every stored file in ``book/results/``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from pathlib import Path

import torch

__all__ = ["SCHEMA", "run_card", "validate", "write", "read", "cpu_name", "git_commit", "file_name"]

SCHEMA = "stconv_lite.run/1"
_TOP = {
    "schema": str,
    "experiment": str,
    "chapter": int,
    "title": str,
    "question": str,
    "paper_claim": str,
    "arms": list,
    "card": dict,
    "units": list,
    "summaries": dict,
    "comparisons": list,
    "bounds": list,
}
_CARD = {
    "scale": str,
    "seeds": list,
    "settings": dict,
    "package_version": str,
    "torch_version": str,
    "python_version": str,
    "device": str,
    "device_name": str,
    "threads": int,
    "date": str,
    "wall_seconds": (int, float),
}
_COMPARISON = {
    "a": str,
    "b": str,
    "metric": str,
    "n": int,
    "mean_difference": (int, float),
    "low": (int, float),
    "high": (int, float),
    "verdict": str,
    "verdict_text": str,
}


def file_name(experiment: str, scale: str) -> str:
    """``ch01.frame_order`` at ``small`` -> ``ch01.frame_order__small.json``."""
    return f"{experiment}__{scale}.json"


def cpu_name() -> str:
    """The CPU model (from /proc/cpuinfo on Linux), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def git_commit(start: Path | None = None) -> str | None:
    """The checkout's commit (with ``+dirty`` when files differ), or None outside git."""
    where = Path(start or Path(__file__).resolve().parent)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def run_card(
    scale: str, seeds, settings: dict, device: torch.device, wall_seconds: float, cpu_seconds: float | None = None
) -> dict:
    """Where and how a run was made (see the module docstring for the fields)."""
    from datetime import datetime, timezone

    import stconv_lite

    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name()
    return {
        "scale": scale,
        "seeds": [int(s) for s in seeds],
        "settings": settings,
        "package_version": stconv_lite.__version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "git_commit": git_commit(),
        "device": device.type,
        "device_name": name,
        "threads": torch.get_num_threads(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_seconds": round(float(wall_seconds), 2),
        **({} if cpu_seconds is None else {"cpu_seconds": round(float(cpu_seconds), 2)}),
        **({"load_average": round(os.getloadavg()[0], 2)} if hasattr(os, "getloadavg") else {}),
    }


def _check_fields(where: str, record: object, fields: dict, problems: list[str]) -> None:
    if not isinstance(record, dict):
        problems.append(f"{where}: expected an object, got {type(record).__name__}")
        return
    for key, kind in fields.items():
        if key not in record:
            problems.append(f"{where}: missing {key!r}")
        elif isinstance(record[key], bool) or not isinstance(record[key], kind):
            problems.append(f"{where}.{key}: expected {kind}, got {type(record[key]).__name__}")


def validate(run: dict) -> None:
    """Raise ``ValueError`` listing every way ``run`` departs from the schema (nothing if it fits)."""
    from stconv_lite.experiments.registry import SCALES
    from stconv_lite.experiments.stats import VERDICTS

    problems: list[str] = []
    _check_fields("run", run, _TOP, problems)
    if problems:
        raise ValueError("not a valid run file:\n  " + "\n  ".join(problems))
    if run["schema"] != SCHEMA:
        problems.append(f"schema is {run['schema']!r}, expected {SCHEMA!r}")
    _check_fields("card", run["card"], _CARD, problems)
    card = run["card"]
    if card.get("scale") not in SCALES:
        problems.append(f"card.scale {card.get('scale')!r} not one of {SCALES}")
    if "git_commit" not in card or not (card["git_commit"] is None or isinstance(card["git_commit"], str)):
        problems.append("card.git_commit: expected a string or null")
    seeds = card.get("seeds", [])
    expected_units = {(arm, seed) for arm in run["arms"] for seed in seeds}
    found_units = set()
    for index, unit in enumerate(run["units"]):
        _check_fields(f"units[{index}]", unit, {"arm": str, "seed": int, "metrics": dict}, problems)
        if isinstance(unit, dict):
            found_units.add((unit.get("arm"), unit.get("seed")))
            for metric, value in unit.get("metrics", {}).items():
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    problems.append(f"units[{index}].metrics.{metric}: expected a number, got {value!r}")
    if found_units != expected_units:
        problems.append(f"units: expected one per (arm, seed) {sorted(expected_units)}; got {sorted(found_units)}")
    for arm, per_metric in run["summaries"].items():
        for metric, summary in per_metric.items():
            _check_fields(
                f"summaries.{arm}.{metric}",
                summary,
                {"mean": (int, float), "low": (int, float), "high": (int, float), "n": int},
                problems,
            )
    for kind in ("comparisons", "bounds"):
        for index, comparison in enumerate(run[kind]):
            _check_fields(f"{kind}[{index}]", comparison, _COMPARISON, problems)
            if isinstance(comparison, dict) and comparison.get("verdict") not in VERDICTS:
                problems.append(f"{kind}[{index}].verdict {comparison.get('verdict')!r} not one of {VERDICTS}")
    if problems:
        raise ValueError("not a valid run file:\n  " + "\n  ".join(problems))


def write(run: dict, path: str | os.PathLike) -> Path:
    """Validate and write ``run`` as JSON, atomically (a reader never sees half a file)."""
    validate(run)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as file:
            json.dump(run, file, indent=1, sort_keys=False)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def read(path: str | os.PathLike) -> dict:
    """Load and validate a run file; the error names the file."""
    path = Path(path)
    try:
        run = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a readable run file: {error}") from error
    try:
        validate(run)
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    return run
