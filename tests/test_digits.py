"""Digits: bundled UCI copy, MNIST-style framing, and the offline-safe automatic source choice."""

import threading

import pytest
import torch

from stconv_lite.data import digits
from stconv_lite.data.digits import DigitsFallbackWarning, load_digits, load_digits_with_source, mnist_style


@pytest.fixture
def online(monkeypatch):
    """Pretend we are not in CI, so that "auto" is allowed to try the network (which tests fake)."""
    monkeypatch.delenv("STCONV_OFFLINE", raising=False)
    monkeypatch.delenv("CI", raising=False)


def no_network(*args, **kwargs):
    raise AssertionError("the network must not be touched here")


def test_bundled_digits_look_like_mnist():
    images, labels = load_digits("bundled", train=True)
    assert images.dtype == torch.uint8 and images.shape[1:] == (28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (len(images),)
    assert set(labels.tolist()) == set(range(10))
    assert images.max() == 255
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    mass = images.float().sum(dim=(1, 2))
    centre_y = (images.float() * rows).sum(dim=(1, 2)) / mass
    centre_x = (images.float() * cols).sum(dim=(1, 2)) / mass
    assert (centre_y - 13.5).abs().max() < 1.0 and (centre_x - 13.5).abs().max() < 1.0
    ink = images > 0
    height = ink.any(dim=2).sum(dim=1)
    width = ink.any(dim=1).sum(dim=1)
    assert torch.maximum(height, width).max() <= 21  # a 20-pixel box (+1 for bicubic ringing)


def test_bundled_split_is_fixed_and_disjoint():
    train, train_labels = load_digits("bundled", train=True)
    test, test_labels = load_digits("bundled", train=False)
    assert (len(train), len(test)) == (1438, 359)
    assert torch.bincount(test_labels, minlength=10).min() >= 35
    train_set = {bytes(image.flatten().tolist()) for image in train}
    assert not any(bytes(image.flatten().tolist()) in train_set for image in test)


def test_load_returns_copies():
    images, _ = load_digits("bundled")
    images.zero_()
    assert load_digits("bundled")[0].max() == 255


def test_mnist_style_frames_a_full_bitmap_in_a_centred_20px_box():
    out = mnist_style(torch.full((1, 8, 8), 16, dtype=torch.uint8))
    assert out.shape == (1, 28, 28)
    ink = torch.nonzero(out[0])
    assert ink.min().item() == 4 and ink.max().item() == 23
    with pytest.raises(ValueError, match=r"\(N, h, w\)"):
        mnist_style(torch.zeros(8, 8))


@pytest.mark.parametrize("variable", ["STCONV_OFFLINE", "CI"])
def test_auto_offline_falls_back_with_a_warning_and_no_network(online, monkeypatch, tmp_path, variable):
    monkeypatch.setenv(variable, "1" if variable == "STCONV_OFFLINE" else "true")
    monkeypatch.setattr(digits, "_host_reachable", no_network)
    monkeypatch.setattr(digits, "_mnist_dataset", no_network)
    with pytest.warns(DigitsFallbackWarning, match="offline"):
        images, labels, source = load_digits_with_source("auto", root=tmp_path)
    assert source == "bundled" and len(images) == 1438


def test_auto_unreachable_server_falls_back_with_a_warning(online, monkeypatch, tmp_path):
    monkeypatch.setattr(digits, "_host_reachable", lambda *a, **k: False)
    monkeypatch.setattr(digits, "_mnist_dataset", no_network)
    with pytest.warns(DigitsFallbackWarning, match="could not be reached"):
        assert digits.resolve_source("auto", tmp_path) == "bundled"


def test_auto_failed_download_falls_back_but_explicit_mnist_raises(online, monkeypatch, tmp_path):
    def broken_download(*args, **kwargs):
        raise RuntimeError("checksum mismatch")

    monkeypatch.setattr(digits, "_host_reachable", lambda *a, **k: True)
    monkeypatch.setattr(digits, "_mnist_dataset", broken_download)
    with pytest.warns(DigitsFallbackWarning, match="checksum mismatch"):
        assert load_digits_with_source("auto", root=tmp_path)[2] == "bundled"
    with pytest.raises(RuntimeError, match="checksum"):
        load_digits("mnist", root=tmp_path)


def test_cached_mnist_is_used_without_probing_even_offline(monkeypatch, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in digits.MNIST_FILES:
        (raw / name).write_bytes(b"")

    class FakeMNIST:
        data = torch.full((5, 28, 28), 7, dtype=torch.uint8)
        targets = torch.arange(5)

    monkeypatch.setenv("STCONV_OFFLINE", "1")
    monkeypatch.setattr(digits, "_host_reachable", no_network)
    monkeypatch.setattr(digits, "_mnist_dataset", lambda root, train, download: FakeMNIST)
    digits._load_mnist.cache_clear()
    try:
        images, labels, source = load_digits_with_source("auto", root=tmp_path, train=False)
    finally:
        digits._load_mnist.cache_clear()
    assert source == "mnist" and images.shape == (5, 28, 28) and labels.tolist() == [0, 1, 2, 3, 4]


def test_reachability_probe_gives_up_instead_of_hanging(monkeypatch):
    release = threading.Event()

    class SlowConnection:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def slow_connect(*args, **kwargs):
        release.wait(10)  # a DNS lookup that never answers
        return SlowConnection()

    monkeypatch.setattr(digits.socket, "create_connection", slow_connect)
    try:
        assert digits._host_reachable(timeout=0.1) is False
    finally:
        release.set()


def test_default_root_honours_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("STCONV_DATA_DIR", str(tmp_path))
    assert digits.default_root() == tmp_path


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="source must be one of"):
        load_digits("emnist")
    with pytest.raises(ValueError, match="train must be True or False"):
        load_digits("bundled", train="yes")
