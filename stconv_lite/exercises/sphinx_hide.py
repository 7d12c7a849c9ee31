"""Sphinx extension for the solution-free edition: hide *gated* solutions completely.

sphinx-exercise's ``hide_solutions = True`` drops a ``solution`` directive, but for gated solutions
(``solution-start`` ... ``solution-end``, which the chapters use so that a solution can hold code
cells) it drops only the opening directive: the code cells and prose between the two markers stay
on the page. This extension replaces ``solution-start`` with a version that, when
``hide_solutions`` is on, leaves a marker node, and a transform then removes every node from the
marker up to and including the matching ``solution-end``.

It also points Colab links of chapters at the student copies (``.../notebooks/NN_slug.ipynb`` ->
``.../student/NN_slug.ipynb``), so that the edition never links to a notebook with solutions.
Enable it (with ``hide_solutions: true``) in ``_config_students.yml``; see ``book/instructors.md``.
"""

from __future__ import annotations

import re

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx_exercise.directive import SolutionStartDirective
from sphinx_exercise.nodes import solution_end_node

COLAB_CHAPTER = re.compile(r"(colab\.research\.google\.com/github/.+?/blob/[^/]+/)notebooks/(\d\d_[\w-]+\.ipynb)")


class hidden_solution_start(nodes.Element):
    """Marks where a hidden gated solution begins; removed with the solution by the transform."""


class HiddenSolutionStart(SolutionStartDirective):
    def run(self):
        result = super().run()  # registers the start in the gated registry (structure checks)
        if self.env.app.config.hide_solutions:
            return [hidden_solution_start()]
        return result


class RemoveHiddenSolutions(SphinxTransform):
    default_priority = 5  # before sphinx-exercise's checks and merges of gated directives (10)

    def apply(self) -> None:
        if not self.config.hide_solutions:
            return
        for marker in list(self.document.findall(hidden_solution_start)):
            parent = marker.parent
            start = parent.index(marker)
            end = next(
                (i for i in range(start, len(parent.children)) if isinstance(parent.children[i], solution_end_node)),
                None,
            )
            if end is None:
                raise ValueError(f"{self.env.docname}: a hidden solution-start has no solution-end at the same level")
            for child in parent.children[start : end + 1]:
                parent.remove(child)
        for reference in self.document.findall(nodes.reference):
            uri = reference.get("refuri", "")
            if COLAB_CHAPTER.search(uri):
                reference["refuri"] = COLAB_CHAPTER.sub(r"\1student/\2", uri)


def setup(app):
    app.setup_extension("sphinx_exercise")
    app.add_directive("solution-start", HiddenSolutionStart, override=True)
    app.add_transform(RemoveHiddenSolutions)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
