"""The ledger page: the count of each verdict, and the table of every claim (both generated).

The table is HTML rather than Markdown because its cells link to the chapters and to the run files;
the verdict counts above it are Markdown for :func:`stconv_lite.experiments.report.show`.
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Sequence

from stconv_lite.ledger.claims import CHAPTERS, PAPERS
from stconv_lite.ledger.evidence import Row
from stconv_lite.ledger.verdicts import VERDICTS

__all__ = ["REPOSITORY", "verdict_counts", "counts_sentence", "ledger_html", "papers_html"]

# Run files are linked on the repository (the built book does not copy book/results/).
REPOSITORY = "https://github.com/stconv-lite/stconv_lite/blob/main/"


def verdict_counts(rows: Sequence[Row]) -> dict[str, int]:
    """How many claims got each verdict (every word of the vocabulary, zeros included)."""
    counted = Counter(row.verdict for row in rows)
    return {verdict: counted.get(verdict, 0) for verdict in VERDICTS}


def counts_sentence(rows: Sequence[Row]) -> str:
    """Markdown: "**58 claims**: 20 reproduced exactly, ..." plus how many rest on checks and on runs."""
    counts = verdict_counts(rows)
    listed = ", ".join(f"**{n}** {verdict}" for verdict, n in counts.items())
    checks = sum(row.scale == "check at page build" for row in rows)
    runs = sum(row.run_file is not None for row in rows)
    return (
        f"**{len(rows)} claims** of the five source documents: {listed}. {checks} verdicts come from checks "
        f"computed while this page was built, {runs} from stored experiment runs."
    )


def _cell(text: str) -> str:
    return f"<td>{html.escape(text)}</td>"


def _chapter_link(row: Row) -> str:
    page = CHAPTERS[row.claim.chapter]
    label = "comparison" if row.claim.chapter == 8 else f"ch. {row.claim.chapter}"
    section = f"<br><small>{html.escape(row.claim.section)}</small>" if row.claim.section else ""
    # The page sits in book/, so every chapter is one level up (book/comparison included).
    return f'<td><a href="../{page}.html">{label}</a>{section}</td>'


def _run_link(row: Row) -> str:
    if row.run_file is None:
        return "<td>—</td>"
    name = row.run_file.rsplit("/", 1)[-1]
    return f'<td><a href="{REPOSITORY}{row.run_file}"><code>{html.escape(name)}</code></a></td>'


def ledger_html(rows: Sequence[Row]) -> str:
    """One table row per claim: id, source, claim, test, ours vs paper, scale/device, verdict, links."""
    head = (
        "claim",
        "source",
        "the book's test",
        "ours",
        "paper",
        "evidence",
        "scale, device",
        "verdict",
        "chapter",
        "run file",
    )
    lines = [
        '<table class="ledger">',
        "<thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead>",
        "<tbody>",
    ]
    for row in rows:
        c = row.claim
        lines.append(
            "<tr>"
            + _cell(c.claim)
            + _cell(f"{c.paper}: {c.source}")
            + _cell(c.test)
            + _cell(row.ours)
            + _cell(row.paper)
            + _cell(row.basis.replace("**", "").replace("`", ""))
            + _cell(f"{row.scale}; {row.device}")
            + f"<td><b>{html.escape(row.verdict)}</b></td>"
            + _chapter_link(row)
            + _run_link(row)
            + "</tr>"
        )
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def papers_html() -> str:
    """The keys of the source column, as a small list."""
    items = "".join(f"<li><code>{key}</code>: {html.escape(title)}</li>" for key, title in PAPERS.items())
    return f"<ul>{items}</ul>"
