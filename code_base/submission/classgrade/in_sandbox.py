"""Run one of a student's layer functions, in a sandbox of its own, for `grade-class`.

    python -I -S /grader/in_sandbox.py CONFIG_JSON        (inside bwrap, see :mod:`.sandbox`)

Started by :mod:`.run_student`: -I ignores every PYTHON* variable and the user's site folder and
keeps this script's folder off sys.path; -S skips site, so no site-packages and no .pth file is
read. sys.path is the student's folder, a site folder holding NumPy alone, and the standard
library. Limits on address space, CPU time, file size and process count are set before any of
the student's code runs; each function called must come from the student's own files. The
verdict and the returned arrays leave as one frame on the pipe whose descriptor config["result_fd"] names:
b"CGR1", header length and data length (4-byte big-endian each), a JSON header
{"verdict": {...}, "arrays": [[name, shape], ...]} and the arrays' float64 bytes (little-endian).
The process then ends at once (os._exit), whatever threads the student's code left running.

This module imports only the standard library (NumPy after the limits): it runs outside the
package.  The calls themselves are code_base/check/calls.py, bound read-only beside this script
(config["calls"] names it), the same calls `python -m code_base.check` makes.
"""
import contextlib
import importlib
import io
import json
import os
import struct
import sys
import time
import traceback

MAGIC = b"CGR1"


def load_calls(path):
    """code_base/check/calls.py, the assignment's six calls written once for the check and the
    grader, loaded by file path (the package itself is not importable in the sandbox)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("assignment_calls", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Capture(io.TextIOBase):
    """A stdout that keeps the first `keep` characters and counts the lines written."""

    def __init__(self, keep=300):
        super().__init__()
        self.keep, self.head, self.chars, self.line_ends = keep, "", 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        self.chars += len(text)
        self.line_ends += text.count("\n")
        if len(self.head) < self.keep:
            self.head = (self.head + text)[:self.keep]
        return len(text)

    def report(self):
        lines = self.line_ends + (1 if self.chars and not self.head.endswith("\n") else 0)
        return {"lines": lines if self.chars else 0, "head": self.head}


def describe(error, root):
    """'TypeError: ... (code_base/layers.py:12)': the error and the student's line it came from."""
    where, message = None, str(error)
    if isinstance(error, SyntaxError) and error.filename:
        where, message = (error.filename, error.lineno), str(error.msg)
    text = f"{type(error).__name__}: {message.splitlines()[0] if message else ''}".rstrip(": ")
    for frame in traceback.extract_tb(error.__traceback__):
        if not frame.filename.startswith("<") and os.path.realpath(frame.filename).startswith(root + os.sep):
            where = (frame.filename, frame.lineno)
    if where and os.path.isabs(where[0]) and os.path.realpath(where[0]).startswith(root + os.sep):
        text += f" ({os.path.relpath(os.path.realpath(where[0]), root)}:{where[1]})"
    return text.replace(root + os.sep, "")[:300]


def set_limits(config):
    """Address space, CPU seconds, file size, no core files and (when not root) the process count,
    for this process and its children."""
    import resource  # Unix only: imported here so that the package still imports on Windows

    limits = [(resource.RLIMIT_AS, config["memory_bytes"]), (resource.RLIMIT_CPU, config["cpu_seconds"]),
              (resource.RLIMIT_FSIZE, config["file_bytes"]), (resource.RLIMIT_CORE, 0)]
    if os.getuid() != 0 and config.get("max_processes"):
        limits.append((resource.RLIMIT_NPROC, config["max_processes"]))
    for limit, value in limits:
        hard = resource.getrlimit(limit)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (value, value + 1 if limit == resource.RLIMIT_CPU else value))


def _import(root, capture):
    """(the student's code_base.layers, verdict) or (None, verdict)."""
    try:
        with contextlib.redirect_stdout(capture):
            module = importlib.import_module("code_base.layers")
    except BaseException as e:  # SystemExit too: a student's exit() at import is their error
        return None, {"status": "import", "message": describe(e, root)}
    found = os.path.realpath(getattr(module, "__file__", None) or "")
    if not found.startswith(root + os.sep):
        return None, {"status": "foreign", "message": "code_base.layers is not a file of the submission"}
    return module, {"module": os.path.relpath(found, root)}


def _foreign(module, needs, root):
    """The names of `needs` whose code is not in the student's own files (imported from elsewhere)."""
    foreign = []
    for name in needs:
        code = getattr(getattr(module, name), "__code__", None)
        path = os.path.realpath(code.co_filename) if code is not None else ""
        if not path.startswith(root + os.sep):
            foreign.append(name)
    return foreign


def _shape_problem(arrays, shapes):
    for name, a in arrays.items():
        if list(a.shape) != list(shapes[name]):
            return f"{name}: returned shape {tuple(a.shape)}, expected {tuple(shapes[name])}"
    return None


def _call(module, verdict, config, root, inputs):
    calls, function = load_calls(config["calls"]), config["function"]
    needs = calls.NEEDS[function]
    missing = [name for name in needs if not callable(getattr(module, name, None))]
    if missing:
        return {**verdict, "status": "missing", "message": "code_base.layers has no " + " or ".join(missing)}, {}
    foreign = _foreign(module, needs, root)
    if foreign:
        return {**verdict, "status": "foreign", "message": f"{', '.join(foreign)} not defined in "
                "the submission's own files"}, {}
    import numpy as np

    during_call, start = Capture(), time.perf_counter()
    try:
        with contextlib.redirect_stdout(during_call):
            outputs = calls.call(module, function, inputs, params=config["params"])
            arrays = {name: np.ascontiguousarray(value, dtype="<f8") for name, value in outputs.items()}
    except NotImplementedError as e:
        return {**verdict, "status": "todo", "message": describe(e, root),
                "printed": during_call.report()}, {}
    except BaseException as e:
        return {**verdict, "status": "raised", "message": describe(e, root),
                "printed": during_call.report()}, {}
    verdict = {**verdict, "seconds": time.perf_counter() - start, "printed": during_call.report()}
    problem = _shape_problem(arrays, config["shapes"])
    if problem:
        return {**verdict, "status": "shape", "message": problem}, {}
    return {**verdict, "status": "ok"}, arrays


def run(config):
    root = os.path.realpath(config["root"])
    import numpy as np

    with np.load(config["inputs"], allow_pickle=False) as data:
        inputs = {name: data[name] for name in data.files}
    at_import = Capture()
    module, verdict = _import(root, at_import)
    verdict["printed_at_import"] = at_import.report()
    if module is None:
        return verdict, {}
    return _call(module, verdict, config, root, inputs)


def frame(verdict, arrays):
    """The bytes of the result frame (see the module's docstring)."""
    header = json.dumps({"verdict": verdict,
                         "arrays": [[name, list(a.shape)] for name, a in arrays.items()]}).encode()
    data = b"".join(a.tobytes() for a in arrays.values())
    return MAGIC + struct.pack(">II", len(header), len(data)) + header + data


def main(argv):
    config = json.loads(argv[1])
    out = os.dup(config["result_fd"])  # the student's code may close the pipe; this copy stays ours
    os.close(config["result_fd"])
    set_limits(config)
    sys.path[:0] = [config["root"], *config["paths"]]
    sys.dont_write_bytecode = True
    try:
        verdict, arrays = run(config)
        data = frame(verdict, arrays)
    except BaseException as e:  # e.g. MemoryError while copying the results
        data = frame({"status": "raised", "message": describe(e, os.path.realpath(config["root"]))}, {})
    view = memoryview(data)
    while view:
        view = view[os.write(out, view):]
    os._exit(0)  # threads the student's code left running do not hold the result back


if __name__ == "__main__":
    main(sys.argv)
