"""Calibration generator G (eqs. 4-6): identity at init, shapes, local/global context, the
authors' RouteFuncMLP reference vectors in eval and train mode, errors."""

from pathlib import Path

import pytest
import torch
from torch.testing import assert_close

from stconv_lite.authors import convert_authors_state_dict
from stconv_lite.ops.calibration import CalibrationGenerator

REF = Path(__file__).resolve().parents[1].parent / "shared" / "refvectors" / "tadaconv_ref.pt"


def _video(b=2, c=8, t=5, h=4, w=4, seed=0):
    return torch.randn(b, c, t, h, w, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_alpha_is_exactly_one_at_init(mode):
    gen = CalibrationGenerator(8).train(mode == "train")
    alpha = gen(_video())
    assert alpha.shape == (2, 8, 5)
    assert torch.equal(alpha, torch.ones_like(alpha))
    assert torch.count_nonzero(gen.expand.weight) == 0


def test_output_channels_and_hidden_width():
    gen = CalibrationGenerator(8, out_channels=12, reduction=4)
    assert gen.reduce.out_channels == 2 and gen.expand.out_channels == 12
    assert gen(_video()).shape == (2, 12, 5)
    assert CalibrationGenerator(3, reduction=4).reduce.out_channels == 1


def _randomise(gen):
    torch.manual_seed(3)
    for p in gen.parameters():
        torch.nn.init.normal_(p)
    torch.nn.init.constant_(gen.bn.bias, 5.0)  # keep the ReLU open so that every path shows
    return gen.eval()


def test_local_context_reaches_only_the_neighbours():
    """Kernels (3, 3): alpha_t depends on frames t-2..t+2 only; kernels (1, 1): on frame t only."""
    for kernels, reach in [((3, 3), 2), ((1, 1), 0)]:
        gen = _randomise(CalibrationGenerator(8, kernel_sizes=kernels, global_context=False))
        x = _video(t=7)
        y = x.clone()
        y[:, :, 0] += 1.0
        changed = (gen(x) - gen(y)).abs().amax(dim=(0, 1)) > 1e-6
        assert changed.tolist() == [t <= reach for t in range(7)]


def test_global_context_reaches_every_frame():
    gen = _randomise(CalibrationGenerator(8, kernel_sizes=(1, 1), global_context=True))
    x = _video(t=7)
    y = x.clone()
    y[:, :, 0] += 1.0
    assert bool(((gen(x) - gen(y)).abs().amax(dim=(0, 1)) > 1e-6).all())


def test_bad_inputs_raise_clear_errors():
    gen = CalibrationGenerator(8)
    with pytest.raises(ValueError, match=r"expects \(B, C=8, T, H, W\); got \(2, 8, 4, 4\)"):
        gen(torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match="C=8"):
        gen(torch.randn(2, 4, 3, 4, 4))
    with pytest.raises(ValueError, match="odd positive"):
        CalibrationGenerator(8, kernel_sizes=(2, 3))
    with pytest.raises(ValueError, match="positive"):
        CalibrationGenerator(8, reduction=0)
    with pytest.raises(ValueError, match="unexpected RouteFuncMLP key"):
        convert_authors_state_dict("calibration", {"zz.weight": torch.zeros(1)})


def _cases():
    if not REF.exists():
        pytest.skip(f"reference vectors tadaconv_ref.pt not found at {REF}")
    return torch.load(REF, weights_only=True)["cases"]


@pytest.mark.parametrize("name", ["routefunc_init", "routefunc_random"])
@pytest.mark.parametrize("mode", ["eval", "train"])
def test_reference_route_function(name, mode):
    case = _cases()[name]
    gen = CalibrationGenerator(8, reduction=4, kernel_sizes=(3, 3))
    gen.load_state_dict(convert_authors_state_dict("calibration", case["state_dict"]))
    gen.train(mode == "train")
    (x,) = case["inputs"]
    expected = case[f"output_{mode}"]
    assert expected.shape == (2, 8, 4, 1, 1)
    assert_close(gen(x), expected[..., 0, 0], atol=1e-5, rtol=1e-5)


def test_one_verb_reads_every_kind_and_refuses_unknown_ones():
    from stconv_lite.authors import KINDS

    assert set(KINDS) == {"conv3t", "ct_module", "ct_block", "calibration", "tadaconv", "tada2d_block"}
    with pytest.raises(ValueError, match="kind must be one of"):
        convert_authors_state_dict("resnet", {})
