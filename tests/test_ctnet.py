"""CT-Net networks: the CT block against the authors' vectors, placement, counts and FLOP ratios."""

import copy

import pytest
import torch
from einops import rearrange
from refvectors import load_refvectors

from stconv_lite.authors import convert_authors_state_dict
from stconv_lite.models.ctnet import CTBottleneck
from stconv_lite.ops.ctconv import CTModule


def load_reference() -> dict:
    return load_refvectors("ctnet_ref.pt")


def test_ct_block_reproduces_authors_vectors():
    case = load_reference()["cases"]["ct_block_in128_p32_t4"]
    block = CTBottleneck(128, 32, CTModule(32, factors="pow2"))
    block.load_state_dict(convert_authors_state_dict("ct_block", case["state_dict"]))
    frames = case["inputs"][0]

    def run(module):
        video = rearrange(frames, "(n t) c h w -> n c t h w", t=4)
        return rearrange(module(video), "n c t h w -> (n t) c h w")

    with torch.no_grad():
        torch.testing.assert_close(run(block.eval()), case["output_eval"], atol=1e-5, rtol=1e-5)
        training = copy.deepcopy(block).train()
        torch.testing.assert_close(run(training), case["output_train"], atol=1e-5, rtol=1e-5)


def test_ct_block_rejects_bad_input():
    block = CTBottleneck(32, 8, CTModule(8, factors=(2, 4), excitation=False))
    with pytest.raises(ValueError, match=r"expects \(B, 32, T, H, W\)"):
        block(torch.zeros(4, 32, 6, 6))


# ---------------------------------------------------------------- networks (built on the meta device)
from stconv_lite.analysis.complexity import count_macs  # noqa: E402
from stconv_lite.models import create  # noqa: E402
from stconv_lite.models.ctnet import CT_VARIANTS, replaced_blocks  # noqa: E402


def meta_model(name: str, **options):
    with torch.device("meta"):
        return create(name, num_classes=174, in_channels=3, **options)


def gmacs(model, frames: int = 8, size: int = 256) -> float:
    """Multiply-adds (the paper's "FLOPs"); on meta tensors, so the full 256x256 count is instant."""
    with torch.device("meta"):
        clip = torch.randn(1, 3, frames, size, size)
    return count_macs(model, clip) / 1e9


def test_replaced_blocks_match_the_paper():
    assert replaced_blocks((3, 4, 6, 3)) == [(1, 1), (2, 1), (2, 3), (3, 1), (3, 3), (3, 5), (4, 1)]
    assert len(replaced_blocks((3, 4, 6, 3), "all")) == 12
    assert replaced_blocks((3, 4, 6, 3), "odd", from_stage=4) == [(4, 1)]
    with pytest.raises(ValueError, match="replace"):
        replaced_blocks((3, 4, 6, 3), "even")


def test_ctnet_r50_has_seven_ct_blocks_and_paper_parameter_counts():
    ct, tsn = meta_model("ctnet50_ctfull"), meta_model("tsn50_2d")
    assert sum(isinstance(m, CTBottleneck) for m in ct.modules()) == 7
    assert sum(isinstance(m, CTBottleneck) for m in tsn.modules()) == 0
    n_ct = sum(p.numel() for p in ct.parameters())
    n_tsn = sum(p.numel() for p in tsn.parameters())
    assert abs(n_ct / 1e6 - 21.0) < 0.05 and abs(n_tsn / 1e6 - 23.9) < 0.05  # tables 6 and 8
    assert n_ct == 20_959_150  # the authors' TSN(..., 'CT_Net', num_total=7) with 174 classes


def test_freeze_backbone_leaves_the_authors_trainable_set():
    frozen = meta_model("ctnet50_ctfull", freeze_backbone=True)
    trainable = sum(p.numel() for p in frozen.parameters() if p.requires_grad)
    assert abs(trainable / 1e6 - 5.90) < 0.01  # released code: 5.90 M of 20.96 M trainable
    assert all(p.requires_grad for p in meta_model("ctnet50_ctfull").parameters())


# Ratios are independent of the FLOP-counting convention; the meta device makes 8x256x256 instant.
PAPER_2A = {"ctnet50_c3d": 59.9, "ctnet50_r2plus1d": 45.8, "ctnet50_csn": 35.6, "ctnet50_ct": 36.3}


def test_table_2a_flop_ratios_within_5_percent():
    ours = {name: gmacs(meta_model(name)) for name in PAPER_2A}
    for name, paper in PAPER_2A.items():
        ratio, paper_ratio = ours[name] / ours["ctnet50_ct"], paper / PAPER_2A["ctnet50_ct"]
        assert abs(ratio / paper_ratio - 1) < 0.05, (name, ratio, paper_ratio)
    tsn = gmacs(meta_model("tsn50_2d", maxpool=True))  # torchvision layout, as TSN
    assert abs(tsn / ours["ctnet50_ct"] / (43.0 / 36.3) - 1) < 0.05


def test_table_2b_sub_dimension_flop_ratios_within_5_percent():
    paper = {1: 45.8, 2: 36.3, 3: 35.7, 4: 35.6}
    ours = {k: gmacs(meta_model("ctnet50_ct", factors=k)) for k in paper}
    for k in paper:
        assert abs((ours[k] / ours[2]) / (paper[k] / paper[2]) - 1) < 0.05, (k, ours)
    assert ours[1] > ours[2] > ours[3] > ours[4]  # the higher the dimension, the fewer FLOPs


@pytest.mark.parametrize("name", ["ctnet50_ctfull"] + list(CT_VARIANTS))
def test_small_width_variants_run_on_video_mnist_shapes(name):
    torch.manual_seed(0)
    model = create(name, num_classes=10, in_channels=1, width=16, layers=(2, 2, 2, 2))
    logits = model(torch.rand(2, 1, 4, 28, 28))
    assert logits.shape == (2, 10)
    logits.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_ctnet_small_replaces_one_block_per_stage():
    model = create("ctnet50_ctfull_small", num_classes=10, in_channels=1)
    assert sum(isinstance(m, CTBottleneck) for m in model.modules()) == 4
    assert model(torch.rand(2, 1, 4, 28, 28)).shape == (2, 10)


def test_imagenet_weights_load_into_kept_layers_and_replaced_1x1_convs():
    torchvision = pytest.importorskip("torchvision")
    reference = torchvision.models.resnet50().state_dict()  # random weights: no download
    model = create("ctnet50_ctfull", num_classes=10, imagenet_state_dict=reference)
    ours = model.state_dict()
    as_3d = "o i h w -> o i 1 h w"
    torch.testing.assert_close(ours["layer1.1.conv1.weight"], rearrange(reference["layer1.1.conv1.weight"], as_3d))
    torch.testing.assert_close(ours["layer3.5.bn3.running_var"], reference["layer3.5.bn3.running_var"])
    torch.testing.assert_close(ours["layer1.2.conv2.weight"], rearrange(reference["layer1.2.conv2.weight"], as_3d))
    assert "layer1.1.conv2.weight" not in ours  # the replaced 3x3 conv is dropped, as the authors do
