"""stconv_lite: spatiotemporal convolutions for video, the package behind the book.

Every video tensor in this package has the PyTorch ``Conv3d`` layout ``(B, C, T, H, W)``:
batch, channels, time (frames), height, width.  The same letters name the axes in every einops
pattern, docstring and plot.

Sub-packages (data flows one way: data -> models(ops) -> train -> experiments -> analysis/viz):

- :mod:`stconv_lite.config`      scale (quick | small | full), device, seeding, threads
- :mod:`stconv_lite.ops`         the operators (one concept per file)
- :mod:`stconv_lite.models`      the networks and their registry (``create``, ``available``)
- :mod:`stconv_lite.data`        digits, Video-MNIST, UCF101
- :mod:`stconv_lite.train`       fit / evaluate, budgets, early stopping, checkpoint + resume
- :mod:`stconv_lite.checkpoint`  atomic checkpoints that resume exactly, clear errors for bad files
- :mod:`stconv_lite.experiments` the book's registered experiments, run files, statistics, reports
- :mod:`stconv_lite.analysis`    complexity, order tests, benchmarks
- :mod:`stconv_lite.viz`         frame grids, animations, diagrams, explorers, run figures
- :mod:`stconv_lite.tools`       student copies, chapter timings, batch runs
"""

__version__ = "0.2.0"
