"""The course kit: every registered exercise's check fails on a stub or a wrong answer and passes on
its solution; answers are not readable; cells for the chapters; the students' edition has no solutions."""

import json
import re
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
import torch
import yaml

from stconv_lite import exercises as kit
from stconv_lite.exercises import cells as cellgen
from stconv_lite.exercises.author import computed_hashes, load_expected, run_code
from stconv_lite.exercises.core import Value
from stconv_lite.models import available
from stconv_lite.tools import student

ROOT = Path(__file__).resolve().parents[1]
ALL = kit.exercises()
available()  # import every model module now, so that a solution's time is its own, not torchvision's import


def test_every_chapter_has_six_exercises_of_several_kinds():
    for chapter in kit.CHAPTERS:
        items = kit.exercises(chapter)
        assert len(items) >= 6, f"chapter {chapter} has {len(items)} exercises"
        assert [ex.id for ex in items] == [f"ex-{chapter}.{k}" for k in range(1, len(items) + 1)]
        assert len({ex.kind for ex in items}) >= 4, f"chapter {chapter}: {[ex.kind for ex in items]}"
        assert {"implement", "derive"} & {ex.kind for ex in items}
        assert all(ex.minutes > 0 and ex.hint for ex in items)
    assert {ex.kind for ex in ALL} == set(kit.KINDS)
    assert all(ex.rubric for ex in ALL if ex.kind == "explain")


@pytest.mark.parametrize("ex", ALL, ids=lambda ex: ex.id)
def test_solution_passes_stub_and_wrong_answer_fail(ex, capsys):
    started = time.perf_counter()
    namespace = run_code(ex, ex.solution)
    elapsed = time.perf_counter() - started
    assert kit.evaluate(ex.id, namespace[ex.answer]), f"{ex.id}: the solution does not pass its own check"
    assert elapsed < 2.0 * 3, f"{ex.id}: the solution took {elapsed:.1f} s (budget 2 s on an idle core)"
    stub = run_code(ex, ex.stub)
    untouched = kit.evaluate(ex.id, stub.get(ex.answer))
    assert not untouched, f"{ex.id}: the stub passes its check"
    assert "no answer yet" in untouched.message, f"{ex.id}: an untouched stub should read 'no answer yet'"
    wrong = run_code(ex, ex.wrong)["answer"]
    result = kit.evaluate(ex.id, wrong)
    assert not result and "Hint:" in result.message, f"{ex.id}: a wrong answer passes"
    # the solution, run as a student runs it, prints its verdict as cell output (Colab parity)
    run_code(ex, ex.solution, real_check=True)
    assert f"{ex.id} ✔ correct" in capsys.readouterr().out


def test_stored_answers_match_the_solutions():
    stored = load_expected()
    hashed = [ex for ex in ALL if getattr(ex.check, "hashed", False)]
    assert set(stored) == {ex.id for ex in hashed}, "run python -m stconv_lite.exercises.author"
    for ex in hashed:
        assert stored[ex.id] == computed_hashes(ex), f"{ex.id}: stale hash; run the author tool"


def test_no_expected_value_is_readable():
    expected_text = (ROOT / "stconv_lite" / "exercises" / "_expected.py").read_text()
    for ex in ALL:
        if not getattr(ex.check, "hashed", False) or ex.kind == "explain":
            continue
        answer = run_code(ex, ex.solution)[ex.answer]
        visible = (
            ex.statement
            + ex.stub
            + ex.hint
            + "".join("".join(c["source"]) for c in cellgen.exercise_cells(ex.chapter) if "solution" not in c["id"])
        )
        if isinstance(answer, str):
            continue
        if isinstance(answer, (tuple, list)):  # a shape or tuple: its entries may be in the question
            forms = [str(tuple(answer)), ", ".join(str(v) for v in answer)]
        else:
            forms = [f"{answer:g}" if isinstance(answer, float) else str(answer)]
        for text in forms:
            if len(text.strip("-0.")) >= 3:  # short numbers like 3 or 0.5 occur in any text
                assert text not in visible, f"{ex.id}: the answer {text} is readable before the solution"
    stored = re.findall(r"[\"']([^\"']*)[\"']", expected_text.split("EXPECTED = ", 1)[1])  # either quote style
    assert stored and all(re.fullmatch(r"ex-\d+\.\d+|[0-9a-f]{32}", s) for s in stored)


def test_rounding_tolerance_and_messages(capsys):
    ex = kit.get("ex-5.5")  # a ratio checked to 3 significant digits
    truth = 1 / (9 * 64)
    assert kit.evaluate(ex.id, truth * (1 + 4e-4))
    assert kit.evaluate(ex.id, torch.tensor(truth))
    assert not kit.evaluate(ex.id, truth * 1.02)
    assert not kit.evaluate(ex.id, "0.0017")
    result = kit.check(ex.id, ...)
    printed = capsys.readouterr().out
    assert printed.strip() == result.message and "no answer yet" in printed
    assert "Hint:" not in printed, "a hint before any answer gives predict-then-check exercises away"
    assert "Hint:" in kit.evaluate(ex.id, 0.5).message  # a first (wrong) answer earns the hint
    assert Value(decimals=2).expected_hashes("x", -0.0) == Value(decimals=2).expected_hashes("x", 0.0)
    with pytest.raises(KeyError, match="ex-3.2"):
        kit.get("ex-9.9")


def test_choice_answers_ignore_case_and_brackets():
    assert kit.evaluate("ex-2.6", "(B)") and kit.evaluate("ex-2.6", " b ")
    assert not kit.evaluate("ex-2.6", "b, c")
    assert "choose among" in kit.evaluate("ex-2.6", "z").message


def test_student_copy_of_generated_cells_has_stubs_with_checks_and_no_solutions():
    for chapter in kit.CHAPTERS:
        notebook = {"cells": cellgen.exercise_cells(chapter), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        copy = student.student_version(notebook)
        sources = ["".join(c["source"]) for c in copy["cells"]]
        stubs = [s for c, s in zip(copy["cells"], sources) if "student-stub" in c["metadata"].get("tags", [])]
        assert len(stubs) == len(kit.exercises(chapter))
        for ex, stub in zip(kit.exercises(chapter), stubs):
            assert stub.rstrip().endswith(f'check("{ex.id}", {ex.answer})'), stub
        for ex in kit.exercises(chapter):
            solution_only = [line for line in ex.solution.splitlines() if line.strip() and line not in ex.stub]
            assert not any(line in s for s in sources for line in solution_only if len(line) > 25), ex.id
        assert not any("solution-start" in s for s in sources)
        nbformat.validate(nbformat.reads(json.dumps(copy), as_version=4))


def test_replace_exercise_section_on_a_copy_of_a_chapter(tmp_path):
    source = ROOT / "notebooks" / "03_3tconv.ipynb"
    target = tmp_path / source.name
    target.write_text(source.read_text())
    notebook = cellgen.replace_exercise_section(target, 3)
    texts = ["".join(c["source"]) for c in notebook["cells"]]
    assert sum(t.startswith("## Exercises") for t in texts) == 1
    assert any(t.lstrip().startswith("## References") for t in texts)
    labels = re.findall(r":label: (ex-\S+)", "\n".join(texts))
    assert labels == [ex.id for ex in kit.exercises(3)]
    nbformat.validate(nbformat.reads(target.read_text(), as_version=4))


@pytest.mark.parametrize("chapter", kit.CHAPTERS)
def test_each_chapter_shows_exactly_its_registered_exercises(chapter, tmp_path):
    """The notebook's Exercises section is what the registry generates (no hand edits that drift):
    regenerating it, then formatting as the repository does, changes nothing."""
    source = next((ROOT / "notebooks").glob(f"{chapter:02d}_*.ipynb"))
    target = tmp_path / source.name
    target.write_text(source.read_text())
    cellgen.replace_exercise_section(target, chapter)
    subprocess.run(["ruff", "format", "--quiet", str(target)], check=True, cwd=ROOT)
    assert target.read_text() == source.read_text(), (
        f"{source.name}: its exercises differ from stconv_lite/exercises/chapter{chapter}.py; run "
        f"python -m stconv_lite.exercises.cells {source.relative_to(ROOT)} {chapter} && ruff format {source.relative_to(ROOT)}"
    )


def test_instructors_minutes_come_from_the_registry():
    page = (ROOT / "book" / "instructors.md").read_text()
    assert "total_minutes" in page or "exercises(" in page


BOOK_PAGE = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# A chapter\n\nSome text."},
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": "```{exercise} ex-1.1 · A question\n:label: ex-1.1\n:nonumber:\n\nQUESTION-TEXT-7 [badge]"
            "(https://colab.research.google.com/github/o/r/blob/main/notebooks/01_x.ipynb)\n```\n\n"
            "```{solution-start} ex-1.1\n:class: dropdown\n```",
        },
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {},
            "source": "SOLUTION_CODE_42 = 1\nprint('SOLUTION-OUTPUT-42')",
            "outputs": [{"name": "stdout", "output_type": "stream", "text": "SOLUTION-OUTPUT-42\n"}],
        },
        {
            "cell_type": "markdown",
            "metadata": {},
            "source": "SOLUTION-PROSE-42\n```{solution-end}\n```\n\nAFTER-TEXT-9",
        },
    ],
    "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.mark.skipif(
    subprocess.run(["which", "jupyter-book"], capture_output=True).returncode != 0,
    reason="jupyter-book is not installed",
)
def test_students_edition_of_a_tiny_book_has_no_solution_text(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "page.ipynb").write_text(json.dumps(BOOK_PAGE))
    (book / "_toc.yml").write_text("format: jb-book\nroot: page\n")
    base = {
        "title": "tiny",
        "execute": {"execute_notebooks": "off"},
        "sphinx": {"extra_extensions": ["sphinx_exercise"]},
        "launch_buttons": {"colab_url": "https://colab.research.google.com"},
        "repository": {"url": "https://github.com/o/r", "branch": "main"},
    }
    override = yaml.safe_load((ROOT / "_config_students.yml").read_text())
    config = tmp_path / "config.yml"
    config.write_text(yaml.safe_dump(student._merge(base, override)))
    started = time.perf_counter()
    subprocess.run(
        [
            "jupyter-book",
            "build",
            str(book),
            "--config",
            str(config),
            "--path-output",
            str(tmp_path / "out"),
            "-W",
            "-n",
            "--keep-going",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert time.perf_counter() - started < 60
    html = (tmp_path / "out" / "_build" / "html" / "page.html").read_text()
    assert "QUESTION-TEXT-7" in html and "AFTER-TEXT-9" in html
    assert "SOLUTION" not in html, "solution text in the students' edition"
    assert "blob/main/student/01_x.ipynb" in html and "notebooks/01_x.ipynb" not in html
