"""Where the tests find the authors' reference vectors: ``tests/refvectors/`` or ``../shared/refvectors/``.

A missing file is a skip with the searched paths in its reason; in CI (``CI`` set) the root
``conftest.py`` turns that skip into a failure, because CI always has ``../shared`` beside the clone.
"""

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def load_refvectors(name: str) -> dict:
    candidates = [REPO / "tests" / "refvectors" / name, REPO.parent / "shared" / "refvectors" / name]
    for path in candidates:
        if path.exists():
            return torch.load(path, weights_only=True)
    pytest.skip(f"{name} not found in {[str(p) for p in candidates]}")
