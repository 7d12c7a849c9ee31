"""Deterministic checks of the papers' countable claims, computed at page build in a few seconds.

Each check builds the package's own models and operators (full-size networks on PyTorch's ``meta``
device: shapes only, no memory, so a 33M-parameter R3D costs nothing), counts what the paper
counts, and returns an :class:`~stconv_lite.ledger.verdicts.Outcome` from the rules of
:mod:`stconv_lite.ledger.verdicts`. The paper's printed numbers are the only constants here, each
next to its source.

Conventions: parameters include BatchNorm's affine weights (as the papers' counts do); "GFLOPs" of
CT-Net and TAdaConv are multiply-adds (:func:`~stconv_lite.analysis.complexity.count_macs`).
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn

from stconv_lite.analysis.complexity import count_macs, count_parameters
from stconv_lite.ledger.verdicts import EXACT, NOT_REPRODUCED, QUALITATIVE, Outcome, holds, printed, within
from stconv_lite.models import create
from stconv_lite.models.resnet3d import PAPER_PARAMS_M, registry_name

__all__ = ["CHECKS", "run_check"]


@functools.cache
def _params(name: str, num_classes: int, in_channels: int = 3, **options) -> int:
    """Parameters of a registered model built on the meta device (no memory, no time)."""
    with torch.device("meta"):
        return count_parameters(create(name, num_classes=num_classes, in_channels=in_channels, **options))


def _gmacs(name: str, num_classes: int, clip: tuple[int, int, int], **options) -> float:
    """Multiply-adds (billions) of one 3-channel clip ``(T, H, W)`` through a meta-device model."""
    with torch.device("meta"):
        model = create(name, num_classes=num_classes, in_channels=3, **options)
        x = torch.randn(1, 3, *clip)
    return count_macs(model, x) / 1e9


# ---------------------------------------------------------------- R(2+1)D study (Tran et al. 2018)

_R21D_TABLE = PAPER_PARAMS_M  # the slides' table of parameters, millions


def _r21d_params(variants: tuple[str, ...]) -> Outcome:
    outcomes = [printed(_params(registry_name(v, 18), 400) / 1e6, _R21D_TABLE[v], 1, unit="M") for v in variants]
    worst = max(outcomes, key=lambda o: (o.verdict != EXACT, o.verdict == NOT_REPRODUCED))
    ours = ", ".join(f"{v} {o.ours}" for v, o in zip(variants, outcomes))
    paper = ", ".join(f"{v} {_R21D_TABLE[v]}M" for v in variants)
    return Outcome(worst.verdict, ours, paper, "18 layers, 400 classes; " + worst.note)


def r2d_params() -> Outcome:
    return _r21d_params(("r2d",))


def fr2d_params() -> Outcome:
    return _r21d_params(("fr2d",))


def r3d_params() -> Outcome:
    return _r21d_params(("r3d",))


def mc_params() -> Outcome:
    return _r21d_params(("mc2", "mc3", "mc4", "mc5"))


def rmc_params() -> Outcome:
    return _r21d_params(("rmc2", "rmc3", "rmc4", "rmc5"))


def r2plus1d_params() -> Outcome:
    return _r21d_params(("r2plus1d",))


def midplanes_match_3d() -> Outcome:
    """M_i makes a (2+1)D block as large as the 3x3x3 conv it replaces (up to the floor)."""
    from stconv_lite.ops.r2plus1d import Conv2Plus1d

    widths = [(64, 64), (64, 128), (128, 128), (128, 256), (256, 512), (512, 512)]
    gaps = []
    for n_in, n_out in widths:
        block = Conv2Plus1d(n_in, n_out, 3)
        weights = block[0].weight.numel() + block[3].weight.numel()
        gaps.append((27 * n_in * n_out - weights, 9 * n_in + 3 * n_out))  # (gap, one more M_i would add)
    exact = all(0 <= gap < step for gap, step in gaps)
    largest = max(gap / (27 * n_in * n_out) for (gap, _), (n_in, n_out) in zip(gaps, widths))
    return holds(
        exact,
        f"conv weights equal up to the floor of M_i (largest gap {100 * largest:.3f} %)",
        "t d^2 N_{i-1} N_i weights in both",
        note=f"widths {widths}",
    )


def _relu_calls(model: nn.Module, clip: torch.Tensor) -> int:
    calls = [0]

    def count(*_):
        calls[0] += 1

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model.eval()(clip)
    for hook in hooks:
        hook.remove()
    return calls[0]


def nonlinearities_double() -> Outcome:
    """ReLUs applied in one forward pass of R(2+1)D-18 vs R3D-18 (counted with hooks)."""
    clip = torch.rand(1, 1, 8, 32, 32)
    r3d = _relu_calls(create("videoresnet18_3d", 2, 1, width=4), clip)
    r21 = _relu_calls(create("videoresnet18_2plus1d", 2, 1, width=4), clip)
    return holds(r21 == 2 * r3d, f"{r21} vs {r3d} ReLUs ({r21 / r3d:.2f}x)", "twice as many")


# ---------------------------------------------------------------- 3TConv (Ras et al. 2021)


def conv3t_kernel_formula() -> Outcome:
    """Appendix A: a 3T kernel has n m + 4 (l - 1) parameters where a 3D kernel has n m l."""
    from stconv_lite.ops.conv3t import Conv3T

    rows = []
    for l, n, m in [(3, 3, 3), (5, 5, 5), (3, 7, 7), (7, 3, 3)]:
        rows.append((count_parameters(Conv3T(1, 1, (l, n, m), bias=False)), n * m + 4 * (l - 1), n * m * l))
    ok = all(ours == formula for ours, formula, _ in rows)
    shown = "; ".join(f"{o} (3D {full})" for o, _, full in rows)
    return holds(
        ok, shown, "; ".join(str(f) for _, f, _ in rows), note="one filter, kernels 3x3x3, 5x5x5, 3x7x7, 7x3x3"
    )


def _exact_counts(pairs: list[tuple[str, int, int]]) -> Outcome:
    ok = all(ours == paper for _, ours, paper in pairs)
    return holds(ok, ", ".join(f"{n} {o:,}" for n, o, _ in pairs), ", ".join(f"{n} {p:,}" for n, _, p in pairs))


def resnet18_3t_params() -> Outcome:
    """Table 1: 3T-ResNet18 and 3D-ResNet18 on Jester (27 classes) and UCF101 (101)."""
    return _exact_counts(
        [
            ("3T/27", _params("resnet18_3t", 27), 11_222_619),
            ("3D/27", _params("resnet18_3d", 27), 33_217_755),
            ("3T/101", _params("resnet18_3t", 101), 11_260_581),
            ("3D/101", _params("resnet18_3d", 101), 33_255_717),
        ]
    )


def googlenet_3t_params() -> Outcome:
    """Table 1: 3T-GoogLeNet and 3D-GoogLeNet on Jester and UCF101 (counted with the authors' auxiliary heads)."""
    aux = {"aux_logits": True}
    return _exact_counts(
        [
            ("3T/27", _params("googlenet_3t", 27, **aux), 7_419_121),
            ("3D/27", _params("googlenet_3d", 27, **aux), 14_078_833),
            ("3T/101", _params("googlenet_3t", 101, **aux), 7_646_671),
            ("3D/101", _params("googlenet_3d", 101, **aux), 14_306_383),
        ]
    )


def r2plus1d_baseline_params() -> Outcome:
    """Table 1's R(2+1)D from scratch: torchvision's layout (45 stem channels, shared M_i)."""
    ours = [_params("videoresnet18_2plus1d", k, torchvision_compat=True) for k in (27, 101)]
    return _exact_counts([("Jester", ours[0], 31_313_976), ("UCF101", ours[1], 31_351_938)])


def up_to_77_percent_fewer() -> Outcome:
    """Abstract: "up to 77 % less parameters": the largest saving among table 1's pairs, from our counts."""
    pairs = {}
    for classes in (27, 101):
        for small, big in [
            ("googlenet_3t", "googlenet_3d"),
            ("resnet18_3t", "resnet18_3d"),
            ("googlenet_3t", "videoresnet18_2plus1d"),
            ("resnet18_3t", "videoresnet18_2plus1d"),
        ]:
            small_options = {"aux_logits": True} if small.startswith("googlenet") else {}
            big_options = (
                {"torchvision_compat": True}
                if big == "videoresnet18_2plus1d"
                else {"aux_logits": True}
                if big.startswith("googlenet")
                else {}
            )
            pairs[f"{small} vs {big} ({classes})"] = 1 - _params(small, classes, **small_options) / _params(
                big, classes, **big_options
            )
    best = max(pairs, key=pairs.get)
    outcome = printed(100 * pairs[best], 77.0, 0, unit=" %")
    return Outcome(outcome.verdict, f"{100 * pairs[best]:.1f} % ({best})", "77 %", outcome.note)


# ---------------------------------------------------------------- CT-Net (Li et al. 2021)

_TABLE_2A = {"ctnet50_c3d": 59.9, "ctnet50_r2plus1d": 45.8, "ctnet50_csn": 35.6, "ctnet50_ct": 36.3}


@functools.cache
def _ct_gmacs(name: str, **options) -> float:
    return _gmacs(name, 174, (8, 256, 256), **options)


def _table_2a_ratio(name: str) -> Outcome:
    ours = _ct_gmacs(name) / _ct_gmacs("ctnet50_ct")
    paper = _TABLE_2A[name] / _TABLE_2A["ctnet50_ct"]
    outcome = within(ours, paper, 0.05)
    return Outcome(
        outcome.verdict,
        f"{ours:.3f}x CT ({_ct_gmacs(name):.1f} G)",
        f"{paper:.3f}x ({_TABLE_2A[name]} G)",
        outcome.note + "; ratios, so the FLOP convention cancels",
    )


def c3d_vs_ct_flops() -> Outcome:
    return _table_2a_ratio("ctnet50_c3d")


def r2plus1d_vs_ct_flops() -> Outcome:
    return _table_2a_ratio("ctnet50_r2plus1d")


def csn_vs_ct_flops() -> Outcome:
    return _table_2a_ratio("ctnet50_csn")


def more_subdimensions_fewer_flops() -> Outcome:
    """Table 2b: K = 1, 2, 3, 4 sub-dimensions: 45.8, 36.3, 35.7, 35.6 GFLOPs (falling)."""
    paper = {1: 45.8, 2: 36.3, 3: 35.7, 4: 35.6}
    ours = {k: _ct_gmacs("ctnet50_ct", factors=k) for k in paper}
    falling = ours[1] > ours[2] > ours[3] > ours[4]
    worst = max(abs((ours[k] / ours[2]) / (paper[k] / paper[2]) - 1) for k in paper)
    verdict = QUALITATIVE if falling and worst <= 0.05 else NOT_REPRODUCED
    return Outcome(
        verdict,
        ", ".join(f"K={k} {v:.1f} G" for k, v in ours.items()),
        ", ".join(f"K={k} {v}" for k, v in paper.items()),
        f"ratios to K=2 within {100 * worst:.1f} %",
    )


def ctnet_params() -> Outcome:
    """Tables 6 and 8: CT-Net R50 21.0M, TSN R50 23.9M (Something-Something, 174 classes)."""
    ct, tsn = printed(_params("ctnet50_ctfull", 174) / 1e6, 21.0, 1), printed(_params("tsn50_2d", 174) / 1e6, 23.9, 1)
    verdict = ct.verdict if ct.verdict != EXACT else tsn.verdict
    return Outcome(verdict, f"CT-Net {ct.ours}M, TSN {tsn.ours}M", "21.0M, 23.9M")


def _field(module: nn.Module, channels: int) -> tuple[int, tuple[int, int, int]]:
    from stconv_lite.analysis.interaction import interaction_field

    mask = interaction_field(module, channels, size=(11, 11, 11))
    extents = []
    for axis in (1, 2, 3):
        hit = mask.any(dim=tuple(a for a in (0, 1, 2, 3) if a != axis)).nonzero()
        extents.append(int(hit.max() - hit.min()) + 1)
    return int(mask.any(dim=(1, 2, 3)).sum()), tuple(extents)


def ct_interaction_field() -> Outcome:
    """Sec. 1: with K = 2 every channel interacts, over a 5 x 5 x 5 field (measured with gradients)."""
    from stconv_lite.ops.ctconv import make_module

    channels, extent = _field(make_module("ct", 16, factors=2), 16)
    ok = channels == 16 and extent == (5, 5, 5)
    return holds(ok, f"{channels}/16 channels, field {'x'.join(map(str, extent))}", "all C channels, 5x5x5")


def ct_field_with_fewer_flops() -> Outcome:
    """Table 1: the CT-Module's interaction field covers C3D's (all channels, >= 3x3x3) at fewer FLOPs."""
    from stconv_lite.ops.ctconv import make_module

    c = 64
    ct, c3d = make_module("ct", c, factors=2), make_module("c3d", c)
    (ct_ch, ct_ext), (c3d_ch, c3d_ext) = (
        _field(make_module("ct", 16, factors=2), 16),
        _field(make_module("c3d", 16), 16),
    )
    x = torch.randn(1, c, 8, 28, 28, device="meta")
    with torch.device("meta"):
        ratio = count_macs(ct.to("meta"), x) / count_macs(c3d.to("meta"), x)
    covers = ct_ch >= c3d_ch and all(a >= b for a, b in zip(ct_ext, c3d_ext))
    return holds(
        covers and ratio < 1,
        f"field {'x'.join(map(str, ct_ext))} vs {'x'.join(map(str, c3d_ext))}, {ratio:.2f}x the MACs of C3D (C={c})",
        "sufficient interaction, fewer FLOPs",
        exact=False,
    )


# ---------------------------------------------------------------- TAdaConv (Huang et al. 2022)


def tadaconv_table1_flops() -> Outcome:
    """Table 1 at C=64, k=3, 8x56x56, r=4: our counted MACs of TAdaConv vs the table's formula."""
    from stconv_lite.analysis.bench_tadaconv import measured_macs, table1_costs

    paper = table1_costs(64, 64, 3, 8, 56, 56, 4)
    ours = measured_macs(64, 64, 3, 8, 56, 56, 4)
    # The formula's extra terms (C_i THW for the calibration, C_o C_i k^2 T for the B*T kernels) are
    # element-wise work the FLOP counter does not count; compare the convolutions it does count.
    same_spatial = ours["spatial conv"] == paper["spatial conv"]["flops"]
    overhead = ours["TAdaConv"] / ours["spatial conv"] - 1
    paper_overhead = paper["TAdaConv"]["flops"] / paper["spatial conv"]["flops"] - 1
    r21_overhead = paper["(2+1)D conv"]["flops"] / paper["spatial conv"]["flops"] - 1
    ok = same_spatial and overhead < 0.1 * r21_overhead and paper_overhead < 0.1 * r21_overhead
    return holds(
        ok,
        f"+{100 * overhead:.2f} % over the spatial conv",
        f"+{100 * paper_overhead:.2f} % ((2+1)D: +{100 * r21_overhead:.0f} %)",
        exact=False,
        note="an order of magnitude below the temporal conv's overhead",
    )


def tadaconv_param_formula() -> Outcome:
    """Table 1: C_o C_i k^2 + 2 C_i (C_i / r) k parameters (eq. (4) generator, no global descriptor)."""
    from stconv_lite.ops.tadaconv import TAdaConvWithGenerator

    c, k, r = 64, 3, 4
    ours = count_parameters(TAdaConvWithGenerator(c, c, k, padding=1, bias=False, reduction=r, global_context=False))
    paper = c * c * k * k + 2 * c * (c // r) * k
    outcome = within(ours, paper, 0.01)
    return Outcome(
        outcome.verdict, f"{ours:,}", f"{paper:,}", outcome.note + "; ours adds the generator's biases and BN"
    )


def tada2d_params() -> Outcome:
    """Sec. 5 / table 5: TAda2D-R50 has 27.5M parameters (400 classes)."""
    return printed(_params("tsn50_tada2d", 400) / 1e6, 27.5, 1, unit="M")


def tada2d_generator_params() -> Outcome:
    """Table 4: calibrating C_in adds 3.16M parameters."""
    with torch.device("meta"):
        model = create("tsn50_tada2d", num_classes=400)
        generators = sum(p.numel() for g in model.calibration_generators().values() for p in g.parameters())
    return printed(generators / 1e6, 3.16, 2, unit="M")


def tada2d_extra_gflops() -> Outcome:
    """Table 4: C_in calibration adds 0.016 GFLOPs to TAda2D-R50 (8 frames, 224x224), counted MACs."""
    extra = _gmacs("tsn50_tada2d", 400, (8, 224, 224)) - _gmacs("tsn50_2d", 400, (8, 224, 224))
    return printed(extra, 0.016, 3, tolerance=0.25, unit=" G")


def tadaconv_identity_at_init() -> Outcome:
    """Eq. (6): alpha = 1 + F(x) with F zero-initialised: a fresh TAdaConv is the per-frame 2D conv."""
    from stconv_lite.ops.tadaconv import TAdaConvWithGenerator

    torch.manual_seed(0)
    tada = TAdaConvWithGenerator(8, 8, 3, padding=1, bias=False).eval()
    x = torch.randn(2, 8, 4, 10, 10)
    with torch.no_grad():
        gap = (tada(x) - tada.conv(x, None)).abs().max().item()
    return holds(gap == 0.0, f"largest difference {gap:.1e}", "identical")


# ---------------------------------------------------------------- Fusion (Zhou et al. 2020)


def template_params() -> Outcome:
    """Table 1: the DenseNet-121-sized template has 21.4M parameters (174 classes)."""
    return printed(_params("densenet121_fusion", 174) / 1e6, 21.4, 1, unit="M")


def template_positions() -> Outcome:
    """Fig. 4 / supp. Fig. 1: 61 gated positions (58 layers + 3 transitions), two drop rates each."""
    with torch.device("meta"):
        model = create("densenet121_fusion", num_classes=174)
    return holds(
        len(model.positions) == 61 and len(model.gates()) == 122,
        f"{len(model.positions)} positions, {len(model.gates())} gates",
        "61 positions, 122 drop rates",
    )


CHECKS = {
    f.__name__: f
    for f in [
        r2d_params,
        fr2d_params,
        r3d_params,
        mc_params,
        rmc_params,
        r2plus1d_params,
        midplanes_match_3d,
        nonlinearities_double,
        conv3t_kernel_formula,
        resnet18_3t_params,
        googlenet_3t_params,
        r2plus1d_baseline_params,
        up_to_77_percent_fewer,
        c3d_vs_ct_flops,
        r2plus1d_vs_ct_flops,
        csn_vs_ct_flops,
        more_subdimensions_fewer_flops,
        ctnet_params,
        ct_interaction_field,
        ct_field_with_fewer_flops,
        tadaconv_table1_flops,
        tadaconv_param_formula,
        tada2d_params,
        tada2d_generator_params,
        tada2d_extra_gflops,
        tadaconv_identity_at_init,
        template_params,
        template_positions,
    ]
}


def run_check(name: str) -> Outcome:
    """Run the check called ``name`` (a key of :data:`CHECKS`)."""
    if name not in CHECKS:
        raise KeyError(f"no check named {name!r}; known: {', '.join(CHECKS)}")
    outcome = CHECKS[name]()
    if not isinstance(outcome, Outcome):
        raise TypeError(f"check {name} returned {type(outcome).__name__}, not an Outcome")
    return outcome
