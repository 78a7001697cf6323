"""Timing, agreement checks and reporting for bench.py (no NumPy layers, no torch here)."""

import json
import os
import platform
import statistics
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_info

# ----------------------------------------------------------------------------- timing


class Timing:
    """How to time: ``repeats`` timed runs after ``warmup`` untimed ones, ``settle`` s pauses.

    Both libraries leave their worker threads spinning for a while after a call (OpenBLAS
    about 0.1 s, torch's OpenMP pool about 0.02 s); a call of the other library started in
    that window competes with them for the cores.  So before a timed call that follows
    the other library, wait ``settle`` seconds after NumPy and ``settle / 4`` after torch.
    """

    def __init__(self, repeats, warmup, settle):
        self.repeats, self.warmup, self.settle = repeats, warmup, settle

    def pair(self, np_fn, torch_fn, repeats=None, warmup=None):
        """Median seconds of np_fn and torch_fn (torch_fn None -> None), timed alternately."""
        repeats = self.repeats if repeats is None else repeats
        warmup = self.warmup if warmup is None else warmup
        pause = {"numpy": self.settle, "torch": self.settle / 4}
        for _ in range(warmup):
            np_fn()
            if torch_fn is not None:
                torch_fn()
        times = {"numpy": [], "torch": []}
        last = None
        for r in range(repeats):
            # Alternate who goes first, so neither always runs on the other's warm caches.
            order = [("numpy", np_fn), ("torch", torch_fn)]
            for lib, fn in order if r % 2 == 0 else order[::-1]:
                if fn is None:
                    continue
                if last is not None and lib != last:
                    time.sleep(pause[last])
                start = time.perf_counter()
                fn()
                times[lib].append(time.perf_counter() - start)
                last = lib
        torch_s = statistics.median(times["torch"]) if times["torch"] else None
        return statistics.median(times["numpy"]), torch_s


# ----------------------------------------------------------------------------- checks


def rel_norm_error(a, b):
    """||a - b|| / ||b||, in float64."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def check_close(what, a, b, dtype, tol32=1e-5):
    tol = tol32 if dtype == np.float32 else 1e-12
    err = rel_norm_error(a, b)
    if not err < tol:
        raise SystemExit(f"bench.py: numpy and torch disagree on {what} ({np.dtype(dtype).name}): "
                         f"relative error {err:.3g} > {tol:g}; the timings would not compare equal work")
    return err


# ----------------------------------------------------------------------------- report


def make_row(op, dtype, np_s, torch_s, flops):
    return {"op": op, "dtype": np.dtype(dtype).name, "numpy_ms": np_s * 1e3,
            "torch_ms": torch_s * 1e3 if torch_s is not None else None, "flops": flops}


def finish_row(row, peaks):
    np_peak = peaks[row["dtype"]]["numpy"]
    t = row["torch_ms"]
    row["ratio"] = row["numpy_ms"] / t if t else None
    f = row["flops"]
    row["gflops"] = f / row["numpy_ms"] / 1e6 if f else None
    row["pct_gemm_peak"] = 100 * row["gflops"] / np_peak if f else None
    row["torch_gflops"] = f / t / 1e6 if f and t else None
    return row


def fmt(value, spec):
    """value formatted with spec, or "-" for None."""
    return "-" if value is None else format(value, spec)


def print_table(rows):
    headers = ("op", "dtype", "numpy ms", "torch ms", "ratio (np/torch)", "GFLOP/s",
               "% GEMM peak", "torch GFLOP/s")
    cells = [(r["op"], r["dtype"], fmt(r["numpy_ms"], ".2f"), fmt(r["torch_ms"], ".2f"),
              fmt(r["ratio"], ".2f"), fmt(r["gflops"], ".1f"), fmt(r["pct_gemm_peak"], ".0f"),
              fmt(r["torch_gflops"], ".1f")) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    line = lambda cs: " | ".join(  # noqa: E731
        c.ljust(wd) if i < 2 else c.rjust(wd) for i, (c, wd) in enumerate(zip(cs, widths)))
    print(line(headers))
    print("-+-".join("-" * wd for wd in widths))
    for c in cells:
        print(line(c))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for text in f:
                if text.startswith("model name"):
                    return text.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def environment(threads, torch_version):
    info = threadpool_info()
    libs = [f"{d['user_api']}: {d['internal_api']} {d.get('version')} "
            f"architecture={d.get('architecture', '-')} threads={d['num_threads']} "
            f"({os.path.basename(d['filepath'])})" for d in info]
    return {"cpu": cpu_model(), "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "torch": torch_version,
            "threads": threads, "threadpools": libs,
            "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


def write_json(path, data):
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
