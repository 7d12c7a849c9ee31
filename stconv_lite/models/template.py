r"""The densely connected fusion template of Zhou et al. (CVPR 2020, supplement Fig. 1), any size.

stem -> dense block 1 -> transition 1 -> ... -> dense block n -> head

- **stem**: Conv (t x 7 x 7 at full size, 5 x 7 x 7 in the paper), stride (1, 2, 2), BN, ReLU, then
  MaxPool (3 x 3 x 3 in the paper), stride (1, 2, 2). Temporal stride is 1 everywhere (supp. Fig. 1
  caption; some code variants use 2, the paper's template does not).
- **dense blocks** of :class:`~stconv_lite.ops.fusion.FusionLayer` (6-12-24-16 at DenseNet-121
  size, growth 32, bottleneck 128): layer ``l`` reads the block input and every earlier layer's
  output, concatenated.
- **transitions** :class:`~stconv_lite.ops.fusion.FusionTransition` halve channels and H, W; they
  are gated too, so the searchable *positions* are B1.L1 ... B1.L6, T1, B2.L1, ... (61 at full
  size, the x-axis of the paper's Fig. 4), each with two gates (122 drop rates).
- **head**: BN -> ReLU -> mean over (T, H, W) -> dropout -> FC.

``strategy`` builds a fixed-strategy network from the same code: ``None`` is the template (S+ST
everywhere, gated); ``"S"``, ``"ST"`` or ``"S+ST"`` uses that unit at every position; a list gives
one unit per position. Absent paths are not created.

The tiny template (``densenet121_fusion_small``) follows the notes' classroom recipe: a 1 x 3 x 3 stem
(a documented deviation: all temporal modelling must come from the searchable units, otherwise
"S" is already partly 3D; ``stem_t=5`` restores the paper's choice), 3 blocks x 3 layers, growth 8,
bottleneck 16: 11 positions, 22 drop rates.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch.nn as nn
import torch.nn.functional as F
from einops import reduce
from torch import Tensor

from stconv_lite.models.registry import register
from stconv_lite.ops.arguments import ClipSpec, check_video_input, positive_int
from stconv_lite.ops.droppath import DropPathGate
from stconv_lite.ops.fusion import UNITS, FusionLayer, FusionTransition

__all__ = ["FusionTemplate", "densenet121_fusion", "densenet121_fusion_small", "position_names"]


def position_names(block_layers: Sequence[int]) -> list[str]:
    """``["B1.L1", ..., "B1.L6", "T1", "B2.L1", ...]``: the gated positions in forward order."""
    names = []
    for b, n in enumerate(block_layers, start=1):
        names += [f"B{b}.L{i}" for i in range(1, n + 1)]
        if b < len(block_layers):
            names.append(f"T{b}")
    return names


def _units_for(strategy: str | Sequence[str] | None, n_positions: int) -> list[str]:
    if strategy is None:
        return ["S+ST"] * n_positions
    if isinstance(strategy, str):
        if strategy not in UNITS:
            raise ValueError(f"strategy must be None, one of {UNITS} or a list of them; got {strategy!r}")
        return [strategy] * n_positions
    units = list(strategy)
    if len(units) != n_positions:
        raise ValueError(
            f"a per-position strategy needs {n_positions} units (layers and transitions); got {len(units)}"
        )
    bad = [u for u in units if u not in UNITS]
    if bad:
        raise ValueError(f"strategy units must be in {UNITS}; got {bad[0]!r}")
    return units


def _min_side(stem_k: int, transitions: int) -> int:
    """Smallest H (= W) that the stride-2 stem conv, the stride-2 stem pool and every transition's
    2x2 average pool leave non-empty (29 for DenseNet-121's 3 transitions, 13 for the tiny template)."""
    side = 1
    while True:
        h = (side + 2 * (stem_k // 2) - stem_k) // 2 + 1  # stem conv, stride 2
        h = (h + 2 - 3) // 2 + 1  # max-pool 3, stride 2, padding 1
        if h >= 2**transitions:  # each transition halves (floor) and must keep >= 1
            return side
        side += 1


class FusionTemplate(nn.Module):
    """A 3D DenseNet whose every layer and transition is a gated fusion unit.

    Args:
        num_classes, in_channels: head size and input channels.
        block_layers: fusion layers per dense block (``(6, 12, 24, 16)`` for DenseNet-121).
        growth, bottleneck: new channels per layer and path width (32 and 128 at full size).
        stem_channels, stem_t, stem_k: stem conv width, temporal and spatial kernel size.
        stem_pool_t: temporal extent of the stem max-pool (3 in the paper, 1 in the tiny template).
        strategy: ``None`` (gated template), a unit for every position, or one unit per position.
        p0, tau: initial drop probability and Concrete temperature of every gate.
        dropout: before the FC (0.5 in the paper's warm-up, 0 during v-DropPath).
        output_gate: also gate the 1x3x3 conv of each layer (site D1; off as in the reported run).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        block_layers: Sequence[int] = (6, 12, 24, 16),
        growth: int = 32,
        bottleneck: int = 128,
        stem_channels: int = 64,
        stem_t: int = 5,
        stem_k: int = 7,
        stem_pool_t: int = 3,
        strategy: str | Sequence[str] | None = None,
        p0: float = 0.1,
        tau: float = 0.2,
        dropout: float = 0.0,
        output_gate: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels")
        self.clip_spec = ClipSpec(minimum=(1, *(_min_side(stem_k, len(block_layers) - 1),) * 2))
        self.names = position_names(block_layers)
        self.units = _units_for(strategy, len(self.names))
        self.stem = nn.Sequential(
            nn.Conv3d(
                in_channels,
                stem_channels,
                (stem_t, stem_k, stem_k),
                stride=(1, 2, 2),
                padding=(stem_t // 2, stem_k // 2, stem_k // 2),
                bias=False,
            ),
            nn.BatchNorm3d(stem_channels),
            nn.ReLU(inplace=True),
            nn.MaxPool3d((stem_pool_t, 3, 3), stride=(1, 2, 2), padding=(stem_pool_t // 2, 1, 1)),
        )
        stages: list[nn.Module] = []
        positions: OrderedDict[str, nn.Module] = OrderedDict()
        channels, index = stem_channels, 0
        for b, n_layers in enumerate(block_layers):
            layers = []
            for _ in range(n_layers):
                layer = FusionLayer(channels, growth, bottleneck, self.units[index], p0, tau, output_gate)
                layers.append(layer)
                positions[self.names[index]] = layer
                channels += growth
                index += 1
            stages.append(nn.Sequential(*layers))
            if b < len(block_layers) - 1:
                transition = FusionTransition(channels, channels // 2, self.units[index], p0, tau)
                stages.append(transition)
                positions[self.names[index]] = transition
                channels //= 2
                index += 1
        self.features = nn.Sequential(*stages)
        self.head_bn = nn.BatchNorm3d(channels)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels, num_classes)
        self.out_channels = channels
        # A plain dict (not a ModuleDict) so that state_dict keys follow the forward structure.
        self._positions = positions

    @property
    def positions(self) -> OrderedDict[str, nn.Module]:
        """Position name -> its FusionLayer / FusionTransition, in forward order."""
        return self._positions

    def gates(self) -> list[tuple[str, str, DropPathGate]]:
        """``(position, path, gate)`` for every bottleneck gate ("S" = 1x1x1 path, "ST" = 3x1x1 path)."""
        return [(name, path, gate) for name, unit in self.positions.items() for path, gate in unit.gates().items()]

    def set_gate_mode(self, mode: str) -> None:
        """Set every gate (including optional D1 gates) to ``mode``."""
        for module in self.modules():
            if isinstance(module, DropPathGate):
                module.set_mode(mode)

    def forward(self, video: Tensor) -> Tensor:
        """Classify clips with the template (supp. Fig. 1); gates act as their mode says.

        Shapes:
            video: (B, C, T, H, W) -> logits (B, num_classes)
        """
        check_video_input(video, "FusionTemplate", self.in_channels, self.fc.weight, self.clip_spec)
        features = F.relu(self.head_bn(self.features(self.stem(video))))
        pooled = reduce(features, "b c t h w -> b c", "mean")
        return self.fc(self.dropout(pooled))


@register("densenet121_fusion")
def densenet121_fusion(num_classes: int, in_channels: int = 3, **kw) -> FusionTemplate:
    """The paper's template: 3D DenseNet-121 (6-12-24-16, growth 32, bottleneck 128, 5x7x7 stem)."""
    return FusionTemplate(num_classes, in_channels, **kw)


@register("densenet121_fusion_small")
def densenet121_fusion_small(num_classes: int, in_channels: int = 1, width: int = 8, **kw) -> FusionTemplate:
    """Classroom template: 1x3x3 stem (``width`` channels), 3 blocks x 3 layers, growth ``width``, bottleneck 2*width."""
    options = dict(
        block_layers=(3, 3, 3),
        growth=width,
        bottleneck=2 * width,
        stem_channels=width,
        stem_t=1,
        stem_k=3,
        stem_pool_t=1,
    )
    options.update(kw)
    return FusionTemplate(num_classes, in_channels, **options)
