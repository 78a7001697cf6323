"""The fast-path switch: whether the layers dispatch to the fast kernels, on how many threads.

The setting is scoped, like ``numpy.errstate`` or ``decimal.localcontext``: it holds inside a
``with`` block and is restored when the block ends, and each thread (or asyncio task) has its
own, so nothing set here leaks into other code.  Outside any block the fast path is on and the
kernels use one thread per core.

    from code_base import fast
    with fast.disabled():                  # every layer, the model and Adam run the plain code
        loss, grads = model.loss(X, y)
    with fast.configure(num_threads=2):    # fast kernels, on two threads (the one way to set it)
        with fast.session():               # a whole training run: BLAS on one thread, FTZ
            ...
    fast.num_threads()                     # the count in effect
"""

import contextlib
import contextvars
import functools
import os
from typing import NamedTuple

from ..utils.checks import check_bool, check_int
from . import fpu
from .parallel import single_threaded_blas

__all__ = ["enabled", "num_threads", "configure", "disabled", "session"]


class _Settings(NamedTuple):
    enabled: bool
    num_threads: int | None  # None: one thread per core


_current = contextvars.ContextVar("code_base_fast", default=_Settings(True, None))
_UNCHANGED = object()


@functools.cache
def _default_threads():
    """The number of threads used when none is given: the number of cores."""
    return os.cpu_count() or 1


def enabled():
    """True when the layers should run their fast kernels (the default)."""
    return _current.get().enabled


def num_threads():
    """The thread count of the fast kernels in effect (set by :func:`configure`; default: cores)."""
    configured = _current.get().num_threads
    return _default_threads() if configured is None else configured


@contextlib.contextmanager
def configure(*, enabled=_UNCHANGED, num_threads=_UNCHANGED):
    """Within the block: fast kernels on or off, and their thread count (None: the cores)."""
    old = _current.get()
    new = old._replace(
        enabled=old.enabled if enabled is _UNCHANGED else check_bool("configure", "enabled", enabled),
        num_threads=(old.num_threads if num_threads is _UNCHANGED
                     else check_int("configure", "num_threads", num_threads, 1, allow_none=True)))
    token = _current.set(new)
    try:
        yield new
    finally:
        _current.reset(token)


def disabled():
    """Within the block, every layer runs its plain (textbook) code."""
    return configure(enabled=False)


@contextlib.contextmanager
def session():
    """Within the block, when the fast kernels are on, the code between them runs as theirs
    does: BLAS on one thread and subnormal floats flushed to zero (:mod:`code_base.fast.fpu`).

    The kernels hold BLAS to one thread while their threads work; a model step also makes small
    products between kernels, and on two BLAS threads those wake OpenBLAS's pool, whose spinning
    threads then compete with the kernels' own.
    """
    if not enabled():
        yield
        return
    with single_threaded_blas(), fpu.flush_to_zero():
        yield
