"""Self-checked exercises for every chapter: ``check("ex-3.2", answer)`` says correct or not yet.

For students::

    from stconv_lite.exercises import check
    check("ex-2.3", (230, 384))        # prints "ex-2.3 ✔ correct" or "ex-2.3 ✘ not yet ... Hint: ..."

For authors and the lead:

- the exercises live in ``chapter1.py`` ... ``chapter7.py`` (text, kind, difficulty, minutes, hint,
  stub, solution, check); :func:`exercises` lists them, :func:`get` finds one by id;
- ``python -m stconv_lite.exercises.author`` runs every solution and stores the hashes of the
  expected answers in ``_expected.py`` (nobody types a hash); ``--check`` verifies them;
- :func:`stconv_lite.exercises.cells.exercise_cells` makes the notebook cells of a chapter's
  exercise section and :func:`stconv_lite.exercises.cells.replace_exercise_section` puts them into a
  chapter notebook (``python -m stconv_lite.exercises.cells notebooks/03_3tconv.ipynb 3``).
"""

from __future__ import annotations

import importlib
from typing import Any

from stconv_lite.exercises.core import (
    DIFFICULTIES,
    KINDS,
    CheckResult,
    Choice,
    Exercise,
    Implements,
    Property,
    Value,
)

__all__ = [
    "check",
    "evaluate",
    "get",
    "exercises",
    "chapter_setup",
    "CHAPTERS",
    "total_minutes",
    "Exercise",
    "Value",
    "Choice",
    "Implements",
    "Property",
    "CheckResult",
    "KINDS",
    "DIFFICULTIES",
]

CHAPTERS = (1, 2, 3, 4, 5, 6, 7)


def _module(chapter: int):
    return importlib.import_module(f"stconv_lite.exercises.chapter{chapter}")


def exercises(chapter: int | None = None) -> list[Exercise]:
    """The registered exercises of one chapter (or of all chapters), in order."""
    chapters = CHAPTERS if chapter is None else (chapter,)
    return [ex for c in chapters for ex in _module(c).EXERCISES]


def chapter_setup(chapter: int) -> str:
    """The code of a chapter's exercise setup cell (imports every stub and solution relies on)."""
    return _module(chapter).SETUP


def get(exercise_id: str) -> Exercise:
    """The exercise with id ``ex-N.k``."""
    try:
        chapter = int(exercise_id.split("-")[1].split(".")[0])
        found = [ex for ex in exercises(chapter) if ex.id == exercise_id]
    except (IndexError, ValueError, ModuleNotFoundError):
        found = []
    if not found:
        raise KeyError(f"no exercise {exercise_id!r}; ids look like 'ex-3.2' (chapter 3, exercise 2)")
    return found[0]


def total_minutes(chapter: int) -> int:
    """Sum of the estimated minutes of a chapter's exercises."""
    return sum(ex.minutes for ex in exercises(chapter))


def _stored(exercise_id: str) -> list[str] | None:
    from stconv_lite.exercises._expected import EXPECTED

    return EXPECTED.get(exercise_id)


def evaluate(exercise_id: str, answer: Any) -> CheckResult:
    """Check ``answer`` without printing anything (what :func:`check` and the tests use)."""
    exercise = get(exercise_id)
    stored = _stored(exercise_id) if getattr(exercise.check, "hashed", False) else None
    correct, reason = exercise.check.evaluate(exercise, answer, stored)
    if correct:
        message = f"{exercise_id} ✔ correct."
        if exercise.explanation:
            message += " " + exercise.explanation
    else:
        if reason.startswith("no answer yet"):
            # no hint before a first attempt: a hint shown with the stub would answer a
            # predict-then-check exercise before the student has predicted anything
            reason = reason.removeprefix("no answer yet: ")
            message = f"{exercise_id} ✘ no answer yet: {reason} (a hint comes with your first answer)."
        else:
            message = f"{exercise_id} ✘ not yet: {reason}. Hint: {exercise.hint}"
    return CheckResult(exercise_id, correct, message)


def check(exercise_id: str, answer: Any) -> CheckResult:
    """Print whether ``answer`` solves exercise ``exercise_id``, with a hint if not; return the result.

    The message is printed (not only returned), so it shows as cell output in Jupyter, Colab and a
    terminal alike. ``bool(check(...))`` is True for a correct answer.
    """
    result = evaluate(exercise_id, answer)
    print(result.message)
    return result
