"""pack's view of a project's outputs: do output_files/ hold what the project's own code gives now?

`pack` cannot grade a student's outputs with the student's own code (that is circular), and in
the student release the instructor's answers are not there.  So it checks what it can:
- every output file of a function that runs is there, with the right number of values;
- conv and max-pool files equal what the project's code gives on input_files/ now (run in a
  process of its own, :mod:`.own_outputs`, so that it is the project's code, not this package's);
- dropout files pass the grader's statistics (test = identity, kept units x / (1 - p), a
  plausible fraction dropped);
- functions still unwritten (NotImplementedError) are listed; their files must not be there.
:func:`check_table` runs the project's own ``python -m code_base.check`` for the table pack prints.
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..gradient_check import rel_error
from .files import INPUT_SHAPES, OUTPUT_SHAPES, SubmissionError, file_name, load_folder
from .grader import TOLERANCE, check_close, check_dropout_train, read_output
from .compute import DROPOUT_BACKWARD_P, DROPOUT_FORWARD_P
from .handin import CODE_DIR, FUNCTION_OUTPUTS, OUTPUT_DIR

__all__ = ["OWN_TIMEOUT", "OutputsReport", "own_outputs", "check_outputs", "check_table"]

OWN_TIMEOUT = 120  # seconds for the project's code on the input files, and for its check
_SCRIPT = Path(__file__).with_name("own_outputs.py")
_CALLS = Path(__file__).resolve().parents[1] / "check" / "calls.py"
RERUN = "run `python -m code_base.submission run` again"


class OutputsReport(NamedTuple):
    problems: list    # one line each; pack refuses while any is there
    unwritten: list   # functions that raise NotImplementedError


def _env(root):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(root)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def own_outputs(root, inputs, timeout=OWN_TIMEOUT):
    """(status, arrays): function -> 'ok' | 'todo: ...' | 'error: ...', and the outputs that ran."""
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "inputs.npz", **inputs)
        result = Path(tmp) / "result.npz"
        try:
            done = subprocess.run([sys.executable, str(_SCRIPT), str(Path(root).resolve()), str(_CALLS),
                                   str(Path(tmp) / "inputs.npz"), str(result)], cwd=tmp, env=_env(root),
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise SubmissionError(f"your code took over {timeout} s on input_files/") from None
        if done.returncode or not result.is_file():
            last = (done.stderr.strip().splitlines() or ["no message"])[-1]
            raise SubmissionError(f"cannot run your code on input_files/ ({last[:200]})")
        with np.load(result) as data:
            status = json.loads(str(data["status"]))
            arrays = {n: data[n] for n in data.files if n != "status"}
    return status, arrays


def _dropout_problem(file, values, name, given):
    kind = name.rsplit("_out_", 1)[0]
    source, p, what = {"dropout_forward": (given["dropout_forward_in_x"], DROPOUT_FORWARD_P, "x"),
                       "dropout_backward": (given["dropout_backward_in_dout"], DROPOUT_BACKWARD_P,
                                            "dout")}[kind]
    if name.endswith("_test"):
        results = [check_close(file, values, source, f"input {what}")]
    else:
        results = check_dropout_train(file, values, source, p, what)
    for r in results:
        if not r.passed:
            return f"{OUTPUT_DIR}/{file}: {r.check} = {r.measured:.3g} (limit {r.limit})"
    return None


def _function_problems(root, function, own, given):
    problems = []
    for name in FUNCTION_OUTPUTS[function]:
        values, file_check = read_output(root / OUTPUT_DIR, name, OUTPUT_SHAPES[name])
        file = file_name(name)
        if values is None:
            problems.append(f"{OUTPUT_DIR}/{file}: {file_check.note}; {RERUN}")
        elif name.startswith("dropout_"):
            problems.append(_dropout_problem(file, values, name, given))
        elif np.shape(own.get(name)) != OUTPUT_SHAPES[name]:
            problems.append(f"your {function} returns shape {np.shape(own.get(name))} on input_files/, "
                            f"expected {OUTPUT_SHAPES[name]}")
        else:
            error = rel_error(values, np.ravel(own[name]))
            if not error <= TOLERANCE:
                problems.append(f"{OUTPUT_DIR}/{file}: not what your {function} gives now "
                                f"(rel error {error:.2g}); {RERUN}")
    return [p for p in problems if p]


def check_outputs(root):
    """The OutputsReport of project `root` (its input_files/, output_files/ and code_base/)."""
    root = Path(root)
    try:
        given = load_folder(root / "input_files", INPUT_SHAPES)
        status, own = own_outputs(root, given)
    except SubmissionError as e:
        return OutputsReport([f"cannot check {OUTPUT_DIR}/: {e}"], [])
    problems, unwritten = [], []
    for function in FUNCTION_OUTPUTS:
        state = status.get(function, "error: it did not run")
        if state.startswith("todo"):
            unwritten.append(function)
            there = [file_name(n) for n in FUNCTION_OUTPUTS[function]
                     if (root / OUTPUT_DIR / file_name(n)).exists()]
            if there:
                problems.append(f"{OUTPUT_DIR}/{there[0]}: {function} is not written yet, so this file "
                                f"is not from your code; {RERUN} (it removes such files)")
        elif state.startswith("error"):
            problems.append(f"{function} fails on input_files/: {state[len('error: '):]}")
        else:
            problems += _function_problems(root, function, own, given)
    return OutputsReport(problems, unwritten)


def check_table(root, timeout=OWN_TIMEOUT):
    """The lines of the project's own check (`python -m code_base.check`), or None without one."""
    if not (Path(root) / CODE_DIR / "check" / "__main__.py").is_file():
        return None
    try:
        done = subprocess.run([sys.executable, "-m", "code_base.check"], cwd=root, env=_env(root),
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [f"check: took over {timeout} s"]
    return done.stdout.splitlines() + done.stderr.splitlines()[-1:]
