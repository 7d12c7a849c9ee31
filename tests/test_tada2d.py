"""TAda2D: the authors' block vectors, identity with TSN at init, frames interact after training
starts, parameter counts (TAda2D-R50), ablation switches, ImageNet loading, table-1 formulas, errors."""

import copy
from pathlib import Path

import pytest
import torch
from einops import rearrange
from torch.testing import assert_close

from stconv_lite.analysis.bench_tadaconv import measured_macs, table1_costs
from stconv_lite.authors import convert_authors_state_dict
from stconv_lite.models import create
from stconv_lite.models.tada2d import (
    InputCalibratedConv,
    TAda2D,
    tada2d_bottleneck,
    tadaify,
)
from stconv_lite.ops.temporal_aggregation import TemporalAggregation

REF = Path(__file__).resolve().parents[1].parent / "shared" / "refvectors" / "tadaconv_ref.pt"
SMALL = dict(width=4, layers=(1, 1, 1, 1))


def _cases():
    if not REF.exists():
        pytest.skip(f"reference vectors tadaconv_ref.pt not found at {REF}")
    return torch.load(REF, weights_only=True)["cases"]


BLOCKS = {
    "tada2d_block_res2_first_officialinit": (8, 8, 2),
    "tada2d_block_res2_first_random": (8, 8, 2),
    "tada2d_block_res2_second_officialinit": (32, 8, 1),
    "tada2d_block_res2_second_random": (32, 8, 1),
}


@pytest.mark.parametrize("name", sorted(BLOCKS))
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_reference_tada2d_block(name, mode):
    case = _cases()[name]
    block = tada2d_bottleneck(*BLOCKS[name])
    block.load_state_dict(convert_authors_state_dict("tada2d_block", case["state_dict"]))
    block.train(mode == "train")
    (x,) = case["inputs"]
    assert_close(block(x), case[f"output_{mode}"], atol=1e-5, rtol=1e-5)


def _tsn_weights_into(tada, tsn):
    """TSN's state dict under TAda2D's names (3x3 conv into the TAdaConv, bn2 into BN_1)."""
    ours = tada.state_dict()
    mapped = {}
    for key, value in tsn.state_dict().items():
        if ".conv2." in key:
            mapped[key.replace(".conv2.", ".conv2.conv.")] = rearrange(value, "o i 1 k l -> o i k l")
        elif ".bn2." in key:
            mapped[key.replace(".bn2.", ".bn2.bn.")] = value
        else:
            mapped[key] = value
    missing = set(ours) - set(mapped)
    assert all(".generator." in k or ".pool_bn." in k for k in missing)
    tada.load_state_dict(mapped, strict=False)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_tada2d_at_init_is_exactly_tsn(mode):
    torch.manual_seed(0)
    tsn, tada = create("tsn50_2d_small", 5, 1, **SMALL), create("tsn50_tada2d_small", 5, 1, **SMALL)
    assert all(torch.all(m.pool_bn.weight == 0) for m in tada.modules() if isinstance(m, TemporalAggregation))
    _tsn_weights_into(tada, tsn)
    tsn.train(mode == "train"), tada.train(mode == "train")
    x = torch.rand(2, 1, 4, 32, 32)
    assert_close(tada.features(x), tsn.features(x))


def _later_frames_change(model, x):
    y = x.clone()
    y[:, :, 0] = torch.rand_like(y[:, :, 0])
    model.eval()
    return (model.features(x)[:, :, 1:] - model.features(y)[:, :, 1:]).abs().max().item()


def test_frames_stay_apart_in_tsn_and_meet_in_tada2d():
    torch.manual_seed(0)
    x = torch.rand(2, 1, 4, 32, 32)
    tsn, tada = create("tsn50_2d_small", 5, 1, **SMALL), create("tsn50_tada2d_small", 5, 1, **SMALL)
    assert _later_frames_change(tsn, x) == 0
    for generator in tada.calibration_generators().values():
        torch.nn.init.normal_(generator.expand.weight, std=0.5)
    no_pool = create("tsn50_tada2d_small", 5, 1, aggregation=None, global_context=False, kernel_sizes=(1, 1), **SMALL)
    assert _later_frames_change(no_pool, x) == 0  # alpha_t from frame t alone: still per-frame
    assert _later_frames_change(tada, x) > 1e-4


def test_tada2d_r50_parameter_count():
    with torch.device("meta"):
        tada, tsn = create("tsn50_tada2d", 400), create("tsn50_2d", 400)
    n_tada = sum(p.numel() for p in tada.parameters())
    n_generators = sum(p.numel() for g in tada.calibration_generators().values() for p in g.parameters())
    assert len(tada.calibration_generators()) == 16
    assert n_tada == 27_485_472  # paper: 27.5M; authors' backbone 26.67M + 400-way fc
    assert n_generators == 3_150_288  # table 4: +3.16M for C_in calibration
    n_pool_bn = sum(m.pool_bn.weight.numel() * 2 for m in tada.modules() if isinstance(m, TemporalAggregation))
    assert n_tada - sum(p.numel() for p in tsn.parameters()) == n_generators + n_pool_bn


@pytest.mark.parametrize(
    "options",
    [
        dict(kernel_sizes=(1, 1)),
        dict(global_context=False),
        dict(aggregation=None),
        dict(aggregation="shortcut"),
        dict(aggregation="avg"),
        dict(cal_dim="cout"),
        dict(stages=(4,)),
    ],
)
def test_ablation_switches_build_and_run(options):
    model = create("tsn50_tada2d_small", 3, 1, **SMALL, **options)
    out = model(torch.rand(2, 1, 3, 32, 32))
    assert out.shape == (2, 3)
    out.sum().backward()
    if "stages" in options:
        assert list(model.calibration_generators()) == ["layer4.0.conv2"]


def test_imagenet_weights_load_into_tada2d():
    torchvision = pytest.importorskip("torchvision")
    from stconv_lite.models.tsn import load_imagenet_resnet50

    reference = torchvision.models.resnet50()  # random weights: nothing is downloaded
    model = TAda2D(10, in_channels=1)
    untouched = load_imagenet_resnet50(model, reference.state_dict())
    assert all(".generator." in k or ".pool_bn." in k or k.startswith("fc.") for k in untouched)
    assert_close(model.layer1[0].conv2.conv.weight, reference.layer1[0].conv2.weight)
    assert_close(model.layer1[0].bn2.bn.running_var, reference.layer1[0].bn2.running_var)


def test_table1_footnote_and_measured_macs():
    paper = table1_costs(64, 64, 3, 8, 56, 56, 4)
    assert round(paper["(2+1)D conv"]["flops"] / 1e9, 4) == 1.2331
    assert round(paper["TAdaConv"]["flops"] / 1e9, 4) == 0.9268
    assert round(paper["spatial conv"]["flops"] / 1e9, 4) == 0.9248
    ours = measured_macs(64, 64, 3, 8, 56, 56, 4)
    assert ours["spatial conv"] == paper["spatial conv"]["flops"]
    assert ours["(2+1)D conv"] == paper["(2+1)D conv"]["flops"]
    # convs of the generator: the two temporal 1D convs of table 1, plus the C x C global map
    assert ours["TAdaConv generator"] == 2 * 64 * 16 * 3 * 8 + 64 * 64
    assert ours["TAdaConv"] == ours["spatial conv"] + ours["TAdaConv generator"]


def test_bad_options_raise_clear_errors():
    with pytest.raises(ValueError, match="aggregation must be one of"):
        tada2d_bottleneck(8, 8, aggregation="max")
    with pytest.raises(ValueError, match="stages must be a subset"):
        TAda2D(10, stages=(0, 1))
    with pytest.raises(ValueError, match=r"expects \(B, C=1, T, H, W\)"):
        create("tsn50_tada2d_small", 3, 1, **SMALL)(torch.rand(2, 1, 32, 32))


@pytest.mark.parametrize("base", ["videoresnet18_2plus1d", "videoresnet18_3d"])
def test_tadaify_plugs_into_registry_models_and_starts_as_identity(base):
    torch.manual_seed(0)
    plain = create(base, 4, 1, width=4).eval()
    registered = create(f"{base}_tada", 4, 1, width=4)
    assert sum(isinstance(m, InputCalibratedConv) for m in registered.modules()) == 16  # 8 blocks x 2 convs
    x = torch.rand(2, 1, 8, 16, 16)
    tada = tadaify(copy.deepcopy(plain)).eval()
    assert_close(tada(x), plain(x))
    for module in tada.modules():
        if isinstance(module, InputCalibratedConv):
            torch.nn.init.normal_(module.generator.expand.weight, std=0.5)
    assert (tada(x) - plain(x)).abs().max() > 1e-4


def test_tadaify_refuses_models_without_spatial_convs():
    with pytest.raises(ValueError, match="no spatial Conv3d"):
        tadaify(torch.nn.Sequential(torch.nn.Linear(3, 3)))
