"""stconv_lite: spatiotemporal convolutions for video, the package behind the book.

Every video tensor in this package has the PyTorch ``Conv3d`` layout ``(B, C, T, H, W)``:
batch, channels, time (frames), height, width.  The same letters name the axes in every einops
pattern, docstring and plot.

Sub-packages (data flows one way: data -> models(ops) -> train -> analysis/viz):

- :mod:`stconv_lite.config`   scale (quick | small | full), device, seeding
- :mod:`stconv_lite.ops`      the operators (one concept per file)
- :mod:`stconv_lite.models`   the networks and their registry (``create``, ``available``)
- :mod:`stconv_lite.data`     digits, Video-MNIST, UCF101
- :mod:`stconv_lite.train`    fit / evaluate / checkpoint + resume
- :mod:`stconv_lite.analysis` complexity, explanations, benchmarks
- :mod:`stconv_lite.viz`      frame grids, animations, widgets
"""

__version__ = "0.1.0"
