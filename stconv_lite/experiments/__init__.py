"""Named, registered experiments: the book's evidence, runnable at any scale from one place.

- :mod:`.registry`: what an experiment is (question, paper claim, arms, settings per scale);
- :mod:`.tasks`: the one way a model is trained and evaluated on Video-MNIST;
- :mod:`.runner`: every (seed, arm) unit, resumable, into one run file with a run card;
- :mod:`.runfile`: the run-file schema and its validator;
- :mod:`.stats`: paired comparisons over seeds and verdicts in fixed words;
- :mod:`.report`: the sentences and tables a chapter displays, generated from the verdicts.

Command line::

    python -m stconv_lite.experiments list
    python -m stconv_lite.experiments run ch01.frame_order --scale small --out book/results
"""

from stconv_lite.experiments.registry import Bound, Compare, Experiment, all_experiments, get, names, register
from stconv_lite.experiments.runner import run_experiment

__all__ = ["Bound", "Compare", "Experiment", "all_experiments", "get", "names", "register", "run_experiment"]
