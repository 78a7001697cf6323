# %% [markdown]
# # For instructors — grading a class of hand-ins
#
# Students hand in `ID.zip` made by `make pack` (chapter 5). This notebook grades a small
# synthetic class with the command the staff run on theirs,
#
# ```
# python -m code_base.submission grade-class --submissions DIR --out grades.csv --seed S
# ```
#
# and shows what it writes: `grades.csv`, one row per student, and one feedback text per student.
# It is not part of the student release.

# %%
import csv
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from IPython.display import display

from code_base.submission import pack
from code_base.submission.packer import find_root
from code_base.submission.classgrade import make_class, write_project
from code_base.vis_utils import Table

ROOT = find_root()
INPUTS = ROOT / "input_files"
work = Path(tempfile.mkdtemp(prefix="cnn-grading-"))  # removed at the end of the notebook
class_dir = work / "submissions"
class_dir.mkdir()

# %% [markdown]
# The instructor's side grades every zip of a folder. Each one is extracted safely (a member that
# climbs out with `..`, a link, a device or a zip bomb refuses the whole archive before anything is
# inflated), its layout and report are checked, its `output_files/` are graded against the official
# inputs, and then the student's **own code** runs on *fresh* inputs drawn from the instructor's seed,
# one process per function with a timeout and a memory limit, and is graded the same way. Outputs
# copied from a friend, or typed in, pass the first test and fail the second.
#
# The class below: the packed hand-in above, CS231n's keep-probability dropout, CS231n's per-side
# padding, functions that return the official outputs typed in, a `layers.py` that imports CS231n's
# never-compiled Cython extension, a file that is not a zip, and a zip whose member climbs out.

# %%
project = write_project(work / "project", INPUTS, pages=2)
pack("e0123456g", root=project, out=class_dir)
make_class(class_dir, INPUTS, {"e1000001k": "keep-p dropout", "e1000002p": "per-side padding",
                               "e1000003h": "hard-coded outputs", "e1000004i": "import fails"})
(class_dir / "e1000005n.zip").write_text("my hand-in is attached to the email")
with zipfile.ZipFile(class_dir / "e1000006z.zip", "w") as z:
    z.writestr("e1000006z/../../.bashrc", "echo owned\n")

command = [sys.executable, "-m", "code_base.submission", "grade-class", "--submissions", str(class_dir),
           "--out", str(work / "grades.csv"), "--inputs", str(INPUTS), "--seed", "2024", "--timeout", "10"]
status = subprocess.run(command, cwd=ROOT, capture_output=True, text=True).returncode
with open(work / "grades.csv", newline="") as f:
    grades = list(csv.DictReader(f))
print(f"grade-class exit status {status}; {len(grades)} students graded")
# Besides the 15 checks, each row records how it was graded: the release the hand-in names,
# the fresh inputs' seed and hash, and the sandbox that ran the student's code.
about = ("id", "file", "passed", "report_pages", "release", "seed", "inputs", "sandbox")
checks = [c for c in grades[0] if c not in about]
display(Table(["id"] + [c.replace(":", " ") for c in checks] + ["passed"],
              [[g["id"]] + [g[c].split(":")[0].split(" (")[0] for c in checks] + [g["passed"]] for g in grades],
              caption="grades.csv, one word per check (the full text is in the file)"))
passed = {g["id"]: int(g["passed"]) for g in grades}
assert passed == {"e0123456g": 15, "e1000001k": 11, "e1000002p": 11, "e1000003h": 9, "e1000004i": 9,
                  "e1000005n": 0, "e1000006z": 0}
assert len(checks) == 15

# %% [markdown]
# Why each check that did not pass failed, as `grades.csv` says it (the cells that only say
# "not graded", behind an unreadable archive, are left out):

# %%
Table(["id", "check", "why"],
      [[g["id"], c, g[c]] for g in grades for c in checks
       if not g[c].startswith("pass") and not g[c].endswith("not graded")])

# %% [markdown]
# Each row of `grades.csv` holds the ID, one cell per check ("pass", "fail: why" for a wrong answer,
# "error: why" when there was nothing to grade), the number passed and the report's page count, and
# every student gets a feedback text with the grader's full tables. Each function call runs in its
# own bubblewrap sandbox (see docs/grading.md): no student can change another's inputs or grade, and
# none passes with code that is not its own; a VM or container stays the outer wall for a machine you
# must not trust at all.

# %%
feedback = (class_dir / "feedback" / "e1000003h.txt").read_text().split("\n\nYour output_files")[0]
heading, *lines = feedback.splitlines()
print(heading)  # the rest of the text, one line per check, shown as a table:
rows = [line.split(maxsplit=1) for line in lines if line.strip()]
Table(["check", "result"], [r for r in rows if len(r) == 2])  # headings such as "Notes:" aside

# %%
shutil.rmtree(work)
