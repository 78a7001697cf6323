#!/usr/bin/env python
"""Where the ThreeLayerConvNet train step's time goes, line by line, on every thread.

    python benchmarks/profile_step.py [--hidden 100] [--dtype float32] [--seconds 12] [--top 25]

A child process runs the benchmark's train step (N=50, 3x32x32, 32 filters 7x7, Adam) in a
loop under py-spy (``pip install py-spy``), which samples its busy threads without stopping
them.  Each sample is charged to the line of code it was in, so the table gives, per train
step, the milliseconds each line kept a thread busy (a matrix product, a copy, Python work
between NumPy calls) and its share of all busy time.  The rows add up to the busy thread time
per step: T threads, fully busy, would give T times the step's wall time.
"""

import argparse
import collections
import linecache
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import sys, time
import numpy as np
sys.path.insert(0, {repo!r})
from code_base.classifiers.cnn import ThreeLayerConvNet
from code_base import fast
from code_base.optim import adam
rng = np.random.default_rng(0)
dtype = np.dtype({dtype!r})
model = ThreeLayerConvNet(input_dim=(3, 32, 32), num_filters=32, filter_size=7,
                          hidden_dim={hidden}, num_classes=10, weight_scale=1e-2, seed=0,
                          dtype=dtype)
fast.configure(num_threads={threads}).__enter__()  # the whole child runs on these threads
fast.session().__enter__()
configs = {{k: {{"learning_rate": 1e-3, "inplace": True}} for k in model.params}}
X = rng.standard_normal((50, 3, 32, 32)).astype(dtype)
y = rng.integers(0, 10, 50)
def step():
    _, grads = model.loss(X, y)
    for k, w in model.params.items():
        model.params[k], configs[k] = adam(w, grads[k], configs[k])
for _ in range(5):
    step()
steps, start = 0, time.perf_counter()
while time.perf_counter() - start < {seconds}:
    step()
    steps += 1
print(steps, time.perf_counter() - start, flush=True)
"""


# --group: (category, pattern matched against "file:line function  source text"), first match wins.
GROUPS = [
    ("conv forward product (fused, super-kernel)", r"conv_pool\.py.*np\.matmul\(w_sup"),
    ("conv weight-gradient product", r"conv_pool\.py.*xs @ dconv"),
    ("shifted columns: im2col copy and padding", r"columns\.py"),
    ("pool maxima and first-maximum record", r"first_maximum"),
    ("backward: gradient to each window's first maximum", r"conv_relu_pool_backward.*(hit|dconv)"),
    ("bias, ReLU and its mask", r"conv_pool\.py.*(relu|bias|pre_relu)|affine\.py.*(active|maximum|\+= b)"),
    ("affine products (hidden layer)", r"affine\.py.*(matmul|@)"),
    ("layout copies (transposes)", r"x2\.reshape|transpose|ascontiguous"),
    ("Adam", r"adam\.py"),
    ("L2, softmax, output layer, dropout", r"cnn\.py.*(reg|vdot)|layers\.py"),
    ("thread hand-offs and waits", r"thread(ing)?\.py|_base\.py|parallel\.py|queue\.py"),
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=100)
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seconds", type=float, default=12.0, help="how long to sample")
    p.add_argument("--rate", type=int, default=250, help="samples per second per thread")
    p.add_argument("--top", type=int, default=25, help="lines to show")
    p.add_argument("--group", action="store_true",
                   help="sum the lines into categories (conv products, im2col, pooling, ...)")
    return p.parse_args(argv)


def sample(args, out):
    """Run the step loop under py-spy; return its steps per second (the stacks go to ``out``)."""
    code = CHILD.format(repo=str(REPO), dtype=args.dtype, hidden=args.hidden,
                        threads=args.threads, seconds=args.seconds)
    spy = subprocess.run(["py-spy", "record", "--format", "raw", "--nonblocking",
                          "--rate", str(args.rate), "--output", str(out), "--",
                          sys.executable, "-c", code], capture_output=True, text=True, check=True)
    ours = [line.split() for line in spy.stdout.splitlines() if line and line[0].isdigit()]
    steps, seconds = (float(v) for v in ours[-1])
    return steps / seconds


def leaf_lines(raw):
    """{(file, line, function): samples}, charging each stack to its innermost Python line."""
    counts = collections.Counter()
    for entry in Path(raw).read_text().splitlines():
        stack, _, n = entry.rpartition(" ")
        frames = [f for f in stack.split(";") if "(" in f and not f.startswith("thread (")]
        if not frames:
            continue
        function, _, where = frames[-1].rpartition(" (")
        filename, _, line = where.rstrip(")").rpartition(":")
        counts[(filename, int(line) if line.isdigit() else 0, function)] += int(n)
    return counts


def describe(filename, line, function):
    text = linecache.getline(filename, line).strip() if line else ""
    short = os.path.relpath(filename, REPO) if filename.startswith(str(REPO)) else Path(filename).name
    return f"{short}:{line} {function}", text[:70]


def main(argv=None):
    args = parse_args(argv)
    if shutil.which("py-spy") is None:
        sys.exit("profile_step: needs py-spy on PATH (pip install py-spy)")
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "stacks.txt"
        rate = sample(args, raw)
        counts = leaf_lines(raw)
    total = sum(counts.values())
    steps = rate * args.seconds  # the few warm-up steps' samples count too (about 1 %)
    busy = total / args.rate / steps * 1000
    print(f"{args.dtype} train step, hidden {args.hidden}, {args.threads} threads: "
          f"{1000 / rate:.1f} ms per step (wall), {busy:.1f} ms of busy thread time per step "
          f"({busy * rate / 1000 / args.threads:.0%} of {args.threads} threads)")
    if args.group:
        groups = collections.Counter()
        for key, n in counts.items():
            place, text = describe(*key)
            name = next((g for g, pattern in GROUPS if re.search(pattern, f"{place} {text}")),
                        "other Python (checks, dispatch, allocation)")
            groups[name] += n
        print(f"{'ms/step':>8} {'share':>6}  category")
        for name, n in groups.most_common():
            print(f"{n / args.rate / steps * 1000:8.2f} {n / total:6.1%}  {name}")
        return
    print(f"{'ms/step':>8} {'share':>6}  where")
    for key, n in counts.most_common(args.top):
        place, text = describe(*key)
        ms = n / args.rate / steps * 1000
        print(f"{ms:8.2f} {n / total:6.1%}  {place:48} {text}")
    rest = sum(n for _, n in counts.most_common()[args.top:])
    print(f"{rest / args.rate / steps * 1000:8.2f} {rest / total:6.1%}  (everything else)")


if __name__ == "__main__":
    main()
