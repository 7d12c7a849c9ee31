"""The built book as the tests meet it: build it once, serve it on localhost, feed its CDN files offline.

Three pieces, used by ``tests/conftest.py`` and ``tests/test_book_*.py``:

* :func:`build_book` runs ``jupyter-book build . -W --keep-going --all`` at quick scale (every chapter
  executed, every Sphinx warning an error), exactly as a reader's build would, and keeps its log.
* :class:`OfflineCDN` answers the browser's requests for ``https://cdn.jsdelivr.net/npm/<pkg>@<ver>/<file>``
  from an npm install of the exact versions pinned in ``tests/browser_assets/package.json``. The
  pages pin the same URLs (``_config.yml``, :mod:`stconv_lite.viz.plots`) with integrity hashes,
  so the browser runs the very files a reader's browser would. Any other outside request is refused
  and recorded, so a page that depends on an unlisted CDN fails the test instead of passing offline
  by luck.
* :func:`serve` serves the HTML folder on ``127.0.0.1`` (pages behave as on a web server, not as
  ``file://``).
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import mimetypes
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ASSET_SPEC = REPO / "tests" / "browser_assets"
ASSET_CACHE = REPO / ".cache" / "browser-assets"
BUILD_DIR = REPO / "_build"
SCREENSHOTS = BUILD_DIR / "screenshots"
JSDELIVR_NPM = re.compile(
    r"^https://cdn\.jsdelivr\.net/npm/(?P<package>(@[^/@]+/)?[^/@]+)@(?P<version>[^/]+)/(?P<file>.+)$"
)

# What a missing browser looks like in a skip reason; the root conftest.py turns such a skip into a
# failure in CI, where .ci/run installs Chromium, so CI can never pass without running the browser.
NO_BROWSER = "no headless browser"

CHROMIUM_FLAGS = [
    # The flags a closed network needs: without them Chromium keeps trying to reach Google's hosts.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
]


@dataclass
class BookBuild:
    html: Path
    returncode: int
    seconds: float
    log: str


def build_book(repo: Path = REPO, timeout_s: int = 1500) -> BookBuild:
    """Build the book at quick scale with warnings as errors; the log lands in ``_build/book-build.log``.

    The kernels must use matplotlib's inline backend, so ``MPLBACKEND`` (which the test session sets
    to Agg for nbval) is removed: under Agg ``plt.show()`` outputs nothing and every figure would
    silently vanish from the pages.
    """
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env.update(STCONV_SCALE="quick", STCONV_OFFLINE=env.get("STCONV_OFFLINE", "1"))
    # The same interpreter as the tests (not whichever `jupyter-book` is first on PATH).
    command = [
        sys.executable,
        "-c",
        "from jupyter_book.cli.main import main; main()",
        "build",
        str(repo),
        "-W",
        "--keep-going",
        "--all",
    ]  # every page re-read and re-executed: a stale _build must not hide a warning
    start = time.perf_counter()
    done = subprocess.run(
        command, cwd=repo, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )  # the tests read the exit code and the log
    seconds = time.perf_counter() - start
    log = done.stdout + done.stderr
    BUILD_DIR.mkdir(exist_ok=True)
    (BUILD_DIR / "book-build.log").write_text(
        f"# jupyter-book build, quick scale: exit {done.returncode} after {seconds:.0f} s\n{log}"
    )
    return BookBuild(html=repo / "_build" / "html", returncode=done.returncode, seconds=seconds, log=log)


def pinned_assets() -> dict[str, str]:
    """``{npm package: exact version}`` from ``tests/browser_assets/package.json``."""
    return json.loads((ASSET_SPEC / "package.json").read_text())["dependencies"]


def install_assets() -> Path:
    """``npm ci`` the pinned packages into ``.cache/browser-assets`` once; returns its ``node_modules``.

    Raises:
        RuntimeError: npm is missing or the install failed (the message says which and how to fix it).
    """
    modules = ASSET_CACHE / "node_modules"
    stamp = ASSET_CACHE / "installed-from.json"
    spec = (ASSET_SPEC / "package-lock.json").read_text()
    if modules.is_dir() and stamp.exists() and stamp.read_text() == spec:
        return modules
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm is needed to fetch the book's CDN files for the offline browser test (Debian: apt-get install npm)"
        )
    ASSET_CACHE.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ASSET_SPEC / name, ASSET_CACHE / name)
    done = subprocess.run(
        [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
        cwd=ASSET_CACHE,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci in {ASSET_CACHE} failed:\n{done.stdout}\n{done.stderr}")
    stamp.write_text(spec)  # written last: an interrupted install is redone next time
    return modules


class OfflineCDN:
    """Answers jsDelivr npm URLs from ``node_modules``; refuses and records every other outside URL."""

    def __init__(self, node_modules: Path, local_origin: str):
        self.node_modules = node_modules
        self.local_origin = local_origin
        self.pinned = pinned_assets()
        self.served: list[str] = []
        self.refused: list[str] = []

    def file_for(self, url: str) -> Path | None:
        """The local file for a jsDelivr npm URL of a pinned package at its pinned version, else None."""
        match = JSDELIVR_NPM.match(url.split("?")[0].split("#")[0])
        if match is None or self.pinned.get(match["package"]) != match["version"]:
            return None
        path = (self.node_modules / match["package"] / match["file"]).resolve()
        package_root = (self.node_modules / match["package"]).resolve()
        if package_root not in path.parents or not path.is_file():
            return None
        return path

    def handle(self, route) -> None:
        """A Playwright route handler for ``context.route("**/*", ...)``."""
        url = route.request.url
        if url.startswith((self.local_origin, "data:", "blob:")):
            route.continue_()
            return
        path = self.file_for(url)
        if path is None:
            self.refused.append(url)
            route.abort("internetdisconnected")
            return
        self.served.append(url)
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        # jsDelivr sends CORS headers; the pages load these files with crossorigin="anonymous".
        route.fulfill(
            status=200, body=path.read_bytes(), content_type=content_type, headers={"Access-Control-Allow-Origin": "*"}
        )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # the test reports failed requests itself
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` on a free localhost port; yields the base URL (ending in ``/``)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def find_chromium() -> str | None:
    """Debian's Chromium (the browser CI installs), or ``$CHROMIUM`` if set."""
    for candidate in (
        os.environ.get("CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
        shutil.which("chromium-browser"),
        shutil.which("google-chrome"),
    ):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def page_paths(html: Path) -> list[str]:
    """Every page of the book that a reader reaches from the table of contents, relative to ``html``."""
    pages = [p for p in html.rglob("*.html") if not p.relative_to(html).parts[0].startswith("_")]
    return sorted(str(p.relative_to(html)) for p in pages if p.name not in {"genindex.html", "search.html"})


def toc_documents() -> list[str]:
    """The root and every file that ``_toc.yml`` lists, without suffix (``notebooks/01_videos_as_tensors``)."""
    toc = (REPO / "_toc.yml").read_text()
    return [re.search(r"root:\s*(\S+)", toc)[1], *re.findall(r"file:\s*(\S+)", toc)]
