r"""TAda2D: the TSN ResNet-50 with every $3 \times 3$ conv a TAdaConv plus temporal aggregation.

Section 4 of the TAdaConv paper. Each bottleneck of :mod:`stconv_lite.models.tsn` keeps its 1x1 convs;
its $3 \times 3$ conv becomes :class:`~stconv_lite.ops.tadaconv.TAdaConvWithGenerator` (calibration
over $C_{in}$, generator on the conv's input before the stride, $r = 4$, kernels $(3, 3)$) and the
BN + ReLU after it becomes :class:`~stconv_lite.ops.temporal_aggregation.TemporalAggregation`
(eq. (7)). At initialisation ($\alpha \equiv 1$, $\mathrm{BN}_2 = 0$) TAda2D computes exactly what
TSN computes with the same weights.

Registered: ``videoresnet18_2plus1d_tada``, ``videoresnet34_2plus1d_tada``, ``videoresnet18_3d_tada``,
``videoresnet34_3d_tada`` (table 2's plug-in, :func:`tadaify` on the registry model; its options pass
through), ``tsn50_tada2d`` (the options of ``tsn50_2d`` plus the ablation switches below) and
``tsn50_tada2d_small`` (the counterpart of ``tsn50_2d_small``: width 16, one block per stage, for
Video-MNIST on a CPU). TAda2D-R50 with a 400-way
head has 27,485,472 parameters (3,150,288 in the 16 generators; paper: 27.5M) and 33.02 G
multiply-adds on an 8 x 224 x 224 clip (paper: 33 "GFLOPs" at 224, table 7's footnote).

Ablation switches (table 3 of the paper): ``kernel_sizes`` (``(1, 1)``: no local temporal context),
``global_context``, ``aggregation`` (``"sepbn"`` = eq. (7), ``"shortcut"``, ``"avg"``, or ``None``:
plain BN + ReLU after the TAdaConv), ``cal_dim``, ``reduction``, ``stages`` (which of res2..res5 = 1..4
use TAdaConv; the others stay TSN blocks, figure 3). TAdaConv weights follow TSN's init law; the
generators' last conv and $\mathrm{BN}_2$ stay zero.

:func:`stconv_lite.authors.convert_authors_state_dict` (kind ``"tada2d_block"``) maps the authors' ``Base3DBlock`` / ``TAda2DBlock`` keys:
``conv_branch.a``/``a_bn`` -> ``conv1``/``bn1``; ``b`` -> ``conv2.conv``; ``b_rf`` -> ``conv2.generator``;
``b_bn``/``b_avgpool_bn`` -> ``bn2.bn``/``bn2.pool_bn``; ``c``/``c_bn`` -> ``conv3``/``bn3``;
``short_cut``/``short_cut_bn`` -> ``downsample.0``/``downsample.1``.
The 1x1x1 convs are Conv3d on both sides; only the TAdaConv weight and the generator's convs change shape.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from einops import rearrange
from torch import Tensor

from stconv_lite.models.registry import register
from stconv_lite.models.tsn import Bottleneck, TSNResNet, load_imagenet_resnet50
from stconv_lite.ops.calibration import CalibrationGenerator
from stconv_lite.ops.tadaconv import TAdaConv2d, TAdaConvWithGenerator
from stconv_lite.ops.temporal_aggregation import TemporalAggregation

__all__ = ["TAda2D", "tada2d_bottleneck", "tsn50_tada2d", "tsn50_tada2d_small", "InputCalibratedConv", "tadaify"]

AGGREGATIONS = ("sepbn", "shortcut", "avg", None)


class _BatchNormReLU(nn.BatchNorm3d):
    """BN then ReLU under BatchNorm3d's names (the "no aggregation" ablation row)."""

    def forward(self, x: Tensor) -> Tensor:
        """Shapes: x (B, C, T, H, W) -> (B, C, T, H, W)."""
        return torch.relu(super().forward(x))


def tada2d_bottleneck(
    in_channels: int,
    mid_channels: int,
    stride: int = 1,
    kernel_sizes: tuple[int, int] = (3, 3),
    global_context: bool = True,
    aggregation: str | None = "sepbn",
    cal_dim: str = "cin",
    reduction: int = 4,
    pool_kernel: int = 3,
) -> Bottleneck:
    """One TAda2D block (figure 2c): a :class:`~stconv_lite.models.tsn.Bottleneck` whose 3x3 is a TAdaConv
    (with its generator) and whose BN + ReLU after it is the temporal aggregation of eq. (7)."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {AGGREGATIONS}; got {aggregation!r}")

    def spatial_conv(cin: int, cout: int, s: int) -> nn.Module:
        return TAdaConvWithGenerator(
            cin,
            cout,
            3,
            stride=s,
            padding=1,
            bias=False,
            cal_dim=cal_dim,
            reduction=reduction,
            kernel_sizes=kernel_sizes,
            global_context=global_context,
        )

    def spatial_norm(channels: int) -> nn.Module:
        if aggregation is None:
            return _BatchNormReLU(channels)
        return TemporalAggregation(channels, pool_kernel, mode=aggregation)

    return Bottleneck(in_channels, mid_channels, stride, spatial_conv, spatial_norm)


class TAda2D(TSNResNet):
    """:class:`~stconv_lite.models.tsn.TSNResNet` whose chosen stages use TAda2D blocks.

    ``stages``: which of res2..res5 (1..4) use TAdaConv (figure 3); the others are TSN blocks.
    Other keyword options go to :func:`tada2d_bottleneck`.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 3,
        layers: Sequence[int] = (3, 4, 6, 3),
        width: int = 64,
        maxpool: bool = False,
        dropout: float = 0.5,
        stages: Sequence[int] = (1, 2, 3, 4),
        **tada_options,
    ) -> None:
        if not set(stages) <= {1, 2, 3, 4}:
            raise ValueError(f"stages must be a subset of (1, 2, 3, 4) (res2..res5); got {tuple(stages)!r}")
        tada2d_bottleneck(4, 4, **tada_options)  # validate the options before building 16 blocks

        def block(cin: int, mid: int, stride: int, *, stage: int, index: int) -> nn.Module:
            if stage in stages:
                return tada2d_bottleneck(cin, mid, stride, **tada_options)
            return Bottleneck(cin, mid, stride)

        super().__init__(num_classes, in_channels, layers, width, maxpool, dropout, block=block)
        for module in self.modules():
            if isinstance(module, TemporalAggregation):  # the network's BN init set BN_2 to 1: back to 0
                module.reset_parameters()
            elif isinstance(module, TAdaConv2d):  # TSN's law for its 3x3 convs, so that ablations compare fairly
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def calibration_generators(self) -> dict[str, nn.Module]:
        """Name -> generator of every TAdaConv, in forward order (hook them to read alpha)."""
        return {name: m.generator for name, m in self.named_modules() if isinstance(m, TAdaConvWithGenerator)}


def _build(
    num_classes: int, in_channels: int, layers: Sequence[int], width: int, pretrained: bool, **options
) -> TAda2D:
    model = TAda2D(num_classes, in_channels, layers, width, **options)
    if pretrained:
        if width != 64 or tuple(layers) != (3, 4, 6, 3):
            raise ValueError(f"pretrained weights need width=64, layers=(3, 4, 6, 3); got {width}, {layers}")
        load_imagenet_resnet50(model)
    return model


@register("tsn50_tada2d")
def tsn50_tada2d(
    num_classes: int,
    in_channels: int = 3,
    *,
    layers: Sequence[int] = (3, 4, 6, 3),
    width: int = 64,
    pretrained: bool = False,
    **options,
) -> TAda2D:
    """TAda2D-R50 of the TAdaConv paper (every 3x3 a TAdaConv + aggregation); see the module docstring."""
    return _build(num_classes, in_channels, layers, width, pretrained, **options)


@register("tsn50_tada2d_small")
def tsn50_tada2d_small(
    num_classes: int,
    in_channels: int = 1,
    *,
    layers: Sequence[int] = (1, 1, 1, 1),
    width: int = 16,
    pretrained: bool = False,
    **options,
) -> TAda2D:
    """A CPU-sized TAda2D for Video-MNIST, the counterpart of ``tsn50_2d_small`` (same widths and depth)."""
    return _build(num_classes, in_channels, layers, width, pretrained, **options)


class InputCalibratedConv(nn.Module):
    r"""An existing ``nn.Conv3d`` with TAdaConv's $C_{in}$ calibration: ``conv(x * alpha)``, ``alpha = G(x)``.

    For a $1 \times k \times k$ conv this is exactly eq. (3) of the TAdaConv paper (calibrating the
    kernel's input channels = scaling the input channels). For a kernel that spans time (R3D's
    $3 \times 3 \times 3$) the tap that reads frame $t'$ is scaled by $\alpha_{t'}$, the calibration of
    the frame it reads; the authors' ``TAdaConv3d`` instead scales all taps of output frame $t$ by
    $\alpha_t$ (and needs temporal stride 1, which R3D's downsampling blocks do not have).
    """

    def __init__(self, conv: nn.Conv3d, **generator_options) -> None:
        super().__init__()
        self.conv = conv
        self.generator = CalibrationGenerator(conv.in_channels, **generator_options)

    def forward(self, x: Tensor) -> Tensor:
        """Eqs. (3)-(6) of the TAdaConv paper around ``self.conv``.

        Shapes:
            x: (B, C_in, T, H, W) -> the wrapped conv's output (B, C_out, T', H', W')
        """
        alpha = self.generator(x)
        return self.conv(x * rearrange(alpha, "b c t -> b c t 1 1"))


def tadaify(model: nn.Module, **generator_options) -> nn.Module:
    """Table 2's plug-in: every conv with a spatial kernel inside ``layer1..layer4`` gets a calibration.

    In a ``videoresnet*_2plus1d`` model these are the spatial $1 \times 3 \times 3$ halves of the (2+1)D convs
    (the temporal $3 \times 1 \times 1$ halves and the $1 \times 1 \times 1$ shortcuts stay); in an
    ``videoresnet*_3d`` model the $3 \times 3 \times 3$ convs (see :class:`InputCalibratedConv`). The stem is
    left alone. The model is changed in place and returned; at initialisation it computes exactly
    what it computed before. ``generator_options`` go to
    :class:`~stconv_lite.ops.calibration.CalibrationGenerator` (``reduction``, ``kernel_sizes``, ...).
    """
    targets = [
        (name, module)
        for name, module in model.named_modules()
        if name.startswith("layer") and type(module) is nn.Conv3d and module.kernel_size[1] > 1
    ]
    if not targets:
        raise ValueError(f"tadaify found no spatial Conv3d inside layer1..layer4 of {type(model).__name__}")
    for name, conv in targets:
        parent_name, _, child = name.rpartition(".")
        model.get_submodule(parent_name)._modules[child] = InputCalibratedConv(conv, **generator_options)
    return model


def _register_plugins() -> None:
    from stconv_lite.models.registry import create

    for base in ("videoresnet18_2plus1d", "videoresnet34_2plus1d", "videoresnet18_3d", "videoresnet34_3d"):

        def builder(
            num_classes: int,
            in_channels: int = 3,
            *,
            _base: str = base,
            reduction: int = 4,
            kernel_sizes: tuple[int, int] = (3, 3),
            global_context: bool = True,
            **options,
        ) -> nn.Module:
            model = create(_base, num_classes=num_classes, in_channels=in_channels, **options)
            return tadaify(model, reduction=reduction, kernel_sizes=kernel_sizes, global_context=global_context)

        builder.__name__ = builder.__qualname__ = f"{base}_tada"
        builder.__doc__ = f"{base} with TAdaConv calibration on its spatial convs (table 2 of the TAdaConv paper)."
        register(f"{base}_tada")(builder)


_register_plugins()
