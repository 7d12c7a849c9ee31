"""Test-wide settings (repo root, so they also apply to `pytest notebooks/`): quick scale for the
notebooks nbval runs, few CPU threads, a non-interactive matplotlib backend."""

import os

# nbval starts each notebook's kernel with this process's environment, so this reaches them too.
os.environ.setdefault("STCONV_SCALE", "quick")
os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("MPLBACKEND", "Agg")
