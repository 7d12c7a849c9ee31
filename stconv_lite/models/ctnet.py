"""CT-Net (Li et al., ICLR 2021): a TSN ResNet-50 in which one of every two bottlenecks is a CT-Block.

The backbone is the per-frame ResNet-50 of TSN (:func:`stconv_lite.models.tsn.tsn50_2d` with
``maxpool=True``, torchvision's layout): frames are processed independently and the logits averaged
over time. In every stage the blocks with an odd index (1, 3, 5; never the strided first block)
become CT-Blocks (:class:`CTBottleneck`): 7 of the 16 blocks, the only places where frames interact
(figure 2c). The replaced block keeps its 1x1 convs (and their
ImageNet weights when the backbone has them); its 3x3 conv is dropped for a freshly initialised module.

Registered networks (every builder takes ``num_classes``, ``in_channels`` and the TSN options, e.g.
``width``/``layers`` for the small Video-MNIST versions):

========================  ==========================================================================
``ctnet50_ctfull``        **the CT-Net** (CT-Net-R50): CT modules with point-wise conv and tensor
                          excitation (the full CT-Block of figure 2b)
``ctnet50_ctfull_small``  the same at width 16 with two blocks per stage (Video-MNIST on a CPU)
``ctnet50_ct``            table 2a "CT-Module": the plain CT module (no point-wise conv, no TE),
                          *not* the CT-Net
``ctnet50_c3d``           table 2a: the same 7 blocks with a full 3x3x3 conv
``ctnet50_r2plus1d``      table 2a: full 1x3x3 then full 3x1x1
``ctnet50_csn``           table 2a: full 1x1x1 then depthwise 3x3x3
========================  ==========================================================================

All six share the backbone ``ctnet50`` (the CT-Net layout); the operator part of each name is the
``module`` kind without its underscore (``ctfull`` = ``"ct_full"``), see
:mod:`stconv_lite.models.registry` for the naming grammar.

Options: ``module`` (a kind of :func:`~stconv_lite.ops.ctconv.make_module`), ``factors`` (K or
explicit, default near-equal K = 2, identical to the authors' split for powers of two),
``replace`` (``"odd"``: the paper's 7 blocks; ``"all"``: every block but the first of each stage)
and ``from_stage`` (table 2e), ``freeze_backbone``.

**Training path.** The authors' released code (``TSN._prepare_base_model``) sets
``requires_grad=False`` on every ImageNet parameter before inserting the CT blocks and re-enables
only the transplanted 1x1 convs of the replaced blocks: with 174 classes 5.90 M of 20.96 M
parameters train, the stem and the nine untouched blocks stay frozen (their BatchNorm statistics
still update). The paper says the entire network is trained. **Ours trains everything by default**;
``freeze_backbone=True`` reproduces the released code's choice.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn

from stconv_lite.models.registry import register
from stconv_lite.models.tsn import TSNResNet, bottleneck_block, load_imagenet_resnet50, tsn50_2d
from stconv_lite.ops.ctconv import MODULE_KINDS, make_module

__all__ = ["CTBottleneck", "replaced_blocks", "ctnet_resnet50", "ctnet50_ctfull", "ctnet50_ctfull_small", "CT_VARIANTS"]

# Registered name -> module kind inside the replaced blocks (table 2a of the paper).
CT_VARIANTS = {"ctnet50_c3d": "c3d", "ctnet50_r2plus1d": "r2plus1d", "ctnet50_csn": "csn", "ctnet50_ct": "ct"}


class CTBottleneck(nn.Module):
    """The CT-Block of figure 2: 1x1 reduce, a spatiotemporal module, 1x1 expand, identity shortcut.

    ``module`` is any C -> C video module (a :class:`~stconv_lite.ops.ctconv.CTModule`, or one of the
    C3D / R(2+1)D / CSN configurations of :func:`~stconv_lite.ops.ctconv.make_module`). As in the
    authors' ``ReshapeBlock`` there is no stride and no projection shortcut: CT-Net never replaces a
    block that changes the shape. The 1x1 convs are named as in torchvision (``conv1 bn1 conv3
    bn3``), so a replaced block keeps the ImageNet weights of its 1x1 convs.
    """

    def __init__(self, channels: int, width: int, module: nn.Module) -> None:
        super().__init__()
        if channels != 4 * width:
            raise ValueError(f"a CT-Block keeps the shape: channels must be 4 * width; got {channels}, {width}")
        self.channels, self.width = channels, width
        self.conv1 = nn.Conv3d(channels, width, 1, bias=False)
        self.bn1 = nn.BatchNorm3d(width)
        self.st = module
        self.conv3 = nn.Conv3d(width, channels, 1, bias=False)
        self.bn3 = nn.BatchNorm3d(channels)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """ReLU(x + BN(W3 * M(ReLU(BN(W1 * x))))), figure 2 (a)/(b) of the CT-Net paper.

        Shapes:
            x: (B, C, T, H, W) -> (B, C, T, H, W)
        """
        if x.dim() != 5 or x.shape[1] != self.channels:
            raise ValueError(f"CTBottleneck expects (B, {self.channels}, T, H, W); got {tuple(x.shape)}")
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn3(self.conv3(self.st(out)))
        return self.relu(out + x)


def replaced_blocks(layers: Sequence[int], replace: str = "odd", from_stage: int = 1) -> list[tuple[int, int]]:
    """(stage, index) of the blocks that become CT-Blocks; stages 1..4 are res2..res5.

    ``"odd"``: indices 1, 3, 5 of every stage (the paper's "one of every two", 7 blocks of
    ResNet-50); ``"all"``: every block but the strided first (12); ``"none"``: TSN. ``from_stage``
    keeps the stages below it untouched (table 2e: +1 = odd from stage 4, +4 from 3, +6 from 2).
    """
    rules = {"odd": lambda i: i % 2 == 1, "all": lambda i: i > 0, "none": lambda i: False}
    if replace not in rules:
        raise ValueError(f"replace must be one of {sorted(rules)}; got {replace!r}")
    if from_stage not in (1, 2, 3, 4):
        raise ValueError(f"from_stage must be 1..4; got {from_stage!r}")
    return [
        (stage, index)
        for stage, count in enumerate(layers, start=1)
        if stage >= from_stage
        for index in range(count)
        if rules[replace](index)
    ]


def _freeze_backbone(model: TSNResNet) -> None:
    """The authors' released training path: only the replaced blocks and the classifier learn."""
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for sub in model.modules():
        if isinstance(sub, CTBottleneck):
            sub.requires_grad_(True)
    model.fc.requires_grad_(True)


def ctnet_resnet50(
    num_classes: int,
    in_channels: int = 3,
    *,
    module: str = "ct_full",
    factors: int | str | Sequence[int] = 2,
    replace: str = "odd",
    from_stage: int = 1,
    freeze_backbone: bool = False,
    maxpool: bool = True,
    pretrained: bool = False,
    imagenet_state_dict: dict[str, torch.Tensor] | None = None,
    **tsn_options,
) -> TSNResNet:
    """A TSN ResNet-50 whose ``replaced_blocks`` hold ``module`` (see the module docstring).

    ``maxpool=True``: torchvision's layout (max-pool after the stem), as TSN and CT-Net use.
    ``pretrained``: copy torchvision's ImageNet ResNet-50 (downloads) or ``imagenet_state_dict`` into
    every layer that exists in ResNet-50; the 3x3 conv of a replaced block is dropped, as the
    authors do. ``tsn_options``: ``width``, ``layers``, ``dropout`` of :func:`~stconv_lite.models.tsn.tsn50_2d`.
    """
    if module not in MODULE_KINDS:
        raise ValueError(f"module must be one of {MODULE_KINDS}; got {module!r}")
    positions = replaced_blocks(tuple(tsn_options.get("layers", (3, 4, 6, 3))), replace, from_stage)

    def block(in_channels: int, mid_channels: int, stride: int, *, stage: int, index: int) -> nn.Module:
        if (stage, index) in positions:
            return CTBottleneck(in_channels, mid_channels, make_module(module, mid_channels, factors=factors))
        return bottleneck_block(in_channels, mid_channels, stride, stage=stage, index=index)

    model = tsn50_2d(num_classes, in_channels, maxpool=maxpool, block=block, **tsn_options)
    if pretrained or imagenet_state_dict is not None:
        if imagenet_state_dict is None:
            import torchvision

            imagenet_state_dict = torchvision.models.resnet50(weights="IMAGENET1K_V1").state_dict()
        dropped = tuple(f"layer{stage}.{index}.{name}." for stage, index in positions for name in ("conv2", "bn2"))
        load_imagenet_resnet50(model, {k: v for k, v in imagenet_state_dict.items() if not k.startswith(dropped)})
    if freeze_backbone:
        _freeze_backbone(model)
    return model


@register("ctnet50_ctfull")
def ctnet50_ctfull(num_classes: int, in_channels: int = 3, **options) -> TSNResNet:
    """CT-Net-R50: 7 CT-Blocks with point-wise conv and tensor excitation (20.96 M params, 174 classes)."""
    return ctnet_resnet50(num_classes, in_channels, **{"module": "ct_full", **options})


@register("ctnet50_ctfull_small")
def ctnet50_ctfull_small(num_classes: int, in_channels: int = 1, **options) -> TSNResNet:
    """A narrow CT-Net for Video-MNIST on a CPU: width 16, two blocks per stage (4 CT-Blocks), no dropout.

    Two blocks per stage, not ``tsn50_2d_small``'s one: with one block per stage no block has an odd
    index and nothing would be replaced. Any option of :func:`ctnet_resnet50` can override these.
    """
    defaults = {"module": "ct_full", "width": 16, "layers": (2, 2, 2, 2), "dropout": 0.0}
    return ctnet_resnet50(num_classes, in_channels, **{**defaults, **options})


def _register_variant(name: str, kind: str) -> None:
    def builder(num_classes: int, in_channels: int = 3, **options) -> TSNResNet:
        return ctnet_resnet50(num_classes, in_channels, **{"module": kind, **options})

    builder.__doc__ = f"Table 2a of CT-Net: ResNet-50 whose 7 CT-Net blocks hold a {kind!r} module."
    register(name)(builder)


for _name, _kind in CT_VARIANTS.items():
    _register_variant(_name, _kind)
