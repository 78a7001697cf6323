"""Run the check: one verdict per function, PASS, FAIL or TODO, and an honest summary.

Each function's cases run under a time limit (SIGALRM, in the main thread) with its printing
captured (shown as a note).  NotImplementedError means "not written yet" (TODO); any other
exception is a FAIL quoting the exception's one line and the student's file:line, never a
traceback.  :func:`check_lines` is what the notebooks' ``show`` prints.
"""

import contextlib
import io
import signal
import threading
import traceback
from pathlib import Path
from typing import NamedTuple

from .manifest import GROUPS, TASKS, stub_message, task
from .stubs import is_stub

__all__ = ["TIME_LIMIT", "Result", "resolve", "check_task", "describe_error", "todo_reason", "run", "check_lines", "summary"]

TIME_LIMIT = 5.0  # seconds per function (each takes well under 1 s)
_ROOT = Path(__file__).resolve().parents[2]
_CHECK_DIR = Path(__file__).resolve().parent
_GIVEN = {_ROOT / "code_base" / "gradient_check.py"}


class Result(NamedTuple):
    name: str
    verdict: str       # PASS, FAIL or TODO
    detail: str        # the measured error, the failing case, the hint
    cases: tuple = ()  # (ok, label, measure) of each case run, for -v
    note: str = ""


class _TimeLimit(Exception):
    pass


def _checks():
    from .layer_checks import LAYER_CHECKS
    from .model_checks import MODEL_CHECKS
    return {**LAYER_CHECKS, **MODEL_CHECKS}


def resolve(names):
    """The task names meant by `names` (functions or groups; all when empty); KeyError if unknown."""
    if not names:
        return [t.name for t in TASKS]
    short = {t.name.split(".")[-1]: t.name for t in TASKS}
    out = []
    for name in names:
        if name in GROUPS:
            out += GROUPS[name]
        else:
            try:
                out.append(task(short.get(name, name)).name)
            except KeyError:
                raise KeyError(f"unknown name {name!r}: use a function ("
                               f"{', '.join(t.name for t in TASKS)}) or a group "
                               f"({', '.join(GROUPS)})") from None
    return list(dict.fromkeys(out))


@contextlib.contextmanager
def _time_limit(seconds):
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise _TimeLimit()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _where(error):
    """'code_base/layers.py:97': the last line of the student's code (not the check's, nor the
    given gradient checker's) that the exception passed."""
    where = None
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename).resolve()
        if _ROOT in path.parents and _CHECK_DIR not in path.parents and path not in _GIVEN:
            where = f"{path.relative_to(_ROOT).as_posix()}:{frame.lineno}"
    return where


def describe_error(error):
    """'ValueError: message (code_base/layers.py:97)': one line, the student's file and line."""
    message = str(error).strip().splitlines()
    text = f"{type(error).__name__}: {message[0][:200]}" if message else type(error).__name__
    where = _where(error)
    return f"{text} ({where})" if where else text


def todo_reason(name, error):
    """The TODO line: this function is unwritten, or it waits for another one that is."""
    message = str(error)
    try:
        if is_stub(name):  # its own body is still the release's stub, whatever it waited for
            return f"not written yet: see the TODO in {task(name).path}"
    except (OSError, SyntaxError, ValueError):
        pass
    for t in TASKS:
        if message == stub_message(t):
            return (f"not written yet: see the TODO in {t.path}" if t.name == name
                    else f"waits for {t.name} (not written yet)")
    return f"not written yet ({describe_error(error)})"


def check_task(name, expected, time_limit=TIME_LIMIT):
    """The Result of task `name` on its cases."""
    cases, printed = [], io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), _time_limit(time_limit):
            for case in _checks()[name]:
                cases.append(case(expected))
                if not cases[-1].ok:
                    break
    except NotImplementedError as e:
        return Result(name, "TODO", todo_reason(name, e))
    except SystemExit as e:  # exit() in the student's code must not end the check
        verdict = Result(name, "FAIL", f"it called exit({e.code!r}) ({_where(e) or 'no line'})")
    except _TimeLimit:
        verdict = Result(name, "FAIL", f"took over {time_limit:g} s (the limit) on "
                                       f"{len(cases) + 1} of {len(_checks()[name])} cases")
    except Exception as e:  # the student's code failed: one line, not a traceback
        returned_none = isinstance(e, TypeError) and "NoneType" in str(e)
        verdict = Result(name, "FAIL", describe_error(e) + (
            "; hint: does the function return its result (a forward pass returns out, cache)?"
            if returned_none else ""))
    else:
        failed = [c for c in cases if not c.ok]
        if failed:
            c = failed[0]
            detail = f"{c.label}: {c.measure}" + (f"; hint: {c.hint}" if c.hint else "")
            verdict = Result(name, "FAIL", detail)
        else:
            # No measured values here: they vary with the BLAS and the dropout masks, and the
            # chapters commit these lines (-v shows them).
            verdict = Result(name, "PASS", "1 case, within its limit" if len(cases) == 1
                             else f"{len(cases)} cases, each within its limit")
    lines = printed.getvalue().count("\n") + bool(printed.getvalue()) * (not printed.getvalue().endswith("\n"))
    note = f"note: it printed {lines} line{'s' * (lines != 1)}" if printed.getvalue() else ""
    return verdict._replace(cases=tuple((c.ok, c.label, c.measure) for c in cases), note=note)


def run(names=(), expected=None):
    """The Results of the named functions or groups (all when empty)."""
    from .cases import load_expected
    expected = load_expected() if expected is None else expected
    return [check_task(name, expected) for name in resolve(names)]


def format_result(r, verbose=False):
    line = f"{r.verdict:4}  {r.name:30}  {r.detail}" + (f" ({r.note})" if r.note else "")
    if verbose:
        line += "".join(f"\n        {'ok ' if ok else 'BAD'}  {label}: {measure}"
                        for ok, label, measure in r.cases)
    return line


def summary(results):
    passed = sum(r.verdict == "PASS" for r in results)
    todo = sum(r.verdict == "TODO" for r in results)
    failed = len(results) - passed - todo
    parts = [f"{n} {what}" for n, what in ((failed, "fail"), (todo, "not written yet")) if n]
    return (f"{passed} of {len(results)} public checks pass" + (f" ({', '.join(parts)})" if parts else "")
            + "; grading reruns your code on new inputs")


def check_lines(names=(), verbose=False):
    """The lines the check prints for `names`: one per function, then the summary."""
    from .cases import ExpectedMissing
    try:
        results = run(names)
    except KeyError as e:
        return [f"check: {e.args[0]}"]
    except ExpectedMissing as e:
        return [f"check: {e}"]
    return [format_result(r, verbose) for r in results] + [summary(results)]
