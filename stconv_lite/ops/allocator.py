"""Keep freed memory in the process: the C library setting that memory-bound CPU operators need.

PyTorch allocates CPU tensors with the C library's ``malloc``. On Linux (glibc), a block of 128 KiB
or more is by default mapped fresh from the system and handed back on ``free``; the next tensor of
that size is mapped again, and every 4 KiB page of it costs a page fault (the kernel zeroes it) the
first time it is written. A training step allocates and frees the same activations, gradients and
generated kernels every time, so a CPU step can spend as long in page faults as in arithmetic (on
the book's 2-core machine, a 3x3x3 conv of ResNet-18's last stage took 6-7 ms with a kept weight
and 33 ms with a weight written into fresh memory just before). This hits the
operators of this book unevenly: a plain ``nn.Conv3d`` keeps its weight, while 3TConv generates its
kernel every step, and the CT module's gates, batch norms and reshapes allocate a dozen feature
maps; a comparison on the default setting measures the C library as much as the operators.

:func:`keep_freed_memory` asks glibc to serve blocks up to 32 MiB (the largest it allows) from its
own heap and to keep up to 1 GiB of freed memory instead of returning it, the same remedy as
``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` in the environment or as preloading jemalloc
or tcmalloc (which Intel's PyTorch tuning guide recommends for the same reason). It changes where
memory comes from, never a number computed. It is opt-in (a process-wide setting is not something an
import should change): the benchmark commands take ``--keep-freed-memory`` and record the setting
in their run card.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import platform

__all__ = ["keep_freed_memory", "MMAP_THRESHOLD", "TRIM_THRESHOLD"]

MMAP_THRESHOLD = 32 * 2**20  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit systems
TRIM_THRESHOLD = 2**30
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # from <malloc.h>


def keep_freed_memory() -> str | None:
    """Make glibc keep freed blocks for reuse (Linux only); returns a description, or None if not applied.

    Process-wide and irreversible for the process; harmless elsewhere (returns None on other
    systems or C libraries).
    """
    if platform.system() != "Linux":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        return None
    return f"glibc malloc keeps freed memory (mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim threshold 1 GiB)"
