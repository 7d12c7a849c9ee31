"""Spatiotemporal convolution operators, one concept per file.

Every operator is an ``nn.Module`` whose ``forward`` takes video tensors ``(B, C, T, H, W)``
unless its docstring says otherwise, and documents the paper equation it implements.
This package imports nothing from ``models``, ``data`` or ``train``.
"""
