"""CT-Net networks: the CT block against the authors' vectors, placement, counts and FLOP ratios."""

import copy
from pathlib import Path

import pytest
import torch
from einops import rearrange

from stconv_lite.models.ctnet import CTBottleneck, convert_authors_block_state_dict
from stconv_lite.ops.ctconv import CTModule

REPO = Path(__file__).resolve().parents[1]
REF_CANDIDATES = [REPO / "tests" / "refvectors" / "ctnet_ref.pt", REPO.parent / "shared" / "refvectors" / "ctnet_ref.pt"]


def load_reference() -> dict:
    for path in REF_CANDIDATES:
        if path.exists():
            return torch.load(path, weights_only=True)
    pytest.skip(f"ctnet_ref.pt not found in {[str(p) for p in REF_CANDIDATES]}")


def test_ct_block_reproduces_authors_vectors():
    case = load_reference()["cases"]["ct_block_in128_p32_t4"]
    block = CTBottleneck(128, 32, CTModule(32, factors="pow2"))
    block.load_state_dict(convert_authors_block_state_dict(case["state_dict"]))
    frames = case["inputs"][0]

    def run(module):
        video = rearrange(frames, "(n t) c h w -> n c t h w", t=4)
        return rearrange(module(video), "n c t h w -> (n t) c h w")

    with torch.no_grad():
        torch.testing.assert_close(run(block.eval()), case["output_eval"], atol=1e-5, rtol=1e-5)
        training = copy.deepcopy(block).train()
        torch.testing.assert_close(run(training), case["output_train"], atol=1e-5, rtol=1e-5)


def test_ct_block_rejects_bad_input():
    block = CTBottleneck(32, 8, CTModule(8, factors=(2, 4), excitation=False))
    with pytest.raises(ValueError, match=r"expects \(B, 32, T, H, W\)"):
        block(torch.zeros(4, 32, 6, 6))
