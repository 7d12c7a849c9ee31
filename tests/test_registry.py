"""The model registry: discovery, creation by name, clear errors."""

import pytest
import torch.nn as nn

from stconv_lite.models import available, create, register, registry

available()  # discover every model now: a test that patches _BUILDERS must not catch the registrations


def test_create_passes_num_classes_and_in_channels(monkeypatch):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))

    @register("_test_linear")
    def build(num_classes, in_channels, hidden=4):
        return nn.Sequential(nn.Linear(in_channels, hidden), nn.Linear(hidden, num_classes))

    model = create("_test_linear", num_classes=5, in_channels=2, hidden=3)
    assert model[0].in_features == 2 and model[1].out_features == 5 and model[0].out_features == 3
    assert "_test_linear" in available()


def test_registering_a_name_twice_is_an_error(monkeypatch):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    register("_twice")(lambda num_classes, in_channels: nn.Identity())
    with pytest.raises(ValueError, match="registered twice"):
        register("_twice")(lambda num_classes, in_channels: nn.Identity())


def test_unknown_name_lists_what_is_available():
    with pytest.raises(ValueError, match="unknown model 'no_such_net'; available"):
        create("no_such_net", num_classes=10)


@pytest.mark.parametrize("bad", [0, -3, 2.5])
def test_num_classes_must_be_positive_int(bad, monkeypatch):
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))
    register("_identity")(lambda num_classes, in_channels: nn.Identity())
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        create("_identity", num_classes=bad)


def test_discovery_finds_every_model_module():
    """Every module in stconv_lite/models (but the registry) is imported by available()."""
    import pkgutil
    import sys

    import stconv_lite.models as package

    available()
    for info in pkgutil.iter_modules(package.__path__):
        assert f"stconv_lite.models.{info.name}" in sys.modules
