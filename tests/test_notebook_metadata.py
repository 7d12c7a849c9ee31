"""Chapter notebooks as Colab and the book meet them: badges, GPU metadata, no stored outputs."""

import json
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NEEDS_GPU = {"07_ucf101"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_a_colab_badge_to_itself(path):
    """Right under the chapter's introduction, in a cell of its own that the web book leaves out.

    On GitHub and in Jupyter the badge opens the chapter in Colab. The web book has a launch button
    (the rocket) for that instead, and leaving the badge out keeps every image on its pages local,
    so they show even without a network (the browser test checks every image loads).
    """
    cells = json.loads(path.read_text())["cells"]
    assert cells[0]["source"][0].startswith("# "), "the first cell opens with the chapter title"
    badge = cells[1]
    assert f"colab.research.google.com/github/stconv-lite/stconv_lite/blob/main/notebooks/{path.name}" in "".join(
        badge["source"]
    )
    assert "colab-badge.svg" in "".join(badge["source"])
    assert "remove-cell" in badge["metadata"].get("tags", []), "the badge cell should carry the remove-cell tag"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_gpu_chapters_ask_colab_for_a_gpu_and_say_so(path):
    notebook = json.loads(path.read_text())
    if path.stem in NEEDS_GPU:
        assert notebook["metadata"].get("accelerator") == "GPU"
        opening = "".join("".join(cell["source"]) for cell in notebook["cells"][:3])  # title, badge, aims
        assert "needs a GPU" in opening
    else:
        assert "accelerator" not in notebook["metadata"], "only chapters that need a GPU ask for one"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_are_committed_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
