"""Chapter 1 experiments: does a model use the order of frames, and what can an order-blind model reach?

Both use ``label="reversal"`` of Video-MNIST, where every backward clip is a forward clip with its
frames reversed, so an order-blind model is at most 50 % accurate *by construction* (see
:mod:`stconv_lite.data.video_mnist`).
"""

from __future__ import annotations

import functools

from stconv_lite.analysis.order import max_logit_change, prediction_agreement, reverse_time, shuffle_frames
from stconv_lite.experiments.registry import Bound, Compare, Experiment, register
from stconv_lite.experiments.tasks import on_device, train_and_evaluate
from stconv_lite.models import create

# How much each chapter-1 run computes. "small" fits the CPU book build (about 2 minutes on 2 idle cores).
_DATA = {
    "quick": dict(clips_per_class=6, frames=8, epochs=1, width=4, batch_size=16),
    "small": dict(clips_per_class=48, frames=12, epochs=12, patience=4, width=8, lr=3e-3),
    "full": dict(clips_per_class=400, frames=30, epochs=40, patience=8, width=16, lr=2e-3),
}

# Arm label (kept as stored in book/results) -> registry name of the model it trains.
ARM_MODELS = {"frame_bag_2d": "cnn3_2d", "tiny_c3d": "cnn3_3d"}

ORDER_EVALUATIONS = {
    # Fraction of test clips whose predicted class survives reversing / shuffling the frames.
    "reversal_agreement": functools.partial(prediction_agreement, transform=reverse_time),
    "shuffle_agreement": functools.partial(prediction_agreement, transform=shuffle_frames),
    # Largest logit change under time reversal: exactly 0 up to rounding for an order-blind model.
    "reversal_max_logit_change": functools.partial(max_logit_change, transform=reverse_time),
}


def _order_unit(arm: str, seed: int, settings: dict, device) -> dict:
    build = functools.partial(create, ARM_MODELS[arm], num_classes=10, in_channels=1, width=settings["width"])
    evaluations = {name: on_device(measure) for name, measure in ORDER_EVALUATIONS.items()}
    return train_and_evaluate(build, settings, seed, device, evaluations)


FRAME_ORDER = register(
    Experiment(
        name="ch01.frame_order",
        chapter=1,
        title="A bag of frames against a tiny 3D CNN when the direction of time is the label",
        question="Can a model that ignores frame order tell a motion from its reverse, and does a 3D CNN?",
        paper_claim=(
            "3D convolution models temporal information that 2D convolution applied to frames "
            "cannot (Tran et al. 2018, sec. 3; Ras et al. 2021, sec. 1)."
        ),
        arms=("frame_bag_2d", "tiny_c3d"),
        settings={scale: {"label": "reversal", **values} for scale, values in _DATA.items()},
        run_unit=_order_unit,
        comparisons=(Compare("tiny_c3d", "frame_bag_2d"),),
        bounds=(Bound("frame_bag_2d", 0.5, "the 50 % bound"), Bound("tiny_c3d", 0.5, "the 50 % bound")),
    )
)


def _audit_unit(arm: str, seed: int, settings: dict, device) -> dict:
    build = functools.partial(create, "cnn3_2d", num_classes=10, in_channels=1, width=settings["width"])
    return train_and_evaluate(build, {**settings, "label": arm}, seed, device)


LABEL_MODE_AUDIT = register(
    Experiment(
        name="ch01.label_mode_audit",
        chapter=1,
        title="What an order-blind model reaches in each label mode",
        question="How much of each Video-MNIST label mode can a bag of frames read without the order of frames?",
        paper_claim=(
            "Video-MNIST's classes are defined by motion, so temporal modelling is needed "
            "(Ras et al. 2021, appendix B; its digit-tied labels are 'digit' mode here)."
        ),
        arms=("digit", "motion", "reversal"),
        settings=_DATA,
        run_unit=_audit_unit,
        comparisons=(Compare("motion", "reversal"),),
        bounds=(Bound("reversal", 0.5, "the 50 % bound"),),
    )
)
