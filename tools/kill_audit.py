#!/usr/bin/env python
"""Kill `train` and `submission run` at random moments; count what the folders look like after.

    CIFAR10_DIR=... python tools/kill_audit.py [--kills 20] [--seed 0]

For each kill of `train` (a small config with dropout and augmentation, into a folder holding
an older run) it checks that the run folder is the old run or the complete new one, never a mix;
then resumes (or, before the first checkpoint, trains again) and checks that the result equals
an uninterrupted run bit for bit and that no temporary file is left. For each kill of a slowed
`submission run` it checks that the output folder holds all old or all new files, and that the
next run leaves no temporary file or staging folder behind.  Then it starts two `train` runs on
one folder within half a second of each other, and checks that the second is refused (the run
folder's lock) and the folder holds the first run, whole.  Exits 1 if any check failed.
"""

import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = {
    "data": {"num_training": 400, "num_validation": 100, "num_test": 200},
    "model": {"num_filters": 4, "filter_size": 3, "hidden_dim": 16, "weight_scale": "he",
              "dropout": 0.3, "reg": 1e-4},
    "solver": {"batch_size": 50, "num_epochs": 8, "checkpoint_every": 1, "num_train_samples": 100},
    "augment": {"padding": 2, "flip": True},
}
SLOW_SUBMISSION = """import sys, time, code_base.submission.files as f
real = f.format_array
f.format_array = lambda *a: (time.sleep(0.05), real(*a))[1]
from code_base.submission.__main__ import main
sys.exit(main(sys.argv[1:]))
"""


def state(folder):
    """Every file of the folder and its bytes (summary.json's timing and date left out), or None."""
    if not folder.exists():
        return None
    files = {}
    for p in sorted(folder.iterdir()):
        data = p.read_bytes()
        if p.name == "summary.json":
            summary = json.loads(data)
            summary.pop("timing"), summary.pop("finished")
            data = json.dumps(summary, sort_keys=True).encode()
        files[p.name] = data
    return files


def leftovers(parent):
    return sorted(p.name for p in parent.rglob("*") if p.name.endswith(".tmp"))


def train(config_path, out, *extra):
    return [sys.executable, "-m", "code_base.training", "train", "--config", str(config_path),
            "--out", str(out), "--quiet", *extra]


def timed(command):
    start = time.perf_counter()
    subprocess.run(command, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def kill_after(command, delay):
    proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def audit_train(tmp, kills, rng, counts):
    config, older = tmp / "small.json", tmp / "older.json"
    config.write_text(json.dumps(CONFIG))
    older.write_text(json.dumps(dict(CONFIG, seed=1)))
    duration = timed(train(config, tmp / "reference"))
    reference = state(tmp / "reference")
    for k in range(kills):
        out = tmp / f"run{k}"
        subprocess.run(train(older, out), cwd=REPO, check=True, capture_output=True)
        old = state(out)
        kill_after(train(config, out), rng.uniform(0, duration))
        now = state(out)
        counts["train: folder mixed after the kill"] += now not in (old, reference)
        partial = out.parent / f".{out.name}.partial"
        resume = ["--resume"] if (partial / "checkpoint.npz").is_file() else []
        counts["train: kills resumed from a checkpoint (count)"] += bool(resume)
        done = subprocess.run(train(config, out, *resume), cwd=REPO, capture_output=True, text=True)
        counts["train: resume or rerun failed"] += done.returncode != 0
        counts["train: result differs from the uninterrupted run"] += state(out) != reference
        counts["train: temporary files left"] += len(leftovers(tmp))


def audit_two_runs(tmp, pairs, rng, counts):
    config = tmp / "small.json"
    reference = state(tmp / "reference")
    for k in range(pairs):
        out = tmp / f"pair{k}"
        first = subprocess.Popen(train(config, out), cwd=REPO, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        time.sleep(rng.uniform(0, 0.5))  # the audit's gap: both runs import and load at once
        second = subprocess.run(train(config, out), cwd=REPO, capture_output=True, text=True)
        first.wait()
        codes = sorted([first.returncode, second.returncode])
        errors = first.stderr.read() + second.stderr
        refused = codes == [0, 1] and "in use by another run" in errors
        counts["train: two runs on one folder, one refused (count)"] += refused
        counts["train: two runs on one folder, a run failed"] += codes != [0, 0] and not refused
        counts["train: two runs on one folder, the result differs"] += state(out) != reference


def audit_submission(tmp, kills, rng, counts):
    inputs, out = REPO / "input_files", tmp / "outputs"
    old_inputs = tmp / "old_inputs"
    subprocess.run([sys.executable, "-m", "code_base.submission", "make-inputs", "--seed", "5",
                    "--out", str(old_inputs)], cwd=REPO, check=True, capture_output=True)
    run = [sys.executable, "-c", SLOW_SUBMISSION, "run", "--inputs"]
    duration = timed(run + [str(inputs), "--outputs", str(tmp / "new_outputs")])
    new = state(tmp / "new_outputs")
    for _ in range(kills):
        subprocess.run(run + [str(old_inputs), "--outputs", str(out)], cwd=REPO, check=True,
                       capture_output=True)
        old = state(out)
        kill_after(run + [str(inputs), "--outputs", str(out)], rng.uniform(0, duration))
        counts["submission: folder mixed after the kill"] += state(out) not in (old, new)
        subprocess.run(run + [str(inputs), "--outputs", str(out)], cwd=REPO, check=True,
                       capture_output=True)
        counts["submission: temporary files or staging left"] += (
            len(leftovers(tmp)) + len([p for p in tmp.iterdir() if p.name.startswith(".")]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20, help="kills of each command")
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    args = parser.parse_args(argv)
    if not os.environ.get("CIFAR10_DIR"):
        parser.exit(2, "kill_audit: set CIFAR10_DIR to the cifar-10-batches-py folder\n")
    rng, counts = random.Random(args.seed), collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        for name, audit in (("train", audit_train), ("submission", audit_submission)):
            folder = Path(tmp) / name
            folder.mkdir()
            audit(folder, args.kills, rng, counts)
        audit_two_runs(Path(tmp) / "train", max(1, args.kills // 4), rng, counts)
    problems = 0
    for name in sorted(counts):
        print(f"{name:55} {counts[name]:4d}")
        problems += counts[name] if not name.endswith("(count)") else 0
    print(f"{args.kills} kills of each command: {'no problem' if not problems else f'{problems} problems'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
