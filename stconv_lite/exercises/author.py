"""Authoring tool: run every solution, store the hashes of the expected answers, verify them.

Usage::

    python -m stconv_lite.exercises.author                 # (re)write _expected.py from the solutions
    python -m stconv_lite.exercises.author ex-3.2 ex-3.4   # only these exercises
    python -m stconv_lite.exercises.author --check         # exit 1 if a stored hash is missing or stale
    python -m stconv_lite.exercises.author --list          # id, kind, difficulty, minutes of every exercise

Authors never type a hash: write the solution so that it sets the answer variable, run this tool,
commit ``_expected.py``. A solution runs after its chapter's ``SETUP`` code in a fresh namespace,
with ``check`` replaced by a no-op (the hashes it would compare against are what is being made).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import pprint
import sys
from pathlib import Path
from typing import Any

from stconv_lite.exercises import chapter_setup, exercises, get
from stconv_lite.exercises.core import Exercise

EXPECTED_FILE = Path(__file__).with_name("_expected.py")
HEADER = '''"""Hashes of the expected answers, written by ``python -m stconv_lite.exercises.author``. Do not edit.

One list per exercise with a hashed check: PBKDF2 hashes of the rounded entries of the answer
(see :mod:`stconv_lite.exercises.core`). Exercises checked by a property test have no entry.
"""

EXPECTED = '''


def run_code(exercise: Exercise, code: str, real_check: bool = False) -> dict[str, Any]:
    """Run ``code`` after the chapter setup in a fresh namespace; return the namespace.

    Torch runs on one thread (exercise code must be fast on a shared CPU). With
    ``real_check=False`` the ``check`` call at the end does nothing and printed output is dropped;
    with ``True`` the code runs as in a notebook, printing the check's verdict.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    namespace: dict[str, Any] = {"__name__": f"exercise_{exercise.id.replace('-', '_').replace('.', '_')}"}
    try:
        with contextlib.redirect_stdout(io.StringIO()) if not real_check else contextlib.nullcontext():
            exec(compile(chapter_setup(exercise.chapter), f"<setup ch{exercise.chapter}>", "exec"), namespace)
            if not real_check:
                namespace["check"] = lambda *args, **kwargs: None
            exec(compile(code, f"<{exercise.id}>", "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
    return namespace


def solution_answer(exercise: Exercise) -> Any:
    """The answer the exercise's solution computes."""
    return run_code(exercise, exercise.solution)[exercise.answer]


def load_expected() -> dict[str, list[str]]:
    namespace: dict[str, Any] = {}
    if EXPECTED_FILE.exists():
        exec(EXPECTED_FILE.read_text(), namespace)
    return dict(namespace.get("EXPECTED", {}))


def write_expected(expected: dict[str, list[str]]) -> None:
    ordered = dict(sorted(expected.items(), key=lambda kv: [int(p) for p in kv[0][3:].split(".")]))
    EXPECTED_FILE.write_text(HEADER + pprint.pformat(ordered, width=100, sort_dicts=False) + "\n")


def computed_hashes(exercise: Exercise) -> list[str]:
    return exercise.check.expected_hashes(exercise.id, solution_answer(exercise))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="exercise ids (default: all)")
    parser.add_argument("--check", action="store_true", help="verify the stored hashes instead of writing")
    parser.add_argument("--list", action="store_true", help="list the exercises")
    args = parser.parse_args(argv)
    chosen = [get(i) for i in args.ids] if args.ids else exercises()
    if args.list:
        for ex in chosen:
            print(f"{ex.id:7s} {ex.kind:19s} {ex.difficulty:6s} {ex.minutes:3d} min  {ex.title}")
        return 0
    expected = load_expected()
    hashed = [ex for ex in chosen if getattr(ex.check, "hashed", False)]
    if args.check:
        bad = [ex.id for ex in hashed if expected.get(ex.id) != computed_hashes(ex)]
        if bad:
            print("stale or missing expected answers:", ", ".join(bad), file=sys.stderr)
            print("run `python -m stconv_lite.exercises.author` and commit _expected.py", file=sys.stderr)
            return 1
        print(f"{len(hashed)} stored answers match their solutions")
        return 0
    for ex in hashed:
        expected[ex.id] = computed_hashes(ex)
        print(f"{ex.id}: stored {len(expected[ex.id])} hash(es)")
    if not args.ids:  # a full run also forgets exercises that no longer exist or are no longer hashed
        keep = {ex.id for ex in hashed}
        expected = {k: v for k, v in expected.items() if k in keep}
    write_expected(expected)
    print(
        f"wrote {EXPECTED_FILE.relative_to(Path.cwd()) if EXPECTED_FILE.is_relative_to(Path.cwd()) else EXPECTED_FILE}"
    )
    return 0


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    raise SystemExit(main())
