# %% [markdown]
# # Chapter 5 — The submission files
#
# The assignment is graded from text files, so that students may use any language: for each layer
# the course provides input arrays in `input_files/`, and a submission holds the layer's outputs in
# `output_files/`. Every array is flattened in C (row-major) order — the last index changes fastest —
# and written as decimal text with enough digits to survive the round trip (here 19 significant
# figures, `%.18e`).
#
# This chapter produces all ten output files with `code_base.submission.run`, grades them with
# `code_base.submission.grade`, shows that the grader notices a wrong submission, then builds the
# hand-in zip with `pack`. (How the staff grade a whole class of zips is the subject of the
# instructor notebook, `notebooks/instructor_grading.py`.) Everything is written to temporary
# folders: the committed `output_files/` is read, never overwritten.

# %%
# %matplotlib inline
# %load_ext code_base.check.notebook
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display

from code_base import submission
from code_base.check.notebook import show
from code_base.submission import INPUT_SHAPES, OUTPUT_SHAPES, file_name, grade, load_folder
from code_base.submission.packer import find_root
from code_base.vis_utils import Table

plt.rcParams["figure.figsize"] = (9.0, 4.0)
ROOT = find_root()
INPUTS, COMMITTED = ROOT / "input_files", ROOT / "output_files"
work = Path(tempfile.mkdtemp(prefix="cnn-submission-"))  # removed at the end of the notebook


def results_html(results):
    """The grader's CheckResults as a table: file, check, measured, limit, result."""
    def measured(r):
        if r.check == "file" and r.note:
            return r.note
        if r.check == "fraction dropped":
            return f"{r.measured:.3f} ({r.note})"
        return "—" if r.measured is None else f"{r.measured:.3g}"

    return Table(["file", "check", "measured", "limit", "result"],
                 [[r.file, r.check, measured(r), r.limit, "pass" if r.passed else "FAIL"] for r in results])

# %% [markdown]
# ## 1. What goes in and what comes out
#
# | output | call made on the inputs |
# |---|---|
# | `conv_forward_out` | `conv_forward`, stride 2, `pad = 2` (one pixel of zeros each side) |
# | `conv_backward_out_dx`, `_dw`, `_db` | `conv_forward` then `conv_backward`, stride 1, `pad = 2` |
# | `maxpool_forward_out` | $2\times2$ max pooling, stride 2 |
# | `maxpool_backward_out` | the same pooling, forward then backward |
# | `dropout_forward_out_train`, `_test` | dropout with $p = 0.3$, train and test mode |
# | `dropout_backward_out_train`, `_test` | dropout with $p = 0.8$, forward then backward, both modes |
#
# The shapes follow from chapter 1's formula, e.g. $H' = 1 + (6 + 2 - 4)/2 = 3$ for the forward
# convolution.

# %%
shapes = [("input", name, shape) for name, shape in INPUT_SHAPES.items()]
shapes += [("output", name, shape) for name, shape in OUTPUT_SHAPES.items()]
display(Table(["kind", "file", "shape"], [[kind, file_name(n), str(s)] for kind, n, s in shapes]))
assert OUTPUT_SHAPES["conv_forward_out"] == (2, 3, 1 + (6 + 2 - 4) // 2, 1 + (6 + 2 - 4) // 2)
assert len(INPUT_SHAPES) == 13 and len(OUTPUT_SHAPES) == 10

# %% [markdown]
# ## 2. Producing the outputs
#
# `submission.run` loads and checks every input file, computes every output, and only then writes
# them (atomically) — a bad input leaves the output folder untouched. Dropout's train-mode masks are
# random; they are drawn from a fixed seed so the files are reproducible.

# %%
# CHECK
show("layers")

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, dropout_forward, dropout_backward
fresh = work / "output_files"
outputs = submission.run(INPUTS, fresh, seed=submission.DEFAULT_DROPOUT_SEED)
print(submission.summary_table(outputs))
assert sorted(p.name for p in fresh.iterdir()) == sorted(file_name(n) for n in OUTPUT_SHAPES)

# %% [markdown]
# ## 3. Grading
#
# The grader re-reads the files as a student's would be read (commas or whitespace, any line
# layout) and checks, per file:
#
# * **convolution and pooling**: relative error at most $10^{-6}$ against the reference
#   computation, with the assignment's measure $\max_i |a_i - b_i| / \max(10^{-8}, |a_i| + |b_i|)$;
# * **dropout, test mode**: the output equals the input ($x$, or the upstream gradient);
# * **dropout, train mode**: no unique answer exists, since the mask is random. Every non-zero value
#   must equal $x/(1-p)$, and the number $k$ of zeros among $n$ units must satisfy the binomial bound
#   $|k - np| \le 4\sqrt{np(1-p)} + 1$ from chapter 4.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, dropout_forward, dropout_backward
results = grade(INPUTS, fresh)
display(results_html(results))
failed = [r for r in results if not r.passed]
print(f"{len(results) - len(failed)} checks passed, {len(failed)} failed")
assert not failed
assert {r.file for r in results} == {file_name(n) for n in OUTPUT_SHAPES}

# %% [markdown]
# The committed `output_files/` should be exactly what the code produces today: the deterministic
# files must agree with the fresh ones, the dropout files too (same seed), and the folder must pass
# the grader.

# %%
# SOLUTION-ONLY
committed = load_folder(COMMITTED, OUTPUT_SHAPES)
differences = {name: float(np.max(np.abs(committed[name] - outputs[name]))) for name in OUTPUT_SHAPES}
assert max(differences.values()) <= 1e-12, differences  # BLAS rounding, nothing more
print(f"all {len(differences)} committed files agree with the fresh ones to 1e-12")
assert all(r.passed for r in grade(INPUTS, COMMITTED))

# %% [markdown]
# The train-mode dropout output, plotted against its input, shows the two things the grader checks:
# every point lies either on the line $\text{out} = x/(1-p)$ or on $\text{out} = 0$, and about a
# fraction $p$ of them lie on the second.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, dropout_forward, dropout_backward
x_in = load_folder(INPUTS, {"dropout_forward_in_x": INPUT_SHAPES["dropout_forward_in_x"]})["dropout_forward_in_x"]
out_train = outputs["dropout_forward_out_train"]
p = submission.DROPOUT_FORWARD_P
dropped = out_train == 0
plt.figure(figsize=(6, 4))
plt.plot(x_in[~dropped], out_train[~dropped], ".", label=f"kept ({np.count_nonzero(~dropped)})")
plt.plot(x_in[dropped], out_train[dropped], "x", color="tab:red", label=f"dropped ({np.count_nonzero(dropped)})")
xs = np.array([x_in.min(), x_in.max()])
plt.plot(xs, xs / (1 - p), "k:", lw=1, label="out = x / (1 - p)")
plt.xlabel("dropout_forward_in_x")
plt.ylabel("dropout_forward_out_train")
plt.title(f"dropout, train mode, p = {p}: {dropped.mean():.3f} of {dropped.size} units dropped")
plt.legend()
plt.tight_layout()
plt.show()
assert np.allclose(out_train[~dropped], x_in[~dropped] / (1 - p), rtol=1e-12, atol=0)

# %% [markdown]
# ## 4. The grader catches mistakes
#
# A grader that passes everything is useless. Three typical mistakes, each planted in a copy of the
# good submission:
#
# * a convolution output off by 1 % (e.g. a wrong padding convention changes many values far more);
# * train-mode dropout that forgets the $1/(1-p)$ scaling;
# * a missing file.
#
# Exactly the affected checks must fail.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, dropout_forward, dropout_backward
broken = work / "broken"
shutil.copytree(fresh, broken)
np.savetxt(broken / "conv_forward_out.csv", 1.01 * outputs["conv_forward_out"].ravel())
np.savetxt(broken / "dropout_forward_out_train.csv", outputs["dropout_forward_out_train"] * (1 - p))
(broken / "maxpool_backward_out.csv").unlink()

broken_results = grade(INPUTS, broken)
failures = [r for r in broken_results if not r.passed]
display(results_html(failures))
assert {(r.file, r.check) for r in failures} == {
    ("conv_forward_out.csv", "rel error vs this implementation"),
    ("dropout_forward_out_train.csv", "nonzero == x/(1-p)"),
    ("maxpool_backward_out.csv", "file"),
}

# %% [markdown]
# ## 5. The same from the command line
#
# Students who do not use the notebook can run the module directly; `grade` exits with status 1 if
# any check fails.
#
# ```
# python -m code_base.submission run   --inputs input_files --outputs output_files
# python -m code_base.submission grade --inputs input_files --outputs output_files
# ```
#
# Run here into a temporary folder, the command writes the same files as the Python call above.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, dropout_forward, dropout_backward
cli_out = work / "cli_output_files"
commands = {
    "run": [sys.executable, "-m", "code_base.submission", "run", "--inputs", str(INPUTS), "--outputs", str(cli_out)],
    "grade": [sys.executable, "-m", "code_base.submission", "grade", "--inputs", str(INPUTS), "--outputs", str(cli_out)],
    "grade broken": [sys.executable, "-m", "code_base.submission", "grade", "--inputs", str(INPUTS), "--outputs", str(broken)],
}
status = {}
for label, command in commands.items():
    status[label] = subprocess.run(command, cwd=ROOT, capture_output=True, text=True).returncode
    print(f"{label:14} exit status {status[label]}")
assert status == {"run": 0, "grade": 0, "grade broken": 1}
for name in OUTPUT_SHAPES:
    assert (cli_out / file_name(name)).read_bytes() == (fresh / file_name(name)).read_bytes(), name

# %% [markdown]
# ## 6. The hand-in
#
# The assignment ends with a zip: the folder `code_base/`, the folder `output_files/` and a 1-2 page
# `report.pdf`, all inside a folder named by the student's ID, e.g. `e0123456g.zip`. `pack` builds it
# from a project folder, but only after checking what a grader would hold against it: the ID is
# letters and digits, `grade` passes on the outputs, the report is a PDF of 1-2 pages, and no CIFAR
# data or oversized file is inside. The zip is reproducible: sorted members, one fixed timestamp
# and fixed permissions, so the same files always give the same bytes.
#
# Your own hand-in is one command, run from the project folder once `make check` passes and
# `report.pdf` is written:
#
# ```
# make pack ID=e0123456g        # or: python -m code_base.submission pack --id e0123456g
# ```
#
# Below, the project packed is a synthetic student's: a small hand-written `code_base/layers.py`
# with the six functions in the assignment's conventions (not this package), its outputs and a
# blank 2-page PDF.

# %%
# SOLUTION-ONLY
from code_base.submission import pack, pack_listing
from code_base.submission.classgrade import write_project

project = write_project(work / "project", INPUTS, pages=2)
packed = pack("E0123456G", root=project, out=work)
print(pack_listing(packed).replace(str(work), "<temporary folder>"))
again = pack("e0123456g", root=project, out=work / "project")
assert again.path.read_bytes() == packed.path.read_bytes()  # byte for byte the same zip
assert packed.path.name == "e0123456g.zip" and packed.pages == 2

# %%
shutil.rmtree(work)

# %% [markdown]
# ## Summary
#
# * `code_base.submission.run` turns the 13 input files into the 10 output files, all of them
#   checked before any is written.
# * The grader compares deterministic outputs to $10^{-6}$ and judges random dropout outputs by
#   their values and a binomial bound on the number of zeros; it flags each planted mistake and
#   nothing else.
# * The committed `output_files/` match what the code produces now, and pass the grader.
# * `pack` builds the hand-in zip only once every check passes, the same bytes every time.
