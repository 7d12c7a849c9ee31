"""Write the student version of every chapter: exercise solutions replaced by stubs.

Usage::

    python -m stconv_lite.tools.student            # writes student/NN_slug.ipynb for every chapter
    python -m stconv_lite.tools.student --check    # exit 1 if a committed student copy is out of date

In a chapter, a solution is everything between a Markdown cell that opens a
```` ```{solution-start} <label> ```` directive and the Markdown cell with ```` ```{solution-end} ````
(sphinx-exercise's gated solutions). The student copy keeps the exercise text, drops the
solution's prose and code, and puts one stub cell in its place:

* for an exercise registered in :mod:`stconv_lite.exercises` (labels ``ex-N.k``), the registered
  stub, which ends with ``check("ex-N.k", answer)``: the student fills in the answer and the check
  prints *correct* or *not yet* with a hint, never the expected value (it is stored as hashes in
  the package, not in the notebook). The copy runs top to bottom; unsolved exercises say so.
* for any other label (chapters not yet converted), a stub that raises ``NotImplementedError``, so
  running the copy stops at the first unsolved exercise with a message that names it.

The copies also get their own Colab badges: links to ``.../blob/<branch>/notebooks/NN_slug.ipynb``
point to ``.../student/NN_slug.ipynb``, so a student who opens a copy in Colab stays in the copy.

``--book`` builds the solution-free edition of the book (``_config_students.yml`` merged over
``_config.yml``; see :func:`students_config`).
"""

from __future__ import annotations

import argparse
import copy
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOLUTION_START = re.compile(r"```\{solution-start\}\s*([\w:.-]+)")
SOLUTION_END = "```{solution-end}"


def stub_id(label: str) -> str:
    """A cell id for the stub of exercise ``label``: deterministic (the copies only change when the
    chapter does) and valid for nbformat 4.5 (1-64 characters of ``[a-zA-Z0-9-_]``)."""
    return ("stub-" + re.sub(r"[^A-Za-z0-9_-]", "-", label))[:64]


def registered_stub(label: str) -> str | None:
    """The registered stub of exercise ``label`` (ends with its ``check`` call), or None."""
    from stconv_lite.exercises import get

    try:
        exercise = get(label)
    except KeyError:
        return None
    return f"# Exercise {label}: your answer here; the check says correct or not yet, with a hint.\n" + exercise.stub


def stub_cell(label: str) -> dict:
    source = registered_stub(label) or (
        f"# Exercise {label}: your solution here.\n"
        f'raise NotImplementedError("exercise {label} is yours to solve; the instructor version has a solution")\n'
    )
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": stub_id(label),
        "metadata": {"tags": ["student-stub"]},
        "outputs": [],
        "source": source,
    }


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
                    text = text[_skip_directive(text, start.start()) :]
            else:
                end = text.find(SOLUTION_END)
                if end < 0:
                    text = ""  # prose of the solution: dropped
                else:
                    keep_markdown(cell, kept)
                    kept = ""
                    cells.append(stub_cell(inside))
                    inside = None
                    text = text[_skip_directive(text, end) :]
        keep_markdown(cell, kept)
    if inside is not None:
        raise ValueError(f"solution {inside!r} is opened but never closed with {SOLUTION_END}")
    for cell in cells:
        if cell["cell_type"] == "markdown":
            cell["source"] = student_badges(_text(cell))
    result["cells"] = cells
    return result


COLAB_CHAPTER = re.compile(
    r"(colab\.research\.google\.com/github/[^)\s]+?/blob/[^/)\s]+/)notebooks/(\d\d_[\w-]+\.ipynb)"
)


def student_badges(text: str) -> str:
    """Point Colab links of chapters at their student copies (``notebooks/`` -> ``student/``)."""
    return COLAB_CHAPTER.sub(r"\1student/\2", text)


# ----------------------------------------------------------------------------- students' edition


def _merge(base: dict, override: dict) -> dict:
    """``override`` merged into ``base``: dicts recursively, anything else replaced."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def students_config(root: Path = ROOT) -> dict:
    """The book configuration of the students' edition: ``_config_students.yml`` over ``_config.yml``.

    Local extension paths are made absolute, because the merged file is written under ``_build/``
    and Jupyter Book resolves them relative to the configuration file.
    """
    import yaml

    base = yaml.safe_load((root / "_config.yml").read_text())
    override = yaml.safe_load((root / "_config_students.yml").read_text()) or {}
    merged = _merge(base, override)
    local = merged.get("sphinx", {}).get("local_extensions") or {}
    for name, path in list(local.items()):
        local[name] = str((root / path).resolve())
    return merged


INSTRUCTORS_ONLY = ("book/instructors",)  # pages left out of the students' edition (rubrics live there)


def students_toc(root: Path = ROOT) -> dict:
    """``_toc.yml`` without the instructors' pages."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    for part in toc.get("parts", []):
        part["chapters"] = [c for c in part.get("chapters", []) if c.get("file") not in INSTRUCTORS_ONLY]
    return toc


def build_students_edition(root: Path = ROOT, out: Path | None = None, extra_args: list[str] | None = None) -> Path:
    """Build the solution-free book into ``out`` (default ``_build/students``); return its HTML folder."""
    import subprocess

    import yaml

    out = Path(out) if out is not None else root / "_build" / "students"
    out.mkdir(parents=True, exist_ok=True)
    config = out / "_config_students.merged.yml"
    config.write_text(yaml.safe_dump(students_config(root), sort_keys=False))
    toc = out / "_toc_students.yml"
    toc.write_text(yaml.safe_dump(students_toc(root), sort_keys=False))
    command = [
        "jupyter-book",
        "build",
        str(root),
        "--config",
        str(config),
        "--toc",
        str(toc),
        "--path-output",
        str(out),
        *(extra_args or []),
    ]
    subprocess.run(command, check=True)
    return out / "_build" / "html"


def chapters(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def render(notebook_path: Path) -> str:
    notebook = json.loads(notebook_path.read_text())
    return json.dumps(student_version(notebook), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that student/ is up to date")
    parser.add_argument("--out", type=Path, default=ROOT / "student", help="folder for the student copies")
    parser.add_argument(
        "--book",
        action="store_true",
        help="build the solution-free edition of the book into _build/students (takes as long as a book build)",
    )
    args = parser.parse_args(argv)
    if args.book:
        print(f"students' edition: {build_students_edition()}/index.html")
        return 0
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
