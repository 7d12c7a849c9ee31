r"""Chapter 2 experiments: where a video ResNet looks at time, and whether (2+1)D is easier to optimise.

Both train the video ResNets of Tran et al. (CVPR 2018) on ``label="reversal"`` of Video-MNIST: five
motions x {forward, backward}, a backward clip being a forward clip with its frames reversed, so a
model that ignores frame order is right on at most one clip of each pair: **at most 50 %** by
construction (see :mod:`stconv_lite.data.video_mnist`). On this task "can the architecture use the
order of frames?" has a decisive answer.

- ``ch02.time_order``: the six variants of the study (R2D, f-R2D, R3D, MC3, rMC3, R(2+1)D), same
  width, same data and budget. f-R2D averages per-frame features, so it is order-blind (its logits do
  not change when time is reversed: measured); R2D sees every frame in its first layer and can read the
  order there; the others convolve over time in some or all groups.
- ``ch02.optimisation``: R3D against R(2+1)D at matched parameters (the paper's "easier
  optimisation" slide: lower training error), with a third arm, R(2+1)D whose middle ReLU is removed
  (:func:`r2plus1d_without_middle_relu`): a rank-limited 3D conv with R(2+1)D's parameters and
  training dynamics but without the extra non-linearity, which separates "factorised" from "more
  non-linear". Fixed budget, no early stopping, so the training-loss curves compare step for step.

At the ``small`` scale the networks have one residual block per group (a ResNet-10, the layout of
Table 1 of the paper with 1 instead of 2 blocks) on 8 frames of 16x16 pixels, so that the chapter fits
the CPU book build; ``full`` uses the paper's ResNet-18 on 16 frames of 28x28 on a GPU.
"""

from __future__ import annotations

import functools
import json

import torch
import torch.nn as nn

from stconv_lite.analysis.complexity import count_macs
from stconv_lite.analysis.order import max_logit_change, prediction_agreement, reverse_time
from stconv_lite.experiments.registry import Bound, Compare, Experiment, register
from stconv_lite.experiments.tasks import on_device, train_and_evaluate
from stconv_lite.models.resnet3d import VideoResNet, group_kinds
from stconv_lite.ops.r2plus1d import Conv2Plus1d

__all__ = [
    "TIME_ORDER",
    "OPTIMISATION",
    "VARIANT_LABELS",
    "build_variant",
    "r2plus1d_without_middle_relu",
    "pair_accuracy",
    "direction_accuracy",
    "clip_macs",
]

# How much each run computes. "blocks" is residual blocks per group (1: ResNet-10, 2: ResNet-18).
_SCALES = {
    "quick": dict(clips_per_class=4, frames=8, size=16, epochs=1, width=4, blocks=1, batch_size=16),
    "small": dict(clips_per_class=40, frames=8, size=16, epochs=12, width=8, blocks=1, lr=3e-3),
    "full": dict(
        clips_per_class=200,
        val_clips_per_class=50,
        test_clips_per_class=100,
        frames=16,
        size=28,
        epochs=12,
        width=16,
        blocks=2,
        lr=2e-3,
        batch_size=128,
    ),
}

VARIANT_LABELS = {
    "r2d": "R2D",
    "fr2d": "f-R2D",
    "r3d": "R3D",
    "mc3": "MC3",
    "rmc3": "rMC3",
    "r2plus1d": "R(2+1)D",
    "r2plus1d_norelu": "R(2+1)D without the middle ReLU",
}


def r2plus1d_without_middle_relu(model: nn.Module) -> nn.Module:
    """Remove the ReLU between the spatial and the temporal conv of every (2+1)D conv (stem included).

    What remains in each factorised conv is spatial conv -> BN -> temporal conv: in eval mode BN is a
    fixed per-channel affine map, so the composition is *one* 3D conv with a rank-limited kernel
    (the chapter checks this numerically). Parameters and the BN are unchanged, so the model differs
    from R(2+1)D only in the extra non-linearity the paper credits. Returns ``model``, changed in place.
    """
    changed = 0
    for module in model.modules():
        if isinstance(module, Conv2Plus1d):
            module[2] = nn.Identity()
            changed += 1
    stem = getattr(model, "stem", None)
    if (
        isinstance(stem, nn.Sequential)
        and len(stem) == 6
        and isinstance(stem[3], nn.Conv3d)
        and stem[3].kernel_size[1:] == (1, 1)
    ):  # the flat (2+1)D stem: conv, BN, ReLU, conv, BN, ReLU
        stem[2] = nn.Identity()
        changed += 1
    if not changed:
        raise ValueError("the model has no (2+1)D convolution whose middle ReLU could be removed")
    return model


def build_variant(arm: str, num_classes: int, width: int, frames: int, blocks: int) -> nn.Module:
    """A video ResNet of the study (``"r3d"``, ...) or ``"r2plus1d_norelu"``, with ``blocks`` per group."""
    kinds = group_kinds("r2plus1d" if arm == "r2plus1d_norelu" else arm)
    model = VideoResNet(kinds, (blocks,) * 4, num_classes=num_classes, in_channels=1, width=width, frames=frames)
    return r2plus1d_without_middle_relu(model) if arm == "r2plus1d_norelu" else model


def clip_macs(arm: str, settings: dict) -> int:
    """Multiply-adds of one clip of the settings' shape (counted on the meta device: no memory)."""
    with torch.device("meta"):
        model = build_variant(arm, 10, settings["width"], settings["frames"], settings["blocks"])
        return count_macs(model, torch.empty(1, 1, settings["frames"], settings["size"], settings["size"]))


def pair_accuracy(confusion: list[list[int]]) -> float:
    """Fraction of clips put in the right *motion* (either direction): classes 2m and 2m+1 are one pair."""
    total = sum(map(sum, confusion))
    right = sum(confusion[i][j] for i in range(len(confusion)) for j in range(len(confusion)) if i // 2 == j // 2)
    return right / max(total, 1)


def direction_accuracy(confusion: list[list[int]]) -> float:
    """Of the clips put in the right motion, the fraction also given the right direction (NaN if none)."""
    in_pair = sum(confusion[i][j] for i in range(len(confusion)) for j in range(len(confusion)) if i // 2 == j // 2)
    correct = sum(confusion[i][i] for i in range(len(confusion)))
    return correct / in_pair if in_pair else float("nan")


_ORDER_EVALUATIONS = {
    "reversal_agreement": functools.partial(prediction_agreement, transform=reverse_time),
    "reversal_max_logit_change": functools.partial(max_logit_change, transform=reverse_time),
}

# One training per (arm, seed, settings, device) in a process: the two experiments share R3D and
# R(2+1)D at the same settings, so a notebook that runs both trains those units once.
_TRAINED: dict[str, dict] = {}


def _unit(arm: str, seed: int, settings: dict, device) -> dict:
    key = json.dumps({"arm": arm, "seed": seed, "settings": settings, "device": str(device)}, sort_keys=True)
    if key in _TRAINED:
        return _TRAINED[key]
    build = functools.partial(build_variant, arm, 10, settings["width"], settings["frames"], settings["blocks"])
    evaluations = {name: on_device(measure) for name, measure in _ORDER_EVALUATIONS.items()}
    result = train_and_evaluate(build, settings, seed, device, evaluations)
    metrics, curves = result["metrics"], result["curves"]
    metrics["pair_accuracy"] = pair_accuracy(result["confusion"])
    metrics["direction_accuracy"] = direction_accuracy(result["confusion"])
    metrics["final_train_loss"] = curves["train_loss"][-1]
    metrics["mean_train_loss"] = sum(curves["train_loss"]) / len(curves["train_loss"])
    metrics["final_train_accuracy"] = curves["train_acc"][-1]
    metrics["ms_per_step"] = 1000 * metrics["train_seconds"] / max(metrics["steps"], 1)
    metrics["mmacs_per_clip"] = clip_macs(arm, settings) / 1e6
    _TRAINED[key] = result
    return result


_SETTINGS = {scale: {"label": "reversal", **values} for scale, values in _SCALES.items()}

TIME_ORDER = register(
    Experiment(
        name="ch02.time_order",
        chapter=2,
        title="Which video ResNets can use the order of frames, when the direction of time is the label",
        question=(
            "On a task where an order-blind model is at most 50 % by construction, which of R2D, f-R2D, "
            "R3D, MC3, rMC3 and R(2+1)D read the order of frames, and at what cost?"
        ),
        paper_claim=(
            "f-R2D fuses frames only by pooling at the end; R2D collapses time in its first layer; "
            "every network with 3D or (2+1)D convolutions beats both 2D ones on Kinetics, and R(2+1)D "
            "is the most accurate (Tran et al. 2018, Table 2)."
        ),
        arms=("fr2d", "r2d", "mc3", "rmc3", "r3d", "r2plus1d"),
        settings=_SETTINGS,
        run_unit=_unit,
        comparisons=(
            Compare("r2d", "fr2d"),
            Compare("mc3", "r2d"),
            Compare("rmc3", "r2d"),
            Compare("r3d", "r2d"),
            Compare("r2plus1d", "r2d"),
            Compare("r2plus1d", "r3d"),
            Compare("mc3", "rmc3"),
        ),
        bounds=(Bound("fr2d", 0.5, "the 50 % bound"), Bound("r2d", 0.5, "the 50 % bound")),
    )
)

OPTIMISATION = register(
    Experiment(
        name="ch02.optimisation",
        chapter=2,
        title="Is R(2+1)D easier to optimise than R3D at the same number of parameters?",
        question=(
            "Trained on the same clips with the same budget, does R(2+1)D reach a lower training loss than "
            "R3D at matched parameters, and does it still without its middle ReLU?"
        ),
        paper_claim=(
            "(2+1)D CNNs are easier to optimise than 3D CNNs: lower training error at the same number "
            "of parameters (Tran et al. 2018, sec. 3.5 and the training-error figure)."
        ),
        arms=("r3d", "r2plus1d", "r2plus1d_norelu"),
        settings=_SETTINGS,
        run_unit=_unit,
        comparisons=(
            Compare("r2plus1d", "r3d", "final_train_loss", higher_is_better=False),
            Compare("r2plus1d", "r3d", "mean_train_loss", higher_is_better=False),
            Compare("r2plus1d", "r3d"),
            Compare("r2plus1d", "r2plus1d_norelu", "final_train_loss", higher_is_better=False),
            Compare("r2plus1d", "r2plus1d_norelu"),
            Compare("r2plus1d", "r3d", "ms_per_step", higher_is_better=False),
        ),
    )
)
