"""Prove a freshly built kit, step by step: one PASS/FAIL line per step, with its time.

1. structure: the tree is the allowlist, every module compiles, no reference to code_base.fast,
   the notebooks carry no outputs, and a second build gives the same bytes;
2. leaks: the scan (:mod:`.scan`) finds nothing;
3. stubs: the kit's own ``python -m code_base.check`` says TODO for every function and exits
   non-zero; the notebooks run to the end; the kit's ``submission pack`` and the solution's
   ``submission grade-class`` give 0 code points, every code cell ``not implemented``;
4. filled: the solution's bodies spliced back into the stubs equal a build without stubs, byte
   for byte; then check passes everything, the notebooks run, and ``submission run`` -> ``pack``
   -> ``grade-class`` gives full marks;
5. mistakes: each of MISTAKES (dropout scaled by the keep probability, p taken as the keep
   probability, the gradient to every tied maximum), planted in a copy of the filled kit, fails
   check for its function with its hint, and grade-class gives check's verdict per function.

Every tool runs in a process of its own: the kit's with ``PYTHONPATH=KIT`` (cwd KIT), the
instructor's grade-class with this solution's package.
"""

import ast
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from ..check.manifest import TASKS
from .allowlist import MADE, SHIPPED, STUDENT_NOTEBOOKS
from .build import REPO, build, kit_files
from .class_mistakes import class_mistakes
from .scan import scan
from ..check.stubs import find_function
from .stubs import release_source
from .tools import (StepFailed, check_lines, check_says, code_cells, grades_for_stubs, grades_full,
                    pack_and_grade, run_notebooks)

__all__ = ["verify", "fill", "fast_references", "expected_tree", "StepFailed"]

# -- 1. structure -------------------------------------------------------------------------------

def expected_tree(root=REPO):
    """The paths the allowlist promises: shipped files, chapters and their pairs, made files."""
    paths = set()
    for pattern in SHIPPED:
        paths |= {p.relative_to(root).as_posix() for p in root.glob(pattern) if p.is_file()}
    for rel in STUDENT_NOTEBOOKS:
        paths |= {rel, rel[:-3] + ".ipynb"}
    return paths | set(MADE)


def fast_references(rel, text):
    """Lines of one kit module that name code_base.fast: imports of it, or the name `fast`."""
    found = set()
    for node in ast.walk(ast.parse(text, rel)):
        if isinstance(node, ast.ImportFrom):
            names = {a.name for a in node.names}
            if "fast" in names or (node.module or "").split(".")[-1] == "fast" \
                    or "fast" in (node.module or "").split("."):
                found.add(node.lineno)
        elif isinstance(node, ast.Import) and any("fast" in a.name.split(".") for a in node.names):
            found.add(node.lineno)
        elif isinstance(node, ast.Name) and node.id == "fast":
            found.add(node.lineno)
    found |= {i for i, line in enumerate(text.splitlines(), 1) if "code_base.fast" in line}
    return sorted(found)


def check_structure(kit):
    on_disk = {p.relative_to(kit).as_posix() for p in kit.rglob("*") if p.is_file()}
    expected = expected_tree()
    if on_disk != expected:
        extra, missing = sorted(on_disk - expected), sorted(expected - on_disk)
        raise StepFailed(f"tree differs from the allowlist: extra {extra[:3]}, missing {missing[:3]}")
    modules = sorted(p for p in on_disk if p.endswith(".py"))
    for rel in modules:
        text = (kit / rel).read_text(encoding="utf-8")
        try:
            compile(text, rel, "exec")
        except SyntaxError as e:
            raise StepFailed(f"{rel}:{e.lineno} does not compile: {e.msg}") from None
        lines = fast_references(rel, text)
        if lines:
            raise StepFailed(f"{rel}:{lines[0]} still refers to code_base.fast")
    for rel in sorted(p for p in on_disk if p.endswith(".ipynb")):
        nb = json.loads((kit / rel).read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                raise StepFailed(f"{rel} has outputs or execution counts")
    again = kit_files()
    for rel, data in again.items():
        if (kit / rel).read_bytes() != data:
            raise StepFailed(f"a second build differs in {rel}: the build is not reproducible")
    return f"{len(on_disk)} files = the allowlist, {len(modules)} modules compile, no fast reference"


# -- 2. leaks -----------------------------------------------------------------------------------

def check_leaks(kit):
    leaks = scan(kit)
    if leaks:
        first = leaks[0]
        raise StepFailed(f"{len(leaks)} leak(s), first {first.path}:{first.line} (from {first.what})")
    return "the scan finds nothing"


# -- 4. filled ----------------------------------------------------------------------------------

def fill(kit, root=REPO):
    """Splice the solution's bodies (fast dispatches dropped) into the kit's stubs, in place."""
    for path in sorted({t.path for t in TASKS}):
        solution = release_source((root / path).read_text(encoding="utf-8"), [], path)
        full = ast.parse(solution)
        text = (kit / path).read_text(encoding="utf-8")
        lines = text.splitlines(keepends=True)
        tree = ast.parse(text)
        src = solution.splitlines(keepends=True)
        edits = []
        for t in (t for t in TASKS if t.path == path):
            stub, real = find_function(tree, t.qualname), find_function(full, t.qualname)
            edits.append((stub.lineno - 1, stub.end_lineno, src[real.lineno - 1 : real.end_lineno]))
        for start, stop, new in sorted(edits, reverse=True):
            lines[start:stop] = new
        (kit / path).write_text("".join(lines), encoding="utf-8")
    for path in sorted({t.path for t in TASKS}):
        unstubbed = release_source((root / path).read_text(encoding="utf-8"), [], path)
        if (kit / path).read_text(encoding="utf-8") != unstubbed:
            raise StepFailed(f"filled {path} differs from a build without stubs")
    return f"{len(TASKS)} bodies filled = a build without stubs, byte for byte"


# -- 5. a planted mistake -----------------------------------------------------------------------

class Mistake(NamedTuple):
    function: str   # the function it breaks
    path: str
    right: str      # text of the solution, once in `path`
    wrong: str      # what the mistake writes instead
    hint: str       # words of the check's hint for it


# Known mistakes, each planted in a copy of the filled kit (check's hints name them).
MISTAKES = (
    Mistake("dropout_forward", "code_base/layers.py", "1.0 / (1.0 - p)", "1.0 - p",
            "keep probability"),
    Mistake("dropout_forward", "code_base/layers.py", "rng.random(x.shape, dtype=draw) >= p",
            "rng.random(x.shape, dtype=draw) < p", "probability of DROPPING"),
    Mistake("max_pool_backward", "code_base/layers.py", "first = is_max & unclaimed",
            "first = is_max", "FIRST maximum"),
)


def plant_mistakes(kit, work):
    """Each Mistake in a copy of the filled kit: check FAILs its function with its hint, and
    grade-class gives the same verdict as check for every graded function."""
    for n, m in enumerate(MISTAKES):
        copy = work / f"kit{n}"
        shutil.copytree(kit, copy)
        text = (copy / m.path).read_text(encoding="utf-8")
        if text.count(m.right) != 1:
            raise StepFailed(f"the mistake's anchor {m.right!r} is not once in {m.path}")
        (copy / m.path).write_text(text.replace(m.right, m.wrong), encoding="utf-8")
        proc, lines = check_lines(copy)
        line = lines.get(m.function, "")
        if "FAIL" not in line.split()[:1] or proc.returncode == 0:
            raise StepFailed(f"check does not FAIL {m.function} with {m.wrong!r}: {line!r}")
        if m.hint not in line:
            raise StepFailed(f"check fails {m.function} without the hint {m.hint!r}: {line!r}")
        row = pack_and_grade(copy, work / f"grade{n}", with_outputs=True, checked=False)
        differ = [f"{name}: check {lines.get(name, '').split()[:1]}, grade-class {cell[:30]!r}"
                  for name, cell in ((c[5:], v) for c, v in code_cells(row).items())
                  if ("PASS" in lines.get(name, "").split()[:1]) != cell.startswith("pass")]
        if differ:
            raise StepFailed(f"{m.wrong!r}: check and grade-class disagree: {'; '.join(differ)}")
    return f"{len(MISTAKES)} mistakes: check FAILs each with its hint, grade-class agrees"


# -- the steps ----------------------------------------------------------------------------------

def verify(keep=None, notebooks="all", out=sys.stdout):
    """Build a kit and run every step; True when all pass.  Prints one line per step.

    notebooks: "all" executes the chapters against stubs and filled (the filled run trains on
    the plain layers, minutes); "stubs" only against stubs (seconds); "none" skips them."""
    started = time.perf_counter()
    tmp = None
    if keep is None:
        tmp = tempfile.mkdtemp(prefix="release-verify-")
        base = Path(tmp)
        kit = base / "kit"
    else:
        kit = Path(keep)
        base = kit.with_name(kit.name + ".verify")
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
    build(kit)
    print(f"built {kit} ({time.perf_counter() - started:.1f} s)", file=out, flush=True)
    steps = [("1 structure", lambda: check_structure(kit)),
             ("2 leaks", lambda: check_leaks(kit)),
             ("3 stubs: check", lambda: check_says(kit, "TODO", exit_zero=False))]
    if notebooks in ("all", "stubs"):
        steps.append(("3 stubs: notebooks", lambda: run_notebooks(kit, stubs=True)))
    steps += [("3 stubs: pack + grade-class", lambda: grades_for_stubs(kit, base / "stubs")),
              ("4 filled: splice", lambda: fill(kit)),
              ("4 filled: check", lambda: check_says(kit, "PASS", exit_zero=True))]
    if notebooks == "all":
        steps.append(("4 filled: notebooks", lambda: run_notebooks(kit)))
    steps += [("4 filled: run + pack + grade-class", lambda: grades_full(kit, base / "filled")),
              ("5 mistakes: check + grade-class", lambda: plant_mistakes(kit, base / "mistakes")),
              ("5 the class's mistakes: agree", lambda: class_mistakes(kit, base / "class"))]
    ok = True
    try:
        for name, step in steps:
            t0 = time.perf_counter()
            try:
                detail, verdict = step(), "PASS"
            except StepFailed as e:
                detail, verdict, ok = str(e), "FAIL", False
            except subprocess.TimeoutExpired as e:
                detail, verdict, ok = f"timed out after {e.timeout} s: {e.cmd[1:4]}", "FAIL", False
            except (OSError, ValueError, SyntaxError) as e:  # a kit that breaks the step itself
                detail, verdict, ok = f"{type(e).__name__}: {e}", "FAIL", False
            print(f"{verdict}  {name:<36} {time.perf_counter() - t0:5.1f} s  {detail}", file=out,
                  flush=True)
            if verdict == "FAIL" and name.startswith("4 filled: splice"):
                break  # the later steps need the filled kit
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{'verified' if ok else 'NOT verified'} in {time.perf_counter() - started:.1f} s",
          file=out)
    return ok
