"""Student versions: solutions become stubs, the copies are up to date, and they run to the first stub."""

import json
import re
import warnings

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat.warnings import MissingIDFieldWarning

from stconv_lite.tools import student

CHAPTERS = student.chapters()


def markdown(text):
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def code(text):
    return {"cell_type": "code", "metadata": {}, "source": text, "outputs": [], "execution_count": None}


def test_solutions_are_replaced_by_stubs_and_exercises_kept():
    notebook = {
        "cells": [
            code("x = 1"),
            markdown(
                "```{exercise} One\n:label: ex-one\nDo it.\n```\n\n```{solution-start} ex-one\n:class: dropdown\n```"
            ),
            code("answer = 42"),
            markdown(
                "Because.\n```{solution-end}\n```\n\n```{exercise} Two\n:label: ex-two\n```\n```{solution-start} ex-two\n```"
            ),
            code("answer = 43"),
            markdown("```{solution-end}\n```\n## References"),
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    cells = student.student_version(notebook)["cells"]
    sources = ["".join(c["source"]) for c in cells]
    assert not any("answer" in s or "solution-start" in s or "Because" in s for s in sources)
    stubs = [s for c, s in zip(cells, sources) if c["cell_type"] == "code" and "NotImplementedError" in s]
    assert [re.search(r"exercise (\S+) is", s).group(1) for s in stubs] == ["ex-one", "ex-two"]
    assert any("{exercise} Two" in s for s in sources) and sources[-1].strip() == "## References"


def test_registered_exercises_get_their_stub_with_a_check_call():
    from stconv_lite.exercises import get

    notebook = {
        "cells": [
            markdown("[![Open](x)](https://colab.research.google.com/github/o/r/blob/main/notebooks/03_3tconv.ipynb)"),
            markdown(
                "```{exercise} ex-3.1 · Count\n:label: ex-3.1\n```\n```{solution-start} ex-3.1\n:class: dropdown\n```"
            ),
            code("answer = 19_520"),
            markdown("```{solution-end}\n```"),
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    cells = student.student_version(notebook)["cells"]
    sources = ["".join(c["source"]) for c in cells]
    stub = next(s for c, s in zip(cells, sources) if "student-stub" in c["metadata"].get("tags", []))
    assert get("ex-3.1").stub in stub and stub.rstrip().endswith('check("ex-3.1", answer)')
    assert "19_520" not in "".join(sources)
    assert "blob/main/student/03_3tconv.ipynb" in sources[0]  # the copy's own Colab badge


def test_a_converted_chapter_registers_every_exercise():
    """A chapter that uses registry ids (ex-N.k) uses them for all its gated solutions, so that every
    stub of its student copy is followed by a check call."""
    for path in CHAPTERS:
        labels = student.SOLUTION_START.findall(path.read_text().replace("\\n", "\n"))
        registered = [label for label in labels if student.registered_stub(label)]
        if registered:
            assert registered == labels, f"{path.name}: unregistered exercises {set(labels) - set(registered)}"


def test_every_cell_of_a_student_copy_has_a_valid_unique_id():
    for path in CHAPTERS:
        with warnings.catch_warnings():
            warnings.simplefilter("error", MissingIDFieldWarning)
            notebook = nbformat.reads(student.render(path), as_version=4)
        nbformat.validate(notebook)
        ids = [cell.id for cell in notebook.cells]
        assert len(ids) == len(set(ids)), f"{path.name}: duplicate cell ids"
        stubs = [cell.id for cell in notebook.cells if "student-stub" in cell.metadata.get("tags", [])]
        assert stubs and all(re.fullmatch(r"stub-[A-Za-z0-9_-]{1,59}", i) for i in stubs), stubs
    assert student.stub_id("ex:odd label") == "stub-ex-odd-label"
    assert len(student.stub_id("x" * 100)) == 64


def test_an_unclosed_solution_is_an_error():
    notebook = {"cells": [markdown("```{solution-start} ex-x\n```"), code("y = 2")], "metadata": {}}
    with pytest.raises(ValueError, match="never closed"):
        student.student_version(notebook)


def test_every_chapter_has_exercises_with_solutions():
    for path in CHAPTERS:
        cells = student.student_version(json.loads(path.read_text()))["cells"]
        assert any("student-stub" in c["metadata"].get("tags", []) for c in cells), f"{path.name} has no gated solution"


def test_committed_student_copies_are_up_to_date():
    assert student.main(["--check"]) == 0, "run `python -m stconv_lite.tools.student` and commit student/"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_student_copy_runs_up_to_its_first_stub(path, tmp_path):
    notebook = nbformat.reads(student.render(path), as_version=4)
    first_stub = next(i for i, c in enumerate(notebook.cells) if "student-stub" in c.metadata.get("tags", []))
    notebook.cells = notebook.cells[: first_stub + 1]
    client = NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    if "check(" in notebook.cells[first_stub].source:
        # a registered stub: the copy runs on, and the check says there is no answer yet
        client.execute()
        printed = "".join(o.get("text", "") for o in notebook.cells[first_stub].outputs)
        assert "no answer yet" in printed or "not yet" in printed
        return
    with pytest.raises(CellExecutionError) as error:
        client.execute()
    assert "NotImplementedError" in str(error.value)
    failed = [
        i for i, c in enumerate(notebook.cells) if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert failed == [first_stub]
