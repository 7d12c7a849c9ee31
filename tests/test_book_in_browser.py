"""Every page of the built book, opened in headless Chromium as a reader would open it.

Each page is loaded once (``_visit``) from a localhost server, with the CDN files it names served
from npm (see ``tests/book_site.py``), and the tests below read the report of that visit:

* no JavaScript error, no failed request, no request to a CDN we have not pinned;
* math typeset by MathJax: every formula rendered, no TeX error, no raw ``$$`` or ``\\frac`` in the text;
* every image loaded, with an alt text that describes it (not the file name myst-nb uses by default);
* matplotlib animations present where a chapter animates, and their play button advances the frames;
* every explorer works without a kernel: each control of each ``stconv-explorer`` is moved to
  each of its positions and the image must change, with no console error (budget: 3 MB per
  explorer, 10 MB of explorer images per page);
* saved widget state (the chapter settings boxes) drawn by the widget manager, with the
  "in Jupyter or Colab" note;
* the page again in the theme's dark mode: every figure has an opaque background there (a
  transparent PNG would put black axes on a black page);
* a full-page screenshot of every page, light and dark, in ``_build/screenshots/``.

Needs Debian's ``chromium`` and npm (``.ci/run`` installs both). Where no browser is installed the
tests skip and say so; in CI that skip is turned into a failure (root ``conftest.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from book_site import (
    CHROMIUM_FLAGS,
    NO_BROWSER,
    REPO,
    SCREENSHOTS,
    OfflineCDN,
    find_chromium,
    install_assets,
    serve,
    toc_documents,
)
from stconv_lite.viz.widgets import NOTE as EXPLORER_NOTE

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright
except ImportError:  # the browser fixture skips, saying so
    PlaywrightTimeout = sync_playwright = None

pytestmark = pytest.mark.book

CHAPTERS = sorted(p.stem for p in (REPO / "notebooks").glob("[0-9][0-9]_*.ipynb"))
APPENDIX = ["intro", "setup", "instructors", "benchmarks", "comparison", "ledger", "notation", "bibliography"]
PAGES = [f"notebooks/{c}.html" for c in CHAPTERS] + [f"book/{name}.html" for name in APPENDIX]


def _chapters_whose_source_matches(pattern: str) -> list[str]:
    """Chapter pages whose notebook source matches ``pattern``: there the page must show what it makes."""
    return [
        f"notebooks/{c}.html" for c in CHAPTERS if re.search(pattern, (REPO / "notebooks" / f"{c}.ipynb").read_text())
    ]


ANIMATED_PAGES = _chapters_whose_source_matches(r"\banimate\(")
WIDGET_PAGES = _chapters_whose_source_matches(r"\bsettings\(")
EXPLORER_PAGES = _chapters_whose_source_matches(r"\bexplorer\(")
EXPLORER_BYTES, PAGE_EXPLORER_BYTES = 3_000_000, 10_000_000

# Run in the page after MathJax has finished: how the math came out.
MATH_REPORT = """() => {
  const formulas = [...document.querySelectorAll('.math')];
  const text = (() => {  // the prose a reader sees: code cells and typeset math left out
    const copy = document.querySelector('main, article, body').cloneNode(true);
    copy.querySelectorAll('pre, code, script, style, mjx-container, .highlight').forEach(e => e.remove());
    return copy.innerText;
  })();
  return {
    formulas: formulas.length,
    typeset: formulas.filter(f => f.querySelector('mjx-container')).length,
    tex_errors: [...document.querySelectorAll('mjx-merror')].map(e => e.getAttribute('data-mjx-error') || e.textContent),
    raw_tex: (text.match(/\\$\\$|\\\\(frac|mathbf|times|sum|left|right|begin)\\b|\\\\\\(|\\\\\\[/g) || []).slice(0, 5),
  };
}"""

IMAGE_REPORT = """() => [...document.querySelectorAll('img')].map(img => ({
  src: img.currentSrc || img.src, alt: img.getAttribute('alt'), loaded: img.complete && img.naturalWidth > 0,
  content: img.src.includes('/_images/') || (img.id || '').startsWith('_anim_img'),
}))"""

# Content figures whose corner pixels are not fully opaque (they would vanish on a dark page).
TRANSPARENCY_REPORT = """() => [...document.querySelectorAll('img')]
  .filter(img => img.naturalWidth > 0 && (img.src.includes('/_images/') || img.src.startsWith('data:image/png')))
  .filter(img => {
    const canvas = document.createElement('canvas');
    canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
    const context = canvas.getContext('2d');
    context.drawImage(img, 0, 0);
    const w = img.naturalWidth - 1, h = img.naturalHeight - 1;
    return [[0, 0], [w, 0], [0, h], [w, h]].some(([x, y]) => context.getImageData(x, y, 1, 1).data[3] < 255);
  })
  .map(img => img.getAttribute('alt') || img.src.slice(0, 80))"""

WIDGET_REPORT = """explorerNote => [...document.querySelectorAll('script[type="application/vnd.jupyter.widget-view+json"]')]
  .map(script => {
    const output = script.closest('.cell_output') || script.parentElement;
    const drawn = output.querySelector('.jupyter-widgets');
    return {
      drawn: !!drawn,
      // An explorer (its note, or an output area) redraws a figure: the static book needs the figure itself.
      redraws_a_figure: !!drawn && (drawn.innerText.includes(explorerNote)
                                    || !!drawn.querySelector('.jupyter-widgets-output-area, .widget-output')),
      static_figure: !!output.querySelector('img[src*="/_images/"]'),
      says_interactive: /Jupyter or Colab/i.test(output.innerText),
    };
  })"""


@dataclass
class PageVisit:
    page: str
    js_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    refused_external: list[str] = field(default_factory=list)
    math: dict = field(default_factory=dict)
    images: list[dict] = field(default_factory=list)
    animations: list[dict] = field(default_factory=list)
    widgets: list[dict] = field(default_factory=list)
    explorers: list[dict] = field(default_factory=list)
    transparent_in_dark_mode: list[str] = field(default_factory=list)
    screenshot: Path | None = None


@pytest.fixture(scope="module")
def browser(built_book):
    """A Chromium page factory over the served book; yields ``visit(page) -> PageVisit`` (cached)."""
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(f"{NO_BROWSER}: install Debian's chromium (apt-get install chromium) or set $CHROMIUM")
    if sync_playwright is None:
        pytest.skip(f"{NO_BROWSER}: the Python package playwright is missing (pip install -r requirements.txt)")
    try:
        node_modules = install_assets()
    except RuntimeError as error:
        pytest.skip(f"{NO_BROWSER} can be fed offline: {error}")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visits: dict[str, PageVisit] = {}
    with serve(built_book) as base, sync_playwright() as playwright:
        chrome = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        context = chrome.new_context(viewport={"width": 1280, "height": 900})

        def visit(page_path: str) -> PageVisit:
            if page_path not in visits:
                visits[page_path] = _visit(context, base, node_modules, page_path)
            return visits[page_path]

        yield visit
        chrome.close()


def _visit(context, base: str, node_modules: Path, page_path: str) -> PageVisit:
    report = PageVisit(page_path)
    cdn = OfflineCDN(node_modules, base.rstrip("/"))
    page = context.new_page()
    page.route("**/*", cdn.handle)
    page.on("pageerror", lambda error: report.js_errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: message.type == "error" and report.js_errors.append(f"console: {message.text}"))
    page.on(
        "requestfailed",
        lambda request: (
            request.url.startswith(base) and report.failed_requests.append(f"{request.url} ({request.failure})")
        ),
    )
    page.on(
        "response",
        lambda response: (
            response.url.startswith(base)
            and response.status >= 400
            and report.failed_requests.append(f"{response.url} (HTTP {response.status})")
        ),
    )
    page.goto(base + page_path, wait_until="load", timeout=60_000)
    # Lazy images load only when scrolled to: ask for all of them now, then wait until they settle.
    page.evaluate("() => document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')")
    page.wait_for_function("() => [...document.images].every(i => i.complete)", timeout=30_000)
    if page.locator(".math").count():
        page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
        page.evaluate("() => MathJax.startup.promise")
        report.math = page.evaluate(MATH_REPORT)
    if page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count():
        # The widget manager draws each saved view after it has loaded; give it time to do so.
        try:
            page.wait_for_function(
                """() => [...document.querySelectorAll(
                'script[type="application/vnd.jupyter.widget-view+json"]')].every(s =>
                (s.closest('.cell_output') || s.parentElement).querySelector('.jupyter-widgets'))""",
                timeout=30_000,
            )
        except PlaywrightTimeout:  # the report below says which views were not drawn
            report.js_errors.append("the widget manager did not draw every saved view within 30 s")
        report.widgets = page.evaluate(WIDGET_REPORT, EXPLORER_NOTE)
    report.animations = [_play(page, player) for player in page.locator("div.animation").all()]
    report.explorers = [_explore(page, root, report) for root in page.locator("div.stconv-explorer").all()]
    report.images = page.evaluate(IMAGE_REPORT)
    report.screenshot = SCREENSHOTS / (page_path.replace("/", "__").removesuffix(".html") + ".png")
    page.screenshot(path=str(report.screenshot), full_page=True)
    # The theme's dark mode, as a reader who prefers it sees the page.
    page.evaluate(
        "() => { document.documentElement.dataset.theme = 'dark'; document.documentElement.dataset.mode = 'dark'; }"
    )
    report.transparent_in_dark_mode = page.evaluate(TRANSPARENCY_REPORT)
    page.screenshot(path=str(report.screenshot.with_name(report.screenshot.stem + "__dark.png")), full_page=True)
    report.refused_external = cdn.refused
    page.close()
    return report


def _explore(page, root, report: PageVisit) -> dict:
    """Move every control of a static explorer to each of its positions; record whether the image follows."""
    image = root.locator("img").first
    errors_before = len(report.js_errors)
    changed = {}
    for control in root.locator("[data-control]").all():
        name = control.get_attribute("data-control")
        positions = len(control.evaluate("c => JSON.parse(c.getAttribute('data-values'))"))
        default = control.get_attribute("data-default")
        seen = {image.get_attribute("src")}
        for position in range(positions):
            if control.evaluate("c => c.tagName") == "SELECT":
                control.select_option(index=position)
            else:
                control.fill(str(position))  # sets the range input and fires input/change
            seen.add(image.get_attribute("src"))
        changed[name] = len(seen) > 1
        if control.evaluate("c => c.tagName") == "SELECT":  # back to the default for the next control
            control.select_option(index=int(default))
        else:
            control.fill(default)
    return {
        "changed": changed,
        "bytes": len(root.evaluate("r => r.outerHTML")),
        "new_errors": report.js_errors[errors_before:],
    }


def _play(page, player) -> dict:
    """Pause a matplotlib animation, press Play, and see whether its frame moves on."""
    frame = player.locator("img[id^=_anim_img]")
    slider = player.locator("input[id^=_anim_slider]")
    player.locator("button[title=Pause]").click()
    before = (slider.input_value(), frame.get_attribute("src"))
    player.locator("button[title=Play]").click()
    page.wait_for_timeout(700)
    after = (slider.input_value(), frame.get_attribute("src"))
    player.locator("button[title=Pause]").click()
    # The theme's Font Awesome 6 script swaps the player's <i class="fa ..."> for inline SVG icons;
    # without it (plain Jupyter) the <i> needs the Font Awesome 4 web font the player links.
    icons_drawn = player.evaluate("""player => [...player.querySelectorAll('button')].every(button =>
        button.querySelector('svg path[d]') ||
        (button.querySelector('i.fa') && document.fonts.check('14px FontAwesome')))""")
    return {
        "moved": before[0] != after[0] and before[1] != after[1],
        "frame_shown": bool(after[1]),
        "icons_drawn": icons_drawn,
    }


@pytest.mark.parametrize("page_path", PAGES)
def test_page_loads_without_javascript_errors(browser, page_path):
    visit = browser(page_path)
    assert visit.js_errors == [], f"{page_path}: JavaScript errors: {visit.js_errors}"
    assert visit.failed_requests == [], f"{page_path}: requests to the book's own files failed: {visit.failed_requests}"
    assert visit.refused_external == [], (
        f"{page_path} loads files from outside the book that are not pinned in "
        f"tests/browser_assets/package.json (pin them, or drop them from the page): {visit.refused_external}"
    )
    assert visit.screenshot is not None and visit.screenshot.stat().st_size > 10_000


@pytest.mark.parametrize("page_path", [p for p in PAGES if p != "book/bibliography.html"])
def test_math_is_typeset(browser, built_book, page_path):
    math = browser(page_path).math
    if not math:  # the page has no formula: then it must also have no TeX left in its source text
        source = (built_book / page_path).read_text()
        assert "\\frac" not in re.sub(r"<(pre|code)[\s\S]*?</\1>", "", source), f"{page_path}: untypeset TeX"
        return
    assert math["formulas"] > 0
    assert math["typeset"] == math["formulas"], (
        f"{page_path}: {math['formulas'] - math['typeset']} formulas not typeset"
    )
    assert math["tex_errors"] == [], f"{page_path}: MathJax could not parse some TeX: {math['tex_errors']}"
    assert math["raw_tex"] == [], f"{page_path}: raw TeX left in the prose: {math['raw_tex']}"


@pytest.mark.parametrize("page_path", PAGES)
def test_every_image_loads_and_has_alt_text(browser, page_path):
    images = browser(page_path).images
    broken = [i["src"][:120] for i in images if not i["loaded"]]
    assert broken == [], f"{page_path}: images that did not load: {broken}"
    unnamed = [
        i["src"][:120]
        for i in images
        if not (i["alt"] or "").strip() or re.search(r"\.(png|svg|jpe?g)$|^\.\./_images/", i["alt"].strip())
    ]
    assert unnamed == [], f"{page_path}: images whose alt text is missing or only a file name: {unnamed}"
    if page_path.startswith("notebooks/"):
        assert sum(i["content"] for i in images) >= 1, f"{page_path}: a chapter page shows no figure at all"


@pytest.mark.parametrize("page_path", [p for p in PAGES if p.startswith("notebooks/")])
def test_figures_are_opaque_in_dark_mode(browser, page_path):
    transparent = browser(page_path).transparent_in_dark_mode
    assert transparent == [], f"{page_path}: figures with a transparent background: {transparent[:5]}"


@pytest.mark.parametrize("page_path", ANIMATED_PAGES)
def test_animations_play(browser, page_path):
    animations = browser(page_path).animations
    assert animations, f"{page_path} calls animate() but the page has no animation player"
    for number, animation in enumerate(animations):
        assert animation["frame_shown"], f"animation {number}: no frame shown"
        assert animation["moved"], f"animation {number}: pressing Play did not advance the frames"
        assert animation["icons_drawn"], f"animation {number}: the player's buttons show no icons"


@pytest.mark.parametrize("page_path", WIDGET_PAGES)
def test_widgets_show_saved_state_beside_a_static_figure(browser, page_path):
    widgets = browser(page_path).widgets
    assert widgets, f"{page_path} uses ipywidgets but the page saved no widget state"
    for number, widget in enumerate(widgets):
        assert widget["drawn"], f"widget view {number}: the widget manager did not draw the saved state"
        assert widget["says_interactive"], f"widget view {number}: no note that the controls are live in Jupyter/Colab"
        if widget["redraws_a_figure"]:
            assert widget["static_figure"], f"widget view {number}: an explorer without its static figure"


@pytest.mark.parametrize("page_path", EXPLORER_PAGES)
def test_explorers_work_without_a_kernel(browser, page_path):
    explorers = browser(page_path).explorers
    assert explorers, f"{page_path} calls explorer() but the page has no stconv-explorer element"
    for number, explorer in enumerate(explorers):
        assert explorer["changed"], f"explorer {number}: no controls"
        still = [name for name, moved in explorer["changed"].items() if not moved]
        assert not still, f"explorer {number}: moving {still} did not change the image"
        assert explorer["new_errors"] == [], f"explorer {number}: console errors {explorer['new_errors']}"
        assert explorer["bytes"] <= EXPLORER_BYTES, f"explorer {number}: {explorer['bytes']:,} bytes"
    assert sum(e["bytes"] for e in explorers) <= PAGE_EXPLORER_BYTES, f"{page_path}: explorers over 10 MB"


def test_pages_cover_the_table_of_contents():
    """PAGES is written out above; a chapter or appendix page added to _toc.yml must be added too."""
    assert {p.removesuffix(".html") for p in PAGES} == set(toc_documents())
