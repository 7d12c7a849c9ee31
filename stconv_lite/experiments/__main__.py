"""Command line: ``python -m stconv_lite.experiments list | run NAME --scale S [--seeds ...] [--device D] --out DIR``."""

from __future__ import annotations

import argparse
import sys

from stconv_lite.experiments import report
from stconv_lite.experiments.registry import SCALES, all_experiments, get
from stconv_lite.experiments.runner import run_experiment


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stconv_lite.experiments", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list the registered experiments")
    run = commands.add_parser("run", help="run one experiment (or 'all') and write its run file")
    run.add_argument("name", help="an experiment name from 'list', or 'all'")
    run.add_argument("--scale", choices=SCALES, default="small")
    run.add_argument("--seeds", type=int, nargs="+", default=None, help="default: 3 at small, 5 at full")
    run.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: CUDA when available)")
    run.add_argument("--out", required=True, help="folder for the run file (and the resumable partial units)")
    run.add_argument("--no-resume", action="store_true", help="rerun units that already finished")
    run.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 on <= 2 cores)")
    args = parser.parse_args(argv)

    if args.command == "list":
        for experiment in all_experiments():
            scales = ", ".join(s for s in SCALES if s in experiment.settings)
            print(f"{experiment.name:34s} ch. {experiment.chapter}  [{scales}]  {experiment.question}")
        return 0
    chosen = [e.name for e in all_experiments()] if args.name == "all" else [get(args.name).name]
    for name in chosen:
        if args.scale not in get(name).settings:
            print(f"{name}: no {args.scale!r} scale, skipped", file=sys.stderr)
            continue
        result = run_experiment(
            name,
            args.scale,
            seeds=args.seeds,
            device=args.device,
            out=args.out,
            resume=not args.no_resume,
            progress=sys.stderr.isatty(),
            threads=args.threads,
        )
        print(report.card_line(result))
        print(report.verdicts(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
