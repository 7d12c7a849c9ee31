"""Notebook cells for a chapter's exercises, generated from the registry.

One call puts a chapter's exercises into its notebook::

    python -m stconv_lite.exercises.cells notebooks/03_3tconv.ipynb 3

replaces everything from the notebook's ``## Exercises`` heading up to (not including) the next
``## `` heading (``## References``) with:

1. a Markdown cell with the heading and a one-line guide (difficulty, minutes, how to check);
2. a code cell with the chapter's exercise setup (``from stconv_lite.exercises import check`` and
   the imports every stub and solution uses);
3. per exercise: a Markdown cell with the sphinx-exercise ``exercise`` directive (label ``ex-N.k``,
   ``:nonumber:`` so that numbers are not global: the title carries the id), then a gated solution
   (Markdown ``solution-start``, the solution code ending with ``check("ex-N.k", answer)``, which
   prints *correct* in the built book, Markdown ``solution-end``).

The stubs are not in the chapter: :mod:`stconv_lite.tools.student` replaces each gated solution
by the exercise's registered stub (which ends with the same ``check`` call), so the student copy
runs top to bottom and every exercise prints *no answer yet* until it is solved.

Cells have deterministic ids (``ex-3-2-stub`` ...), so regenerating changes nothing unless an
exercise changed.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from stconv_lite.exercises import chapter_setup, exercises, total_minutes
from stconv_lite.exercises.core import Exercise

KIND_NOTE = {
    "predict-then-check": "write your prediction first, then run the check",
    "derive": "derive it on paper, then confirm with code",
    "implement": "implement the function; the check runs it on random inputs",
    "experiment": "state the expected effect first, then change one thing and measure",
    "explain": "choose an answer, then write a paragraph (graded by your instructor)",
}


def _cell_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "-", text)[:64]


def _lines(text: str) -> list[str]:
    # sources as lists of lines, as the committed notebooks store them (small, readable diffs)
    return (text.rstrip("\n") + "\n").splitlines(keepends=True)


def markdown(text: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": _cell_id(cell_id), "metadata": {}, "source": _lines(text)}


def code(text: str, cell_id: str, tags: list[str] | None = None) -> dict:
    metadata = {"tags": tags} if tags else {}
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": _cell_id(cell_id),
        "metadata": metadata,
        "outputs": [],
        "source": _lines(text),
    }


def exercise_markdown(ex: Exercise) -> str:
    """The exercise directive: title with id, the labels students need, the statement."""
    return (
        f"```{{exercise}} {ex.id} · {ex.title}\n:label: {ex.id}\n:nonumber:\n\n"
        f"*{ex.difficulty} · about {ex.minutes} min · {ex.kind}: {KIND_NOTE[ex.kind]}.*\n\n"
        f"{ex.statement}\n```"
    )


def exercise_cells(chapter: int) -> list[dict]:
    """All cells of a chapter's exercise section (heading, setup, then each exercise)."""
    items = exercises(chapter)
    intro = (
        "## Exercises\n\n"
        f"{len(items)} exercises, about {total_minutes(chapter)} minutes in all. Each ends with "
        '`check("ex-N.k", answer)`, which prints *correct* or *not yet* with a hint, without showing '
        "the expected answer. Run the setup cell below first."
    )
    cells = [markdown(intro, f"ex-{chapter}-intro"), code(chapter_setup(chapter), f"ex-{chapter}-setup")]
    for ex in items:
        key = ex.id.replace(".", "-")
        cells.append(markdown(exercise_markdown(ex), f"{key}-text"))
        cells.append(markdown(f"```{{solution-start}} {ex.id}\n:class: dropdown\n```", f"{key}-sol-start"))
        cells.append(code(ex.solution, f"{key}-solution"))
        end = "```{solution-end}\n```"
        if ex.explanation:
            end = f"{ex.explanation}\n\n{end}"
        cells.append(markdown(end, f"{key}-sol-end"))
    return cells


def replace_exercise_section(notebook_path: Path, chapter: int, write: bool = True) -> dict:
    """Put the generated exercise cells into a chapter notebook, in place of its Exercises section.

    The section runs from the ``## Exercises`` heading to the next ``## `` heading (References).
    Text that shares a cell with either heading outside the section (a Summary before it, the
    References after it) is kept. Raises if the notebook has no Exercises heading.
    """
    notebook = json.loads(Path(notebook_path).read_text())
    cells = notebook["cells"]
    heading = re.compile(r"^## Exercises\s*$", re.M)
    start = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and heading.search(_text(c))), None)
    if start is None:
        raise ValueError(f"{notebook_path}: no '## Exercises' heading")
    before = _text(cells[start])[: heading.search(_text(cells[start])).start()]
    kept = [{**cells[start], "source": _lines(before)}] if before.strip() else []
    # the next "## " heading may share a cell with the last solution's end marker: keep it from there
    after: list[dict] = []
    for i in range(start + 1, len(cells)):
        found = re.search(r"^## ", _text(cells[i]), re.M) if cells[i]["cell_type"] == "markdown" else None
        if found:
            tail = {**cells[i], "source": _text(cells[i])[found.start() :].splitlines(keepends=True)}
            after = [tail] + cells[i + 1 :]
            break
    notebook["cells"] = cells[:start] + kept + exercise_cells(chapter) + after
    if write:
        Path(notebook_path).write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
    return notebook


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Replace a chapter notebook's Exercises section with the registry's.")
    parser.add_argument("notebook", type=Path)
    parser.add_argument("chapter", type=int)
    args = parser.parse_args(argv)
    replace_exercise_section(args.notebook, args.chapter)
    print(f"wrote the {len(exercises(args.chapter))} exercises of chapter {args.chapter} into {args.notebook}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
