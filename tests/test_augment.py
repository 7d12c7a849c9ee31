"""Per-sample batched crop / flip / normalise (runs on CPU here; the same code runs on the GPU)."""

from __future__ import annotations

import pytest
import torch

from stconv_lite.data.augment import ClipAugment, augment_clips


def _clips(batch: int = 4) -> torch.Tensor:
    return torch.randint(0, 256, (batch, 3, 2, 10, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def test_shape_dtype_and_range():
    out = augment_clips(_clips(), 8, mean=None, std=None, generator=torch.Generator().manual_seed(1))
    assert out.shape == (4, 3, 2, 8, 8) and out.dtype == torch.float32
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_each_sample_is_a_crop_of_itself_possibly_flipped():
    clips = _clips(16)
    out = augment_clips(clips, (6, 7), mean=None, std=None, generator=torch.Generator().manual_seed(2))
    flips, offsets = [], set()
    for b in range(len(clips)):
        found = None
        for top in range(10 - 6 + 1):
            for left in range(12 - 7 + 1):
                window = clips[b, :, :, top : top + 6, left : left + 7].float() / 255
                if torch.equal(out[b], window):
                    found = (top, left, False)
                elif torch.equal(out[b], window.flip(-1)):
                    found = (top, left, True)
        assert found is not None, f"sample {b} is not a crop of its input"
        offsets.add(found[:2])
        flips.append(found[2])
    assert any(flips) and not all(flips)  # per-sample coin flips, not one for the batch
    assert len(offsets) > 1  # per-sample offsets


def test_seeded_generator_repeats():
    first = augment_clips(_clips(), 8, generator=torch.Generator().manual_seed(3))
    again = augment_clips(_clips(), 8, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(first, again)


def test_eval_is_centre_crop_and_normalised():
    clips = _clips()
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)
    out = augment_clips(clips, 8, train=False, mean=mean, std=std)
    centre = clips[:, :, :, 1:9, 2:10].float() / 255
    expected = (centre - torch.tensor(mean)[None, :, None, None, None]) / torch.tensor(std)[None, :, None, None, None]
    torch.testing.assert_close(out, expected)


def test_float_input_is_not_rescaled():
    clips = torch.rand(2, 3, 2, 8, 8)
    torch.testing.assert_close(augment_clips(clips, 8, train=False, mean=None, std=None), clips)


def test_module_switches_with_train_and_eval():
    module = ClipAugment(8, flip_p=1.0, mean=None, std=None)
    clips = _clips(2)
    torch.manual_seed(0)
    trained = module.train()(clips)
    centre = clips[:, :, :, 1:9, 2:10].float() / 255
    torch.testing.assert_close(module.eval()(clips), centre)
    assert not torch.equal(trained, centre)  # always flipped in training with flip_p=1
    assert sum(p.numel() for p in module.parameters()) == 0


@pytest.mark.parametrize(
    "clips, crop, match",
    [
        (torch.zeros(3, 2, 8, 8, dtype=torch.uint8), 4, r"\(B, C, T, H, W\); got \(3, 2, 8, 8\)"),
        (torch.zeros(1, 3, 2, 8, 8, dtype=torch.uint8), 9, "crop must fit"),
        (torch.zeros(1, 1, 2, 8, 8, dtype=torch.uint8), 4, "one value per channel"),
    ],
)
def test_bad_input(clips, crop, match):
    with pytest.raises(ValueError, match=match):
        augment_clips(clips, crop)
