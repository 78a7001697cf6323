"""Large scratch arrays that reuse memory nobody references any more.

Touching freshly allocated memory can be slow: the first write to each page faults into
the kernel, which zeroes it, and on virtual machines that costs far more than writing to
memory the process already has (benchmarks/README.md has the measurement).  A
convolution's columns are large and were allocated anew at every training step, and
whether malloc handed back the old pages or fresh ones varied from run to run.

:func:`empty` is ``np.empty`` for arrays of at least ``MIN_BYTES``, except that it first
looks for a buffer it handed out before whose every array and view is gone (CPython's
reference count tells), and reuses it.  Results never depend on it: a buffer is only
reused when nothing can read or write it any more.
"""

import sys
import threading

import numpy as np

MIN_BYTES = 1 << 20  # smaller arrays come from malloc's free lists, which stay warm
MAX_KEPT_BYTES = 1 << 30  # beyond this many bytes kept, new arrays are simply allocated

_free_lists = {}  # nbytes -> [1-d uint8 buffers]
_kept_bytes = 0
_lock = threading.Lock()


def empty(shape, dtype=np.float64):
    """Like ``np.empty(shape, dtype)`` (C order), reusing an unreferenced buffer if any."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    nbytes = count * dtype.itemsize
    if nbytes < MIN_BYTES or not hasattr(sys, "getrefcount"):
        return np.empty(shape, dtype=dtype)
    global _kept_bytes
    with _lock:
        buffers = _free_lists.setdefault(nbytes, [])
        for buf in buffers:
            # References: the list, the loop variable, getrefcount's argument.  Any more
            # means an array or view built on this buffer is still alive.
            if sys.getrefcount(buf) == 3:
                break
        else:
            buf = np.empty(nbytes, dtype=np.uint8)
            if _kept_bytes + nbytes <= MAX_KEPT_BYTES:
                buffers.append(buf)
                _kept_bytes += nbytes
        return buf.view(dtype).reshape(shape)


def release():
    """Forget every kept buffer (their memory is freed once no array uses it)."""
    global _kept_bytes
    with _lock:
        _free_lists.clear()
        _kept_bytes = 0


def kept_bytes():
    """Bytes held in kept buffers (in use or free)."""
    return _kept_bytes
