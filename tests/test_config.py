"""stconv_lite.config: scale selection, pick, seeding."""

import pytest
import torch

from stconv_lite import config


def test_scale_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("STCONV_SCALE", "Small")
    assert config.get_scale() == "small"


def test_default_scale_depends_on_cuda(monkeypatch):
    monkeypatch.delenv("STCONV_SCALE", raising=False)
    expected = "full" if torch.cuda.is_available() else "small"
    assert config.get_scale() == expected


def test_unknown_scale_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("STCONV_SCALE", "huge")
    with pytest.raises(ValueError, match="quick"):
        config.get_scale()


@pytest.mark.parametrize("scale, expected", [("quick", 1), ("small", 2), ("full", 3)])
def test_pick_chooses_by_scale(scale, expected):
    assert config.pick(quick=1, small=2, full=3, scale=scale) == expected


def test_pick_rejects_unknown_scale():
    with pytest.raises(ValueError, match="scale must be one of"):
        config.pick(1, 2, 3, scale="medium")


def test_seed_everything_repeats_random_draws():
    config.seed_everything(7)
    first = torch.randn(5)
    generator = config.seed_everything(7)
    torch.testing.assert_close(torch.randn(5), first)
    torch.testing.assert_close(
        torch.randn(3, generator=generator), torch.randn(3, generator=torch.Generator().manual_seed(7))
    )


def test_seed_must_be_a_non_negative_int():
    with pytest.raises(ValueError, match="seed"):
        config.seed_everything(-1)


def test_describe_names_scale_and_device(monkeypatch):
    monkeypatch.setenv("STCONV_SCALE", "quick")
    text = config.describe()
    assert "scale=quick" in text and "torch=" in text
