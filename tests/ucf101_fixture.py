"""pytest fixtures for the UCF101 tests: one tiny UCF101-shaped folder per session, written with PyAV.

The writer itself lives in the package (stconv_lite.data.ucf101.fixture) because the benchmark and
the chapter notebook use it too.
"""

from __future__ import annotations

import pytest

from stconv_lite.data.ucf101.fixture import Fixture, write_fixture

FRAMES, SIZE = 8, (16, 20)


@pytest.fixture(scope="session")
def ucf_fixture(tmp_path_factory) -> Fixture:
    """4 classes x 2 groups: 1 corrupt, 1 missing, the casing quirk; videos of 12-20 frames."""
    pytest.importorskip("av")
    return write_fixture(tmp_path_factory.mktemp("ucf101"))


@pytest.fixture(scope="session")
def ucf_cache(ucf_fixture, tmp_path_factory):
    """A finished cache of the fixture (FRAMES frames of SIZE), and its build report."""
    from stconv_lite.data.ucf101 import build_cache

    folder = tmp_path_factory.mktemp("ucf101_cache")
    report = build_cache(
        ucf_fixture.video_root, ucf_fixture.split_dir, folder, frames=FRAMES, size=SIZE, progress=False
    )
    return folder, report
