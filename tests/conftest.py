"""Fixtures shared by the tests of the built book (``test_book_build.py``, ``test_book_in_browser.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from book_site import BookBuild, build_book


@pytest.fixture(scope="session")
def book_build() -> BookBuild:
    """The book built once per test session at quick scale, warnings as errors.

    ``STCONV_BOOK_HTML=path/to/_build/html`` reuses a build you already have (while editing tests);
    the build test then skips, saying so, and CI never sets it.
    """
    prebuilt = os.environ.get("STCONV_BOOK_HTML")
    if prebuilt:
        html = Path(prebuilt)
        if not (html / "index.html").exists():
            raise FileNotFoundError(f"STCONV_BOOK_HTML={prebuilt} has no index.html; build the book first")
        return BookBuild(html=html, returncode=0, seconds=0.0, log="(reused; not built by this session)")
    return build_book()


@pytest.fixture(scope="session")
def built_book(book_build) -> Path:
    """The HTML folder of a book that built; a failed build fails every test that needs it, with its log."""
    if book_build.returncode != 0:
        pytest.fail(f"the book did not build (exit {book_build.returncode}); end of the log:\n{book_build.log[-4000:]}")
    return book_build.html
