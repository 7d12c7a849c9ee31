r"""The calibration-weight generator $\mathcal{G}$ of TAdaConv (eqs. (4)-(6) of the TAdaConv paper).

TAdaConv convolves frame $t$ with $\alpha_t \cdot \mathbf{W}_b$. The factors $\alpha_t$ are computed
from the video itself, cheaply, on *frame descriptors* rather than on feature maps:

1. $\mathbf{v}_t = \mathrm{GAP}_s(\mathbf{x}_t)$, one $C$-vector per frame (spatial average);
2. $\mathbf{g} = \mathrm{GAP}_{st}(\mathbf{x})$, one $C$-vector per clip, mapped linearly and added
   to every frame descriptor (the global temporal context of eq. (5));
3. two stacked 1D temporal convolutions over the descriptors, $C \to C/r$ then $C/r \to C$, with
   BN + ReLU between (eq. (4)): each $\alpha_t$ sees its neighbours $t-1, t, t+1$;
4. $\alpha_t = \mathbf{1} + \mathcal{F}(\cdot)$ with the last conv zero-initialised (eq. (6)), so a
   fresh TAdaConv is exactly the shared 2D convolution applied to every frame.

Where the authors' code differs from eq. (5): the global descriptor passes through a $C \to C$ linear
map *with bias* and is added to $\mathbf{v}_t$ **before** the first temporal conv (the paper adds an
$\mathrm{FC}^{C \to C/r}$ after it). Away from the clip's ends the two are the same function, since
a convolution is linear; at the first and last frame the zero padding of the conv also zeroes part
of the global term. We follow the code (that is what the reference vectors test).

State-dict names, ours <- authors' ``RouteFuncMLP`` (1D convs here, ``(k, 1, 1)`` Conv3d there, so
weights lose their two trailing singleton axes): ``global_fc`` <- ``g``, ``reduce`` <- ``a``,
``bn`` <- ``bn``, ``expand`` <- ``b``. :func:`stconv_lite.authors.convert_authors_state_dict` (kind ``"calibration"``) does the renaming.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn as nn
from einops import reduce
from torch import Tensor

from stconv_lite.ops.arguments import check_video_input

__all__ = ["CalibrationGenerator"]


class CalibrationGenerator(nn.Module):
    r"""$\alpha = \mathcal{G}(\mathbf{x}) = \mathbf{1} + \mathcal{F}(\mathbf{x}^{adj}_t, \mathbf{g})$.

    Args:
        in_channels: $C$ of the input video features.
        out_channels: channels of $\alpha$ (default ``in_channels``: calibration over $C_{in}$, the
            paper's default). Set it to $C_{out}$ to calibrate the output channels of a conv that
            changes width (the authors' generator cannot).
        reduction: $r$, the hidden width is ``max(1, in_channels // reduction)``.
        kernel_sizes: temporal kernels of the two 1D convs; ``(1, 1)`` removes the local temporal
            context (table 3a's "no local context" rows).
        global_context: add the linear map of $\mathbf{g}$ (eq. (5)); ``False`` gives eq. (4).
        bn_eps, bn_momentum: of the BatchNorm between the two convs.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        reduction: int = 4,
        kernel_sizes: Sequence[int] = (3, 3),
        global_context: bool = True,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        if in_channels < 1 or out_channels < 1 or reduction < 1:
            raise ValueError(
                f"CalibrationGenerator expects positive channels and reduction; got in={in_channels}, "
                f"out={out_channels}, reduction={reduction}"
            )
        if len(kernel_sizes) != 2 or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"kernel_sizes must be two odd positive ints (same-length output); got {kernel_sizes!r}")
        hidden = max(1, in_channels // reduction)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.global_fc = nn.Conv1d(in_channels, in_channels, 1, bias=True) if global_context else None
        self.reduce = nn.Conv1d(in_channels, hidden, kernel_sizes[0], padding=kernel_sizes[0] // 2, bias=True)
        self.bn = nn.BatchNorm1d(hidden, eps=bn_eps, momentum=bn_momentum)
        self.relu = nn.ReLU(inplace=True)
        self.expand = nn.Conv1d(hidden, out_channels, kernel_sizes[1], padding=kernel_sizes[1] // 2, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero the last conv: $\\mathcal{F} \\equiv 0$, $\\alpha \\equiv 1$ (eq. (6)'s identity init)."""
        nn.init.zeros_(self.expand.weight)

    def forward(self, x: Tensor) -> Tensor:
        r"""Calibration weights $\alpha$ from the video features (eqs. (4)-(6) of the TAdaConv paper).

        Shapes:
            x: (B, C_in, T, H, W)
            returns alpha: (B, C_alpha, T) with C_alpha = ``out_channels``; 1 everywhere at init.
        """
        check_video_input(
            x,
            "CalibrationGenerator",
            self.in_channels,
            self.reduce.weight,
            layout=f"(B, C={self.in_channels}, T, H, W)",
        )
        frame_descriptors = reduce(x, "b c t h w -> b c t", "mean")
        if self.global_fc is not None:
            # the mean over (T, H, W) is the mean of the frame means: no second pass over x
            clip_descriptor = reduce(frame_descriptors, "b c t -> b c 1", "mean")
            frame_descriptors = frame_descriptors + self.global_fc(clip_descriptor)
        hidden = self.relu(self.bn(self.reduce(frame_descriptors)))
        return 1.0 + self.expand(hidden)
