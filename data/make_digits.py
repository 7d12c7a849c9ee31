"""One-off script that made data/digits_uci.npz (kept for provenance; nothing imports it).

Source: the 8x8 UCI handwritten digits that scikit-learn ships as
``sklearn/datasets/data/digits.csv.gz`` (1797 rows of 64 pixels in 0..16 plus the label; BSD-3,
see LICENSE-digits.txt). The file stores them unchanged (45 KB):

* ``bitmaps``: uint8 (1797, 8, 8), values 0..16 (ink pixel counts of 4x4 blocks);
* ``labels``: uint8 (1797,);
* ``is_test``: bool (1797,), a deterministic train/test split: within each class, the last 20 %
  of the rows in file order (which roughly follows the writers) are test images.

``stconv_lite.data.digits`` turns the bitmaps into MNIST-like 28x28 uint8 images at load time
(see ``mnist_style`` there), so the resampling is code a reader can inspect, not a baked file.

Run (needs scikit-learn only here, never at run time):
    pip install scikit-learn && python data/make_digits.py
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

TEST_FRACTION = 0.2


def split_mask(labels: np.ndarray) -> np.ndarray:
    is_test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        n_test = int(round(TEST_FRACTION * len(rows)))
        is_test[rows[len(rows) - n_test :]] = True
    return is_test


def main() -> None:
    import sklearn  # only this script needs it

    source = Path(sklearn.__file__).parent / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(source, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    bitmaps, labels = table[:, :64].reshape(-1, 8, 8), table[:, 64]
    out = Path(__file__).parent / "digits_uci.npz"
    np.savez_compressed(
        out,
        bitmaps=bitmaps.astype(np.uint8),
        labels=labels.astype(np.uint8),
        is_test=split_mask(labels),
    )
    print(f"wrote {out} ({out.stat().st_size} bytes): {bitmaps.shape} from {source}")


if __name__ == "__main__":
    main()
