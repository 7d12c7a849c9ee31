"""The replication ledger: every tested claim of the five source documents, with a computed verdict.

- :mod:`.claims`: the rows (what, where, how tested, which evidence), as data;
- :mod:`.checks`: deterministic checks computed at page build (counts, ratios, formulas);
- :mod:`.verdicts`: the fixed vocabulary and the rules that produce it;
- :mod:`.evidence`: claim -> verdict, from a check or a stored run;
- :mod:`.page`: the verdict counts and the table of the appendix page ``book/ledger.ipynb``.
"""

from stconv_lite.ledger.claims import CLAIMS, Claim
from stconv_lite.ledger.evidence import Row, evaluate, evaluate_all
from stconv_lite.ledger.verdicts import VERDICTS

__all__ = ["CLAIMS", "Claim", "Row", "VERDICTS", "evaluate", "evaluate_all"]
