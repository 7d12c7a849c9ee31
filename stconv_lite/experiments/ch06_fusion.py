r"""Chapter 6 experiments: the fusion template's claims, tested on Video-MNIST where the answer cannot leak.

Both experiments use ``label="reversal"`` (five motions x {forward, backward}, a backward clip being
the forward one reversed), so a network that treats frames independently and averages them over
time, like the all-S network of the tiny template (1x3x3 stem, 1x1x1 and 1x3x3 convs, a mean over
T), is at most 50 % accurate *by construction*, while a network with temporal paths can reach 100 %.

``ch06.table2``  The paper's Table 2: is the best of ``n`` sampled strategies with inherited weights
                 ("Opt") at least as good as the uniform S, ST and S+ST networks trained separately?
                 With two controls and one re-ranking:

                 - ``S+ST`` *is* the template with its gates off for the whole budget (the same
                   modules and, seeded alike, the same initial weights): the gates-off control;
                 - ``opt_nokl``: v-DropPath without the KL term (gates learn from the data alone);
                 - ``opt_bn``: the same sampled candidates, each ranked after re-estimating its
                   BatchNorm statistics (the paper reuses the template's statistics).

``ch06.data_character``  Supplement Fig. 6 and Observation III: does the learned space lean towards
                 spatial units when the data carry less temporal information? Arms: the template on
                 full-rate clips, on clips pooled in time (window 3, stride 2, as the supplement),
                 and on ``label="appearance"`` (the digit is the label, the motion a nuisance: the
                 toy "scene" data). Metrics: how often each path and unit is used.

Every arm of a seed sees the same clips (:func:`stconv_lite.experiments.tasks.loaders_for`). The
template (warm-up with gates off, then v-DropPath) is trained once per (seed, data, KL on/off) and
cached in this process, so the arms that read it do not retrain it; the unit that trains it carries
its time.
"""

from __future__ import annotations

import copy
import functools
import json

import torch
import torch.nn as nn
import torch.nn.functional as F

from stconv_lite.analysis.complexity import count_parameters
from stconv_lite.analysis.fusion_strategies import (
    apply_strategy,
    gate_probabilities,
    recalibrate_bn,
    sample_strategy,
    strategy_units,
    uniform_strategy,
)
from stconv_lite.experiments.registry import Bound, Compare, Experiment, register
from stconv_lite.experiments.report import units
from stconv_lite.experiments.tasks import confusion_matrix, loaders_for, train_and_evaluate
from stconv_lite.models import create
from stconv_lite.ops.droppath import variational_kl
from stconv_lite.train import fit, predict

__all__ = [
    "SETTINGS",
    "TemporalPool",
    "train_template",
    "rank_strategies",
    "usage",
    "TABLE2",
    "DATA_CHARACTER",
    "UNIT_KINDS",
]

UNIT_KINDS = ("S", "ST", "S+ST", "none")

# How much each run computes. ``epochs`` is the budget of every separately trained network (judged at
# its best validation epoch) and of the warm-up, which *is* the S+ST network; v-DropPath then trains
# ``vdp_epochs`` more, and so does the gates-off control S+ST_long (the template's whole budget).
SETTINGS = {
    "quick": dict(
        label="reversal",
        clips_per_class=4,
        val_clips_per_class=4,
        test_clips_per_class=4,
        frames=8,
        size=20,
        width=4,
        batch_size=16,
        lr=3e-3,
        gate_lr=3e-2,
        epochs=1,
        vdp_epochs=1,
        length_scale=30.0,
        samples=3,
        recal_batches=2,
    ),
    "small": dict(
        label="reversal",
        clips_per_class=30,
        val_clips_per_class=10,
        test_clips_per_class=30,
        frames=8,
        size=20,
        width=8,
        batch_size=16,
        lr=3e-3,
        gate_lr=3e-2,
        epochs=12,
        vdp_epochs=6,
        length_scale=30.0,
        samples=10,
        recal_batches=4,
    ),
    # Sized (not yet measured: no GPU was lent when this was written) for both experiments together to
    # take about 1.5 minutes on one H200: batch 128 keeps the step count low for a model this small.
    "full": dict(
        label="reversal",
        clips_per_class=120,
        val_clips_per_class=30,
        test_clips_per_class=100,
        frames=16,
        size=28,
        width=12,
        batch_size=128,
        lr=3e-3,
        gate_lr=3e-2,
        epochs=16,
        vdp_epochs=8,
        length_scale=30.0,
        samples=30,
        recal_batches=4,
    ),
}


def _scratch_settings(settings: dict) -> dict:
    """The harness settings of a separately trained network: ``epochs``, judged at its best validation epoch."""
    return {**settings, "patience": None}


class TemporalPool(nn.Module):
    """Average-pool the input clip in time (window 3, stride 2), then run the template.

    The supplement's half-temporal-resolution test (Fig. 6): "temporal pooling with a stride of 2 and
    window size of 3" on the input. The wrapper exposes the template's gates and positions, so the
    strategy tools of :mod:`stconv_lite.analysis.fusion_strategies` work on it unchanged.
    """

    def __init__(self, template: nn.Module, window: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.template, self.window, self.stride = template, window, stride

    @property
    def positions(self):
        return self.template.positions

    def gates(self):
        return self.template.gates()

    def set_gate_mode(self, mode: str) -> None:
        self.template.set_gate_mode(mode)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """Shapes: video (B, C, T, H, W) -> logits (B, classes); the template sees ceil(T / 2) frames."""
        pooled = F.avg_pool3d(
            video, (self.window, 1, 1), (self.stride, 1, 1), padding=(self.window // 2, 0, 0), count_include_pad=False
        )
        return self.template(pooled)


def _new_template(settings: dict, strategy=None) -> nn.Module:
    return create("densenet121_fusion_small", num_classes=10, in_channels=1, width=settings["width"], strategy=strategy)


def _gate_snapshot(model: nn.Module) -> dict:
    """Per gate: drop probability and the norm of the kernel it guards (the KL's weight term)."""
    paths = [(pos, path, model.positions[pos].paths[path]) for pos, path, _ in model.gates()]
    return {
        "p": [float(p.gate.p.detach()) for _, _, p in paths],
        "norm": [float(p.conv.weight.detach().norm()) for _, _, p in paths],
    }


_CACHE: dict[str, dict] = {}


def _key(*parts) -> str:
    return json.dumps(parts, sort_keys=True, default=str)


def warm_up(settings: dict, seed: int, device, pooled: bool = False) -> dict:
    """The S+ST network trained on its own (the template with its gates off): the unit result of the harness.

    It is both the ``S+ST`` arm of ``ch06.table2`` and the warm-up of every template of that seed,
    as in the paper (stage 0: the template trained with every path on). Cached per arguments.
    """
    key = _key("warm", settings, seed, str(device), pooled)
    if key not in _CACHE:

        def build():
            template = _new_template(settings, "S+ST")  # the template's modules, gates "off"
            return TemporalPool(template) if pooled else template

        _CACHE[key] = train_and_evaluate(build, _scratch_settings(settings), seed, device)
    return _CACHE[key]


def train_template(settings: dict, seed: int, device, pooled: bool = False, kl: bool = True) -> dict:
    """v-DropPath from the warm-up (:func:`warm_up`): relaxed gates and the KL term (or, ``kl=False``, none).

    ``kl=None`` is the gates-off control: the warm-up trained on for the same epochs with every path on.
    Returns ``{"model", "curves" (warm-up then v-DropPath epochs), "trace" (gates per v-DropPath epoch,
    epoch 0 = after warm-up), "warm_val_accuracy"}``. Cached per (settings, seed, device, pooled, kl).
    """
    key = _key("template", settings, seed, str(device), pooled, kl)
    if key in _CACHE:
        return _CACHE[key]
    warm = warm_up(settings, seed, device, pooled)
    model = copy.deepcopy(warm["model"])  # its best-validation weights
    train_loader, val_loader, _ = loaders_for(settings, seed)
    model.set_gate_mode("off" if kl is None else "relaxed")
    logits = [gate.logit for _, _, gate in model.gates()]
    ids = {id(t) for t in logits}
    weights = [t for t in model.parameters() if id(t) not in ids]
    # Adam with the gate logits at a 10x larger rate: a few CPU epochs need p to move faster than
    # the paper's single SGD rate over 90 epochs would move it.
    optimizer = torch.optim.Adam(
        [{"params": weights, "lr": settings["lr"]}, {"params": logits, "lr": settings["gate_lr"]}]
    )
    n_train = len(train_loader.dataset)
    regulariser = (lambda m: variational_kl(m, settings["length_scale"], n_train)) if kl else None
    # the same fit for the gates-off control: its gate logits get no gradient and stay at p0
    trace = [_gate_snapshot(model)]
    history = fit(
        model,
        train_loader,
        settings["vdp_epochs"],
        val_loader=val_loader,
        optimizer=optimizer,
        device=device,
        progress=False,
        seed=seed + 1,
        regulariser=regulariser,
        callbacks=[lambda end: trace.append(_gate_snapshot(end.model)) and None],
    )
    curves = {k: warm["curves"][k] + v for k, v in history.as_dict().items() if isinstance(v, list)}
    curves["steps"] = warm["curves"]["steps"] + [s + warm["curves"]["steps"][-1] for s in history.steps]
    _CACHE[key] = {
        "model": model,
        "curves": curves,
        "trace": trace,
        "vdp_epochs": len(history.val_acc),
        "gate_names": [f"{pos}/{path}" for pos, path, _ in model.gates()],
        "warm_val_accuracy": warm["metrics"]["best_val_accuracy"],
        "warm_test_accuracy": warm["metrics"]["test_accuracy"],
        "train_seconds": warm["metrics"]["train_seconds"] + sum(history.epoch_seconds),
    }
    return _CACHE[key]


def _accuracy(model, loader, device, recalibrate=None, batches=0) -> tuple[float, torch.Tensor, torch.Tensor]:
    if recalibrate is not None:
        recalibrate_bn(model, recalibrate, batches, device=device)
    logits, labels = predict(model, loader, device=device)
    return (logits.argmax(1) == labels).float().mean().item(), logits, labels


def rank_strategies(model: nn.Module, settings: dict, seed: int, device, recalibrate: bool = False) -> dict:
    """Sample ``settings["samples"]`` strategies (the same draws for a seed), rank on validation, test all.

    With ``recalibrate`` each candidate is a copy of the template whose BatchNorm statistics are
    re-estimated on ``recal_batches`` training batches before it is validated and tested.
    Returns ``{"samples": [{"units", "val", "test"}, ...] (draw order), "best": index,
    "uniform": {unit: {"val", "test"}}, "logits", "labels"}`` (logits of the best on test).
    """
    train_loader, val_loader, test_loader = loaders_for(settings, seed)
    generator = torch.Generator().manual_seed(10_000 + seed)
    candidates = [sample_strategy(model, generator) for _ in range(settings["samples"])]
    uniform = {unit: uniform_strategy(model, unit) for unit in ("S", "ST", "S+ST")}

    def score(strategy):
        net = copy.deepcopy(model) if recalibrate else model
        apply_strategy(net, strategy)
        source = train_loader if recalibrate else None
        val, _, _ = _accuracy(net, val_loader, device, source, settings["recal_batches"])
        test, logits, labels = _accuracy(net, test_loader, device)
        return val, test, logits, labels

    samples, best, best_val, best_out = [], 0, -1.0, None
    for index, strategy in enumerate(candidates):
        val, test, logits, labels = score(strategy)
        samples.append({"units": strategy_units(strategy), "val": val, "test": test})
        if val > best_val:  # ties: the earliest draw
            best, best_val, best_out = index, val, (logits, labels)
    uniform_scores = {}
    for unit, strategy in uniform.items():
        val, test, _, _ = score(strategy)
        uniform_scores[unit] = {"val": val, "test": test}
    apply_strategy(model, candidates[best])
    return {"samples": samples, "best": best, "uniform": uniform_scores, "logits": best_out[0], "labels": best_out[1]}


def usage(units: list[str]) -> dict[str, float]:
    """Fraction of positions of a strategy using each unit kind, and each path (the S path: units S and S+ST)."""
    n = len(units)
    out = {f"best_{kind}_fraction": sum(u == kind for u in units) / n for kind in UNIT_KINDS}
    out["best_s_path_fraction"] = sum(u in ("S", "S+ST") for u in units) / n
    out["best_st_path_fraction"] = sum(u in ("ST", "S+ST") for u in units) / n
    return out


def _marginal_metrics(model: nn.Module) -> dict[str, float]:
    probs = gate_probabilities(model)
    p_s = [v["S"] for v in probs.values()]
    p_st = [v["ST"] for v in probs.values()]
    # Mean over positions of 1 - p: the expected fraction of positions whose path a sampled strategy keeps.
    return {
        "s_kept_fraction": 1 - sum(p_s) / len(p_s),
        "st_kept_fraction": 1 - sum(p_st) / len(p_st),
        "p_spread": float(torch.tensor(p_s + p_st).std()),
    }


def _plain_unit(trained: dict, settings: dict, seed: int, device) -> dict:
    """Evaluate a template trained with its gates off (every path on) like a separately trained network."""
    _, _, test_loader = loaders_for(settings, seed)
    model = trained["model"]
    logits, labels = predict(model, test_loader, device=device)
    matrix = confusion_matrix(logits, labels, 10)
    return {
        "metrics": {
            "test_accuracy": (logits.argmax(1) == labels).float().mean().item(),
            "best_val_accuracy": trained["curves"]["val_acc"][-1],
            "warm_test_accuracy": trained["warm_test_accuracy"],
            "train_seconds": trained["train_seconds"],
        },
        "per_class_accuracy": (matrix.diag().float() / matrix.sum(1).clamp(min=1).float()).tolist(),
        "confusion": matrix.tolist(),
        "curves": trained["curves"],
        "params": count_parameters(model),
        "best_epoch": len(trained["curves"]["val_acc"]),
        "stop_reason": "",
        "model": model,
    }


def _template_unit(settings: dict, seed: int, device, pooled: bool, kl: bool, recalibrate: bool) -> dict:
    trained = train_template(settings, seed, device, pooled=pooled, kl=kl)
    model = trained["model"]
    ranked = rank_strategies(model, settings, seed, device, recalibrate=recalibrate)
    best = ranked["samples"][ranked["best"]]
    matrix = confusion_matrix(ranked["logits"], ranked["labels"], 10)
    probs = gate_probabilities(model)
    metrics = {
        "test_accuracy": best["test"],
        "best_val_accuracy": best["val"],
        "warm_val_accuracy": trained["warm_val_accuracy"],
        "warm_test_accuracy": trained["warm_test_accuracy"],
        "train_seconds": trained["train_seconds"],
        **{f"inherited_{u}_test_accuracy": s["test"] for u, s in ranked["uniform"].items()},
        "median_sample_test_accuracy": float(torch.tensor([s["test"] for s in ranked["samples"]]).median()),
        **usage(best["units"]),
        **_marginal_metrics(model),
    }
    model.set_gate_mode("relaxed")
    return {
        "metrics": metrics,
        "per_class_accuracy": (matrix.diag().float() / matrix.sum(1).clamp(min=1).float()).tolist(),
        "confusion": matrix.tolist(),
        "curves": trained["curves"],
        "params": count_parameters(model),
        "best_epoch": len(trained["curves"]["val_acc"]),  # v-DropPath keeps its last weights
        "stop_reason": "",
        "samples": ranked["samples"],
        "best_units": best["units"],
        "uniform": ranked["uniform"],
        "positions": list(probs),
        "p_S": [v["S"] for v in probs.values()],
        "p_ST": [v["ST"] for v in probs.values()],
        "trace": trained["trace"],
        "gate_names": trained["gate_names"],
        "model": model,
    }


# ---------------------------------------------------------------- ch06.table2


def _table2_unit(arm: str, seed: int, settings: dict, device) -> dict:
    if arm in ("S", "ST"):
        build = functools.partial(_new_template, settings, arm)
        return train_and_evaluate(build, _scratch_settings(settings), seed, device)
    if arm == "S+ST":
        return warm_up(settings, seed, device)
    if arm == "S+ST_long":  # the gates-off control: the warm-up trained on for the v-DropPath epochs
        trained = train_template(settings, seed, device, kl=None)
        return _plain_unit(trained, settings, seed, device)
    return _template_unit(settings, seed, device, pooled=False, kl=arm != "opt_nokl", recalibrate=arm == "opt_bn")


TABLE2 = register(
    Experiment(
        name="ch06.table2",
        chapter=6,
        title="The best sampled strategy against separately trained S, ST and S+ST networks, with controls",
        question=(
            "Is the best of n sampled fusion strategies, with the template's inherited weights, at least as "
            "accurate as uniform S, ST and S+ST networks trained separately on the same clips and budget?"
        ),
        paper_claim=(
            "Table 2 of Zhou et al. (2020): Opt 50.2 vs S+ST 46.5, ST 47.5, S 41.8 on Something-Something V1 "
            "(Opt >= every uniform strategy on all four data sets); ST far above S on motion-centric data."
        ),
        arms=("S", "ST", "S+ST", "S+ST_long", "opt", "opt_bn", "opt_nokl"),
        settings=SETTINGS,
        run_unit=_table2_unit,
        comparisons=(
            Compare("opt", "S+ST"),
            Compare("opt", "ST"),
            Compare("ST", "S"),
            Compare("opt", "S+ST_long"),
            Compare("opt_bn", "opt"),
            Compare("opt", "opt_nokl"),
            Compare("opt_bn", "S+ST"),
            Compare("opt_bn", "ST"),
            Compare("opt_bn", "S+ST_long"),
        ),
        bounds=(Bound("S", 0.5, "the 50 % bound"),),
    )
)


# ---------------------------------------------------------------- ch06.data_character


def _character_unit(arm: str, seed: int, settings: dict, device) -> dict:
    if arm == "appearance":
        settings = {**settings, "label": "appearance"}
    return _template_unit(settings, seed, device, pooled=arm == "half_rate", kl=True, recalibrate=False)


DATA_CHARACTER = register(
    Experiment(
        name="ch06.data_character",
        chapter=6,
        title="Does the learned space follow the data: half the temporal resolution, appearance-defined labels",
        question=(
            "Does the template keep its temporal (3x1x1) paths less, and use more spatial units, when the "
            "clips are pooled to half their frame rate, or when the label is the digit rather than the motion?"
        ),
        paper_claim=(
            "Supplement Fig. 6: with the input pooled in time (window 3, stride 2) the best sampled strategy "
            "uses more S and fewer ST units; Observation III (sec. 4.4): data sets with complex scenes "
            "(Kinetics, UCF101) use more S or S+ST units than motion-centric Something-Something."
        ),
        arms=("full_rate", "half_rate", "appearance"),
        settings=SETTINGS,
        run_unit=_character_unit,
        comparisons=(
            Compare("half_rate", "full_rate", "st_kept_fraction"),
            Compare("half_rate", "full_rate", "best_S_fraction"),
            Compare("half_rate", "full_rate", "best_ST_fraction"),
            Compare("appearance", "full_rate", "s_kept_fraction"),
            Compare("appearance", "full_rate", "st_kept_fraction"),
        ),
    )
)


# ---------------------------------------------------------------- sentences and summaries for the chapter


def direction_sentence(comparison: dict, what: str, predicted: int, source: str) -> str:
    """A paired comparison of a *usage* metric, read against the direction a paper predicts.

    ``predicted`` is +1 when the paper expects ``a`` above ``b``, -1 when below. The fixed verdict words
    of :mod:`stconv_lite.experiments.stats` ("A better than B") do not fit a usage share, so this
    sentence says "higher"/"lower"/"no detectable difference" and whether that matches the paper.
    """
    c = comparison
    found = {"A better than B": 1, "B better than A": -1}.get(c["verdict"], 0)
    direction = {1: "higher", -1: "lower", 0: None}[found]
    numbers = (
        f"{100 * c['a_mean']:.1f} % vs {100 * c['b_mean']:.1f} %, a difference of "
        f"{100 * c['mean_difference']:+.1f} points (95 % interval {100 * c['low']:+.1f} to "
        f"{100 * c['high']:+.1f}; {c['n']} paired seeds)"
    )
    if c["verdict"] == "too few seeds":
        return f"{what}: `{c['a']}` {numbers}; **too few seeds** for a verdict."
    if direction is None:
        verdict = "**no detectable difference**"
        reading = f"so this run neither confirms nor contradicts {source}"
    else:
        verdict = f"**{direction} for `{c['a']}` than for `{c['b']}`**"
        reading = f"as {source} predicts" if found == predicted else f"the **opposite** of what {source} predicts"
    return f"{what}: {verdict}, {numbers}; {reading}."


def inherited_table(run: dict) -> str:
    """Markdown: accuracy inside the template (inherited weights), without and with BN re-estimation, mean over seeds."""
    rows = [
        "| strategy inside the template | test accuracy, template's BN statistics | test accuracy, BN re-estimated |",
        "|---|---|---|",
    ]
    plain, recal = units(run, "opt"), units(run, "opt_bn")
    names = [
        ("uniform S", "inherited_S_test_accuracy"),
        ("uniform ST", "inherited_ST_test_accuracy"),
        ("uniform S+ST", "inherited_S+ST_test_accuracy"),
        ("median sampled strategy", "median_sample_test_accuracy"),
        ("best sampled (chosen on validation)", "test_accuracy"),
    ]
    for label, metric in names:
        a = sum(u["metrics"][metric] for u in plain) / len(plain)
        b = sum(u["metrics"][metric] for u in recal) / len(recal)
        rows.append(f"| {label} | {100 * a:.1f} % | {100 * b:.1f} % |")
    return "\n".join(rows)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def spearman(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (average ranks for ties; NaN when either side is constant)."""
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"spearman needs two equal-length lists of at least 2 values; got {len(x)} and {len(y)}")
    rx, ry = _ranks(list(x)), _ranks(list(y))
    mx, my = sum(rx) / len(rx), sum(ry) / len(ry)
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx, vy = sum((a - mx) ** 2 for a in rx), sum((b - my) ** 2 for b in ry)
    return float("nan") if vx == 0 or vy == 0 else cov / (vx * vy) ** 0.5


def reranking_sentence(run: dict) -> str:
    """How BN re-estimation re-ranks the same sampled candidates (per seed), generated from the run."""
    plain, recal = units(run, "opt"), units(run, "opt_bn")
    rhos, same = [], 0
    for a, b in zip(plain, recal):
        rhos.append(spearman([s["val"] for s in a["samples"]], [s["val"] for s in b["samples"]]))
        same += a["best_units"] == b["best_units"]
    shown = ", ".join("undefined" if r != r else f"{r:+.2f}" for r in rhos)
    n = len(plain[0]["samples"]) if plain else 0
    return (
        f"Re-estimating BatchNorm re-ranks the same {n} sampled candidates: Spearman's rank correlation of their "
        f"validation accuracies with and without it is {shown} (one value per seed), and the chosen strategy "
        f"stays the same in {same} of {len(plain)} seeds."
    )


def winners_curse_sentence(run: dict, arm: str = "opt") -> str:
    """How much of the chosen strategy's validation lead survives on test (selection on validation, report on test)."""
    gaps, ranks = [], []
    for u in units(run, arm):
        best = max(range(len(u["samples"])), key=lambda i: (u["samples"][i]["val"], -i))
        tests = [s["test"] for s in u["samples"]]
        gaps.append(u["samples"][best]["val"] - u["samples"][best]["test"])
        ranks.append(1 + sum(t > tests[best] for t in tests))
    n = len(units(run, arm)[0]["samples"])
    return (
        f"`{arm}`: the strategy chosen on validation is, on test, number {', '.join(map(str, ranks))} of {n} "
        f"candidates (one per seed); its validation accuracy exceeds its test accuracy by "
        f"{', '.join(f'{100 * g:+.1f}' for g in gaps)} points."
    )


def observation_checks(run: dict, arm: str = "opt", blocks: tuple[str, str] = ("B1.", "B3.")) -> dict:
    """Observations I and II of the paper on the toy marginals of ``arm``, per seed.

    I: S+ST has the largest of the four unit probabilities (independent gates) at most positions, and in
    the lower block; II: ST-only gets more probability in the higher block than in the lower one.
    Returns per-seed lists: ``sst_top_fraction``, ``sst_top_low``, ``st_high_minus_low`` and
    ``best_sst_fraction`` (S+ST's share of the best sampled strategy).
    """
    from stconv_lite.analysis.fusion_strategies import marginals

    out = {"sst_top_fraction": [], "sst_top_low": [], "st_high_minus_low": [], "best_sst_fraction": []}
    for u in units(run, arm):
        tops, st_only = [], {}
        for name, ps, pst in zip(u["positions"], u["p_S"], u["p_ST"]):
            m = {k: float(v) for k, v in marginals(ps, pst).items()}
            tops.append((name, max(UNIT_KINDS, key=lambda k: m[k]) == "S+ST"))
            st_only[name] = m["ST"]
        low = [t for name, t in tops if name.startswith(blocks[0])]
        out["sst_top_fraction"].append(sum(t for _, t in tops) / len(tops))
        out["sst_top_low"].append(sum(low) / len(low))
        high_st = [v for k, v in st_only.items() if k.startswith(blocks[1])]
        low_st = [v for k, v in st_only.items() if k.startswith(blocks[0])]
        out["st_high_minus_low"].append(sum(high_st) / len(high_st) - sum(low_st) / len(low_st))
        out["best_sst_fraction"].append(u["metrics"]["best_S+ST_fraction"])
    return out


def plateau_sentence(unit: dict) -> str:
    """Are the drop probabilities still moving at the end of v-DropPath? (first vs last epoch's largest change)."""
    trace = unit["trace"]
    if len(trace) < 3:
        return f"Only {len(trace) - 1} v-DropPath epoch(s) at this scale: too few to tell whether the p's settle."

    def step(i):
        return max(abs(a - b) for a, b in zip(trace[i]["p"], trace[i - 1]["p"]))

    first, last = step(1), step(len(trace) - 1)
    state = "still moving" if last > 0.25 * first else "close to settled"
    return (
        f"Largest change of any p in the first v-DropPath epoch: {first:.3f}; in the last ({len(trace) - 1}): "
        f"{last:.3f}, so the drop probabilities are **{state}** at the end of this budget (seed {unit['seed']})."
    )


def budget_sentence(run: dict, arms=("S", "ST", "S+ST")) -> str:
    """Where in its epoch budget each separately trained arm had its best validation accuracy (per seed)."""
    parts = []
    for arm in arms:
        arm_units = units(run, arm)
        epochs = [len(u["curves"]["val_acc"]) for u in arm_units]
        best = [u["best_epoch"] for u in arm_units]
        late = sum(b >= e - 1 for b, e in zip(best, epochs))
        parts.append(
            f"`{arm}` best at epoch {', '.join(map(str, best))} of {max(epochs)}"
            + (
                f" (in the last two epochs for {late} of {len(arm_units)} seeds: still improving, so this arm is "
                f"judged at the budget, not at convergence)"
                if late
                else ""
            )
        )
    return "Best validation epoch per seed: " + "; ".join(parts) + "."
