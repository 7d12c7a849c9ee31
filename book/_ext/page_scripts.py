"""A Sphinx extension of this book: mend the scripts on each page so that no reader's browser errs.

The headless-browser test (``tests/test_book_in_browser.py``) found three problems that come from
the toolchain, not from our pages, and that every reader would hit too:

1. With Sphinx 7.4, an inline script that an extension adds after the HTML builder exists
   (sphinx-thebe and sphinx-togglebutton do) reaches each page twice: once from the builder, with
   filename ``None``, once from the extension registry, with filename ``""``, so Sphinx's own check
   for repeats misses it. The second ``const THEBE_JS_URL = ...`` throws "Identifier
   'THEBE_JS_URL' has already been declared". We drop exact repeats, keeping the first.
2. The widget manager (``@jupyter-widgets/html-manager``, loaded by require.js) finds its icon fonts
   relative to the AMD module's URL, which require.js makes relative to the *page*: every widget
   page asks the book's own server for ``notebooks/@jupyter-widgets/html-manager/dist/*.woff2`` and
   gets 404. We tell require.js where that module really lives (the same pinned CDN folder as the
   manager script named in ``_config.yml``), so the fonts come from there.
3. The widget manager typesets labels with the MathJax 2 API (``MathJax.Hub.Queue``) whenever a
   global ``MathJax`` exists, but the book loads MathJax 3, which has no ``Hub``: every widget
   throws "Cannot read properties of undefined (reading 'Queue')". We give MathJax 3 a one-method
   ``Hub`` that forwards to its own ``typesetPromise``.

Fixes 2 and 3 are added only to pages that load the widget manager.
"""

from __future__ import annotations

import re

WIDGET_MANAGER = re.compile(r"^(?P<folder>https://\S+/@jupyter-widgets/html-manager@[^/]+/dist)/embed-amd\.js$")

# Runs on the window's load event: MathJax 3 (a deferred script) has replaced the configuration
# object by then, and this listener is registered before the widget manager's own load listener.
MATHJAX2_SHIM = """window.addEventListener("load", function () {
  if (window.MathJax && window.MathJax.typesetPromise && !window.MathJax.Hub) {
    window.MathJax.Hub = {Queue: function (job) {
      var element = job && job[2];
      window.MathJax.typesetPromise(element ? [element] : undefined);
    }};
  }
});"""


def _filename(script) -> str:
    return str(getattr(script, "filename", script) or "")  # None and "" both mean an inline script


def _without_repeats(scripts: list) -> list:
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        attributes = tuple(sorted((k, str(v)) for k, v in getattr(script, "attributes", {}).items()))
        key = (_filename(script), attributes)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    return unique


def _widget_manager_fixes(scripts: list) -> list:
    """Insert the require.js path and the MathJax 2 shim just before the widget manager's script."""
    from sphinx.builders.html._assets import _JavaScript

    for index, script in enumerate(scripts):
        match = WIDGET_MANAGER.match(_filename(script))
        if match is None:
            continue
        module_path = f'require.config({{paths: {{"@jupyter-widgets/html-manager/dist": "{match["folder"]}"}}}});'
        priority = getattr(script, "priority", 500)
        fixes = [
            _JavaScript("", body=module_path, priority=priority),
            _JavaScript("", body=MATHJAX2_SHIM, priority=priority),
        ]
        return scripts[:index] + fixes + scripts[index:]
    return scripts


def _mend_page_scripts(app, pagename, templatename, context, doctree) -> None:
    scripts = context.get("script_files")
    if scripts:
        context["script_files"] = _widget_manager_fixes(_without_repeats(list(scripts)))


def setup(app):
    # After every other handler (default priority 500) has added its scripts to the page. Sphinx
    # sorts the scripts by priority afterwards; the sort is stable, so inserted ones keep their place.
    app.connect("html-page-context", _mend_page_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
