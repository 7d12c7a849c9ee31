"""Issue 18, case 5: damaged or foreign checkpoints are named, explained and never overwritten;
temporary files of a killed save are cleaned up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn as nn

from stconv_lite import checkpoint

torch.set_num_threads(1)


def _fit_like_checkpoint(path):
    model = nn.Linear(2, 2)
    checkpoint.save_atomic(
        {
            "epoch": 1,
            "signature": checkpoint.model_signature(model),
            "model": model.state_dict(),
            "optimizer": {},
            "random": checkpoint.random_states([]),
        },
        path,
    )
    return model


def test_a_good_checkpoint_still_loads(tmp_path):
    path = tmp_path / "run.pt"
    _fit_like_checkpoint(path)
    assert checkpoint.load(path)["epoch"] == 1


@pytest.mark.parametrize(
    "damage, problem",
    [
        ("empty", r"is empty \(0 bytes\)"),
        ("truncated", r"truncated or damaged torch.save archive"),
        ("random", r"not a file written by torch.save"),
        ("state_dict", r"holds a plain state_dict \(4 tensors, e.g. '0.weight'\).*model.load_state_dict"),
        ("other_dict", r"a dict without the keys"),
    ],
)
def test_damaged_or_foreign_checkpoints_are_named_and_explained(tmp_path, damage, problem):
    path = tmp_path / "run.pt"
    _fit_like_checkpoint(path)
    good = path.read_bytes()
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "truncated":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "random":
        path.write_bytes(os.urandom(3000))
    elif damage == "state_dict":
        torch.save(nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2)).state_dict(), path)
    else:
        torch.save({"weights": [1, 2]}, path)
    before = path.read_bytes()
    with pytest.raises(checkpoint.CheckpointError, match=problem) as error:
        checkpoint.load(path)
    message = str(error.value)
    assert str(path) in message
    assert "left untouched" in message and "overwrite=True" in message and "another checkpoint_path" in message
    assert path.read_bytes() == before  # never modified


def test_a_missing_checkpoint_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        checkpoint.load(tmp_path / "nothing.pt")


def test_a_killed_save_leaves_no_stale_temporary_file(tmp_path):
    path = tmp_path / "run.pt"
    _fit_like_checkpoint(path)
    # A child process starts a save and is SIGKILLed half-way through writing its temporary file.
    script = textwrap.dedent(f"""
        import os, signal, torch
        from stconv_lite import checkpoint
        def dying_save(payload, file):
            file.write(b"PK\\x03\\x04 half a checkpoint")
            file.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = dying_save
        checkpoint.save_atomic({{"epoch": 2}}, {str(path)!r})
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    leftovers = [p for p in tmp_path.iterdir() if p.name != "run.pt"]
    assert leftovers, "the kill should have left the temporary file behind"
    assert checkpoint.load(path)["epoch"] == 1  # the previous checkpoint is intact ...
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]  # ... and the stale temporary file is gone
    _fit_like_checkpoint(path)
    assert [p.name for p in tmp_path.iterdir()] == ["run.pt"]


def test_a_save_in_progress_elsewhere_is_not_removed(tmp_path):
    path = tmp_path / "run.pt"
    live = tmp_path / f".run.pt.{os.getppid()}.abcd.tmp"  # the parent process is alive
    live.write_bytes(b"in progress")
    _fit_like_checkpoint(path)
    assert live.exists()
