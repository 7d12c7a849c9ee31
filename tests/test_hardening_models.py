"""Issue 18, cases 1 and 6: every model and operator refuses bad input with a clear error, or works.

Case 1: chapter 7 (notebooks/07_ucf101.ipynb) trains on clips of CLIP_LEN x CROP x CROP = 4 x 32 x 32
(quick) and 8 x 48 x 48 (small). Every registered model either runs at those shapes or says, before
any layer runs, the smallest clip it needs; ``min_clip_size`` / ``supports_clip`` let the chapter's
menu offer only the models that fit.
"""

from __future__ import annotations

import pytest
import torch

from stconv_lite.models import available, clip_spec, create, min_clip_size, registry, supports_clip
from stconv_lite.ops.arguments import InputDtypeError

torch.set_num_threads(1)

# Chapter 7's scales: (CLIP_LEN, CROP, WIDTH) and its menu of models with their options.
CHAPTER7 = {"quick": (4, 32, 8), "small": (8, 48, 16)}


def chapter7_options(name: str, frames: int, width: int) -> dict:
    menu = {"videoresnet18_2plus1d", "videoresnet18_3d", "videoresnet18_mc3", "videoresnet18_stacked"}
    if name in menu:
        return dict(width=width, frames=frames)
    if name in ("cnn3_3d", "cnn3_2d"):
        return dict(width=16)
    return {}


def small_options(name: str, frames: int) -> dict:
    """Options that keep the models outside the menu fast on one CPU thread (same clip rules)."""
    if name.startswith(("videoresnet", "tsn50", "ctnet50")):
        options = {"width": 16}
        if registry.parse_name(name)["operator"] == "stacked":
            options["frames"] = frames
        return options
    return {}


@pytest.mark.parametrize("name", available())
def test_every_model_runs_at_chapter7_clips_or_names_its_minimum(name):
    built: dict[str, tuple] = {}  # options -> (model, spec): most models need no rebuild per scale
    for scale, (frames, crop, width) in CHAPTER7.items():
        options = chapter7_options(name, frames, width) or small_options(name, frames)
        if repr(options) not in built:
            model = create(name, num_classes=4, in_channels=3, **options).eval()
            spec = clip_spec(name, in_channels=3, **options)  # what a chapter's menu filters on, without weights
            assert spec == getattr(model, "clip_spec", spec)
            built[repr(options)] = model, spec
        model, spec = built[repr(options)]
        assert supports_clip(name, (frames, crop, crop), in_channels=3, **options) == spec.accepts(frames, crop, crop)
        clip = torch.rand(2, 3, frames, crop, crop)
        if spec.accepts(frames, crop, crop):
            with torch.no_grad():
                assert model(clip).shape == (2, 4), scale
        else:
            with pytest.raises(ValueError) as error:
                model(clip)
            message = str(error.value)
            assert " x ".join(map(str, spec.smallest)) in message, message
            assert f"got a clip of {frames} x {crop} x {crop}" in message, message


@pytest.mark.parametrize("name", ["googlenet_3d", "googlenet_3t"])
def test_googlenet_states_its_minimum_and_runs_there(name):
    assert min_clip_size(name) == (15, 15, 15)
    model = create(name, num_classes=3).eval()
    with torch.no_grad():
        assert model(torch.rand(1, 3, 15, 15, 15)).shape == (1, 3)
    with pytest.raises(ValueError, match=r"needs clips of at least \(T x H x W\) = 15 x 15 x 15; got a clip of 8 x 48"):
        model(torch.rand(1, 3, 8, 48, 48))
    with pytest.raises(ValueError, match="at least"):
        model(torch.rand(1, 3, 15, 14, 15))


def test_other_stated_minimums_are_exact():
    for name, options, (t, h, w) in [
        ("cnn3_3d", {}, (2, 4, 4)),
        ("cnn3_2d", {}, (1, 4, 4)),
        ("densenet121_fusion_small", {}, (1, 13, 13)),
    ]:
        assert min_clip_size(name, **options) == (t, h, w)
        model = create(name, num_classes=2, in_channels=1, **options).eval()
        with torch.no_grad():
            model(torch.rand(2, 1, t, h, w))
        for smaller in ((t - 1, h, w), (t, h - 1, w - 1)):
            if min(smaller) < 1:
                continue
            with pytest.raises(ValueError, match="at least"):
                model(torch.rand(2, 1, *smaller))


def test_tada2d_runs_on_clips_shorter_than_its_temporal_pool():
    model = create("tsn50_tada2d_small", num_classes=3, in_channels=1).eval()
    with torch.no_grad():
        for frames in (1, 2):
            assert model(torch.rand(2, 1, frames, 16, 16)).shape == (2, 3)


def test_lenet_names_the_clip_size_it_was_built_for():
    model = create("lenet5_3d", num_classes=10)
    with pytest.raises(
        ValueError, match=r"built for clips of \(T x H x W\) = 30 x 28 x 28; got a clip of 16 x 28 x 28"
    ):
        model(torch.rand(2, 1, 16, 28, 28))
    with pytest.raises(ValueError, match="built for"):
        create("lenet5_2d", num_classes=10)(torch.rand(2, 1, 30, 32, 32))
    with pytest.raises(ValueError, match="frames >= 12"):
        create("lenet5_3t", num_classes=10, frames=4, size=32)
    assert min_clip_size("lenet5_3d", frames=16, size=32) == (16, 32, 32)


def test_create_keeps_builder_defaults_and_rejects_non_counts():
    assert create("cnn3_3d", num_classes=2).in_channels == 1  # the builder's default, not 3
    assert create("videoresnet18_3d", num_classes=2, width=2).in_channels == 3
    for bad in (
        dict(num_classes=True),
        dict(num_classes=2, in_channels=True),
        dict(num_classes=2, width=0),
        dict(num_classes=2, width=True),
        dict(num_classes=0),
    ):
        with pytest.raises(ValueError, match="must be a positive int"):
            create("cnn3_3d", **bad)


@pytest.mark.parametrize("name", ["cnn3_3d", "cnn3_2d"])
def test_tiny_models_check_channels(name):
    model = create(name, num_classes=2, in_channels=3)
    with pytest.raises(ValueError, match=r"expects \(B, 3, T, H, W\); got \(2, 1, 8, 16, 16\)"):
        model(torch.rand(2, 1, 8, 16, 16))


DTYPE_MODELS = [
    "cnn3_3d",
    "cnn3_2d",
    "lenet5_3t",
    "videoresnet18_2plus1d",
    "resnet18_3t",
    "googlenet_3d",
    "tsn50_2d_small",
    "tsn50_tada2d_small",
    "ctnet50_ctfull_small",
    "densenet121_fusion_small",
]


@pytest.mark.parametrize("name", DTYPE_MODELS)
def test_models_refuse_uint8_and_float64_with_what_to_do(name):
    options = {"width": 4} if name == "videoresnet18_2plus1d" else {}
    model = create(name, num_classes=2, in_channels=3, **options)
    size = (16, 32, 32) if name.startswith("googlenet") else (30, 28, 28) if name.startswith("lenet") else (4, 16, 16)
    raw = torch.randint(0, 256, (1, 3, *size), dtype=torch.uint8)
    with pytest.raises(InputDtypeError, match=r"floating-point clips; got dtype torch.uint8.*clip.float\(\) / 255"):
        model(raw)
    with pytest.raises(ValueError, match=r"float32 weights but got a torch.float64 input.*x.to\(torch.float32\)"):
        model(raw.double())


def test_operators_refuse_bad_dtypes():
    from stconv_lite.ops.calibration import CalibrationGenerator
    from stconv_lite.ops.conv3t import Conv3T
    from stconv_lite.ops.ctconv import CTModule
    from stconv_lite.ops.droppath import DropPathGate, GatedPath
    from stconv_lite.ops.fusion import FusionLayer
    from stconv_lite.ops.r2plus1d import Conv2Plus1d
    from stconv_lite.ops.tadaconv import TAdaConv2d, TAdaConvWithGenerator
    from stconv_lite.ops.temporal_aggregation import TemporalAggregation
    from stconv_lite.ops.tensor_excitation import TensorExcitation

    ops = [
        Conv3T(4, 4, 3, padding=1),
        Conv2Plus1d(4, 4, 3, padding=1),
        CTModule(16),
        TensorExcitation(4, 1),
        TAdaConv2d(4, 4, 3, padding=1),
        TAdaConvWithGenerator(4, 4, 3, padding=1),
        CalibrationGenerator(4),
        TemporalAggregation(4),
        FusionLayer(4, 4, 8),
        GatedPath(4, 4, (3, 1, 1)),
        DropPathGate(mode="relaxed"),
    ]
    for op in ops:
        channels = 16 if isinstance(op, CTModule) else 4
        x = torch.randint(0, 256, (2, channels, 4, 6, 6), dtype=torch.uint8)
        with pytest.raises(InputDtypeError, match="floating-point"):
            op(x)
    for op in ops[:-1]:  # the gate computes its factor in the input's dtype, so float64 works there
        channels = 16 if isinstance(op, CTModule) else 4
        with pytest.raises(InputDtypeError, match="float64 input"):
            op(torch.rand(2, channels, 4, 6, 6, dtype=torch.float64))


def test_fixed_off_gated_path_does_not_return_zeros_for_uint8():
    from stconv_lite.ops.droppath import GatedPath

    path = GatedPath(4, 4, (1, 1, 1))
    path.gate.set_keep(False)
    with pytest.raises(InputDtypeError, match="uint8"):
        path(torch.randint(0, 256, (2, 4, 4, 6, 6), dtype=torch.uint8))
    assert not path(torch.rand(2, 4, 4, 6, 6)).any()  # float input: the dropped path is zeros, as intended


def test_operators_say_when_a_clip_is_too_short_for_the_kernel():
    from stconv_lite.ops.conv3t import Conv3T
    from stconv_lite.ops.r2plus1d import Conv2Plus1d

    with pytest.raises(ValueError, match=r"Conv3T needs clips of at least \(T x H x W\) = 5 x 5 x 5; got a clip of 3"):
        Conv3T(2, 2, 5)(torch.rand(1, 2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"Conv2Plus1d needs clips of at least \(T x H x W\) = 3 x 3 x 3"):
        Conv2Plus1d(2, 2, 3, padding=0)(torch.rand(1, 2, 2, 8, 8))


def test_temporal_pool_works_on_clips_shorter_than_its_kernel():
    from stconv_lite.ops.temporal_aggregation import temporal_avg_pool

    x = torch.rand(1, 2, 2, 3, 3)
    expected = torch.stack([(x[:, :, 0] + x[:, :, 1]) / 3, (x[:, :, 0] + x[:, :, 1]) / 3], dim=2)
    torch.testing.assert_close(temporal_avg_pool(x, 3), expected)
    torch.testing.assert_close(temporal_avg_pool(x[:, :, :1], 3), x[:, :, :1] / 3)


@pytest.mark.parametrize("kind", ["spatial", "temporal", "channel"])
def test_tensor_excitation_trains_at_batch_one(kind):
    from stconv_lite.ops.tensor_excitation import TensorExcitation

    gate = TensorExcitation(8, 2, kind).train()
    x = torch.rand(1, 8, 1, 1, 1, requires_grad=True)
    gate(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    model = create("ctnet50_ctfull_small", num_classes=3, in_channels=3).train()
    model(torch.rand(1, 3, 4, 32, 32)).sum().backward()
