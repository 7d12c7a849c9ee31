"""Write the student version of every chapter: exercise solutions replaced by stubs.

Usage::

    python -m stconv_lite.tools.student            # writes student/NN_slug.ipynb for every chapter
    python -m stconv_lite.tools.student --check    # exit 1 if a committed student copy is out of date

In a chapter, a solution is everything between a Markdown cell that opens a
```` ```{solution-start} <label> ```` directive and the Markdown cell with ```` ```{solution-end} ````
(sphinx-exercise's gated solutions). The student copy keeps the exercise text, drops the
solution's prose and code, and puts one stub cell in its place that raises ``NotImplementedError``,
so running the student notebook top to bottom stops at the first unsolved exercise with a message
that names it.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTION_START = re.compile(r"```\{solution-start\}\s*([\w:-]+)")
SOLUTION_END = "```{solution-end}"


def stub_id(label: str) -> str:
    """A cell id for the stub of exercise ``label``: deterministic (the copies only change when the
    chapter does) and valid for nbformat 4.5 (1-64 characters of ``[a-zA-Z0-9-_]``)."""
    return ("stub-" + re.sub(r"[^A-Za-z0-9_-]", "-", label))[:64]


def stub_cell(label: str) -> dict:
    source = (
        f"# Exercise {label}: your solution here.\n"
        f'raise NotImplementedError("exercise {label} is yours to solve; the instructor version has a solution")\n'
    )
    return {"cell_type": "code", "execution_count": None, "id": stub_id(label),
            "metadata": {"tags": ["student-stub"]}, "outputs": [], "source": source}


def _text(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _skip_directive(text: str, position: int) -> int:
    """Index just after the closing fence of the directive whose opening fence starts at ``position``."""
    closing = text.find("```", text.find("\n", position) + 1)
    return len(text) if closing < 0 else closing + 3


def student_version(notebook: dict) -> dict:
    """A copy of ``notebook`` (nbformat JSON) whose gated solutions are replaced by stubs."""
    result = copy.deepcopy(notebook)
    cells: list[dict] = []
    inside: str | None = None

    def keep_markdown(template: dict, text: str) -> None:
        if text.strip():
            kept = {**copy.deepcopy(template), "source": text.strip("\n") + "\n"}
            if "id" in kept and any(c.get("id") == kept["id"] for c in cells):
                # the text after a solution, from the cell whose text before it is already kept
                kept["id"] = f"{kept['id'][:60]}-end"
            cells.append(kept)

    for cell in notebook["cells"]:
        if cell["cell_type"] != "markdown":
            if inside is None:
                cells.append(copy.deepcopy(cell))
            continue  # code inside a solution is the solution: dropped
        text, kept = _text(cell), ""
        while text:
            if inside is None:
                start = SOLUTION_START.search(text)
                if start is None:
                    kept, text = kept + text, ""
                else:
                    kept += text[: start.start()]
                    inside = start.group(1)
                    text = text[_skip_directive(text, start.start()):]
            else:
                end = text.find(SOLUTION_END)
                if end < 0:
                    text = ""  # prose of the solution: dropped
                else:
                    keep_markdown(cell, kept)
                    kept = ""
                    cells.append(stub_cell(inside))
                    inside = None
                    text = text[_skip_directive(text, end):]
        keep_markdown(cell, kept)
    if inside is not None:
        raise ValueError(f"solution {inside!r} is opened but never closed with {SOLUTION_END}")
    result["cells"] = cells
    return result


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def render(notebook_path: Path) -> str:
    notebook = json.loads(notebook_path.read_text())
    return json.dumps(student_version(notebook), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that student/ is up to date")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="folder for the student copies")
    args = parser.parse_args(argv)
    stale = []
    for path in chapters():
        target = args.out / path.name
        text = render(path)
        if args.check:
            if not target.exists() or target.read_text() != text:
                stale.append(target.name)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    if stale:
        print("out of date (run `python -m stconv_lite.tools.student`):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
