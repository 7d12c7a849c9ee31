"""Benchmark plumbing of issue 19: rotated interleaving, the allocator setting, tiny smoke runs."""

import json

import torch

from stconv_lite.analysis import bench, bench_conv3t
from stconv_lite.analysis.bench_common import interleaved_ms
from stconv_lite.ops.allocator import keep_freed_memory


def test_interleaving_rotates_the_order_every_round():
    calls = []
    steps = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    interleaved_ms(steps, "cpu", repeats=3, warmup=0)
    assert calls == list("abc" + "bca" + "cab")  # nobody always follows the same contender


def test_keep_freed_memory_changes_no_number():
    torch.manual_seed(0)
    x = torch.randn(2, 4, 64, 64)
    weight = torch.randn(8, 4, 3, 3)
    before = torch.nn.functional.conv2d(x, weight)
    described = keep_freed_memory()
    assert described is None or "glibc" in described
    assert torch.equal(torch.nn.functional.conv2d(x, weight), before)


def test_tiny_operator_run_has_a_run_card_and_every_operator(tmp_path):
    result = bench.run((1, 16, 4, 8, 8), "cpu", repeats=1, warmup=0, malloc="system default")
    assert result["malloc"] == "system default" and "rotated" in result["timing"]
    assert {row["operator"] for row in result["rows"]} == set(bench.operators(16))
    assert "Machine:" in bench.table(result)


def test_tiny_conv3t_run_writes_its_run_file(tmp_path):
    out = tmp_path / "conv3t.json"
    result = bench_conv3t.main(["--cases", "tiny", "--repeats", "1", "--warmup", "0", "--out", str(out)])
    stored = json.loads(out.read_text())
    assert stored["malloc"] == result["malloc"] == "system default"
    assert len(stored["rows"]) == len(bench_conv3t.TINY_CASES)
