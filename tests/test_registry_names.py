"""One naming grammar for the model registry; the old names still work, as aliases that warn.

The grammar and its vocabulary are tabled in the docstring of :mod:`stconv_lite.models.registry`.
Every model is built on PyTorch's ``meta`` device here (shapes only), so even the ResNet-50s cost
nothing.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from stconv_lite.models import available, clip_spec, create, min_clip_size, register, registry, supports_clip

ROOT = Path(__file__).resolve().parents[1]

# The grammar written out independently of the registry's own pattern.
GRAMMAR = re.compile(
    r"^(cnn3|lenet5|resnet18|googlenet|videoresnet18|videoresnet34|tsn50|ctnet50|densenet121)"
    r"_(2d|stacked|3d|mc[2-5]|rmc[2-5]|2plus1d|3t|tada2d|c3d|r2plus1d|csn|ct|ctfull|fusion)"
    r"(_tada)?(_small)?$"
)
OLD = registry.aliases()


@pytest.fixture(autouse=True)
def _aliases_warn(monkeypatch):
    """The suite makes old names errors (STCONV_STRICT_NAMES=1, conftest.py); here they must warn."""
    monkeypatch.delenv("STCONV_STRICT_NAMES", raising=False)


def test_strict_mode_turns_an_old_name_into_an_error(monkeypatch):
    monkeypatch.setenv("STCONV_STRICT_NAMES", "1")
    with pytest.raises(ValueError, match="old model name 'r2plus1d_18': use 'videoresnet18_2plus1d'"):
        _meta("r2plus1d_18")
    _meta("videoresnet18_2plus1d")  # canonical names are unaffected


def _meta(name: str, **options) -> nn.Module:
    with torch.device("meta"):
        return create(name, num_classes=10, **options)


def _architecture(model: nn.Module) -> tuple:
    """Parameter count, module types in order, and every state_dict entry's shape."""
    return (
        sum(p.numel() for p in model.parameters()),
        [type(m).__name__ for m in model.modules()],
        {k: tuple(v.shape) for k, v in model.state_dict().items()},
    )


@pytest.mark.parametrize("name", available())
def test_every_canonical_name_follows_the_grammar_and_builds(name):
    assert GRAMMAR.match(name), name
    parts = registry.parse_name(name)
    rebuilt = "_".join(p for p in (parts["backbone"], parts["operator"], parts["plugin"], parts["size"]) if p)
    assert rebuilt == name
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # a canonical name never warns
        model = _meta(name)
    assert sum(p.numel() for p in model.parameters()) > 0


def test_available_lists_canonical_names_only_and_every_alias_points_to_one():
    names = set(available())
    assert len(names) == 49 and len(OLD) == 42
    assert not names & set(OLD), "an old name is still registered"
    assert set(OLD.values()) <= names
    assert len(set(OLD.values())) == len(OLD), "two old names for one network"
    assert registry.aliases() is not registry._OLD_NAMES  # a copy: callers cannot edit the registry


@pytest.mark.parametrize("old", sorted(OLD))
def test_old_names_warn_with_the_new_name_and_build_the_same_network(old):
    new = OLD[old]
    with pytest.warns(FutureWarning, match=rf"'{old}' is deprecated; use '{new}'"):
        model = _meta(old)
    assert _architecture(model) == _architecture(_meta(new))


@pytest.mark.parametrize("old", ["r2plus1d_18", "ctnet_r50", "resnet50_ct", "tiny_c3d", "fusion_template_tiny"])
def test_every_function_that_takes_a_name_accepts_an_old_one(old):
    new = OLD[old]
    with pytest.warns(FutureWarning, match=new) as caught:
        spec = clip_spec(old)
    assert len(caught) == 1, [str(w.message) for w in caught]  # one warning, not one per inner call
    assert caught[0].filename == __file__  # it points at the caller's line
    assert spec == clip_spec(new)
    with pytest.warns(FutureWarning, match=new):
        assert min_clip_size(old) == min_clip_size(new)
    with pytest.warns(FutureWarning, match=new):
        assert supports_clip(old, (8, 32, 32)) == supports_clip(new, (8, 32, 32))
    with pytest.warns(FutureWarning, match=new):
        assert registry.resolve(old) == new


def test_trap_ct_module_and_ct_net_are_different_networks_with_visibly_different_names():
    """Table 2a's plain CT-Module network and the CT-Net share backbone and blocks, not the module."""
    plain, full = registry.parse_name("ctnet50_ct"), registry.parse_name("ctnet50_ctfull")
    assert plain["backbone"] == full["backbone"] == "ctnet50" and plain["operator"] != full["operator"]
    a, b = _architecture(_meta("ctnet50_ct")), _architecture(_meta("ctnet50_ctfull"))
    assert a[0] != b[0]  # the point-wise convs and the tensor excitation have parameters
    assert a[2].keys() < b[2].keys()  # the full module holds everything the plain one has, and more
    assert "TensorExcitation" not in a[1] and "TensorExcitation" in b[1]
    assert not any(".fusions." in k for k in a[2]) and any(".fusions." in k for k in b[2])  # point-wise convs
    # the old names were the confusing pair
    assert (OLD["resnet50_ct"], OLD["ctnet_r50"]) == ("ctnet50_ct", "ctnet50_ctfull")


def test_trap_inflated_resnet18_and_r3d_are_different_networks_with_visibly_different_names():
    """3TConv's 3D-ResNet18 (torchvision's ResNet-18 inflated) is not Tran et al.'s R3D-18."""
    inflated, tran = registry.parse_name("resnet18_3d"), registry.parse_name("videoresnet18_3d")
    assert inflated["operator"] == tran["operator"] == "3d" and inflated["backbone"] != tran["backbone"]
    a, b = _meta("resnet18_3d", in_channels=3), _meta("videoresnet18_3d", in_channels=3)
    assert sum(p.numel() for p in a.parameters()) != sum(p.numel() for p in b.parameters())
    stem_a = next(m for m in a.modules() if isinstance(m, nn.Conv3d))
    stem_b = next(m for m in b.modules() if isinstance(m, nn.Conv3d))
    assert (stem_a.kernel_size, stem_a.stride) == ((7, 7, 7), (2, 2, 2))  # time strided like space
    assert (stem_b.kernel_size, stem_b.stride) == ((3, 7, 7), (1, 2, 2))
    assert any(isinstance(m, nn.MaxPool3d) for m in a.modules())
    assert not any(isinstance(m, nn.MaxPool3d) for m in b.modules())
    assert OLD["r3d_18"] == "videoresnet18_3d" and "resnet18_3d" not in OLD  # the 3TConv name stays


@pytest.mark.parametrize(
    "typo, expected",
    [
        ("videoresnet18_2plus1", "videoresnet18_2plus1d"),
        ("r2plus1d_16", "videoresnet18_2plus1d"),  # close to an old name: the new name is offered
        ("ctnet50_ct_full", "ctnet50_ctfull"),
        ("resnet18_3D", "resnet18_3d"),
    ],
)
def test_unknown_names_get_a_clear_error_with_close_matches(typo, expected):
    with pytest.raises(ValueError, match=rf"unknown model '{typo}'; did you mean [^?]*'{expected}'") as error:
        create(typo, num_classes=3)
    assert "available: " in str(error.value)
    for function in (clip_spec, min_clip_size):
        with pytest.raises(ValueError, match="did you mean"):
            function(typo)


def test_register_enforces_the_grammar_and_refuses_old_names(monkeypatch):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    with pytest.raises(ValueError, match="does not follow <backbone>_<operator>"):
        register("my_new_net")
    with pytest.raises(ValueError, match="old name of 'ctnet50_ctfull'"):
        register("ctnet_r50")
    register("_scratch_net")(lambda num_classes, in_channels=1: nn.Identity())  # private names are exempt
    register("videoresnet34_3t")(lambda num_classes, in_channels=1: nn.Identity())  # a grammatical new name


_PENDING: set[str] = set()  # files allowed to lag behind a rename while it lands (none now)


def test_the_package_and_the_tests_call_the_registry_with_new_names_only():
    """No FutureWarning in normal use: no call of the registry with an old name (arm labels may stay)."""
    calls = re.compile(
        r"\b(?:create|clip_spec|min_clip_size|supports_clip|resolve|_params|_gmacs|meta_model)\(\s*[\"']("
        + "|".join(map(re.escape, OLD))
        + r")[\"']"
    )
    offenders = []
    for path in sorted([*(ROOT / "stconv_lite").rglob("*.py"), *(ROOT / "tests").glob("*.py")]):
        relative = path.relative_to(ROOT).as_posix()
        if relative in _PENDING or path.name == "test_registry_names.py":
            continue
        offenders += [f"{relative}: {m.group(0)}" for m in calls.finditer(path.read_text())]
    assert not offenders, offenders


def test_notebooks_use_old_names_only_as_arm_labels():
    """In the chapters, an old model name may appear only where it is a stored run's arm label (or
    torchvision's own ``r2plus1d_18``): every model the chapters build goes by its canonical name."""
    import json

    from stconv_lite.experiments import registry as experiments

    arm_labels = {arm for name in experiments.names() for arm in experiments.get(name).arms}
    allowed = arm_labels | {"r2plus1d_18"}  # torchvision.models.video.r2plus1d_18 keeps its name
    quoted = re.compile(r"[\"']([a-z0-9_]+)[\"']")
    offenders = []
    for path in sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "book").glob("*.ipynb")]):
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            for name in quoted.findall("".join(cell["source"])):
                if name in OLD and name not in allowed:
                    offenders.append(f"{path.name} cell {index}: {name!r} -> {OLD[name]!r}")
    assert not offenders, offenders
