#!/usr/bin/env python
"""Time the NumPy layers and the ThreeLayerConvNet train step against PyTorch on this machine.

    python benchmarks/bench.py [--dtype float32|float64|both] [--hidden 100 500]
                               [--repeats R] [--threads T] [--epoch] [--json out.json]

Everything runs in one process.  For each operation the NumPy and the torch version are
warmed up, then timed alternately R times; the table shows the medians.  torch is
optional (it is never a dependency of code_base): without it the torch columns show '-'.

FLOP counts are those of the matrix products only (conv forward = 2*N*F*C*HH*WW*H'*W';
the weight and input gradients each cost the same), so "% GEMM peak" says how close an
operation comes to this machine's NumPy matrix product of a square 1024 matrix.
"""

import argparse
import contextlib
import os
import sys
import tracemalloc
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, installed or not

from code_base import fast  # noqa: E402
from code_base.classifiers.cnn import ThreeLayerConvNet  # noqa: E402
from code_base.layers import (conv_backward, conv_forward, max_pool_backward,  # noqa: E402
                              max_pool_forward)
from code_base.optim import adam  # noqa: E402

from benchlib import (Timing, check_close, environment, finish_row, fmt,  # noqa: E402
                      make_row, print_table, write_json)

try:
    from code_base.fast import buffers  # reused scratch memory, in versions that have it
except ImportError:
    buffers = None

try:
    import torch
    import torch.nn.functional as TF
except ImportError:
    torch = None

# The ThreeLayerConvNet shapes of the assignment.
N, C, H, W = 50, 3, 32, 32
F, HH = 32, 7
PAD = HH - 1  # total padding (this assignment's convention); torch's per-side padding is PAD // 2
NUM_CLASSES = 10
EPOCH_STEPS = 196  # one pass over 9800 CIFAR2 training images in batches of 50
CONV_FLOPS = 2 * N * F * C * HH * HH * H * W
GEMM_SIZE = 1024


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dtype", choices=("float32", "float64", "both"), default="float32")
    p.add_argument("--hidden", type=int, nargs="+", default=[100, 500],
                   help="hidden sizes of the train-step benchmark (default: 100 500)")
    p.add_argument("--repeats", type=int, default=15, help="timed repetitions per op (median)")
    p.add_argument("--warmup", type=int, default=2, help="untimed repetitions before timing")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                   help="threads for NumPy's BLAS, the model and torch (default: all cores)")
    p.add_argument("--epoch", action="store_true",
                   help=f"also time one CIFAR2-sized epoch ({EPOCH_STEPS} steps of {N}), float32")
    p.add_argument("--settle", type=float, default=0.15,
                   help="seconds to let the other library's spinning threads sleep before a "
                        "timed call (default 0.15; see Timing)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    for name in ("repeats", "threads"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        p.error(f"--warmup must be >= 0, got {args.warmup}")
    if args.settle < 0:
        p.error(f"--settle must be >= 0, got {args.settle}")
    if any(h < 1 for h in args.hidden):
        p.error(f"--hidden sizes must be >= 1, got {args.hidden}")
    return args


def _t(a):
    return torch.from_numpy(np.ascontiguousarray(a))


# ----------------------------------------------------------------------------- layer ops


def layer_rows(dtype, timing, rng):
    """Rows for conv forward/backward and 2x2 max pool forward/backward, with agreement checks."""
    x = rng.standard_normal((N, C, H, W)).astype(dtype)
    w = (0.1 * rng.standard_normal((F, C, HH, HH))).astype(dtype)
    b = rng.standard_normal(F).astype(dtype)
    conv_param = {"stride": 1, "pad": PAD}
    out, cache = conv_forward(x, w, b, conv_param)
    dout = rng.standard_normal(out.shape).astype(dtype)
    a = rng.standard_normal((N, F, H, W)).astype(dtype)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    pooled, pool_cache = max_pool_forward(a, pool_param)
    dpooled = rng.standard_normal(pooled.shape).astype(dtype)

    np_ops = {
        "conv forward": lambda: conv_forward(x, w, b, conv_param),
        "conv backward (dx, dw, db)": lambda: conv_backward(dout, cache),
        "conv backward (dw, db; no dx)": lambda: conv_backward(dout, cache, compute_dx=False),
        "max pool 2x2 forward": lambda: max_pool_forward(a, pool_param),
        "max pool 2x2 backward": lambda: max_pool_backward(dpooled, pool_cache),
    }
    torch_ops = dict.fromkeys(np_ops)
    errors = {}
    if torch is not None:
        xt, wt, bt, doutt, at, dpt = map(_t, (x, w, b, dout, a, dpooled))
        p = PAD // 2
        conv_bwd = torch.ops.aten.convolution_backward

        def conv_bw(mask):
            return conv_bwd(doutt, xt, wt, [F], [1, 1], [p, p], [1, 1], False, [0, 0], 1, mask)

        with torch.no_grad():
            pooled_t, idx = TF.max_pool2d(at, 2, return_indices=True)

        def pool_bw():
            return torch.ops.aten.max_pool2d_with_indices_backward(
                dpt, at, [2, 2], [2, 2], [0, 0], [1, 1], False, idx)

        torch_ops = {
            "conv forward": lambda: TF.conv2d(xt, wt, bt, padding=p),
            "conv backward (dx, dw, db)": lambda: conv_bw([True, True, True]),
            "conv backward (dw, db; no dx)": lambda: conv_bw([False, True, True]),
            "max pool 2x2 forward": lambda: TF.max_pool2d(at, 2),
            "max pool 2x2 backward": pool_bw,
        }
        # Same inputs, same results: the comparison is of equal work.
        with torch.no_grad():
            errors["conv forward"] = check_close("conv forward", out, torch_ops["conv forward"](), dtype)
            dx, dw, db = conv_backward(dout, cache)
            dxt, dwt, dbt = torch_ops["conv backward (dx, dw, db)"]()
            errors["conv dx"] = check_close("conv dx", dx, dxt, dtype)
            errors["conv dw"] = check_close("conv dw", dw, dwt, dtype)
            errors["conv db"] = check_close("conv db", db, dbt, dtype)
            errors["pool forward"] = check_close("pool forward", pooled, pooled_t, dtype)
            errors["pool backward"] = check_close(
                "pool backward", max_pool_backward(dpooled, pool_cache), pool_bw(), dtype)

    flops = {"conv forward": CONV_FLOPS, "conv backward (dx, dw, db)": 2 * CONV_FLOPS,
             "conv backward (dw, db; no dx)": CONV_FLOPS}
    rows = []
    with torch.no_grad() if torch is not None else contextlib.nullcontext():
        for name, np_fn in np_ops.items():
            np_s, torch_s = timing.pair(np_fn, torch_ops[name])
            rows.append(make_row(name, dtype, np_s, torch_s, flops.get(name)))
    return rows, errors


# ----------------------------------------------------------------------------- train step


def step_flops(hidden):
    """Matrix-product FLOPs of one train step (the model skips the conv's input gradient)."""
    D = F * (H // 2) * (W // 2)
    affine = 2 * N * (D * hidden + hidden * NUM_CLASSES)  # forward; dw and dx cost the same each
    return 2 * CONV_FLOPS + 3 * affine


def make_numpy_step(dtype, hidden, threads, seed):
    kwargs = dict(input_dim=(C, H, W), num_filters=F, filter_size=HH, hidden_dim=hidden,
                  num_classes=NUM_CLASSES, weight_scale=1e-2, reg=0.0, seed=seed, dtype=dtype)
    model = ThreeLayerConvNet(**kwargs)
    # In place, as the Solver updates (its default): torch.optim.Adam is in place too.
    configs = {k: {"learning_rate": 1e-3, "inplace": True} for k in model.params}

    def step(X, y):  # as training runs it: the thread count set by the caller
        with fast.configure(num_threads=threads), fast.session():
            _, grads = model.loss(X, y)
            for k, w in model.params.items():
                model.params[k], configs[k] = adam(w, grads[k], configs[k])

    return model, step


def make_torch_step(model):
    """The same network in torch, starting from the NumPy model's weights."""
    p = model.params
    hidden = p["W2"].shape[1]
    net = torch.nn.Sequential(
        torch.nn.Conv2d(C, F, HH, padding=PAD // 2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(F * (H // 2) * (W // 2), hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, NUM_CLASSES))
    net = net.to(torch.float32 if p["W1"].dtype == np.float32 else torch.float64)
    with torch.no_grad():
        for layer, wk, bk, transpose in ((net[0], "W1", "b1", False), (net[4], "W2", "b2", True),
                                         (net[6], "W3", "b3", True)):
            layer.weight.copy_(_t(p[wk].T if transpose else p[wk]))
            layer.bias.copy_(_t(p[bk]))
    criterion = torch.nn.CrossEntropyLoss()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(X, y):
        opt.zero_grad()
        loss = criterion(net(X), y)
        loss.backward()
        opt.step()

    return net, criterion, step


def check_step(model, net, criterion, X, y, dtype):
    """Loss and every gradient agree before any update."""
    loss, grads = model.loss(X, y)
    net.zero_grad()
    loss_t = criterion(net(_t(X)), _t(y))
    loss_t.backward()
    errors = {"step loss": check_close("train-step loss", loss, loss_t.item(), dtype)}
    for k, param, transpose in (("W1", net[0].weight, False), ("b1", net[0].bias, False),
                                ("W2", net[4].weight, True), ("b2", net[4].bias, False),
                                ("W3", net[6].weight, True), ("b3", net[6].bias, False)):
        g = param.grad.numpy()
        # NumPy pools before adding the bias, torch after: in float32 two window values that
        # differ by less than a rounding step can swap which is the maximum, and one window
        # routed elsewhere moves dW1 by ~1e-3 of its norm.  float64 has no such near-ties.
        tol32 = 1e-2 if k == "W1" else 1e-5
        errors[f"step d{k}"] = check_close(f"train-step d{k}", grads[k], g.T if transpose else g,
                                           dtype, tol32)
    net.zero_grad()
    return errors


def step_rows(dtype, hiddens, threads, timing, rng, seed):
    X = rng.standard_normal((N, C, H, W)).astype(dtype)
    y = rng.integers(0, NUM_CLASSES, N)
    rows, errors, memory = [], {}, {}
    for hidden in hiddens:
        model, np_step = make_numpy_step(dtype, hidden, threads, seed)
        torch_fn = None
        if torch is not None:
            net, criterion, torch_step = make_torch_step(model)
            errors.update({f"{k} (h={hidden})": v
                           for k, v in check_step(model, net, criterion, X, y, dtype).items()})
            Xt, yt = _t(X), _t(y)
            torch_fn = lambda: torch_step(Xt, yt)  # noqa: E731
        np_s, torch_s = timing.pair(lambda: np_step(X, y), torch_fn)
        rows.append(make_row(f"train step h={hidden}", dtype, np_s, torch_s, step_flops(hidden)))
        memory[f"train step h={hidden} {np.dtype(dtype).name}"] = peak_step_mib(np_step, X, y)
    return rows, errors, memory


def peak_step_mib(np_step, X, y):
    """Peak MiB traced during one (already warmed-up) NumPy train step.

    NumPy reports its array allocations to tracemalloc, so this is the step's own
    working memory: activations, caches, gradients and the new parameters.  The large
    scratch buffers that code_base reuses between steps are released first, so that the
    step allocates (and tracemalloc sees) all of its memory.
    """
    if buffers is not None:
        buffers.release()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        np_step(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def epoch_rows(hiddens, threads, timing, seed):
    """One CIFAR2-sized epoch of random float32 data, shuffled like the Solver does."""
    rng = np.random.default_rng(seed)
    n_train = EPOCH_STEPS * N
    X = rng.standard_normal((n_train, C, H, W), dtype=np.float32)
    y = rng.integers(0, NUM_CLASSES, n_train)
    Xt, yt = (_t(X), _t(y)) if torch is not None else (None, None)
    rows = []
    for hidden in hiddens:
        model, np_step = make_numpy_step(np.float32, hidden, threads, seed)
        batches = rng.permutation(n_train).reshape(EPOCH_STEPS, N)

        def np_epoch():
            for idx in batches:
                np_step(X[idx], y[idx])

        torch_epoch = None
        if torch is not None:
            _, _, torch_step = make_torch_step(model)
            tbatches = _t(batches)

            def run_torch_epoch():
                for idx in tbatches:
                    torch_step(Xt[idx], yt[idx])

            torch_epoch = run_torch_epoch

        np_s, torch_s = timing.pair(np_epoch, torch_epoch, repeats=1, warmup=0)
        rows.append(make_row(f"epoch {EPOCH_STEPS}x{N} h={hidden}", np.float32, np_s, torch_s,
                             EPOCH_STEPS * step_flops(hidden)))
    return rows


# ----------------------------------------------------------------------------- report


def gemm_gflops(dtype, timing, rng):
    a = rng.standard_normal((GEMM_SIZE, GEMM_SIZE)).astype(dtype)
    b = rng.standard_normal((GEMM_SIZE, GEMM_SIZE)).astype(dtype)
    torch_fn = None
    if torch is not None:
        at, bt = _t(a), _t(b)
        torch_fn = lambda: at @ bt  # noqa: E731
    np_s, torch_s = timing.pair(lambda: a @ b, torch_fn, repeats=max(timing.repeats, 5))
    flops = 2 * GEMM_SIZE**3
    return flops / np_s / 1e9, (flops / torch_s / 1e9 if torch_s else None)


def main(argv=None):
    args = parse_args(argv)
    dtypes = [np.float32, np.float64] if args.dtype == "both" else [np.dtype(args.dtype).type]
    if torch is not None:
        torch.set_num_threads(args.threads)
    # Global BLAS thread count for the NumPy side; the model's own sharding sets 1 per shard.
    threadpool_limits(limits=args.threads, user_api="blas")  # stays in force: never restored

    env = environment(args.threads, torch.__version__ if torch is not None else None)
    print(f"CPU: {env['cpu']} ({env['cpu_count']} logical CPUs); threads used: {args.threads}")
    print(f"python {env['python']}, numpy {env['numpy']}, torch {env['torch'] or '- (not installed)'}")
    for lib in env["threadpools"]:
        print(f"threadpoolctl {lib}")
    print(f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE'] or '(unset)'}")
    load = os.getloadavg()[0]
    env["loadavg_1min_at_start"] = load
    print(f"load average (1 min) at start: {load:.2f}"
          + (" -- other processes are busy; expect noisy timings" if load > 0.5 else ""))

    timing = Timing(args.repeats, args.warmup, args.settle)
    rng = np.random.default_rng(args.seed)
    peaks, rows, errors, memory = {}, [], {}, {}
    for dtype in dtypes:
        name = np.dtype(dtype).name
        np_peak, torch_peak = gemm_gflops(dtype, timing, rng)
        peaks[name] = {"numpy": np_peak, "torch": torch_peak}
        print(f"GEMM {GEMM_SIZE}x{GEMM_SIZE} {name}: numpy {np_peak:.1f} GFLOP/s, "
              f"torch {fmt(torch_peak, '.1f')} GFLOP/s")
        r, e = layer_rows(dtype, timing, rng)
        rows += r
        errors.update({f"{k} {name}": v for k, v in e.items()})
        r, e, m = step_rows(dtype, args.hidden, args.threads, timing, rng, args.seed)
        rows += r
        errors.update({f"{k} {name}": v for k, v in e.items()})
        memory.update(m)
    if torch is not None:
        layer = [v for k, v in errors.items() if not k.startswith("step")]
        step = [v for k, v in errors.items() if k.startswith("step")]
        worst = max(errors, key=errors.get)
        print(f"numpy vs torch agreement (same inputs and weights), relative error: conv/pool "
              f"max {max(layer):.1g} ({len(layer)} checks), train-step loss and gradients max "
              f"{max(step):.1g} ({len(step)} checks); worst: {worst}")
    else:
        print("torch not installed: no agreement check, torch columns are '-'")
    if args.epoch:
        if "float32" not in peaks:
            peaks["float32"] = dict(zip(("numpy", "torch"), gemm_gflops(np.float32, timing, rng)))
        rows += epoch_rows(args.hidden, args.threads, timing, args.seed)
    rows = [finish_row(r, peaks) for r in rows]
    print()
    print(f"median of {args.repeats} alternating repeats after {args.warmup} warm-up runs "
          f"(epochs: one run each), {args.settle} s settle pauses; N={N}, x ({N},{C},{H},{W}), {F} filters {HH}x{HH}, pad {PAD}")
    print_table(rows)
    print()
    for k, mib in memory.items():
        print(f"peak traced memory (tracemalloc), numpy {k}: {mib:.1f} MiB")

    if args.json:
        write_json(args.json, {"environment": env, "args": {k: str(v) for k, v in vars(args).items()},
                               "gemm_gflops": peaks, "rows": rows, "agreement": errors,
                               "peak_step_mib": memory})
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
