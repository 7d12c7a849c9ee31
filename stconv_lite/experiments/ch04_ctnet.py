"""Chapter 4 experiments (CT-Net): how far one module relates features, and which module a network prefers.

Three experiments, each isolating one claim of the CT-Net paper (Li et al., ICLR 2021):

``ch04.interaction`` (table 1, "feature-interaction sufficiency")
    A single module must tell apart two clips that hold the *same* two dots in the *same* frames:
    in one the later dot is 3 pixels to the right of the earlier one (apparent motion to the
    right), in its twin 3 pixels to the left. A model can only do that if some unit sees both dots,
    i.e. if the offset (3 frames, 3 pixels) lies in its field minus itself, ``F - F``. Any model in
    which no unit sees both gives a clip and its twin *exactly* the same logits (its per-position
    outputs are the same multiset, and the read-out treats positions alike), so it is at **50 % by
    construction**. Table 1 gives a K = 2 CT module a (2K+1)^3 = 5x5x5 field, which would reach the
    offset; the field the chapter measures (45 of the 125 voxels) does not.

``ch04.modules`` (table 2a)
    C3D, R(2+1)D, CSN and CT modules in the *same* small network on ``label="reversal"``, with a
    frame-wise 2D module (TSN-like) that is at most 50 % by construction.

``ch04.excitation`` (table 2g, and the chapter's hypothesis about TE's start)
    CT + point-wise conv without TE, with the paper's TE (gates sigma(.) start near 0.5), and with TE
    whose gates start at exactly 1 (2 sigma(z), last conv zero-initialised).
"""

from __future__ import annotations

import functools
import time

import torch
import torch.nn as nn
from einops import reduce
from torch.utils.data import DataLoader, TensorDataset

from stconv_lite import config
from stconv_lite.analysis.complexity import count_macs
from stconv_lite.analysis.interaction import interaction_field
from stconv_lite.experiments import stats
from stconv_lite.experiments.registry import Bound, Compare, Experiment, register
from stconv_lite.experiments.report import per_seed
from stconv_lite.experiments.tasks import confusion_matrix, train_and_evaluate, unit_result
from stconv_lite.ops.ctconv import CTModule, make_module
from stconv_lite.ops.tensor_excitation import TensorExcitation
from stconv_lite.train import fit, predict

__all__ = [
    "OFFSET",
    "CLIP_SHAPE",
    "MARGIN",
    "DOT_CLASSES",
    "apparent_motion_pairs",
    "DotReader",
    "INTERACTION_ARMS",
    "interaction_module",
    "field_reaches",
    "twin_logit_change",
    "IdentityStartExcitation",
    "identity_start_excitation",
    "TwoBlockNet",
    "NETWORK_ARMS",
    "network",
    "TABLE_2A",
    "TABLE_2G",
    "short_verdict",
    "ranking_report",
]

# --------------------------------------------------------------------------------------------------
# The interaction task: two dots, the later one (dt, dh, +dw) or (dt, dh, -dw) from the earlier one.
# --------------------------------------------------------------------------------------------------

OFFSET = (3, 0, 3)  # (dt, dh, dw) from the earlier dot to the later one, in the "moves right" class
CLIP_SHAPE = (13, 1, 16)  # (T, H, W): one row of 16 pixels per frame; the offset has no vertical part
MARGIN = 4  # every dot is this far from every border: twice the field radius of the 3x3x3 and K=2 modules
DOT_CLASSES = ["moves right (later dot 3 px right)", "moves left (later dot 3 px left)"]
CHANNELS = 16  # 4 x 4 for K = 2: tensor excitation needs every sub-dimension to be a multiple of 4


def apparent_motion_pairs(pairs: int, seed: int, offset=OFFSET, shape=CLIP_SHAPE, margin: int = MARGIN):
    """``2 * pairs`` clips of two dots: clip ``2k`` moves right (label 0), clip ``2k + 1`` is its twin (label 1).

    Pair ``k`` draws a start ``(t0, h0, w0)`` (at least ``margin`` from every border) and two
    brightnesses ``a, b`` in [0.5, 1.5). Right: ``a`` at ``(t0, h0, w0)``, ``b`` at
    ``(t0 + dt, h0 + dh, w0 + dw)``. Left: ``a`` at ``(t0, h0, w0 + dw)``, ``b`` at ``(t0 + dt, h0 + dh, w0)``.
    Both clips have the same dots in the same frames and the same bounding box; only the direction
    of the displacement differs. Everything else is zero.

    Returns:
        clips (2 * pairs, 1, T, H, W) float32 and labels (2 * pairs,) int64.
    """
    (dt, dh, dw), (t, h, w) = offset, shape
    if min(dt, dh, dw) < 0:
        raise ValueError(f"offset must be non-negative (dt, dh, dw); got {offset}")
    room = [size - 2 * margin - step for size, step in zip(shape, offset)]
    if shape[1] == 1 and dh == 0:
        room[1] = 1  # a one-row clip: the dots sit on its only row
    if pairs < 1 or min(room) < 1:
        raise ValueError(f"need pairs >= 1 and room for the offset {offset} within margin {margin} of {shape}")
    g = torch.Generator().manual_seed(seed)
    low = [margin, 0 if shape[1] == 1 and dh == 0 else margin, margin]
    t0, h0, w0 = (low[i] + torch.randint(room[i], (pairs,), generator=g) for i in range(3))
    a, b = 0.5 + torch.rand(pairs, generator=g), 0.5 + torch.rand(pairs, generator=g)
    clips = torch.zeros(2 * pairs, 1, t, h, w)
    right, left = torch.arange(0, 2 * pairs, 2), torch.arange(1, 2 * pairs, 2)
    clips[right, 0, t0, h0, w0] = a
    clips[right, 0, t0 + dt, h0 + dh, w0 + dw] = b
    clips[left, 0, t0, h0, w0 + dw] = a
    clips[left, 0, t0 + dt, h0 + dh, w0] = b
    return clips, torch.arange(2 * pairs) % 2


class DotReader(nn.Module):
    """A point-wise lift to C channels, one spatiotemporal module, a point-wise ReLU layer, the max over positions, a linear layer.

    Only ``module`` sees neighbouring voxels; the lift and the head are 1x1x1 and the max treats
    every position alike, so the model relates two voxels only if one of the module's output units
    sees both. (The point-wise head only makes the conjunction easier to learn; it adds no reach.)
    """

    def __init__(self, module: nn.Module, channels: int = CHANNELS, classes: int = 2) -> None:
        super().__init__()
        self.lift = nn.Conv3d(1, channels, 1)
        self.module = module
        self.head = nn.Sequential(nn.Conv3d(channels, 2 * channels, 1), nn.ReLU(inplace=True))
        self.fc = nn.Linear(2 * channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shapes: x (B, 1, T, H, W) -> logits (B, classes)."""
        features = self.head(self.module(self.lift(x)))
        return self.fc(reduce(features, "b c t h w -> b c", "max"))


def _serial_ct(channels: int) -> CTModule:
    # Table 2c "serial": spatial then temporal on the same sub-dimension, for each sub-dimension.
    return CTModule(
        channels,
        factors=2,
        order=(1, 1, 0, 0),
        kernels=[((1, 3, 3),), ((3, 1, 1),)] * 2,
        pointwise=False,
        excitation=False,
    )


INTERACTION_ARMS = {
    "c3d": ("one full 3x3x3 conv (C3D module)", lambda c: make_module("c3d", c)),
    "ct_parallel": ("CT module, K = 2, parallel S + T (eq. 5; table 2a)", lambda c: make_module("ct", c)),
    "ct_parallel_te": (
        "CT module, K = 2, with point-wise conv and TE (the full module)",
        lambda c: make_module("ct_full", c),
    ),
    "ct_parallel_k3": ("CT module, K = 3, parallel", lambda c: make_module("ct", c, factors=3)),
    "ct_serial": ("CT module, K = 2, serial S then T (table 2c)", _serial_ct),
    "c3d_x2": ("two stacked 3x3x3 convs", lambda c: nn.Sequential(make_module("c3d", c), make_module("c3d", c))),
}


def interaction_module(arm: str, channels: int = CHANNELS) -> nn.Module:
    """The C -> C module of an arm of ``ch04.interaction``."""
    if arm not in INTERACTION_ARMS:
        raise ValueError(f"arm must be one of {sorted(INTERACTION_ARMS)}; got {arm!r}")
    return INTERACTION_ARMS[arm][1](channels)


def field_reaches(module: nn.Module, channels: int, offset=OFFSET, size=(13, 13, 13)) -> bool:
    """Whether one output unit of ``module`` can see two voxels ``offset`` apart: ``offset`` in F - F.

    F is the measured receptive field of interaction (:func:`~stconv_lite.analysis.interaction.interaction_field`,
    any channel), as a set of (t, h, w) displacements from the output unit; the unit at ``p`` sees
    ``u`` and ``u + offset`` iff both ``u - p`` and ``u - p + offset`` are in F.
    """
    field = interaction_field(module, channels, size=size).any(dim=0)
    centre = torch.tensor([s // 2 for s in size])
    points = {tuple((p - centre).tolist()) for p in field.nonzero()}
    return any(tuple(a + o for a, o in zip(p, offset)) in points for p in points)


@torch.no_grad()
def twin_logit_change(model: nn.Module, clips: torch.Tensor, device="cpu", batch: int = 256) -> float:
    """Largest |logit(clip 2k) - logit(clip 2k + 1)| over the pairs, in float32 (0 up to rounding if no unit sees both dots)."""
    model.to(device).eval()
    logits = torch.cat([model(clips[i : i + batch].to(device)).float().cpu() for i in range(0, len(clips), batch)])
    return (logits[0::2] - logits[1::2]).abs().max().item()


def _stop_when_perfect(end) -> bool:
    """Stop once validation accuracy is 100 %: there is nothing left to learn on this task."""
    return bool(end.history.val_acc) and end.history.val_acc[-1] >= 1.0


def _interaction_unit(arm: str, seed: int, settings: dict, device) -> dict:
    device = torch.device(device)
    # Same clips for every arm of a seed (paired design); the three splits are drawn independently.
    splits = {
        name: apparent_motion_pairs(settings[f"{name}_pairs"], 1000 * seed + i)
        for i, name in enumerate(("train", "val", "test"))
    }
    batch = settings.get("batch_size", 32)
    loaders = {
        name: DataLoader(
            TensorDataset(*data),
            batch_size=batch if name == "train" else 512,
            shuffle=name == "train",
            generator=torch.Generator().manual_seed(seed),
        )
        for name, data in splits.items()
    }
    config.seed_everything(seed)
    model = DotReader(interaction_module(arm))
    began = time.perf_counter()
    history = fit(
        model,
        loaders["train"],
        settings["epochs"],
        val_loader=loaders["val"],
        lr=settings.get("lr", 3e-3),
        device=device,
        progress=False,
        seed=seed,
        patience=settings.get("patience"),
        restore_best=True,
        callbacks=(_stop_when_perfect,),
    )
    train_seconds = time.perf_counter() - began
    logits, labels = predict(model, loaders["test"], device=device)
    matrix = confusion_matrix(logits, labels, 2)
    with torch.device("meta"):
        macs = count_macs(interaction_module(arm), torch.empty(1, CHANNELS, *CLIP_SHAPE))
    metrics = {
        "test_accuracy": (logits.argmax(1) == labels).float().mean().item(),
        "best_val_accuracy": history.best_val_acc,
        "train_seconds": train_seconds,
        "steps": float(history.total_steps),
        "twin_max_logit_change": twin_logit_change(model, splits["test"][0], device),
        "module_macs_per_voxel": macs / (CLIP_SHAPE[0] * CLIP_SHAPE[1] * CLIP_SHAPE[2]),
    }
    return unit_result(model, history, matrix, metrics)


_INTERACTION_SETTINGS = {
    "quick": dict(train_pairs=32, val_pairs=16, test_pairs=32, epochs=2, batch_size=32, lr=1e-2),
    "small": dict(train_pairs=256, val_pairs=32, test_pairs=64, epochs=25, batch_size=32, lr=1e-2),
    "full": dict(train_pairs=512, val_pairs=128, test_pairs=512, epochs=30, batch_size=64, lr=1e-2),
}

INTERACTION = register(
    Experiment(
        name="ch04.interaction",
        chapter=4,
        title="Can one module relate two dots 3 frames and 3 pixels apart?",
        question=(
            "Which single modules can tell a dot pair moving right from its mirror twin, when the later dot "
            "is 3 frames and 3 pixels from the earlier one?"
        ),
        paper_claim=(
            "A CT module with K sub-dimensions lets features interact over a (2K+1)^3 field, 5x5x5 for "
            "K = 2, against 3x3x3 for C3D, R(2+1)D and CSN (table 1, sec. 3.1)."
        ),
        arms=tuple(INTERACTION_ARMS),
        settings={
            scale: {
                "offset": list(OFFSET),
                "clip_shape": list(CLIP_SHAPE),
                "margin": MARGIN,
                "channels": CHANNELS,
                **values,
            }
            for scale, values in _INTERACTION_SETTINGS.items()
        },
        run_unit=_interaction_unit,
        comparisons=(
            Compare("ct_serial", "ct_parallel"),
            Compare("c3d_x2", "ct_parallel"),
            Compare("ct_parallel_k3", "ct_parallel"),
            Compare("ct_parallel_te", "ct_parallel"),
        ),
        bounds=(
            Bound("ct_parallel", 0.5, "the 50 % of a model that cannot see both dots"),
            Bound("c3d", 0.5, "the 50 % of a model that cannot see both dots"),
        ),
    )
)


# --------------------------------------------------------------------------------------------------
# Tensor excitation whose gates start at exactly 1.
# --------------------------------------------------------------------------------------------------


class IdentityStartExcitation(TensorExcitation):
    """Tensor excitation with gate ``2 sigma(z)`` and the last conv zero-initialised: it starts as the identity.

    The paper's gate sigma(z) lies in (0, 1) and starts near 0.5, so a fresh TE halves the features
    the following layers see. This one starts at exactly 1 (as TAdaConv's calibration, ch. 5) and
    may also amplify (range (0, 2)).
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        nn.init.zeros_(self.expand.weight)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        """2 sigma(TSConv(Pool(x))): shapes as :meth:`TensorExcitation.gate`."""
        return 2 * super().gate(x)


def identity_start_excitation(module: nn.Module) -> nn.Module:
    """Replace every :class:`TensorExcitation` inside ``module`` by an :class:`IdentityStartExcitation` (in place)."""
    for name, child in list(module.named_children()):
        if isinstance(child, TensorExcitation) and not isinstance(child, IdentityStartExcitation):
            kernel = child.reduce.kernel_size
            size = max(kernel)
            fresh = IdentityStartExcitation(
                child.channels, child.groups, child.kind, child.channels // child.reduce.out_channels, size
            )
            setattr(module, name, fresh)
        else:
            identity_start_excitation(child)
    return module


# --------------------------------------------------------------------------------------------------
# One small network in which the compared module is the only operator that sees across frames.
# --------------------------------------------------------------------------------------------------


def _frame_conv(channels_in: int, channels_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(channels_in, channels_out, (1, 3, 3), (1, stride, stride), (0, 1, 1), bias=False),
        nn.BatchNorm3d(channels_out),
        nn.ReLU(inplace=True),
    )


class TwoBlockNet(nn.Module):
    """Frame-wise stem (stride 2), a residual module block, a frame-wise stride-2 conv, a second block, mean, linear.

    Only the two ``module`` blocks see across frames, so swapping the module swaps the network's
    whole temporal model, as table 2a swaps the module inside the same 7 blocks of ResNet-50.
    """

    def __init__(self, make: callable, classes: int = 10, channels: int = CHANNELS, in_channels: int = 1) -> None:
        super().__init__()
        self.stem = _frame_conv(in_channels, channels, 2)
        self.block1 = make(channels)
        self.down = _frame_conv(channels, channels, 2)
        self.block2 = make(channels)
        self.fc = nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shapes: x (B, 1, T, H, W) -> logits (B, classes)."""
        x = self.stem(x)
        x = torch.relu(x + self.block1(x))
        x = self.down(x)
        x = torch.relu(x + self.block2(x))
        return self.fc(reduce(x, "b c t h w -> b c", "mean"))


def _frame_2d(channels: int) -> CTModule:
    # A full 1x3x3 conv on every frame: the same module family, but blind to the order of frames.
    return CTModule(
        channels, factors=(channels,), order=(0,), kernels=[((1, 3, 3),)], pointwise=False, excitation=False
    )


NETWORK_ARMS = {
    "frame_2d": ("per-frame 1x3x3 conv (TSN-like, order-blind)", _frame_2d),
    "c3d": ("C3D module", lambda c: make_module("c3d", c)),
    "r2plus1d": ("R(2+1)D module", lambda c: make_module("r2plus1d", c)),
    "csn": ("CSN module", lambda c: make_module("csn", c)),
    "ct": ("CT module (plain, table 2a)", lambda c: make_module("ct", c)),
    "ct_pw": ("CT + point-wise conv", lambda c: make_module("ct_pw", c)),
    "ct_pw_te": ("CT + PW + TE (gates start near 0.5)", lambda c: make_module("ct_full", c)),
    "ct_pw_te_id": ("CT + PW + TE starting at 1", lambda c: identity_start_excitation(make_module("ct_full", c))),
}


def network(arm: str, classes: int = 10, channels: int = CHANNELS) -> TwoBlockNet:
    """The :class:`TwoBlockNet` of an arm of ``ch04.modules`` or ``ch04.excitation``."""
    if arm not in NETWORK_ARMS:
        raise ValueError(f"arm must be one of {sorted(NETWORK_ARMS)}; got {arm!r}")
    return TwoBlockNet(NETWORK_ARMS[arm][1], classes, channels)


def _network_unit(arm: str, seed: int, settings: dict, device) -> dict:
    unit = train_and_evaluate(functools.partial(network, arm), settings, seed, device)
    with torch.device("meta"):
        macs = count_macs(
            network(arm),
            torch.empty(1, 1, settings.get("frames", 16), settings.get("size", 28), settings.get("size", 28)),
        )
    unit["metrics"]["macs_per_clip"] = float(macs)
    return unit


_NETWORK_DATA = {
    # Every arm gets the same epoch budget (no early stopping); the best-validation epoch is evaluated.
    "quick": dict(clips_per_class=4, frames=8, size=14, epochs=1, batch_size=16, lr=3e-3),
    "small": dict(clips_per_class=32, val_clips_per_class=16, frames=8, size=14, epochs=10, batch_size=32, lr=3e-3),
    "full": dict(clips_per_class=120, val_clips_per_class=30, frames=16, size=28, epochs=20, batch_size=64, lr=3e-3),
}
_NETWORK_SETTINGS = {
    scale: {"label": "reversal", "channels": CHANNELS, **values} for scale, values in _NETWORK_DATA.items()
}

MODULES = register(
    Experiment(
        name="ch04.modules",
        chapter=4,
        title="C3D, R(2+1)D, CSN and CT modules in the same network, when the direction of time is the label",
        question=(
            "Does the plain CT module beat C3D, R(2+1)D and CSN modules placed in the same network on "
            "label='reversal', and how far above the 50 % of an order-blind network is each?"
        ),
        paper_claim=(
            "Table 2a (Something-Something V1, ResNet-50 from ImageNet): CT 47.3 > R(2+1)D 47.0 > CSN 46.8 "
            "> C3D 46.1 top-1, at 36.3 / 45.8 / 35.6 / 59.9 GFLOPs."
        ),
        arms=("frame_2d", "c3d", "r2plus1d", "csn", "ct"),
        settings=_NETWORK_SETTINGS,
        run_unit=_network_unit,
        comparisons=(Compare("ct", "c3d"), Compare("ct", "r2plus1d"), Compare("ct", "csn"), Compare("ct", "frame_2d")),
        bounds=(Bound("frame_2d", 0.5, "the 50 % bound of an order-blind network"),),
    )
)

EXCITATION = register(
    Experiment(
        name="ch04.excitation",
        chapter=4,
        title="Tensor excitation, with gates that start near 0.5 and with gates that start at 1",
        question=(
            "Does tensor excitation improve a CT + point-wise network on label='reversal', and does it "
            "matter whether its gates start near 0.5 or at exactly 1?"
        ),
        paper_claim=(
            "Table 2g (Something-Something V1): CT + PWConv 48.0 -> + TE 50.1 top-1 (+2.1) at 37.2 -> 37.3 GFLOPs."
        ),
        arms=("ct_pw", "ct_pw_te", "ct_pw_te_id"),
        settings=_NETWORK_SETTINGS,
        run_unit=_network_unit,
        comparisons=(Compare("ct_pw_te", "ct_pw"), Compare("ct_pw_te_id", "ct_pw_te"), Compare("ct_pw_te_id", "ct_pw")),
    )
)


# --------------------------------------------------------------------------------------------------
# Sentences about these runs (generated; the notebook displays them).
# --------------------------------------------------------------------------------------------------

TABLE_2A = {"ct": 47.3, "r2plus1d": 47.0, "csn": 46.8, "c3d": 46.1}  # top-1 on Something-Something V1
TABLE_2G = {"ct_pw": 48.0, "ct_pw_te": 50.1}


def short_verdict(comparison: dict) -> str:
    """E.g. ``"**ct better than c3d**: +3.1 points (95 % interval +1.0 to +5.2, 3 seeds)"`` (accuracy metrics)."""
    c = comparison
    if c["verdict"] == stats.TOO_FEW:
        return f"**{c['verdict_text']}** ({c['n']} seed)"
    return (
        f"**{c['verdict_text']}**: {100 * c['mean_difference']:+.1f} points "
        f"(95 % interval {100 * c['low']:+.1f} to {100 * c['high']:+.1f}, {c['n']} seeds)"
    )


def ranking_report(run: dict, paper: dict, labels: dict | None = None, metric: str = "test_accuracy") -> str:
    """The paper's order of ``paper``'s arms next to this run's, and every pair ordered differently, with its paired verdict."""
    labels = labels or {}
    name = lambda arm: labels.get(arm, arm)  # noqa: E731
    means = {arm: sum(per_seed(run, arm, metric)) / len(per_seed(run, arm, metric)) for arm in paper}
    theirs = sorted(paper, key=lambda a: -paper[a])
    ours = sorted(paper, key=lambda a: -means[a])
    lines = [
        f"The paper orders them {' > '.join(name(a) for a in theirs)} "
        f"({', '.join(f'{paper[a]:.1f}' for a in theirs)} top-1); this run's means order them "
        f"{' > '.join(name(a) for a in ours)} ({', '.join(f'{100 * means[a]:.1f} %' for a in ours)})."
    ]
    flipped = [(a, b) for i, a in enumerate(theirs) for b in theirs[i + 1 :] if means[a] < means[b]]
    if not flipped:
        lines.append(
            "Every pair is in the paper's order here (by the means; the paired verdicts say which gaps are detectable)."
        )
    else:
        lines.append(f"{len(flipped)} of {len(paper) * (len(paper) - 1) // 2} pairs are in the opposite order:")
        for a, b in flipped:
            c = stats.paired_comparison(
                per_seed(run, b, metric), per_seed(run, a, metric), a=name(b), b=name(a), metric=metric
            ).as_dict()
            lines.append(f"- paper {name(a)} > {name(b)}; here {short_verdict(c)}.")
    return "\n".join(lines)
