r"""Reading the papers' own checkpoints: every key map in one place, under one verb.

The book checks its operators against numbers produced by the authors' implementations
(``../shared/refvectors``). Their modules name parameters their own way; this module turns an
authors' state dict into ours, for each kind of module, with one function::

    convert_authors_state_dict(kind, state_dict, **options) -> our state dict
    module.load_state_dict(convert_authors_state_dict("ct_module", theirs))

=======================  ==========================================  =====================================
kind                     the authors' module (paper)                 ours
=======================  ==========================================  =====================================
``"conv3t"``             ``ConvTTN3d`` (3TConv)                       :class:`~stconv_lite.ops.conv3t.Conv3T`
``"ct_module"``          ``ReshapeInteraction`` (CT-Net)              ``CTModule(C, factors="pow2")``
``"ct_block"``           ``ReshapeBlock`` (CT-Net)                    :class:`~stconv_lite.models.ctnet.CTBottleneck`
``"calibration"``        ``RouteFuncMLP`` (TAdaConv)                  :class:`~stconv_lite.ops.calibration.CalibrationGenerator`
``"tadaconv"``           ``TAdaConv2d`` (+ ``RouteFuncMLP``)          ``TAdaConv2d`` / ``TAdaConvWithGenerator``
``"tada2d_block"``       ``TAda2DBlock`` in ``Base3DBlock``           :func:`~stconv_lite.models.tada2d.tada2d_bottleneck`
=======================  ==========================================  =====================================

Only names and layouts change; no value is altered (a reshape such as a Conv3d ``(o, i, k, 1, 1)``
weight becoming a Conv1d ``(o, i, k)`` keeps every number).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from einops import rearrange
from torch import Tensor

__all__ = ["KINDS", "convert_authors_state_dict"]

StateDict = dict[str, Tensor]


def _conv3t(state_dict: StateDict) -> StateDict:
    """``ConvTTN3d``: ``first_weight`` (C_out, C_in, 1, n, m), ``scale``, ``rotate`` (radians),
    ``translate_x``, ``translate_y`` (normalised), each (l-1, C_out), and ``bias``."""
    names = {"scale": "scale", "rotate": "rotation", "translate_x": "tx", "translate_y": "ty", "bias": "bias"}
    converted = {"first_slice": rearrange(state_dict["first_weight"], "o i 1 h w -> o i h w")}
    converted.update({ours: state_dict[theirs] for theirs, ours in names.items() if theirs in state_dict})
    return converted


# CT-Net's ReshapeInteraction: their stage 1 has groups=C1 and mixes C2, which is our stages.0 with
# order=(1, 0); inside every attention fc1.0 -> reduce, fc1.1 -> norm, fc2.0 -> expand.
_CT_PATTERNS = [
    (r"conv1_x\.0\.", "stages.0.branches.0.conv."),
    (r"conv1_x\.1\.", "stages.0.branches.0.norm."),
    (r"conv1_z\.0\.", "stages.0.branches.1.conv."),
    (r"conv1_z\.1\.", "stages.0.branches.1.norm."),
    (r"conv2_y\.0\.", "stages.1.branches.0.conv."),
    (r"conv2_y\.1\.", "stages.1.branches.0.norm."),
    (r"conv2_z\.0\.", "stages.1.branches.1.conv."),
    (r"conv2_z\.1\.", "stages.1.branches.1.norm."),
    (r"sx_attention\.", "stages.0.branches.0.excite."),
    (r"tx_attention\.", "stages.0.branches.1.excite."),
    (r"cx_attention\.", "stages.0.channel_excite."),
    (r"sy_attention\.", "stages.1.branches.0.excite."),
    (r"ty_attention\.", "stages.1.branches.1.excite."),
    (r"cy_attention\.", "stages.1.channel_excite."),
    (r"fusion\.0\.", "fusions.0.0."),
    (r"fusion\.1\.", "fusions.0.1."),
    (r"fc1\.0\.", "reduce."),
    (r"fc1\.1\.", "norm."),
    (r"fc2\.0\.", "expand."),
]


def _ct_module(state_dict: StateDict, prefix: str = "") -> StateDict:
    """``ReshapeInteraction`` keys (under ``prefix``, which is removed) -> ``CTModule(C, factors="pow2")``."""
    converted = {}
    for key, value in state_dict.items():
        if key.startswith(prefix):
            name = key[len(prefix) :]
            for pattern, replacement in _CT_PATTERNS:
                name = re.sub(pattern, replacement, name)
            converted[name] = value
    return converted


def _ct_block(state_dict: StateDict) -> StateDict:
    """``ReshapeBlock``: ``conv1.{0,1}`` / ``conv3.{0,1}`` (1x1 Conv2d + BN2d) -> ``conv1``/``bn1``, ``conv3``/``bn3``
    (2D weights gain a time axis of size 1); ``conv2.*`` (the CT module) -> ``st.*``."""
    converted = {f"st.{k}": v for k, v in _ct_module(state_dict, prefix="conv2.").items()}
    for key, value in state_dict.items():
        match = re.fullmatch(r"conv([13])\.([01])\.(.+)", key)
        if match:
            index, part, name = match.groups()
            if part == "0":
                converted[f"conv{index}.{name}"] = rearrange(value, "o i h w -> o i 1 h w")
            else:
                converted[f"bn{index}.{name}"] = value
    return converted


# TAdaConv's RouteFuncMLP: g = the global branch, a = the reduction, bn, b = the expansion.
CALIBRATION_KEYS = {"g": "global_fc", "a": "reduce", "bn": "bn", "b": "expand"}


def _calibration(state_dict: StateDict, prefix: str = "") -> StateDict:
    """``RouteFuncMLP`` entries under ``prefix`` (e.g. ``"b_rf."``); Conv3d ``(o, i, k, 1, 1)`` -> Conv1d ``(o, i, k)``."""
    converted = {}
    for key, value in state_dict.items():
        if not key.startswith(prefix):
            continue
        module, _, rest = key[len(prefix) :].partition(".")
        if module not in CALIBRATION_KEYS:
            raise ValueError(f"unexpected RouteFuncMLP key {key!r}; expected one of {sorted(CALIBRATION_KEYS)}")
        if value.dim() == 5:
            value = rearrange(value, "o i k 1 1 -> o i k")
        converted[f"{CALIBRATION_KEYS[module]}.{rest}"] = value
    return converted


def _tadaconv(state_dict: StateDict, conv_prefix: str = "", generator_prefix: str | None = None) -> StateDict:
    """``TAdaConv2d`` (weight ``(1, 1, o, i, k, l)``) and, with ``generator_prefix``, its ``RouteFuncMLP``:
    the result is for ``TAdaConvWithGenerator`` (keys ``conv.*``, ``generator.*``), else for ``TAdaConv2d``."""
    converted: StateDict = {}
    into = "conv." if generator_prefix is not None else ""
    for name, pattern in (("weight", "1 1 o i k l -> o i k l"), ("bias", "1 1 o -> o")):
        if conv_prefix + name in state_dict:
            converted[into + name] = rearrange(state_dict[conv_prefix + name], pattern)
    if generator_prefix is not None:
        converted.update({"generator." + k: v for k, v in _calibration(state_dict, generator_prefix).items()})
    return converted


_TADA2D_BLOCK_KEYS = {
    "conv_branch.a.": "conv1.",
    "conv_branch.a_bn.": "bn1.",
    "conv_branch.b_bn.": "bn2.bn.",
    "conv_branch.b_avgpool_bn.": "bn2.pool_bn.",
    "conv_branch.c.": "conv3.",
    "conv_branch.c_bn.": "bn3.",
    "short_cut.": "downsample.0.",
    "short_cut_bn.": "downsample.1.",
}


def _tada2d_block(state_dict: StateDict) -> StateDict:
    """The authors' TAda2D bottleneck (``conv_branch.*``, ``short_cut*``) -> :func:`tada2d_bottleneck`."""
    converted = {f"conv2.generator.{k}": v for k, v in _calibration(state_dict, "conv_branch.b_rf.").items()}
    converted["conv2.conv.weight"] = rearrange(state_dict["conv_branch.b.weight"], "1 1 o i k l -> o i k l")
    for key, value in state_dict.items():
        for theirs, ours in _TADA2D_BLOCK_KEYS.items():
            if key.startswith(theirs):
                converted[ours + key[len(theirs) :]] = value
                break
    return converted


KINDS: dict[str, Callable[..., StateDict]] = {
    "conv3t": _conv3t,
    "ct_module": _ct_module,
    "ct_block": _ct_block,
    "calibration": _calibration,
    "tadaconv": _tadaconv,
    "tada2d_block": _tada2d_block,
}


def convert_authors_state_dict(kind: str, state_dict: StateDict, **options) -> StateDict:
    """The authors' ``state_dict`` of a module of ``kind`` (see the module table), renamed to ours.

    ``options``: ``prefix`` for ``"ct_module"`` and ``"calibration"``; ``conv_prefix`` and
    ``generator_prefix`` for ``"tadaconv"``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}; got {kind!r}")
    return KINDS[kind](state_dict, **options)
