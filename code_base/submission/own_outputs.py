"""What a project's own code gives on its input files: run by `pack`, in a process of its own.

    python own_outputs.py ROOT CALLS_PY INPUTS.npz RESULT.npz

Imports ROOT/code_base/layers.py (the student's code, whichever package runs pack), makes the
assignment's six calls (CALLS_PY: code_base/check/calls.py, loaded by file path) on the arrays
of INPUTS.npz (the input files, read by the caller) and writes RESULT.npz: the outputs of the functions that ran, plus a
JSON string ``status`` (function -> "ok", "todo: MESSAGE" for a NotImplementedError, or
"error: ONE LINE (file:line)").  Anything the code prints is swallowed.  Standard library and
NumPy only: it runs outside this package.
"""

import contextlib
import importlib.util
import io
import json
import os
import sys
import traceback


def _describe(error, root):
    where = None
    for frame in traceback.extract_tb(error.__traceback__):
        path = os.path.realpath(frame.filename)
        if path.startswith(root + os.sep):
            where = f"{os.path.relpath(path, root)}:{frame.lineno}"
    lines = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {lines[0][:200]}" if lines else type(error).__name__
    return f"{text} ({where})" if where else text


def main(root, calls_path, inputs_path, result_path):
    import numpy as np

    root = os.path.realpath(root)
    sys.path.insert(0, root)
    spec = importlib.util.spec_from_file_location("assignment_calls", calls_path)
    calls = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(calls)
    with np.load(inputs_path) as data:
        inputs = {name: data[name] for name in data.files}
    status, arrays = {}, {}
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            import code_base.layers as layers
        except BaseException as e:  # the code does not even import: every function says why
            status = {f: "error: " + _describe(e, root) for f in calls.FUNCTIONS}
            layers = None
        for function in calls.FUNCTIONS if layers is not None else ():
            try:
                given = {k: v.copy() for k, v in inputs.items()}
                outputs = calls.call(layers, function, given)
                arrays.update({k: np.asarray(v, dtype=np.float64) for k, v in outputs.items()})
                status[function] = "ok"
            except NotImplementedError as e:
                status[function] = f"todo: {str(e).strip() or 'NotImplementedError'}"
            except Exception as e:
                status[function] = "error: " + _describe(e, root)
    np.savez(result_path, status=json.dumps(status), **arrays)


if __name__ == "__main__":
    main(*sys.argv[1:5])
