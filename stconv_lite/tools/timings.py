"""Measure how long every chapter takes at a given scale on this machine, for the instructors' page.

Usage::

    python -m stconv_lite.tools.timings --scales quick small            # every chapter, merged into book/timings.json
    python -m stconv_lite.tools.timings --scales full --as-script       # without Jupyter (e.g. a bare GPU box)

Each run records the chapter, the scale, the wall time, whether it finished, and the machine it ran
on (CPU model and cores, or the GPU's name), so the page can say exactly where each number came from.
Results are merged into the JSON file: a new measurement of the same (machine, scale, chapter)
replaces the old one, everything else is kept.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "book" / "timings.json"


def machine() -> dict:
    """Where the timing ran: the GPU if one is visible, else the CPU model, plus cores and torch version."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"device": gpu or f"CPU: {cpu}", "cpu_cores": os.cpu_count(), "torch": torch.__version__}


def notebook_as_script(path: Path) -> str:
    """The code cells of a notebook as one Python script (shell and magic lines dropped)."""
    cells = json.loads(path.read_text())["cells"]
    lines = [
        "import matplotlib; matplotlib.use('Agg')",
        "from IPython.display import display  # a builtin inside Jupyter",
    ]
    for cell in cells:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for line in source.splitlines():
            stripped = line.lstrip()
            if stripped.startswith(("!", "%")):
                line = line[: len(line) - len(stripped)] + "pass  # " + stripped
            lines.append(line)
    return "\n".join(lines) + "\n"


def _children_cpu_seconds() -> float:
    """CPU time of finished child processes (the chapter's kernel or script) so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_chapter(path: Path, scale: str, as_script: bool, timeout: int) -> dict:
    """Run one chapter; wall seconds, and the CPU seconds its process used.

    On a machine that others share, the wall time grows with their load while the CPU time stays
    close to what the chapter costs (each chapter trains on one thread), so both are recorded.
    """
    env = {**os.environ, "STCONV_SCALE": scale, "MPLBACKEND": "Agg"}
    began, cpu_began = time.perf_counter(), _children_cpu_seconds()
    if as_script:
        with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as file:
            file.write(notebook_as_script(path))
        try:
            done = subprocess.run(
                [sys.executable, file.name], cwd=path.parent, env=env, timeout=timeout, capture_output=True, text=True
            )
            ok = done.returncode == 0
            error = "" if ok else done.stderr[-2000:]
            printed = done.stdout[-4000:]  # what the chapter printed: its results, for the run's record
        except subprocess.TimeoutExpired:
            ok, error, printed = False, f"timed out after {timeout} s", ""
        finally:
            os.unlink(file.name)
    else:
        import nbformat
        from nbclient import NotebookClient

        os.environ.update(STCONV_SCALE=scale)
        notebook = nbformat.read(path, as_version=4)
        try:
            NotebookClient(
                notebook, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
            ).execute()
            ok, error = True, ""
        except Exception as exc:  # a failing chapter is recorded, not fatal: the others still get timed
            ok, error = False, f"{type(exc).__name__}: {str(exc)[-2000:]}"
        printed = ""
    return {
        "chapter": path.stem,
        "scale": scale,
        "seconds": round(time.perf_counter() - began, 1),
        "cpu_seconds": round(_children_cpu_seconds() - cpu_began, 1),
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "ok": ok,
        "error": error,
        "stdout_tail": printed,
        "date": dt.date.today().isoformat(),
        "runner": "script" if as_script else "jupyter",
    }


def merge(out: Path, new_rows: list[dict]) -> list[dict]:
    rows = json.loads(out.read_text()) if out.exists() else []
    keys = {(r["device"], r["scale"], r["chapter"]) for r in new_rows}
    rows = [r for r in rows if (r["device"], r["scale"], r["chapter"]) not in keys] + new_rows
    rows.sort(key=lambda r: (r["device"], r["scale"], r["chapter"]))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(rows, indent=1) + "\n")
    os.replace(tmp, out)  # never leave a half-written file behind
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time every chapter at the given scales.")
    parser.add_argument("--scales", nargs="+", default=["quick"], choices=["quick", "small", "full"])
    parser.add_argument("--chapters", nargs="*", help="chapter stems, e.g. 01_videos_as_tensors (default: all)")
    parser.add_argument("--as-script", action="store_true", help="run the code cells as a script (no Jupyter needed)")
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if args.chapters:
        paths = [p for p in paths if p.stem in args.chapters]
    where = machine()
    rows = []
    for scale in args.scales:
        for path in paths:
            row = {**where, **run_chapter(path, scale, args.as_script, args.timeout)}
            rows.append(row)
            merge(args.out, [row])  # after every chapter, so an interrupted session keeps what it measured
            print(
                f"{row['chapter']:<28} {scale:<6} {row['seconds']:>8.1f} s wall, {row['cpu_seconds']:>8.1f} s CPU  "
                f"{'ok' if row['ok'] else 'FAILED'}",
                flush=True,
            )
            if not row["ok"]:
                print(row["error"][-1500:], flush=True)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
