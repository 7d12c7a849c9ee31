"""The book builds, strictly, and what it links to exists.

``test_book_builds_strictly`` is the build CI relies on: every chapter executed at quick scale,
every Sphinx warning an error (``jupyter-book build . -W --keep-going --all``). The other tests read the
HTML it produced, so they need no browser.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from book_site import JSDELIVR_NPM, REPO, page_paths, pinned_assets, toc_documents

pytestmark = pytest.mark.book


def test_book_builds_strictly(book_build):
    if book_build.log.startswith("(reused"):
        pytest.skip("STCONV_BOOK_HTML points at an existing build; unset it to build the book")
    assert book_build.returncode == 0, f"jupyter-book build failed; end of the log:\n{book_build.log[-4000:]}"
    assert "build succeeded" in book_build.log
    assert (book_build.html / "index.html").exists()


def _anchors(page: Path, cache: dict[Path, set[str]]) -> set[str]:
    if page not in cache:
        cache[page] = set(re.findall(r'\b(?:id|name)="([^"]+)"', page.read_text(errors="replace")))
    return cache[page]


def test_internal_links_resolve(built_book):
    """Every relative link on every page points at a file of the build, and at an anchor on it."""
    anchors: dict[Path, set[str]] = {}
    broken = []
    pages = page_paths(built_book) + ["genindex.html", "search.html"]
    assert len(pages) >= 13, f"expected every chapter and appendix page, found {pages}"
    for relative in pages:
        page = built_book / relative
        for href in re.findall(r'<a\b[^>]*\bhref="([^"]*)"', page.read_text(errors="replace")):
            parts = urlsplit(href)
            if parts.scheme or href.startswith(("mailto:", "javascript:")) or not href:
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{relative}: {href} (no such file)")
            elif (
                parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in _anchors(target, anchors)
            ):
                broken.append(f"{relative}: {href} (no anchor #{parts.fragment})")
    assert broken == [], "broken internal links:\n" + "\n".join(broken[:30])


def test_every_page_of_the_toc_was_built(built_book):
    missing = [d for d in toc_documents() if not (built_book / f"{d}.html").exists()]
    assert missing == []


def test_no_markdown_left_unrendered(built_book):
    """Tables that code displays as Markdown must come out as tables, not as rows of pipes."""
    raw = []
    for relative in page_paths(built_book):
        html = re.sub(r"<(pre|code|script)\b[\s\S]*?</\1>", "", (built_book / relative).read_text())
        # A table's separator row; Sphinx's smart quotes turn its "---" into an em dash.
        raw += [f"{relative}: {m[:60]}" for m in re.findall(r"\|\s*:?(?:-{3,}|\u2014)[^<]{0,50}", html)]
    assert raw == [], f"Markdown tables printed as text: {raw[:10]}"


def test_no_page_stores_a_progress_bar(built_book):
    """Progress bars are live in Jupyter and Colab only (stconv_lite.progress); none is saved in a page."""
    stored = []
    for relative in page_paths(built_book):
        html = (built_book / relative).read_text()
        for marker in ("ProgressModel", "tqdm", "it/s]", "s/it]"):
            if marker in html:
                stored.append(f"{relative}: {marker}")
    assert stored == [], f"progress bars stored in the book: {stored}"


# Every chapter figure is drawn at 100 dpi and shown at most as wide as the text column, so its
# width in inches decides how large its lettering looks: within this band, fonts look alike.
FIGURE_INCHES = (2.5, 12.5)


def test_chapter_figures_have_consistent_sizes(built_book):
    from PIL import Image

    odd = []
    for page in sorted((built_book / "notebooks").glob("*.html")):
        for source in re.findall(r'<img\b[^>]*\bsrc="(\.\./_images/[^"]+\.png)"', page.read_text()):
            with Image.open(page.parent / source) as image:
                dpi = image.info.get("dpi", (100, 100))[0]
                inches = image.size[0] / dpi
            if not FIGURE_INCHES[0] <= inches <= FIGURE_INCHES[1]:
                odd.append(f"{page.name}: {source} is {inches:.1f} in wide")
    assert odd == [], f"figures outside {FIGURE_INCHES} inches: {odd}"


def _cdn_urls_in_sources() -> dict[str, list[str]]:
    """jsDelivr npm URLs named in the book's configuration and in the package's HTML output code."""
    sources = [REPO / "_config.yml", REPO / "stconv_lite" / "viz" / "plots.py"]
    return {
        str(path.relative_to(REPO)): re.findall(r"https://cdn\.jsdelivr\.net/npm/[^\s\"'<>)]+", path.read_text())
        for path in sources
    }


def test_cdn_urls_use_the_pinned_versions():
    """A CDN file the pages load must be the pinned version that the browser test serves offline."""
    pinned = pinned_assets()
    urls = [(source, url) for source, found in _cdn_urls_in_sources().items() for url in found]
    assert len(urls) >= 4, f"expected MathJax, require.js, the widget manager and the player icons, got {urls}"
    for source, url in urls:
        if url.endswith("/npm/"):  # the widget manager's base for third-party widget modules
            continue
        match = JSDELIVR_NPM.match(url)
        assert match, f"{source}: {url} does not name an exact version"
        assert pinned.get(match["package"]) == match["version"], (
            f"{source}: {url} but tests/browser_assets/package.json pins "
            f"{match['package']}@{pinned.get(match['package'])}"
        )


def test_pinned_assets_are_locked():
    """``npm ci`` installs exactly package-lock.json, so the lock must agree with package.json."""
    lock = json.loads((REPO / "tests" / "browser_assets" / "package-lock.json").read_text())
    for package, version in pinned_assets().items():
        assert lock["packages"][f"node_modules/{package}"]["version"] == version


def test_wide_tables_scroll_inside_the_column(built_book):
    """The book's stylesheet makes displayed tables scroll sideways instead of overflowing the text column."""
    css = (built_book / "_static" / "stconv.css").read_text()
    assert "overflow-x: auto" in css
    page = (built_book / "notebooks" / "01_videos_as_tensors.html").read_text()
    assert "_static/stconv.css" in page
