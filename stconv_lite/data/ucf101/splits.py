"""UCF101's official split files and where each listed video lives on disk.

The split zip unpacks to ``ucfTrainTestlist/`` with

- ``classInd.txt``: ``1 ApplyEyeMakeup`` ... ``101 YoYo`` (ids are 1-based; the order is
  case-insensitive alphabetical, which is *not* Python's ``sorted()``: that swaps
  Hammering/HammerThrow and JumpingJack/JumpRope, as torchvision's UCF101 does);
- ``trainlist0{1,2,3}.txt``: ``ApplyEyeMakeup/v_ApplyEyeMakeup_g08_c01.avi 1`` (path, 1-based label);
- ``testlist0{1,2,3}.txt``: the path only.

In code every label is 0-based and comes from the *folder name* through classInd (the test lists
carry none). The three splits partition the same 13,320 videos, so one cache row per video serves
all of them and a split is an array of row indices.

File names have quirks: the folder ``HandstandPushups`` holds ``v_HandStandPushups_*.avi``, and a
mirror may use other casing or a flat layout (``UCF101/v_X_g01_c01.avi`` with no class folders).
:class:`VideoIndex` therefore matches listed paths case-insensitively, first as ``Class/file`` and
then by file name alone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["UCF101Splits", "VideoIndex", "find_split_dir", "load_splits", "read_class_index", "read_split_list"]

SUBSETS = ("train", "test")
FOLDS = (1, 2, 3)
_VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv")
_GROUP_RE = re.compile(r"_g(\d+)_c(\d+)", re.IGNORECASE)


def _lines(path: Path) -> list[str]:
    # utf-8-sig drops a BOM; splitlines() copes with the CRLF endings of the official files
    return [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]


def read_class_index(path: str | Path) -> list[str]:
    """Class names in classInd order; position ``i`` is the 0-based label of file id ``i + 1``.

    Raises:
        ValueError: ids that are not exactly 1..N, or a malformed line (the message names it).
    """
    path = Path(path)
    by_id: dict[int, str] = {}
    for number, line in enumerate(_lines(path), 1):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise ValueError(f"{path.name} line {number}: expected '<id> <ClassName>'; got {line!r}")
        by_id[int(parts[0])] = parts[1]
    if sorted(by_id) != list(range(1, len(by_id) + 1)):
        raise ValueError(f"{path.name}: class ids must be 1..{len(by_id)} (1-based, no gaps); got {sorted(by_id)}")
    return [by_id[i] for i in range(1, len(by_id) + 1)]


def read_split_list(path: str | Path) -> list[str]:
    """Relative video paths (``Class/v_Class_gXX_cYY.avi``) of one train/test list, in file order.

    A trailing 1-based label (train lists) is ignored: labels come from classInd by folder name.
    """
    return [line.split()[0].replace("\\", "/") for line in _lines(Path(path))]


def find_split_dir(root: str | Path) -> Path:
    """The folder holding ``classInd.txt``: ``root`` itself or any folder below it (e.g. ucfTrainTestlist)."""
    root = Path(root)
    if (root / "classInd.txt").is_file():
        return root
    found = sorted(root.rglob("classInd.txt")) if root.is_dir() else []
    if not found:
        raise FileNotFoundError(
            f"no classInd.txt in or below {root}: unzip UCF101TrainTestSplits-RecognitionTask.zip there "
            "(stconv_lite.data.ucf101.download.download_ucf101 does it)"
        )
    return found[0].parent


@dataclass
class UCF101Splits:
    """Every video named by the split files, one row each, in classInd order.

    Attributes:
        classes: class names; index = 0-based label.
        videos: relative paths as the split files spell them, sorted by (label, lower-case path).
        labels: ``(N,)`` int64, from each path's folder name through classInd.
        indices: ``{(fold, "train"|"test"): int64 row indices}`` for every list file present.
    """

    classes: list[str]
    videos: list[str]
    labels: np.ndarray
    indices: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)

    def subset(self, fold: int, subset: str) -> np.ndarray:
        """Row indices of ``trainlist0{fold}`` or ``testlist0{fold}``."""
        if subset not in SUBSETS:
            raise ValueError(f"subset must be one of {SUBSETS}; got {subset!r}")
        if (fold, subset) not in self.indices:
            raise ValueError(f"split {fold} {subset} is not available; the split files give {sorted(self.indices)}")
        return self.indices[(fold, subset)]

    def fingerprint(self) -> str:
        """A hash of classes + video list: a cache built for other split files will not match it."""
        text = "\n".join(self.classes) + "\0" + "\n".join(self.videos)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @staticmethod
    def group_of(relpath: str) -> int:
        """The group number ``gXX`` of a UCF101 file name (clips of one group share actor and scene)."""
        match = _GROUP_RE.search(relpath)
        if match is None:
            raise ValueError(f"expected a UCF101 file name like v_Class_g08_c01.avi; got {relpath!r}")
        return int(match.group(1))


def load_splits(split_dir: str | Path) -> UCF101Splits:
    """Parse classInd and every ``trainlist0k``/``testlist0k`` found in ``split_dir`` (or below it).

    Raises:
        FileNotFoundError: no classInd.txt, or no list file at all.
        ValueError: a listed folder that classInd does not name, or a train list whose stated label
            disagrees with its folder.
    """
    split_dir = find_split_dir(split_dir)
    classes = read_class_index(split_dir / "classInd.txt")
    label_of = {name.lower(): i for i, name in enumerate(classes)}
    listed: dict[tuple[int, str], list[str]] = {}
    for fold in FOLDS:
        for subset in SUBSETS:
            path = split_dir / f"{subset}list0{fold}.txt"
            if path.is_file():
                listed[(fold, subset)] = read_split_list(path)
                if subset == "train":
                    _check_stated_labels(path, label_of)
    if not listed:
        raise FileNotFoundError(f"no trainlist0k.txt / testlist0k.txt in {split_dir}")

    def label(relpath: str) -> int:
        folder = relpath.split("/")[0].lower() if "/" in relpath else _class_from_name(relpath)
        if folder not in label_of:
            raise ValueError(f"{relpath!r}: class folder {folder!r} is not in classInd.txt")
        return label_of[folder]

    unique = {path.lower(): path for paths in listed.values() for path in paths}
    videos = sorted(unique.values(), key=lambda p: (label(p), p.lower()))
    row_of = {path.lower(): row for row, path in enumerate(videos)}
    indices = {key: np.array([row_of[p.lower()] for p in paths], dtype=np.int64) for key, paths in listed.items()}
    labels = np.array([label(p) for p in videos], dtype=np.int64)
    return UCF101Splits(classes, videos, labels, indices)


def _class_from_name(filename: str) -> str:
    # flat lists name files only: v_<Class>_gXX_cYY.avi
    stem = filename.split("/")[-1]
    return stem[2:].rsplit("_g", 1)[0].lower() if stem.lower().startswith("v_") else stem.lower()


def _check_stated_labels(path: Path, label_of: dict[str, int]) -> None:
    for line in _lines(path):
        parts = line.split()
        if len(parts) >= 2 and "/" in parts[0]:
            folder = parts[0].split("/")[0].lower()
            if folder in label_of and int(parts[1]) - 1 != label_of[folder]:
                raise ValueError(
                    f"{path.name}: {parts[0]} is labelled {parts[1]} but classInd gives {folder!r} the id "
                    f"{label_of[folder] + 1} (labels are 1-based in the files)"
                )


class VideoIndex:
    """Finds listed videos under a root, case-insensitively, in the class-folder or the flat layout.

    >>> index = VideoIndex("UCF-101")                        # doctest: +SKIP
    >>> index.resolve("HandstandPushups/v_HandstandPushups_g01_c01.avi")   # doctest: +SKIP
    PosixPath('UCF-101/HandstandPushups/v_HandStandPushups_g01_c01.avi')
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"video root {self.root} is not a folder (expected e.g. .../UCF-101)")
        self._by_relpath: dict[str, Path] = {}
        self._by_name: dict[str, Path] = {}
        for path in self.root.rglob("*"):
            if path.suffix.lower() in _VIDEO_SUFFIXES and path.is_file():
                relative = path.relative_to(self.root).as_posix().lower()
                self._by_relpath[relative] = path
                self._by_name.setdefault(path.name.lower(), path)

    def __len__(self) -> int:
        return len(self._by_relpath)

    def resolve(self, relpath: str) -> Path | None:
        """The file for ``relpath`` (any casing, either layout), or ``None`` when it is missing."""
        key = relpath.replace("\\", "/").lower()
        return self._by_relpath.get(key) or self._by_name.get(key.split("/")[-1])
