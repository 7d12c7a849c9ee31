"""Download and unpack UCF101 (for Colab; never run in CI, which has no network).

The official host has had certificate problems and outages. :func:`download` verifies TLS first
and, only when verification itself fails and the caller allows it, retries that one request
without verification and says so (the archive's size and the video count are checked afterwards,
which is what actually protects you). Nothing here changes Python's global TLS settings.

The videos come as a RAR archive. Python cannot unpack RAR on its own; :func:`unpack_rar` uses the
system's ``unrar`` (on Colab/Ubuntu: ``apt-get install -y unrar``, which :func:`ensure_unrar` runs
when it is allowed to), else ``unar`` or ``bsdtar``.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

__all__ = [
    "SPLITS_URL",
    "VIDEOS_URLS",
    "download",
    "download_ucf101",
    "ensure_unrar",
    "find_video_root",
    "have_network",
    "unpack_rar",
]

VIDEOS_URLS = (
    "https://www.crcv.ucf.edu/data/UCF101/UCF101.rar",
    "https://www.crcv.ucf.edu/datasets/human-actions/ucf101/UCF101.rar",
)
SPLITS_URL = "https://www.crcv.ucf.edu/data/UCF101/UCF101TrainTestSplits-RecognitionTask.zip"
N_VIDEOS = 13320


def have_network(url: str = "https://www.crcv.ucf.edu", timeout: float = 3.0) -> bool:
    """True when ``url`` answers within ``timeout`` seconds (a certificate error still counts as reachable)."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=timeout)
        return True
    except urllib.error.HTTPError:
        return True
    except urllib.error.URLError as error:
        return isinstance(error.reason, ssl.SSLError)
    except OSError:
        return False


def _is_certificate_error(error: BaseException) -> bool:
    reason = getattr(error, "reason", error)
    return isinstance(reason, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(reason)


def download(url: str, destination: str | Path, allow_insecure_fallback: bool = True, timeout: float = 60.0) -> Path:
    """Fetch ``url`` to ``destination`` (skipped when a complete file is already there), with a progress bar."""
    from tqdm.auto import tqdm

    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    if destination.is_file() and destination.stat().st_size > 0:
        return destination
    try:
        response = urllib.request.urlopen(url, timeout=timeout)
    except urllib.error.URLError as error:
        if not (allow_insecure_fallback and _is_certificate_error(error)):
            raise
        print(
            f"warning: {url}: the server's certificate could not be verified; retrying this one download "
            "without verification (check the file size and the video count afterwards)"
        )
        response = urllib.request.urlopen(url, timeout=timeout, context=ssl._create_unverified_context())
    partial = destination.with_suffix(destination.suffix + ".part")
    total = int(response.headers.get("Content-Length") or 0) or None
    with (
        response,
        open(partial, "wb") as out,
        tqdm(total=total, unit="B", unit_scale=True, desc=destination.name) as bar,
    ):
        while chunk := response.read(1 << 20):
            out.write(chunk)
            bar.update(len(chunk))
    if total is not None and partial.stat().st_size != total:
        raise OSError(f"{url}: got {partial.stat().st_size} of {total} bytes; run again to retry")
    partial.replace(destination)  # only complete files get the final name
    return destination


def ensure_unrar(install: bool = True) -> str:
    """The name of a RAR extractor on PATH, installing ``unrar`` with apt-get when allowed and possible."""
    for tool in ("unrar", "unar", "bsdtar"):
        if shutil.which(tool):
            return tool
    if install and shutil.which("apt-get"):
        subprocess.run(["apt-get", "-qq", "install", "-y", "unrar"], check=False)
        if shutil.which("unrar"):
            return "unrar"
    raise RuntimeError(
        "no RAR extractor found: install one with `apt-get install -y unrar` (Ubuntu/Colab), "
        "`brew install unar` (macOS), or use a zip mirror of the videos"
    )


def unpack_rar(archive: str | Path, destination: str | Path, install: bool = True) -> Path:
    """Extract ``archive`` into ``destination`` with the system's RAR tool; returns ``destination``."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    tool = ensure_unrar(install)
    command = {
        "unrar": ["unrar", "x", "-o+", "-idq", str(archive), str(destination) + "/"],
        "unar": ["unar", "-f", "-q", "-o", str(destination), str(archive)],
        "bsdtar": ["bsdtar", "-xf", str(archive), "-C", str(destination)],
    }[tool]
    subprocess.run(command, check=True)
    return destination


def find_video_root(root: str | Path) -> Path:
    """The folder of videos below ``root``: ``UCF-101`` (the rar's name), ``UCF101`` or ``videos``."""
    root = Path(root)
    for name in ("UCF-101", "UCF101", "videos"):
        if (root / name).is_dir():
            return root / name
    raise FileNotFoundError(f"no UCF-101/, UCF101/ or videos/ folder in {root}")


def download_ucf101(root: str | Path, allow_insecure_fallback: bool = True) -> tuple[Path, Path]:
    """Download and unpack videos and split files into ``root``; return ``(video_root, split_dir)``.

    Safe to call again: finished downloads and an unpacked tree with all 13,320 videos are kept.
    """
    root = Path(root)
    splits_zip = download(SPLITS_URL, root / "UCF101TrainTestSplits-RecognitionTask.zip", allow_insecure_fallback)
    with zipfile.ZipFile(splits_zip) as archive:
        archive.extractall(root)
    try:
        video_root = find_video_root(root)
        if sum(1 for _ in video_root.rglob("*.avi")) == N_VIDEOS:
            return video_root, root / "ucfTrainTestlist"
    except FileNotFoundError:
        pass
    last_error: Exception | None = None
    for url in VIDEOS_URLS:
        try:
            rar = download(url, root / "UCF101.rar", allow_insecure_fallback)
            break
        except (OSError, urllib.error.URLError) as error:
            print(f"{url} failed: {error}")
            last_error = error
    else:
        raise RuntimeError(f"could not download UCF101 from {VIDEOS_URLS}") from last_error
    unpack_rar(rar, root)
    video_root = find_video_root(root)
    count = sum(1 for _ in video_root.rglob("*.avi"))
    if count != N_VIDEOS:
        print(f"warning: found {count} videos, expected {N_VIDEOS}; the cache builder will report the missing ones")
    return video_root, root / "ucfTrainTestlist"
