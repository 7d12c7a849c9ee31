"""UCF101: official splits, a decode-once uint8 cache, and a clip dataset over it.

    python -m stconv_lite.data.ucf101 prepare --root UCF-101 --splits ucfTrainTestlist --cache cache

One concept per module: :mod:`.splits` (split files, file-name quirks), :mod:`.decode` (PyAV, one
video), :mod:`.cache` (the resumable cache), :mod:`.dataset` (clips), :mod:`.download` (Colab only),
:mod:`.fixture` (a tiny generated stand-in used by tests, benchmarks and the chapter).
"""

from stconv_lite.data.ucf101.cache import BuildReport, CachedVideos, CacheMismatchError, build_cache, open_cache
from stconv_lite.data.ucf101.dataset import UCF101Clips
from stconv_lite.data.ucf101.splits import UCF101Splits, VideoIndex, load_splits, read_class_index, read_split_list

__all__ = ["BuildReport", "CachedVideos", "CacheMismatchError", "UCF101Clips", "UCF101Splits", "VideoIndex",
           "build_cache", "load_splits", "open_cache", "read_class_index", "read_split_list"]
