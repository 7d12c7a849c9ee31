"""stconv_lite.notebook: glue works inside and outside the book build."""

import sys

from stconv_lite import notebook


def test_glue_returns_nothing_so_a_cell_ending_with_it_echoes_nothing():
    assert notebook.glue("answer", 42) is None


def test_in_colab_reads_the_module_table(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert notebook.in_colab() is False
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert notebook.in_colab() is True


def test_format_float():
    assert notebook.format_float(0.91234, 3) == "0.912"
