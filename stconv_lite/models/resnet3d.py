r"""The video ResNet family of Tran et al., "A Closer Look at Spatiotemporal Convolutions" (CVPR 2018).

One builder, :func:`video_resnet`, takes the kind of convolution of each of the five groups of the
paper's Table 1 (conv1, conv2_x, ..., conv5_x) and returns the network. Every variant of the study is
a row of :data:`VARIANTS`:

========== ========================================= ==============================================
name       kind of conv1, conv2_x, ..., conv5_x      idea
========== ========================================= ==============================================
r2d        stacked, 2d, 2d, 2d, 2d                   time stacked into channels, collapsed at once
fr2d       2d, 2d, 2d, 2d, 2d                        frames processed alone, pooled at the end
r3d        3d, 3d, 3d, 3d, 3d                        full 3D everywhere
mcX        3d below group X, 2d from X on            motion early, appearance late
rmcX       2d below group X, 3d from X on            appearance early, motion late
r2plus1d   2plus1d everywhere                        every 3D conv factorised with M_i
========== ========================================= ==============================================

Registered as ``videoresnet18_<operator>`` (blocks 2,2,2,2) and ``videoresnet34_<operator>`` (3,4,6,3),
the operator being the variant's kind of convolution (:data:`OPERATORS`: ``r2d`` -> ``stacked``,
``fr2d`` -> ``2d``, ``r3d`` -> ``3d``, ``mcX`` and ``rmcX`` unchanged, ``r2plus1d`` -> ``2plus1d``), e.g.
``create("videoresnet18_mc3", num_classes=10, in_channels=1, width=8)`` is MC3-18. Options:

* ``width``: channels of conv1 (the paper's 64); the groups use ``width * (1, 2, 4, 8)``.
* ``frames``: R2D only; the number of frames stacked into channels (default 8, the paper's 8x112x112).
* ``torchvision_compat``: ``videoresnet18_3d``, ``videoresnet18_mc3``, ``videoresnet18_2plus1d`` only
  (torchvision's ``r3d_18``, ``mc3_18``, ``r2plus1d_18``); the exact layout of
  ``torchvision.models.video`` so that its state_dicts load strictly (same keys, no map needed).
  For R3D and MC3 the layout is already ours. For R(2+1)D torchvision departs from the M_i formula twice:
  its stem uses 45 middle channels (the formula gives 83; the 45 is hard-coded in the authors' own
  Caffe2 code, VMZ, and costs only 12,958 parameters), and each block computes one $M_i$ from the
  *block's* input width and uses it for *both* convs (VMZ computes it per conv), so the second conv
  of a widening block is narrower than the formula asks (1.87M fewer). Together: 31.5M parameters
  (31,505,325) instead of our 33,383,797; the paper prints 33.3M.
* ``pretrained``: with ``torchvision_compat``, copy torchvision's Kinetics-400 weights (downloads;
  never used in tests or CI).
"""

from __future__ import annotations

import torch.nn as nn
from einops import rearrange
from torch import Tensor

from stconv_lite.models.registry import register
from stconv_lite.models.resnet3d_blocks import CONV_KINDS, STEM_KINDS, BasicBlock3d, make_stem
from stconv_lite.ops.arguments import ClipSpec, check_video_input, positive_int

__all__ = [
    "VideoResNet",
    "video_resnet",
    "VARIANTS",
    "OPERATORS",
    "DEPTHS",
    "PAPER_PARAMS_M",
    "group_kinds",
    "registry_name",
]

DEPTHS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}
# (variant, depth) -> the name of the same network in torchvision.models.video
TORCHVISION_NAMES = {("r3d", 18): "r3d_18", ("mc3", 18): "mc3_18", ("r2plus1d", 18): "r2plus1d_18"}
TORCHVISION_R2PLUS1D_STEM_MID = 45  # hard-coded in torchvision's R2Plus1dStem


def group_kinds(variant: str) -> tuple[str, str, str, str, str]:
    """Conv kind of conv1, conv2_x, ..., conv5_x for a variant name of the paper (``"mc3"``, ...)."""
    if variant == "r2d":
        return ("stacked", "2d", "2d", "2d", "2d")
    if variant == "fr2d":
        return ("2d",) * 5
    if variant == "r3d":
        return ("3d",) * 5
    if variant == "r2plus1d":
        return ("2plus1d",) * 5
    for prefix, early, late in (("rmc", "2d", "3d"), ("mc", "3d", "2d")):
        if variant.startswith(prefix) and variant[len(prefix) :] in {"2", "3", "4", "5"}:
            switch = int(variant[len(prefix) :])  # the first group (1 = conv1) of the other kind
            return tuple(early if group < switch else late for group in range(1, 6))  # type: ignore[return-value]
    raise ValueError(f"unknown video ResNet variant {variant!r}; expected one of {list(VARIANTS)}")


VARIANTS = ("r2d", "fr2d", "r3d", "mc2", "mc3", "mc4", "mc5", "rmc2", "rmc3", "rmc4", "rmc5", "r2plus1d")
# The paper's variant name -> the operator part of the registry name (stconv_lite.models.registry).
OPERATORS = {
    **{variant: variant for variant in VARIANTS},
    "r2d": "stacked",
    "fr2d": "2d",
    "r3d": "3d",
    "r2plus1d": "2plus1d",
}


def registry_name(variant: str, depth: int) -> str:
    """The registry name of the paper's ``<variant>-<depth>``: ``registry_name("mc3", 18) == "videoresnet18_mc3"``."""
    if variant not in OPERATORS or depth not in DEPTHS:
        raise ValueError(
            f"expected a variant of {list(VARIANTS)} and a depth of {sorted(DEPTHS)}; got {variant!r}, {depth!r}"
        )
    return f"videoresnet{depth}_{OPERATORS[variant]}"


# Table 2 of the R(2+1)D paper (18 layers, 400 Kinetics classes), millions, as printed.
PAPER_PARAMS_M = {
    "r2d": 11.4,
    "fr2d": 11.4,
    "r3d": 33.4,
    "mc2": 11.4,
    "mc3": 11.7,
    "mc4": 12.7,
    "mc5": 16.9,
    "rmc2": 33.3,
    "rmc3": 33.0,
    "rmc4": 32.0,
    "rmc5": 27.9,
    "r2plus1d": 33.3,
}


class VideoResNet(nn.Module):
    """A ResNet over clips whose five conv groups each use a chosen kind of convolution.

    Args:
        kinds: conv kind of conv1 (``"stacked"``, ``"2d"``, ``"3d"``, ``"2plus1d"``) and of
            conv2_x..conv5_x (``"2d"``, ``"3d"``, ``"2plus1d"``).
        blocks: residual blocks per group conv2_x..conv5_x, e.g. ``(2, 2, 2, 2)`` for 18 layers.
        num_classes, in_channels, width, frames: see the module docstring.
        stem_mid, shared_mid: (2+1)D layout switches used by ``torchvision_compat``.
    """

    def __init__(
        self,
        kinds: tuple[str, ...],
        blocks: tuple[int, ...],
        num_classes: int,
        in_channels: int = 3,
        width: int = 64,
        frames: int = 8,
        stem_mid: int | None = None,
        shared_mid: bool = False,
    ) -> None:
        super().__init__()
        if len(kinds) != 5 or kinds[0] not in STEM_KINDS or any(k not in CONV_KINDS for k in kinds[1:]):
            raise ValueError(f"kinds must be (stem in {STEM_KINDS}, then 4 of {CONV_KINDS}); got {kinds!r}")
        if len(blocks) != 4 or not all(isinstance(b, int) and b >= 1 for b in blocks):
            raise ValueError(f"blocks must be 4 positive ints; got {blocks!r}")
        positive_int(width, "width")
        positive_int(frames, "frames")
        self.kinds, self.in_channels = tuple(kinds), positive_int(in_channels, "in_channels")
        # Padded convs and strides leave any clip >= 1 x 1 x 1 non-empty; R2D's stem stacks exactly
        # ``frames`` frames into channels, so its weights fix T.
        self.clip_spec = (
            ClipSpec(
                exact=(frames, None, None),
                hint=f"R2D stacks exactly {frames} frames into channels; build it with frames=T",
            )
            if kinds[0] == "stacked"
            else ClipSpec()
        )
        self.stem = make_stem(kinds[0], in_channels, width, frames, stem_mid)
        channels = width
        for index, (kind, count) in enumerate(zip(kinds[1:], blocks)):
            out_channels, stride = width * 2**index, (1 if index == 0 else 2)
            layers = []
            for block in range(count):
                layers.append(BasicBlock3d(kind, channels, out_channels, stride if block == 0 else 1, shared_mid))
                channels = out_channels
            setattr(self, f"layer{index + 1}", nn.Sequential(*layers))
        self.avgpool = nn.AdaptiveAvgPool3d(1)
        self.fc = nn.Linear(channels, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        # torchvision's VideoResNet initialisation, so that compat models start from the same law
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0, 0.01)
                nn.init.zeros_(module.bias)

    def features(self, x: Tensor) -> Tensor:
        """Feature map before pooling, Table 1 of the R(2+1)D paper (conv1 .. conv5_x).

        Shapes:
            x: (B, C, T, H, W) -> (B, 8*width, T', H/16, W/16) with T' = T / 8 for 3D/(2+1)D
            groups conv3_x..conv5_x, T for 2D groups, 1 after R2D's stacked stem
        """
        check_video_input(x, "VideoResNet", self.in_channels, self.fc.weight, self.clip_spec)
        x = self.stem(x)
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward(self, x: Tensor) -> Tensor:
        """Class scores: conv groups, global space-time average pool, linear (Table 1, R(2+1)D paper).

        Shapes:
            x: (B, C, T, H, W) -> (B, num_classes)
        """
        pooled = rearrange(self.avgpool(self.features(x)), "b c 1 1 1 -> b c")
        return self.fc(pooled)


def video_resnet(
    variant: str,
    depth: int,
    num_classes: int,
    in_channels: int = 3,
    width: int = 64,
    frames: int = 8,
    torchvision_compat: bool = False,
    pretrained: bool = False,
) -> VideoResNet:
    """Build the paper's ``<variant>-<depth>`` (e.g. ``video_resnet("mc3", 18, 400)``); see the module docstring."""
    if depth not in DEPTHS:
        raise ValueError(f"depth must be one of {sorted(DEPTHS)}; got {depth!r}")
    if (torchvision_compat or pretrained) and (variant, depth) not in TORCHVISION_NAMES:
        supported = [registry_name(*key) for key in TORCHVISION_NAMES]
        raise ValueError(f"torchvision_compat/pretrained exist for {supported}; got {registry_name(variant, depth)!r}")
    if pretrained and not torchvision_compat:
        raise ValueError("pretrained=True needs torchvision_compat=True (the weights are torchvision's)")
    compat_r2plus1d = torchvision_compat and variant == "r2plus1d"
    model = VideoResNet(
        group_kinds(variant),
        DEPTHS[depth],
        num_classes,
        in_channels,
        width,
        frames,
        stem_mid=TORCHVISION_R2PLUS1D_STEM_MID * width // 64 if compat_r2plus1d else None,
        shared_mid=compat_r2plus1d,
    )
    if pretrained:
        _load_torchvision_weights(model, TORCHVISION_NAMES[variant, depth], num_classes, in_channels, width)
    return model


def _load_torchvision_weights(model: VideoResNet, name: str, num_classes: int, in_channels: int, width: int) -> None:
    """Copy torchvision's Kinetics-400 weights of ``torchvision.models.video.<name>`` (downloads them once)."""
    import torchvision.models.video as tv_video

    if in_channels != 3 or width != 64:
        raise ValueError(f"pretrained weights need in_channels=3 and width=64; got {in_channels} and {width}")
    reference = getattr(tv_video, name)(weights="KINETICS400_V1")
    state = reference.state_dict()
    if num_classes != 400:  # a new head for a new label set: keep the backbone only
        state = {key: value for key, value in state.items() if not key.startswith("fc.")}
    missing, unexpected = model.load_state_dict(state, strict=num_classes == 400)
    if unexpected or set(missing) - {"fc.weight", "fc.bias"}:
        raise RuntimeError(f"torchvision weights did not fit: missing {missing}, unexpected {unexpected}")


def _register_all() -> None:
    for variant in VARIANTS:
        for depth in DEPTHS:

            def builder(
                num_classes: int, in_channels: int = 3, *, _variant: str = variant, _depth: int = depth, **options
            ) -> nn.Module:
                return video_resnet(_variant, _depth, num_classes, in_channels, **options)

            name = registry_name(variant, depth)
            builder.__name__ = builder.__qualname__ = name
            builder.__doc__ = f"{variant}-{depth} of Tran et al. (groups: {', '.join(group_kinds(variant))})."
            register(name)(builder)


_register_all()
