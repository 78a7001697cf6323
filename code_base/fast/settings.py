"""The fast-path switch: whether the layers dispatch to the fast kernels, on how many threads.

The setting is scoped, like ``numpy.errstate`` or ``decimal.localcontext``: it holds inside a
``with`` block and is restored when the block ends, and each thread (or asyncio task) has its
own, so nothing set here leaks into other code.  Outside any block the fast path is on and the
kernels use one thread per core.

    from code_base import fast
    with fast.disabled():                  # every layer, the model and Adam run the plain code
        loss, grads = model.loss(X, y)
    with fast.configure(num_threads=1):    # fast kernels, on one thread
        ...
    with fast.threads(model.num_threads):  # a whole computation on the kernels' own threads
        ...
"""

import contextlib
import contextvars
import functools
import os
from typing import NamedTuple

from ..utils.checks import check_bool, check_int
from . import fpu
from .parallel import single_threaded_blas

__all__ = ["enabled", "num_threads", "configure", "disabled", "threads", "default_threads"]


class _Settings(NamedTuple):
    enabled: bool
    num_threads: int | None  # None: one thread per core


_current = contextvars.ContextVar("code_base_fast", default=_Settings(True, None))
_UNCHANGED = object()


@functools.cache
def default_threads():
    """The number of threads used when none is given: the number of cores."""
    return os.cpu_count() or 1


def enabled():
    """True when the layers should run their fast kernels (the default)."""
    return _current.get().enabled


def num_threads(value=None, where="num_threads"):
    """``value`` checked as an integer >= 1, or else the configured count (default: the cores)."""
    if value is not None:
        return check_int(where, "num_threads", value, 1)
    configured = _current.get().num_threads
    return default_threads() if configured is None else configured


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
def threads(count=None):
    """Within the block the fast kernels use ``count`` threads (None: the configured count) and,
    when they are on, the code between them runs as theirs does: BLAS on one thread and
    subnormal floats flushed to zero (:mod:`code_base.fast.fpu`).

    The kernels hold BLAS to one thread while their threads work; a model step also makes small
    products between kernels, and on two BLAS threads those wake OpenBLAS's pool, whose spinning
    threads then compete with the kernels' own.
    """
    with configure(num_threads=num_threads(count, "threads")):
        if not enabled():
            yield
            return
        with single_threaded_blas(), fpu.flush_to_zero():
            yield
