r"""Exercises students can check themselves, without the expected answer being readable.

An :class:`Exercise` holds everything a chapter needs to show one exercise (title, statement,
kind, difficulty, minutes, hint, the stub a student fills in, a runnable solution) and one
*check*, the thing :func:`check` runs on a student's answer. Three kinds of check:

* :class:`Value` -- a number, a shape, a tuple of numbers. The expected value is stored only as
  salted, slow hashes of its *rounded* form (``_expected.py``, written by
  ``python -m stconv_lite.exercises.author``), one hash per entry of a tuple. Tolerance comes from
  the rounding: ``Value(sig=3)`` rounds to 3 significant digits and also tries the student's value
  nudged by half a unit in the last digit either way, so any answer within half a unit of the last
  digit passes and anything further than 1.5 units fails. ``Value(decimals=2)`` does the same with
  a fixed number of decimals (for values that may be 0); ``Value()`` is exact (ints, shapes, bools).
* :class:`Choice` -- multiple choice: letters, hashed the same way.
* :class:`Implements` -- a property test of a student's *function*: it runs on random inputs and
  must agree with a reference (usually the package's own implementation: the package is public,
  the point is practice, not secrecy), and :class:`Property` for any other predicate.

Why hashes at all? A student copy must not print the answer, and an answer should not be one
`Ctrl-F` away in the installed package either. The hashes are PBKDF2 with a per-exercise salt and
many iterations, so recovering a value by trying every candidate takes hours rather than
milliseconds. That is a deterrent, not security: a determined student can always run the
solution's code path in the package.
"""

from __future__ import annotations

import hashlib
import math
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

__all__ = [
    "Exercise",
    "Value",
    "Choice",
    "Implements",
    "Property",
    "CheckResult",
    "KINDS",
    "DIFFICULTIES",
    "hash_value",
    "canonical_entries",
]

KINDS = ("predict-then-check", "derive", "implement", "experiment", "explain")
DIFFICULTIES = ("easy", "medium", "hard")
ITERATIONS = 20_000  # ~10 ms per hash: instant for one check, slow for guessing by enumeration


# ----------------------------------------------------------------------------- results


@dataclass
class CheckResult:
    """What :func:`check` found. ``bool(result)`` is whether the answer is correct."""

    exercise: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __str__(self) -> str:
        return self.message

    def _ipython_display_(self) -> None:
        # check() has already printed the message (a print shows in Jupyter, Colab and a terminal
        # alike); displaying the returned result again as a cell's last value would repeat it.
        pass


# ----------------------------------------------------------------------------- canonical forms


def _flatten(answer: Any) -> list | None:
    """A list of the scalar entries of a tuple / list / torch.Size / tensor / array; None for a scalar."""
    if isinstance(answer, torch.Tensor):
        return answer.detach().cpu().flatten().tolist() if answer.dim() > 0 else None
    if hasattr(answer, "tolist") and hasattr(answer, "shape") and getattr(answer, "shape", ()) != ():
        return list(_flat_iter(answer.tolist()))  # numpy arrays
    if isinstance(answer, (tuple, list, torch.Size)):
        return list(_flat_iter(answer))
    return None


def _flat_iter(items):
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from _flat_iter(item)
        elif isinstance(item, torch.Tensor):
            yield from item.detach().cpu().flatten().tolist()
        else:
            yield item


def _scalar(value: Any) -> Any:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return value.item()
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        return value.item()  # numpy scalars
    return value


def _fmt(x: float, sig: int | None, decimals: int | None) -> str:
    if sig is not None:
        return f"f{sig}:{float(x):.{sig - 1}e}"
    text = f"{float(x):.{decimals}f}"
    if float(text) == 0:
        text = f"{0.0:.{decimals}f}"  # "-0.00" and "0.00" are the same answer
    return f"d{decimals}:{text}"


def _candidates(value: Any, sig: int | None, decimals: int | None) -> list[str]:
    """Canonical strings that an entry may match: itself and, for rounded floats, its two neighbours."""
    value = _scalar(value)
    if isinstance(value, bool):
        return [f"b:{value}"]
    if isinstance(value, str):
        return [f"s:{value.strip().lower()}"]
    if not isinstance(value, (int, float)):
        return []
    if sig is None and decimals is None:
        if isinstance(value, float) and not value.is_integer():
            return [f"x:{value!r}"]
        return [f"i:{int(value)}"]
    if not math.isfinite(value):
        return []
    half = (abs(value) * 10.0 ** (1 - sig) / 2) if sig is not None else 10.0 ** (-decimals) / 2
    return list(dict.fromkeys(_fmt(v, sig, decimals) for v in (value, value + half, value - half)))


def canonical_entries(answer: Any, sig: int | None = None, decimals: int | None = None) -> list[list[str]] | None:
    """Per entry of ``answer``, the canonical strings it may match; None if it is not an answer."""
    if answer is None or answer is Ellipsis:
        return None
    entries = _flatten(answer)
    items = [answer] if entries is None else entries
    out = [_candidates(item, sig, decimals) for item in items]
    return None if any(not c for c in out) else out


def hash_value(exercise_id: str, index: int, canonical: str) -> str:
    """The stored form of one canonical entry: PBKDF2-SHA256, salted with the exercise id and index."""
    salt = f"stconv_lite/{exercise_id}/{index}".encode()
    return hashlib.pbkdf2_hmac("sha256", canonical.encode(), salt, ITERATIONS).hex()[:32]


# ----------------------------------------------------------------------------- checks


class Value:
    """A hashed number, tuple of numbers, shape or bool (see the module docstring for tolerance)."""

    hashed = True

    def __init__(self, sig: int | None = None, decimals: int | None = None) -> None:
        if sig is not None and decimals is not None:
            raise ValueError("give sig or decimals, not both")
        self.sig, self.decimals = sig, decimals

    def describe(self) -> str:
        if self.sig is not None:
            return f"compared to {self.sig} significant digits"
        if self.decimals is not None:
            return f"compared to {self.decimals} decimals"
        return "compared exactly"

    def expected_hashes(self, exercise_id: str, answer: Any) -> list[str]:
        entries = canonical_entries(answer, self.sig, self.decimals)
        if entries is None:
            raise ValueError(f"{exercise_id}: the solution's answer {type(answer).__name__} cannot be hashed")
        return [hash_value(exercise_id, i, c[0]) for i, c in enumerate(entries)]

    def evaluate(self, exercise: Exercise, answer: Any, stored: list[str] | None) -> tuple[bool, str]:
        if stored is None:
            return False, "this exercise has no stored answer yet (run python -m stconv_lite.exercises.author)"
        entries = canonical_entries(answer, self.sig, self.decimals)
        if entries is None:
            return False, f"no answer yet: give {exercise.answer_form or 'a value'} in `{exercise.answer}`"
        if len(entries) != len(stored):
            what = "one value" if len(stored) == 1 else f"{len(stored)} values"
            return False, f"the answer should be {what}; got {len(entries)}"
        wrong = [
            i
            for i, (cands, h) in enumerate(zip(entries, stored))
            if not any(hash_value(exercise.id, i, c) == h for c in cands)
        ]
        if not wrong:
            return True, ""
        if len(stored) == 1:
            return False, "not the expected value"
        return False, "entries " + ", ".join(str(i) for i in wrong) + " (counting from 0) are not right yet"


class Choice(Value):
    """Multiple choice: one letter (``"b"``) or several (``"a, c"``); case, spaces, brackets ignored."""

    def __init__(self, options: Sequence[str]) -> None:
        super().__init__()
        self.options = tuple(options)

    @staticmethod
    def normalise(answer: Any) -> str | None:
        if not isinstance(answer, str):
            return None
        letters = sorted({ch for ch in answer.lower() if ch.isalpha()})
        return ",".join(letters) or None

    def describe(self) -> str:
        return "multiple choice"

    def expected_hashes(self, exercise_id: str, answer: Any) -> list[str]:
        letters = self.normalise(answer)
        if letters is None:
            raise ValueError(f"{exercise_id}: a multiple-choice solution must be letters; got {answer!r}")
        return [hash_value(exercise_id, 0, "c:" + letters)]

    def evaluate(self, exercise: Exercise, answer: Any, stored: list[str] | None) -> tuple[bool, str]:
        if stored is None:
            return False, "this exercise has no stored answer yet (run python -m stconv_lite.exercises.author)"
        letters = self.normalise(answer)
        if letters is None:
            return False, f"no answer yet: give the letter(s) of your choice as a string in `{exercise.answer}`"
        valid = {chr(ord("a") + i) for i in range(len(self.options))}
        if not set(letters.split(",")) <= valid:
            return False, f"choose among {', '.join(sorted(valid))}"
        return hash_value(exercise.id, 0, "c:" + letters) == stored[0], "not that choice"


def _compare(got: Any, expected: Any, rtol: float, atol: float) -> str | None:
    """None if ``got`` matches ``expected``; otherwise a short reason that does not print values."""
    if isinstance(expected, (tuple, list)):
        if hasattr(got, "tolist") and getattr(got, "ndim", 0) == 1:
            got = got.tolist()  # a 1-D array or tensor is as good as a list here
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a list or tuple of {len(expected)} results; got {type(got).__name__}"
        for i, (g, e) in enumerate(zip(got, expected)):
            reason = _compare(g, e, rtol, atol)
            if reason:
                return f"result {i}: {reason}"
        return None
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"expected a tensor; got {type(got).__name__}"
        if tuple(got.shape) != tuple(expected.shape):
            return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        got, expected = got.detach().double().cpu(), expected.detach().double().cpu()
        if not torch.allclose(got, expected, rtol=rtol, atol=atol, equal_nan=False):
            return f"values differ (largest difference {float((got - expected).abs().max()):.3g})"
        return None
    got, expected = _scalar(got), _scalar(expected)
    if isinstance(expected, (int, float)) and isinstance(got, (int, float)):
        return None if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol) else "the value differs"
    return None if got == expected else "the result differs"


def _shapes(args: tuple) -> str:
    parts = []
    for a in args:
        parts.append(f"tensor{tuple(a.shape)}" if isinstance(a, torch.Tensor) else repr(a))
    return "(" + ", ".join(parts) + ")"


class Implements:
    """A student's function must agree with ``reference`` on ``trials`` random inputs.

    Args:
        reference: the function to agree with (a package function, or one written in the chapter's
            exercise module).
        inputs: ``inputs(generator) -> tuple of positional arguments``; called once per trial with a
            seeded ``torch.Generator``, so every run tests the same cases.
        trials, rtol, atol: how many cases, and the tolerance of the comparison.
        cases: fixed argument tuples tried before the random ones (edge cases random draws rarely hit).
    """

    hashed = False

    def __init__(
        self,
        reference: Callable,
        inputs: Callable[[torch.Generator], tuple],
        trials: int = 4,
        rtol: float = 1e-4,
        atol: float = 1e-5,
        cases: Sequence[tuple] = (),
    ) -> None:
        self.reference, self.inputs = reference, inputs
        self.trials, self.rtol, self.atol = trials, rtol, atol
        self.cases = tuple(cases)

    def describe(self) -> str:
        return f"your function is run on {self.trials} random inputs and compared with the package"

    def evaluate(self, exercise: Exercise, answer: Any, stored: Any = None) -> tuple[bool, str]:
        if not callable(answer):
            return False, f"no answer yet: `{exercise.answer}` should be your function"
        drawn = [self.inputs(torch.Generator().manual_seed(1000 + trial)) for trial in range(self.trials)]
        for trial, args in enumerate([*self.cases, *drawn]):
            expected = self.reference(*args)
            try:
                got = answer(*args)
            except NotImplementedError:
                return False, "no answer yet: your function still raises NotImplementedError"
            except Exception as error:  # a student's bug: name it, briefly
                where = traceback.extract_tb(error.__traceback__)[-1]
                return False, (
                    f"on test input {trial} {_shapes(args)} your function raised "
                    f"{type(error).__name__}: {error} (line {where.lineno})"
                )
            reason = _compare(got, expected, self.rtol, self.atol)
            if reason:
                return False, f"on test input {trial} {_shapes(args)}: {reason}"
        return True, ""


class Property:
    """Any predicate: ``test(answer) -> (ok, reason)``; for answers that are objects (a layer, a clip)."""

    hashed = False

    def __init__(self, test: Callable[[Any], tuple[bool, str]], description: str) -> None:
        self.test, self.description = test, description

    def describe(self) -> str:
        return self.description

    def evaluate(self, exercise: Exercise, answer: Any, stored: Any = None) -> tuple[bool, str]:
        if answer is None or answer is Ellipsis:
            return False, f"no answer yet: set `{exercise.answer}`"
        try:
            return self.test(answer)
        except NotImplementedError:
            return False, "no answer yet: your code still raises NotImplementedError"
        except Exception as error:
            return False, f"checking your answer raised {type(error).__name__}: {error}"


# ----------------------------------------------------------------------------- exercises


@dataclass
class Exercise:
    """One exercise: what a chapter shows, what a student fills in, how it is checked.

    ``stub`` and ``solution`` are code strings that run after the chapter's exercise setup cell
    (``SETUP`` of the chapter module) and end with ``check("<id>", <answer>)``. ``solution`` must be
    fast (< 2 s on one CPU thread): the tests run every one. ``wrong`` is a plausible wrong answer
    (code that sets ``answer``), used by the tests to prove that the check discriminates.
    ``rubric`` is for instructors only (explain exercises): :func:`check` never prints it.
    """

    id: str
    title: str
    kind: str
    difficulty: str
    minutes: int
    statement: str
    stub: str
    solution: str
    check: Value | Implements | Property
    hint: str
    answer: str = "answer"
    answer_form: str = ""
    wrong: str = ""
    explanation: str = ""
    rubric: str = ""
    use: tuple[str, ...] = ("homework",)
    tags: tuple[str, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}; got {self.kind!r}")
        if self.difficulty not in DIFFICULTIES:
            raise ValueError(f"{self.id}: difficulty must be one of {DIFFICULTIES}; got {self.difficulty!r}")
        if self.kind == "explain" and not self.rubric:
            raise ValueError(f"{self.id}: an explain exercise needs a rubric for instructors")
        call = f'check("{self.id}", {self.answer})'
        for name in ("stub", "solution"):
            if call not in getattr(self, name):
                raise ValueError(f"{self.id}: the {name} must end with {call}")

    @property
    def chapter(self) -> int:
        return int(self.id.split("-")[1].split(".")[0])

    @property
    def label(self) -> str:
        return self.id
