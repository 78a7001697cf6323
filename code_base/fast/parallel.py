"""Data parallelism on threads: a shared worker pool, job splitting, and a BLAS limit.

NumPy releases the GIL inside its element-wise loops and matrix products, so Python
threads that each work on their own slice of an array run in parallel.  Two rules make
that pay on a small machine:

- Give each thread one big job (a shard of the batch, a block of rows), not many small
  ones: every call into NumPy takes the GIL, and threads queueing for it lose more time
  than they gain.
- Keep BLAS to one thread while the workers run (:func:`single_threaded_blas`): nested
  parallelism oversubscribes the cores, and OpenBLAS's spinning threads stall whenever
  the cores are shared (benchmarks/README.md has the measurement).

Every job runs with subnormal floats flushed to zero (:mod:`code_base.fast.fpu`), whichever
thread runs it, so results do not depend on the number of threads.
"""

import functools
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from threadpoolctl import ThreadpoolController

from . import fpu

_pools = {}  # number of workers -> ThreadPoolExecutor, created on first use
_pools_lock = threading.Lock()
_local = threading.local()  # .in_worker: this thread runs a job (a worker, or the caller inline)


def split(n, parts):
    """At most ``parts`` contiguous, non-empty slices covering range(n), sizes within one."""
    parts = max(1, min(parts, n))
    bounds = [n * k // parts for k in range(parts + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:])]


def parallel_map(func, jobs, num_threads):
    """``[func(job) for job in jobs]``, run on up to ``num_threads`` threads.

    The calling thread runs the first job itself, and afterwards any job no worker has
    started yet: one thread fewer to wake, and the caller, already running, does not sit
    idle.  Called from inside a job (nested), it runs the jobs in that thread instead: a
    pool whose workers all wait on their own jobs would deadlock.
    """
    jobs = list(jobs)
    with fpu.flush_to_zero():
        if num_threads <= 1 or len(jobs) <= 1 or getattr(_local, "in_worker", False):
            return [func(job) for job in jobs]
        futures = [_pool(min(num_threads, len(jobs)) - 1).submit(func, job) for job in jobs[1:]]
        try:
            results = [_run_as_worker(func, jobs[0])]
            for job, future in zip(jobs[1:], futures):
                results.append(_run_as_worker(func, job) if future.cancel() else future.result())
            return results
        finally:
            wait(futures)  # on an error, no job is still writing when it propagates


def _run_as_worker(func, job):
    """func(job) in this thread, marked as a worker so that nested calls run inline."""
    previous = getattr(_local, "in_worker", False)
    _local.in_worker = True
    try:
        return func(job)
    finally:
        _local.in_worker = previous


def map_shards(func, n, num_threads):
    """``[func(s) for s in split(n, num_threads)]``: shards of range(n) on parallel threads.

    BLAS is kept to one thread while they run.  Nested in a worker, or with one thread,
    there is one shard and it runs here.
    """
    if num_threads <= 1 or n <= 1 or getattr(_local, "in_worker", False):
        return parallel_map(func, [slice(0, n)], 1)
    shards = split(n, num_threads)
    with single_threaded_blas():
        return parallel_map(func, shards, num_threads)


def _pool(workers):
    with _pools_lock:
        if workers not in _pools:
            _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="code_base",
                                                 initializer=_mark_worker)
        return _pools[workers]


def _mark_worker():
    _local.in_worker = True
    fpu.enable_in_this_thread()


def single_threaded_blas():
    """Context manager: BLAS uses one thread inside it (process-wide, via threadpoolctl).

    The limit applies to every thread of the process until the block exits, and the
    previous setting is restored then.
    """
    return _controller().limit(limits=1, user_api="blas")


@functools.cache
def _controller():
    """One ThreadpoolController per process: building it scans the loaded libraries."""
    return ThreadpoolController()
