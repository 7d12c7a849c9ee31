"""Chapter notebooks as Colab and the book meet them: badges, GPU metadata, no stored outputs."""

import json
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
NEEDS_GPU = {"07_ucf101"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_has_a_colab_badge_to_itself(path):
    first = "".join(json.loads(path.read_text())["cells"][0]["source"])
    assert f"colab.research.google.com/github/stconv-lite/stconv_lite/blob/main/notebooks/{path.name}" in first


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_gpu_chapters_ask_colab_for_a_gpu_and_say_so(path):
    notebook = json.loads(path.read_text())
    if path.stem in NEEDS_GPU:
        assert notebook["metadata"].get("accelerator") == "GPU"
        assert "needs a GPU" in "".join(notebook["cells"][0]["source"])
    else:
        assert "accelerator" not in notebook["metadata"], "only chapters that need a GPU ask for one"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapters_are_committed_without_outputs(path):
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
