"""The Channel Tensorization module (CT-Module) of CT-Net (Li et al., ICLR 2021), for any K.

Read the channels as C = C1 x ... x CK (:mod:`stconv_lite.ops.tensorize`). A *tensor-separable*
convolution along sub-dimension k (eq. 2) mixes only the C_k channels that share every other
channel index; for each of those C / C_k channel "fibres" it is an ordinary convolution with its own
C_k x C_k x t x h x w kernel. In code it is a grouped convolution with ``groups = C / C_k`` once c_k
is the innermost channel index, so no weight is ever reshaped.

One sub-operation (:class:`TensorSeparableConv3d`) factorises this convolution in space and time,
a 1 x 3 x 3 S-TSConv (eq. 3) and a 3 x 1 x 1 T-TSConv (eq. 4), each followed by BN and ReLU, and sums
them in parallel (eq. 5); tensor excitation (eq. 6-8) optionally gates both branches and their sum.
:class:`CTModule` stacks K sub-operations, one per sub-dimension, with a point-wise 1 x 1 x 1 conv
(+ BN + ReLU) between consecutive ones (figure 2b; none after the last).

After k sub-operations the channels of k sub-dimensions have interacted (C_1 x ... x C_k of them)
and the space-time field has grown by 2 in every axis per sub-operation: that is the paper's
"feature-interaction sufficiency". :func:`stconv_lite.analysis.interaction.interaction_field` measures it
with gradients.

Degenerate cases (section 3.3, "Discussion") come from the same class:

- C3D: ``factors=(C,), order=(0,), kernels=[((3, 3, 3),)]``
- R(2+1)D: ``factors=(C,), order=(0, 0), kernels=[((1, 3, 3),), ((3, 1, 1),)]``
- CSN: ``factors=(C, 1), order=(0, 1), kernels=[((1, 1, 1),), ((3, 3, 3),)]``
  (all with ``pointwise=False, excitation=False``).

Order of the sub-operations: ``order`` lists which sub-dimension each sub-operation mixes. The
default mixes the innermost sub-dimension first (``order = (K-1, ..., 0)``), as the authors' code
does (their stage 1 has ``groups=C1`` and mixes C2); the paper's numbering ("first C1 channels
interact") is the reverse, an arbitrary choice since the tensorization is symmetric.

The authors' ``ReshapeInteraction(planes=C)`` equals ``CTModule(C, factors="pow2")`` after
:func:`stconv_lite.authors.convert_authors_state_dict` (kind ``"ct_module"``); their input is frames ``'(n t) c h w'``, ours is (B, C, T, H, W).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from einops import rearrange

from stconv_lite.ops.arguments import check_video_input
from stconv_lite.ops.tensor_excitation import TensorExcitation
from stconv_lite.ops.tensorize import from_subdim_layout, resolve_factors, to_subdim_layout

__all__ = [
    "TensorSeparableConv3d",
    "CTModule",
    "MODULE_KINDS",
    "make_module",
]

Kernel = tuple[int, int, int]
PARALLEL_ST: tuple[Kernel, ...] = ((1, 3, 3), (3, 1, 1))


def _excitation_kind(kernel: Kernel) -> str | None:
    """Spatial TE after a purely spatial kernel, temporal TE after a purely temporal one."""
    kt, kh, kw = kernel
    if kt == 1 and (kh > 1 or kw > 1):
        return "spatial"
    if kt > 1 and kh == kw == 1:
        return "temporal"
    return None


class _Branch(nn.Module):
    """conv -> BN -> ReLU -> (spatial or temporal TE): one term of the sum in eq. (5)."""

    def __init__(
        self, channels: int, groups: int, kernel: Kernel, norm: bool, activation: bool, excitation: bool, reduction: int
    ) -> None:
        super().__init__()
        padding = tuple(k // 2 for k in kernel)
        self.conv = nn.Conv3d(channels, channels, kernel, padding=padding, groups=groups, bias=False)
        self.norm = nn.BatchNorm3d(channels) if norm else nn.Identity()
        self.act = nn.ReLU(inplace=True) if activation else nn.Identity()
        kind = _excitation_kind(kernel) if excitation else None
        size = max(kernel)
        self.excite = TensorExcitation(channels, groups, kind, reduction, size) if kind else nn.Identity()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """X_S^k (eq. 3, gated by eq. 6) or X_T^k (eq. 4, gated by eq. 7).

        Shapes:
            z: (B, C, T, H, W) -> (B, C, T, H, W)
        """
        return self.excite(self.act(self.norm(self._convolve(z))))

    def _convolve(self, z: torch.Tensor) -> torch.Tensor:
        """``self.conv(z)``, computed as a 2D conv when the kernel is flat in space.

        Same parameters and numbers as the Conv3d; only faster. A grouped ``t x 1 x 1`` Conv3d runs
        PyTorch's slow reference kernel on the CPU (about 3x the time of the same conv as a 2D conv
        over (time, pixels), where merging H and W is a free view). A ``1 x k x k`` kernel stays a
        Conv3d: as a 2D conv over frames it would need two copies, ``(b t)`` is not a view of
        ``b c t``, and those cost more than the 2D kernel saves (2-core AMD EPYC, 1 thread,
        64 channels in 8 groups, 2 x 8 x 28 x 28: 7.5 vs 9.1 ms forward + backward, interleaved).
        """
        conv, (kt, kh, kw) = self.conv, self.conv.kernel_size
        if kt > 1 and kh == kw == 1:
            columns = rearrange(z, "b c t h w -> b c t (h w)")
            weight = rearrange(conv.weight, "o i kt 1 1 -> o i kt 1")
            out = F.conv2d(columns, weight, None, 1, (conv.padding[0], 0), 1, conv.groups)
            return rearrange(out, "b c t (h w) -> b c t h w", h=z.shape[3])
        return conv(z)


class TensorSeparableConv3d(nn.Module):
    """A tensor-separable convolution along one channel sub-dimension, eq. (2)-(5) (+ TE, eq. 6-8).

    Args:
        channels: C.
        factors: (C1, ..., CK), outer to inner, product C.
        dim: the sub-dimension k whose C_k channels interact (0-based).
        kernels: the space-time kernels applied in parallel and summed (eq. 5); default
            1x3x3 and 3x1x1. One kernel, e.g. ``((3, 3, 3),)``, gives an unfactorised TSConv (eq. 2).
        norm, activation: BatchNorm3d and ReLU after each conv (as the authors).
        excitation: spatial/temporal TE on the branches and channel TE on their sum.
        reduction: hidden width divisor of the TE networks.
    """

    def __init__(
        self,
        channels: int,
        factors: Sequence[int],
        dim: int,
        kernels: Sequence[Kernel] = PARALLEL_ST,
        norm: bool = True,
        activation: bool = True,
        excitation: bool = False,
        reduction: int = 4,
    ) -> None:
        super().__init__()
        self.factors = resolve_factors(channels, factors)
        if not 0 <= dim < len(self.factors):
            raise ValueError(f"dim must index one of the {len(self.factors)} sub-dimensions; got {dim}")
        kernels = [tuple(k) for k in kernels]
        if not kernels or any(
            len(k) != 3 or min(k) < 1 or k[0] % 2 == 0 or k[1] % 2 == 0 or k[2] % 2 == 0 for k in kernels
        ):
            raise ValueError(f"kernels must be odd (t, h, w) triples; got {kernels}")
        self.channels, self.dim = channels, dim
        self.groups = channels // self.factors[dim]
        self.branches = nn.ModuleList(
            _Branch(channels, self.groups, k, norm, activation, excitation, reduction) for k in kernels
        )
        self.channel_excite = (
            TensorExcitation(channels, self.groups, "channel", reduction) if excitation else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """X^k = TE_c(sum over branches of TE(ReLU(BN(TSConv(X^{k-1}))))), eq. (2)-(5) and (8).

        Shapes:
            x: (B, C, T, H, W) -> (B, C, T, H, W)
        """
        check_video_input(x, "TensorSeparableConv3d", self.channels, next(self.parameters(), None))
        z = to_subdim_layout(x, self.factors, self.dim)
        mixed = self.branches[0](z)
        for branch in self.branches[1:]:
            mixed = mixed + branch(z)
        return from_subdim_layout(self.channel_excite(mixed), self.factors, self.dim)

    def extra_repr(self) -> str:
        return f"factors={self.factors}, dim={self.dim}, groups={self.groups}"


class _Pointwise(nn.Sequential):
    """1 x 1 x 1 conv -> BN -> ReLU between sub-operations; keys ``0.weight``, ``1.*`` as a Sequential."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The conv is computed as a 1 x 1 2D conv over (time, pixels): the same numbers, but PyTorch
        runs a 1 x 1 x 1 ``Conv3d`` on the CPU with its slow reference kernel (backward several times
        the forward), while a 1 x 1 2D conv is one matrix product each way.

        Shapes:
            x: (B, C, T, H, W) -> (B, C, T, H, W)
        """
        conv, norm, act = self
        columns = rearrange(x, "b c t h w -> b c t (h w)")  # a view: H and W are adjacent
        mixed = F.conv2d(columns, rearrange(conv.weight, "o i 1 1 1 -> o i 1 1"), conv.bias)
        return act(norm(rearrange(mixed, "b c t (h w) -> b c t h w", h=x.shape[3])))


def _pointwise(channels: int, norm: bool, activation: bool) -> nn.Sequential:
    return _Pointwise(
        nn.Conv3d(channels, channels, 1, bias=False),
        nn.BatchNorm3d(channels) if norm else nn.Identity(),
        nn.ReLU(inplace=True) if activation else nn.Identity(),
    )


class CTModule(nn.Module):
    """K tensor-separable sub-operations with point-wise convs between them (figure 2b).

    Args:
        channels: C.
        factors: K (near-equal factors), ``"pow2"`` (the authors' split) or explicit (C1, ..., CK).
        order: the sub-dimension mixed by each sub-operation (may repeat; default innermost first).
        kernels: one kernel set for every sub-operation (default 1x3x3 || 3x1x1), or one per
            sub-operation (a list of kernel sets, as long as ``order``).
        pointwise: a 1x1x1 conv + BN + ReLU between consecutive sub-operations.
        excitation: tensor excitation (eq. 6-8) inside every sub-operation.
        norm, activation, reduction: as :class:`TensorSeparableConv3d`.
    """

    def __init__(
        self,
        channels: int,
        factors: int | str | Sequence[int] = 2,
        order: Sequence[int] | None = None,
        kernels: Sequence[Kernel] | Sequence[Sequence[Kernel]] = PARALLEL_ST,
        pointwise: bool = True,
        excitation: bool = True,
        norm: bool = True,
        activation: bool = True,
        reduction: int = 4,
    ) -> None:
        super().__init__()
        self.channels = channels
        self.factors = resolve_factors(channels, factors)
        self.order = tuple(reversed(range(len(self.factors)))) if order is None else tuple(order)
        if not self.order:
            raise ValueError("order must name at least one sub-dimension")
        kernels = list(kernels)
        per_op = kernels if kernels and not isinstance(kernels[0][0], int) else [kernels] * len(self.order)
        if len(per_op) != len(self.order):
            raise ValueError(f"got {len(per_op)} kernel sets for {len(self.order)} sub-operations")
        self.stages = nn.ModuleList(
            TensorSeparableConv3d(channels, self.factors, dim, ks, norm, activation, excitation, reduction)
            for dim, ks in zip(self.order, per_op)
        )
        # The paper drops the point-wise conv after the last sub-operation (figure 2 caption).
        self.fusions = nn.ModuleList(
            _pointwise(channels, norm, activation) for _ in range(len(self.order) - 1) if pointwise
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """X_out = X^K with X^k = TSConv_k(PW(X^{k-1})), eq. (2)-(8) of the CT-Net paper.

        Shapes:
            x: (B, C, T, H, W) -> (B, C, T, H, W)
        """
        check_video_input(x, "CTModule", self.channels, next(self.parameters(), None))
        for index, stage in enumerate(self.stages):
            if index > 0 and self.fusions:
                x = self.fusions[index - 1](x)
            x = stage(x)
        return x


MODULE_KINDS = ("c3d", "r2plus1d", "csn", "ct", "ct_pw", "ct_full")


def make_module(kind: str, channels: int, factors: int | str | Sequence[int] = 2, **options) -> CTModule:
    """The C -> C spatiotemporal modules compared in table 2a of CT-Net, all as :class:`CTModule`.

    ``"c3d"`` full 3x3x3; ``"r2plus1d"`` full 1x3x3 then full 3x1x1 (no middle expansion, as in the
    paper's table); ``"csn"`` full 1x1x1 then depthwise 3x3x3; ``"ct"`` the plain CT-Module (table 2a:
    no point-wise conv, no TE); ``"ct_pw"`` with the point-wise conv; ``"ct_full"`` with point-wise
    conv and tensor excitation (the module of the final CT-Net). ``factors`` only affects the CT kinds.
    """
    classic = {
        "c3d": dict(factors=(channels,), order=(0,), kernels=[((3, 3, 3),)]),
        "r2plus1d": dict(factors=(channels,), order=(0, 0), kernels=[((1, 3, 3),), ((3, 1, 1),)]),
        "csn": dict(factors=(channels, 1), order=(0, 1), kernels=[((1, 1, 1),), ((3, 3, 3),)]),
    }
    if kind in classic:
        return CTModule(channels, pointwise=False, excitation=False, **classic[kind], **options)
    flags = {"ct": (False, False), "ct_pw": (True, False), "ct_full": (True, True)}
    if kind not in flags:
        raise ValueError(f"kind must be one of {MODULE_KINDS}; got {kind!r}")
    pointwise, excitation = flags[kind]
    return CTModule(channels, factors, pointwise=pointwise, excitation=excitation, **options)
