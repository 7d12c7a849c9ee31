"""Run every registered experiment at one scale, several at a time, each in its own process.

Made for a lent GPU with a hard time limit: small video models leave a big GPU mostly idle, so
running experiments side by side (one process each, one CUDA context each) finishes the batch in
about the time of the longest one. Each process has a time limit; one that runs out or fails is
reported and the others go on. Finished units are kept under ``OUT/.partial`` by the runner, so
running the same command again resumes where a limit cut an experiment off.

Usage::

    python -m stconv_lite.tools.full_runs --scale full --out book/results --parallel 6 --timeout 420
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from stconv_lite.experiments import names

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="full")
    parser.add_argument("--out", required=True)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=420, help="seconds per experiment")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument("--only", nargs="*", default=None, help="experiment names (default: all)")
    parser.add_argument("--device", default=None)
    args = parser.parse_args(argv)

    chosen = args.only or [n for n in names() if n.split(".")[0].startswith(("ch", "book"))]
    out = Path(args.out)
    (out / "logs").mkdir(parents=True, exist_ok=True)
    pending, running, results = list(chosen), {}, {}
    began = time.perf_counter()
    while pending or running:
        while pending and len(running) < args.parallel:
            name = pending.pop(0)
            command = [
                sys.executable,
                "-m",
                "stconv_lite.experiments",
                "run",
                name,
                "--scale",
                args.scale,
                "--out",
                str(out),
                "--threads",
                str(args.threads),
            ]
            if args.device:
                command += ["--device", args.device]
            log = open(out / "logs" / f"{name}.log", "w")
            # A new session, so that a time-out ends the experiment and everything it started.
            running[name] = (
                subprocess.Popen(
                    command,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                ),
                time.perf_counter(),
                log,
            )
        time.sleep(1)
        for name, (process, started, log) in list(running.items()):
            elapsed = time.perf_counter() - started
            if process.poll() is None and elapsed > args.timeout:
                os.killpg(process.pid, 9)
                process.wait()
                results[name] = f"stopped after {elapsed:.0f} s (time limit; rerun to resume)"
            elif process.poll() is not None:
                results[name] = f"exit {process.returncode} after {elapsed:.0f} s"
            else:
                continue
            log.close()
            del running[name]
            print(f"{name}: {results[name]}", flush=True)
    print(f"all done in {time.perf_counter() - began:.0f} s")
    return 0 if all(r.startswith("exit 0") for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
