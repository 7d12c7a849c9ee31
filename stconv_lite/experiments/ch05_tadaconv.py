r"""Chapter 5 experiments: which parts of TAdaConv / TAda2D let a frame-wise 2D network read the order of frames?

Both experiments use ``label="reversal"`` of Video-MNIST: five motions x {forward, backward}, each
backward clip being a forward clip with its frames reversed, so any model whose prediction does not
change when a clip is reversed is at most 50 % accurate **by construction** (see
:mod:`stconv_lite.data.video_mnist`).

That bound sorts the rows of the paper's table 3 before any training, by symmetry alone:

* **TSN** scores every frame with the same 2D network and averages over time: any permutation of
  the frames gives the same logits.
* **TAdaConv with kernels (1, 1) and the global descriptor** computes $\alpha_t$ from frame $t$'s own
  descriptor and the clip's mean over all frames: again the same for any permutation.
* **TSN + temporal aggregation** (eq. (7) without TAdaConv, table 3b's third row): the average over
  3 neighbouring frames is symmetric in time, so reversing the clip reverses every feature map and
  the time-averaging head gives the same logits. Reversal-blind (not shuffle-blind).
* **TAdaConv with kernels (3, 3)**: the generator's learned 1D temporal kernels need not be
  symmetric; this is the only part of TAda2D that can tell forwards from backwards.

So the first experiment asks whether the rows that *can* read the order do, and by how much; the
second is table 2's plug-in question (TAdaConv inside an R(2+1)D, built as in table A1 of the
paper: the TSN bottleneck with a $3 \times 1 \times 1$ temporal conv after its $1 \times 3 \times 3$).

Every unit also measures how the trained model's predictions change when its test clips are
time-reversed or their frames shuffled (``reversal_agreement``, ``shuffle_agreement``) and the
largest logit change (``reversal_max_logit_change``, ``shuffle_max_logit_change``): exactly 0 up to
float rounding for the models that are invariant by construction, which the chapter asserts.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn

from stconv_lite.analysis.order import reverse_time, shuffle_frames
from stconv_lite.experiments.registry import Bound, Compare, Experiment, register
from stconv_lite.experiments.report import comparison, per_seed
from stconv_lite.experiments.tasks import loaders_for, train_and_evaluate
from stconv_lite.models import create
from stconv_lite.models.tsn import BatchNormReLU3d, Bottleneck, TSNResNet, frame_conv3x3
from stconv_lite.ops.tadaconv import TAdaConvWithGenerator
from stconv_lite.ops.temporal_aggregation import TemporalAggregation

__all__ = [
    "ABLATION_ARMS",
    "ABLATION_LABELS",
    "PLUGIN_ARMS",
    "PLUGIN_LABELS",
    "ORDER_BLIND",
    "REVERSAL_BLIND",
    "INVARIANCE_TOLERANCE",
    "build_arm",
    "pair_and_direction",
    "tsn_aggregation_small",
    "r2plus1d_tsn_small",
    "order_metrics",
    "ABLATION",
    "PLUGIN",
]

# Settings per scale ("small": both experiments together fit the CPU book build, see the chapter).
_DATA = {
    "quick": dict(
        label="reversal",
        clips_per_class=4,
        test_clips_per_class=10,
        frames=8,
        size=20,
        epochs=1,
        width=4,
        batch_size=16,
        lr=3e-3,
    ),
    "small": dict(
        label="reversal",
        clips_per_class=40,
        frames=8,
        size=20,
        epochs=12,
        patience=None,
        width=8,
        batch_size=32,
        lr=6e-3,
    ),
    # GPU: these models are too small to fill one, so a step costs about the same at any batch size up
    # to a few hundred clips; 5x the clips of "small", twice the width, full-size frames, ~160 steps.
    "full": dict(
        label="reversal",
        clips_per_class=200,
        test_clips_per_class=100,
        frames=8,
        size=28,
        epochs=10,
        patience=None,
        width=16,
        batch_size=128,
        lr=4e-3,
    ),
}

# The rows of table 3 (a: calibration generation, b: aggregation), as (model name, options).
ABLATION_ARMS = {
    "tsn": ("tsn50_2d_small", {}),
    "tada_k11_g": ("tsn50_tada2d_small", dict(kernel_sizes=(1, 1), global_context=True, aggregation=None)),
    "tsn_aggr": ("tsn_aggregation_small", {}),
    "tada_k33_g": ("tsn50_tada2d_small", dict(kernel_sizes=(3, 3), global_context=True, aggregation=None)),
    "tada2d": ("tsn50_tada2d_small", {}),
}
ABLATION_LABELS = {
    "tsn": "TSN",
    "tada_k11_g": "TAdaConv, K=(1,1) + G",
    "tsn_aggr": "TSN + aggregation",
    "tada_k33_g": "TAdaConv, K=(3,3) + G",
    "tada2d": "TAda2D (K=(3,3) + G + aggregation)",
}

PLUGIN_ARMS = {
    "r2plus1d": ("r2plus1d_tsn_small", {}),
    "tada_r2plus1d": ("r2plus1d_tsn_small", dict(tada=True)),
}
PLUGIN_LABELS = {"r2plus1d": "R(2+1)D", "tada_r2plus1d": "R(2+1)D + TAdaConv (2d)"}

# Arms whose logits cannot change under any frame permutation / under time reversal, by construction.
ORDER_BLIND = ("tsn", "tada_k11_g")
REVERSAL_BLIND = ("tsn", "tada_k11_g", "tsn_aggr")
# float32 rounding of a mean over T in another order: far below any change a model could use.
INVARIANCE_TOLERANCE = 1e-4


def _fresh_aggregation(model: nn.Module) -> nn.Module:
    for module in model.modules():
        if isinstance(module, TemporalAggregation):  # the network's BN init set BN_2 to 1: back to 0
            module.reset_parameters()
    return model


def tsn_aggregation_small(
    num_classes: int, in_channels: int = 1, *, width: int = 16, layers: tuple[int, ...] = (1, 1, 1, 1)
) -> TSNResNet:
    """``tsn50_2d_small`` whose BN + ReLU after every 3x3 conv is the temporal aggregation of eq. (7).

    Table 3b's "FA without TAdaConv" row ("x, Avg., Sc., SepBN", 57.0 on SSV2). Like TAda2D, the
    aggregation's $\\mathrm{BN}_2$ starts at zero, so a fresh model computes exactly what TSN computes.
    """

    def block(cin: int, mid: int, stride: int, *, stage: int, index: int) -> nn.Module:
        return Bottleneck(cin, mid, stride, spatial_norm=lambda c: TemporalAggregation(c, 3, mode="sepbn"))

    return _fresh_aggregation(TSNResNet(num_classes, in_channels, layers, width, block=block))


class _SpatialThenTemporal(nn.Sequential):
    """Table A1's R(2+1)D pair inside a bottleneck: a 1x3x3 conv (or a TAdaConv), BN, ReLU, a 3x1x1 conv."""

    def __init__(self, cin: int, cout: int, stride: int, tada: bool) -> None:
        spatial = (
            TAdaConvWithGenerator(cin, cout, 3, stride=stride, padding=1, bias=False)
            if tada
            else frame_conv3x3(cin, cout, stride)
        )
        super().__init__(
            spatial,
            nn.BatchNorm3d(cout),
            nn.ReLU(inplace=True),
            nn.Conv3d(cout, cout, (3, 1, 1), padding=(1, 0, 0), bias=False),
        )


def r2plus1d_tsn_small(
    num_classes: int,
    in_channels: int = 1,
    *,
    width: int = 16,
    tada: bool = False,
    layers: tuple[int, ...] = (1, 1, 1, 1),
) -> TSNResNet:
    """R(2+1)D of table A1 at ``tsn50_2d_small``'s size: every bottleneck's 3x3 is followed by a 3x1x1 temporal conv.

    ``tada=True`` makes the spatial 1x3x3 a TAdaConv with its generator (table 2's "✓(2d)" row);
    everything else, including the temporal conv and its initialisation law, is the same.
    """

    def block(cin: int, mid: int, stride: int, *, stage: int, index: int) -> nn.Module:
        return Bottleneck(
            cin,
            mid,
            stride,
            spatial_conv=lambda i, o, s: _SpatialThenTemporal(i, o, s, tada),
            spatial_norm=BatchNormReLU3d,
        )

    model = TSNResNet(num_classes, in_channels, layers, width, block=block)
    for module in model.modules():
        if isinstance(module, TAdaConvWithGenerator):  # TSN's init law for the 3x3, as TAda2D does
            nn.init.kaiming_normal_(module.conv.weight, mode="fan_out", nonlinearity="relu")
    return model


_LOCAL_MODELS = {"tsn_aggregation_small": tsn_aggregation_small, "r2plus1d_tsn_small": r2plus1d_tsn_small}


def build_arm(arm: str, width: int, num_classes: int = 10, in_channels: int = 1) -> nn.Module:
    """The model of one arm of either experiment, freshly initialised."""
    name, options = {**ABLATION_ARMS, **PLUGIN_ARMS}[arm]
    if name in _LOCAL_MODELS:
        return _LOCAL_MODELS[name](num_classes, in_channels, width=width, **options)
    return create(name, num_classes=num_classes, in_channels=in_channels, width=width, **options)


@torch.no_grad()
def order_metrics(model: nn.Module, loader, device) -> dict[str, float]:
    """How predictions and logits change when every test clip is reversed, or its frames shuffled.

    One pass per version of the clips (plain, reversed, shuffled with one fixed permutation):
    ``reversal_agreement`` / ``shuffle_agreement`` are the fractions of clips whose predicted class
    is unchanged; ``*_max_logit_change`` the largest absolute change of any logit (eval mode).
    """
    model.to(device).eval()
    plain, reversed_, shuffled = [], [], []
    for batch in loader:
        x = batch[0].to(device)
        plain.append(model(x).float().cpu())
        reversed_.append(model(reverse_time(x)).float().cpu())
        shuffled.append(model(shuffle_frames(x, generator=torch.Generator().manual_seed(0))).float().cpu())
    p, r, s = torch.cat(plain), torch.cat(reversed_), torch.cat(shuffled)
    return {
        "reversal_agreement": (p.argmax(1) == r.argmax(1)).float().mean().item(),
        "shuffle_agreement": (p.argmax(1) == s.argmax(1)).float().mean().item(),
        "reversal_max_logit_change": (p - r).abs().max().item(),
        "shuffle_max_logit_change": (p - s).abs().max().item(),
    }


def pair_and_direction(confusion: list[list[int]]) -> dict[str, float]:
    """Split the test accuracy of a ``reversal`` run into *which motion* and *which direction*.

    Classes ``2m`` and ``2m + 1`` are motion ``m`` forwards and backwards. ``motion_pair_accuracy``
    counts a prediction as right when it names the right motion in either direction;
    ``direction_accuracy`` is the fraction of those whose direction is right too, so
    ``test_accuracy = motion_pair_accuracy x direction_accuracy``.

    A reversal-blind model predicts the same class for a test clip and for its partner (the same
    frames reversed; the test split holds both), so whenever it names the right motion it is right
    on exactly one of the two: its ``direction_accuracy`` is **exactly 0.5**. (0.5 is also returned
    when no prediction names the right motion: no evidence either way.)
    """
    size = len(confusion)
    if size % 2:
        raise ValueError(f"reversal confusion matrices have an even number of classes; got {size}")
    total = sum(sum(row) for row in confusion)
    correct = sum(confusion[i][i] for i in range(size))
    in_pair = sum(confusion[i][j] for i in range(size) for j in range(size) if i // 2 == j // 2)
    return {
        "motion_pair_accuracy": in_pair / total if total else 0.0,
        "direction_accuracy": correct / in_pair if in_pair else 0.5,
    }


def _unit(arm: str, seed: int, settings: dict, device) -> dict:
    build = functools.partial(build_arm, arm, settings["width"])
    result = train_and_evaluate(build, settings, seed, device)
    test_loader = loaders_for(settings, seed)[2]
    result["metrics"].update(pair_and_direction(result["confusion"]))
    losses = result["curves"]["train_loss"]
    result["metrics"]["mean_train_loss"] = sum(losses) / len(losses)  # the area under the loss curve (fig. A2)
    result["metrics"].update(order_metrics(result["model"], test_loader, device))
    return result


ABLATION = register(
    Experiment(
        name="ch05.ablation",
        chapter=5,
        title="The rows of table 3 when the direction of time is the label",
        question=(
            "Which parts of TAda2D (local temporal context, global descriptor, temporal aggregation) let a "
            "frame-wise 2D network tell a motion from its reverse?"
        ),
        paper_claim=(
            "Local temporal context in the calibration generator is what makes TAdaConv temporal "
            "(table 3a: 54.4 -> 59.2 % with G, 36.8 -> 57.8 % without); the aggregation adds on top "
            "(table 3b: 59.2 -> 63.8 %); TAda2D beats TSN by 31.8 points on SSV2 (Huang et al. 2022, sec. 5.2)."
        ),
        arms=tuple(ABLATION_ARMS),
        settings=_DATA,
        run_unit=_unit,
        comparisons=(
            Compare("tada2d", "tsn"),
            Compare("tada_k33_g", "tada_k11_g", "direction_accuracy"),
            Compare("tada_k33_g", "tada_k11_g"),
            Compare("tada2d", "tada_k33_g"),
            Compare("tsn_aggr", "tsn"),
            Compare("tada2d", "tsn", "mean_train_loss", higher_is_better=False),
        ),
        bounds=tuple(
            Bound(arm, 0.5, "the 50 % of a reversal-blind model", "direction_accuracy") for arm in ABLATION_ARMS
        ),
    )
)

PLUGIN = register(
    Experiment(
        name="ch05.plugin",
        chapter=5,
        title="TAdaConv plugged into an R(2+1)D (table 2), on the direction of time",
        question="Does calibrating the spatial convs of an R(2+1)D with TAdaConv improve it when the label is the direction of time?",
        paper_claim=(
            "TAdaConv improves R(2+1)D when it replaces its spatial convs: +1.56 points on K400 and +1.80 "
            "on SSV2 (table 2, 'checkmark (2d)'), at negligible extra FLOPs (Huang et al. 2022, sec. 5.1)."
        ),
        arms=tuple(PLUGIN_ARMS),
        settings=_DATA,
        run_unit=_unit,
        comparisons=(Compare("tada_r2plus1d", "r2plus1d"), Compare("tada_r2plus1d", "r2plus1d", "direction_accuracy")),
        bounds=tuple(
            Bound(arm, 0.5, "the 50 % of a reversal-blind model", "direction_accuracy") for arm in PLUGIN_ARMS
        ),
    )
)


# --------------------------------------------------------------------------------------------------
# Sentences and tables of the chapter, generated from a run (live or stored): nothing here is typed
# about a result. The paper's numbers are the only constants.

# SSV2 top-1 of table 3 (a, b) for our rows, and table 2's R(2+1)D plug-in gains (K400, SSV2).
PAPER_TABLE3 = {"tsn": 32.0, "tada_k11_g": 54.4, "tsn_aggr": 57.0, "tada_k33_g": 59.2, "tada2d": 63.8}
PAPER_TABLE2_GAIN = {"K400": "1.56", "SSV2": "1.80"}  # as printed
BY_CONSTRUCTION = {
    "tsn": "blind to any frame order",
    "tada_k11_g": "blind to any frame order",
    "tsn_aggr": "blind to reversal",
    "tada_k33_g": "can read the order",
    "tada2d": "can read the order",
    "r2plus1d": "can read the order",
    "tada_r2plus1d": "can read the order",
}


def _points(value: float) -> str:
    return f"{100 * value:+.1f} points"


def _pick(c: dict, agrees: str, null: str, against: str) -> str:
    """The interpretation that the verdict of ``c`` supports (``agrees`` = the paper's direction)."""
    from stconv_lite.experiments import stats

    return {stats.BETTER: agrees, stats.NO_DIFFERENCE: null, stats.WORSE: against}.get(c["verdict"], null)


def ablation_story(run: dict) -> str:
    """The chapter's reading of ``ch05.ablation``, one bullet per claim of table 3, from the verdicts."""
    from stconv_lite.experiments.report import comparison_sentence, pct

    s = run["summaries"]
    local = comparison(run, "tada_k33_g", "tada_k11_g", "direction_accuracy")
    full = comparison(run, "tada2d", "tsn")
    on_top = comparison(run, "tada2d", "tada_k33_g")
    alone = comparison(run, "tsn_aggr", "tsn")
    lines = [
        _pick(
            local,
            "**Local temporal context is what reads the order, as table 3a says.** ",
            "**Not shown at this scale that local context reads the order** (table 3a says it does). ",
            "**Against table 3a:** ",
        )
        + f"With kernels (3, 3) the direction accuracy is {pct(local['a_mean'])}; with kernels (1, 1) it is "
        f"{pct(local['b_mean'])}, as it must be for a model blind to frame order. " + comparison_sentence(local),
        _pick(
            full,
            f"**TAda2D is more accurate than TSN**, as in table 3b (+31.8 points on SSV2); here the gain is "
            f"{_points(full['mean_difference'])}. ",
            "**No detectable difference between TAda2D and TSN** at this scale (table 3b: +31.8 points on SSV2). ",
            "**TSN is more accurate than TAda2D here**, against table 3b (+31.8 points on SSV2). ",
        )
        + f"TSN's {pct(full['b_mean'])} is its motion-pair accuracy ({pct(s['tsn']['motion_pair_accuracy']['mean'])}) "
        f"times a direction accuracy of exactly 50 %. " + comparison_sentence(full),
        _pick(
            on_top,
            "**The aggregation adds to TAdaConv**, as table 3b says (+4.6 points on SSV2). ",
            "**No detectable gain from adding the aggregation to TAdaConv** at this scale (table 3b: +4.6 points). ",
            "**The aggregation costs accuracy on top of TAdaConv here**, against table 3b (+4.6 points). ",
        )
        + comparison_sentence(on_top),
        _pick(
            alone,
            "**The aggregation alone helps TSN** (table 3b: +25.0 points on SSV2), ",
            "**No detectable gain from the aggregation alone** (table 3b: +25.0 points on SSV2), ",
            "**The aggregation alone hurts TSN here** (table 3b: +25.0 points on SSV2), ",
        )
        + f"and whatever it changes is in naming the motion ({pct(s['tsn_aggr']['motion_pair_accuracy']['mean'])} vs "
        f"{pct(s['tsn']['motion_pair_accuracy']['mean'])} motion-pair accuracy): its direction accuracy is "
        f"{pct(s['tsn_aggr']['direction_accuracy']['mean'])}, since a symmetric average over time cannot tell "
        f"forwards from backwards. " + comparison_sentence(alone),
    ]
    return "\n".join(f"- {line}" for line in lines)


def loss_sentence(run: dict) -> str:
    """Fig. A2 of the paper (TAda2D fits better than TSN), read off the mean training loss over epochs."""
    from stconv_lite.experiments.report import comparison_sentence

    c = comparison(run, "tada2d", "tsn", "mean_train_loss")
    return (
        _pick(
            c,
            "**TAda2D's training loss is lower than TSN's over the run**, as in the paper's fig. A2. ",
            "**No detectable difference in training loss between TAda2D and TSN** over the run "
            "(the paper's fig. A2 shows TAda2D lower). ",
            "**TSN's training loss is lower than TAda2D's over the run**, against the paper's fig. A2. ",
        )
        + comparison_sentence(c)
        + (
            " On this task the comparison is not only about fitting: a model blind to the "
            "order gives a clip and its reverse the same probabilities (in evaluation mode), "
            "so its loss averaged over the two cannot go below ln 2 = 0.69."
        )
    )


def plugin_story(run: dict) -> str:
    """The reading of ``ch05.plugin`` (table 2's R(2+1)D rows), from its verdicts."""
    from stconv_lite.experiments.report import comparison_sentence

    acc = comparison(run, "tada_r2plus1d", "r2plus1d")
    direction = comparison(run, "tada_r2plus1d", "r2plus1d", "direction_accuracy")
    gains = " and ".join(f"+{v} on {k}" for k, v in PAPER_TABLE2_GAIN.items())
    first = _pick(
        acc,
        f"**TAdaConv improves the R(2+1)D here**, as in table 2 ({gains}): ",
        f"**No detectable difference between R(2+1)D with and without TAdaConv** at this scale "
        f"(table 2: {gains}, with far more data and seeds than here). ",
        f"**TAdaConv makes the R(2+1)D worse here**, against table 2 ({gains}). ",
    )
    return "\n".join(
        f"- {line}"
        for line in (first + comparison_sentence(acc), "Direction accuracy: " + comparison_sentence(direction))
    )


def direction_by_motion(run: dict, arm: str) -> list[tuple[float, float]]:
    """Per motion (classes 2m, 2m+1), summed over seeds: (motion-pair accuracy, direction accuracy)."""
    matrices = [u["confusion"] for u in run["units"] if u["arm"] == arm]
    size = len(matrices[0])
    total = [[sum(m[i][j] for m in matrices) for j in range(size)] for i in range(size)]
    out = []
    for motion in range(size // 2):
        rows = (2 * motion, 2 * motion + 1)
        clips = sum(sum(total[i]) for i in rows)
        in_pair = sum(total[i][j] for i in rows for j in rows)
        correct = sum(total[i][i] for i in rows)
        out.append((in_pair / clips if clips else 0.0, correct / in_pair if in_pair else 0.5))
    return out


def motion_table(run: dict, motions: list[tuple[str, str]], arms: list[str], labels: dict) -> str:
    """Markdown: per motion pair and arm, motion-pair accuracy and direction accuracy (summed over seeds)."""
    from stconv_lite.experiments.report import pct

    header = "| motion (forward / backward) | " + " | ".join(labels.get(a, a) for a in arms) + " |"
    rows = [header, "|---|" + "---|" * len(arms)]
    per_arm = {a: direction_by_motion(run, a) for a in arms}
    for m, (forward, backward) in enumerate(motions):
        cells = [f"{pct(per_arm[a][m][0], 0)} / {pct(per_arm[a][m][1], 0)}" for a in arms]
        rows.append(f"| {forward} / {backward} | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n\n*Each cell: motion-pair accuracy / direction accuracy, all test clips of all seeds.*"


def motion_sentence(run: dict, arm: str, motions: list[tuple[str, str]], label: str) -> str:
    """Which motion's direction ``arm`` reads best and worst (summed over seeds)."""
    from stconv_lite.experiments.report import pct

    per = direction_by_motion(run, arm)
    best = max(range(len(per)), key=lambda m: per[m][1])
    worst = min(range(len(per)), key=lambda m: per[m][1])
    best_name, worst_name = (f"*{motions[m][0]} / {motions[m][1]}*" for m in (best, worst))
    return (
        f"{label} reads the direction best for {best_name} ({pct(per[best][1])} of the clips whose motion it "
        f"names) and worst for {worst_name} ({pct(per[worst][1])})."
    )


def invariance_table(run: dict, labels: dict) -> str:
    """Markdown: per arm, what symmetry allows and what the trained models did under reversal and shuffling."""
    from stconv_lite.experiments.report import pct

    rows = [
        "| arm | by construction | predictions kept, reversed clips | predictions kept, shuffled frames "
        "| largest logit change, reversed | largest logit change, shuffled |",
        "|---|---|---|---|---|---|",
    ]
    for arm in run["arms"]:
        units = [u["metrics"] for u in run["units"] if u["arm"] == arm]
        mean = {k: sum(u[k] for u in units) / len(units) for k in ("reversal_agreement", "shuffle_agreement")}
        top = {k: max(u[k] for u in units) for k in ("reversal_max_logit_change", "shuffle_max_logit_change")}
        rows.append(
            f"| {labels.get(arm, arm)} | {BY_CONSTRUCTION.get(arm, '')} | {pct(mean['reversal_agreement'])} | "
            f"{pct(mean['shuffle_agreement'])} | {top['reversal_max_logit_change']:.2g} | "
            f"{top['shuffle_max_logit_change']:.2g} |"
        )
    return (
        "\n".join(rows)
        + "\n\n*Mean over seeds of the fraction of test clips whose predicted class is unchanged; largest change of any logit over all seeds.*"
    )


def check_invariances(run: dict) -> list[str]:
    """Assert that the trained blind models are exactly invariant; return what was checked."""
    checked = []
    for u in run["units"]:
        m = u["metrics"]
        if u["arm"] in ORDER_BLIND:
            assert m["shuffle_max_logit_change"] < INVARIANCE_TOLERANCE, (u["arm"], u["seed"], m)
            assert m["shuffle_agreement"] == 1.0, (u["arm"], u["seed"], m)
        if u["arm"] in REVERSAL_BLIND:
            assert m["reversal_max_logit_change"] < INVARIANCE_TOLERANCE, (u["arm"], u["seed"], m)
            assert m["reversal_agreement"] == 1.0, (u["arm"], u["seed"], m)
            assert m["direction_accuracy"] == 0.5, (u["arm"], u["seed"], m)
        checked.append(f"{u['arm']} seed {u['seed']}")
    return checked


def budget_sentence(run: dict, labels: dict) -> str:
    """Whether each arm had stopped improving when the epoch budget ran out (best validation epoch per seed)."""
    epochs = run["card"]["settings"]["epochs"]
    parts, late = [], []
    for arm in run["arms"]:
        best = sorted(u["best_epoch"] for u in run["units"] if u["arm"] == arm)
        parts.append(f"{labels.get(arm, arm)} {', '.join(map(str, best))}")
        if any(b >= epochs - 1 for b in best):
            late.append(labels.get(arm, arm))
    text = f"Best validation epoch per seed, of {epochs}: " + "; ".join(parts) + ". "
    if late:
        return text + (
            "For " + ", ".join(late) + " the best epoch came in the last two for at least one seed: those "
            "models were still improving when the budget ended, so their numbers are at this stated "
            "budget, not at convergence."
        )
    return text + "Every arm peaked before the last two epochs of the budget."


def tada2d_vs_r2plus1d(ablation: dict, plugin: dict) -> dict:
    """TAda2D (``ch05.ablation``) against the plain R(2+1)D (``ch05.plugin``), paired over seeds.

    Valid because both experiments share their settings and seeds, so the same seed trained both on the
    same clips; refused otherwise.
    """
    from stconv_lite.experiments.stats import paired_comparison

    same = (
        ablation["card"]["settings"] == plugin["card"]["settings"]
        and ablation["card"]["seeds"] == plugin["card"]["seeds"]
    )
    if not same:
        raise ValueError("TAda2D and R(2+1)D can be paired only when both runs share settings and seeds")

    return paired_comparison(
        per_seed(ablation, "tada2d"), per_seed(plugin, "r2plus1d"), a="tada2d", b="r2plus1d"
    ).as_dict()


def across_sentence(comparison_: dict) -> str:
    """The reading of :func:`tada2d_vs_r2plus1d` against the paper (TAda2D 76.3 / 63.8 vs R(2+1)D 73.63 / 61.06)."""
    from stconv_lite.experiments.report import comparison_sentence

    paper = "K400 76.3 vs 73.63 %, SSV2 63.8 vs 61.06 % (tables 7, 5 and 2)"
    return _pick(
        comparison_,
        f"**TAda2D is more accurate than the R(2+1)D**, as in the paper ({paper}). ",
        f"**No detectable difference between TAda2D and the R(2+1)D** (paper: {paper}). ",
        f"**The R(2+1)D is more accurate than TAda2D here**, against the paper ({paper}). ",
    ) + comparison_sentence(comparison_)
