"""The student's check: verdicts on the solution, on stubs and on known mistakes, and its hints."""

import ast
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import code_base.layers as layers
from code_base.check import calls, cases, runner
from code_base.check.hints import hint_for_call
from code_base.check.manifest import TASKS, stub_message
from code_base.check.runner import check_lines, check_task

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


def verdict(name, time_limit=runner.TIME_LIMIT):
    return check_task(name, cases.load_expected(), time_limit)


# --- the solution, the committed expected values, the CLI -------------------------------------

def test_the_solution_passes_every_check_within_ten_seconds():
    start = time.perf_counter()
    results = runner.run()
    took = time.perf_counter() - start
    assert [(r.name, r.verdict) for r in results] == [(t.name, "PASS") for t in TASKS]
    assert took < 10
    assert runner.summary(results) == "10 of 10 public checks pass; grading reruns your code on new inputs"


def test_the_committed_expected_values_are_the_solutions_now():
    stored = cases.load_expected()
    fresh = cases.compute_expected()
    assert sorted(stored) == sorted(fresh) == sorted([*cases.CASES, cases.MISTAKES])
    mistakes = fresh.pop(cases.MISTAKES)
    for case_id, outputs in fresh.items():
        for name, values in outputs.items():
            np.testing.assert_array_equal(stored[case_id][name], np.array(values), err_msg=case_id)
    # Every graded case stores what each known mistake gives on it: the released check's hints.
    graded = [c for c, (function, *_) in cases.CASES.items() if function in calls.FUNCTIONS]
    assert sorted(mistakes) == sorted(graded)
    for case_id, found in mistakes.items():
        assert len(found) >= 1 and len(stored[cases.MISTAKES][case_id]) == len(found), case_id
        for (hint, outputs), (stored_hint, stored_outputs) in zip(found, stored[cases.MISTAKES][case_id]):
            assert hint == stored_hint
            for name, values in outputs.items():
                np.testing.assert_array_equal(stored_outputs[name], np.array(values), err_msg=case_id)


def test_the_released_check_names_mistakes_without_the_code_that_computes_them():
    # The kit has no mistake_models.py: its hints come from expected.json alone.
    from code_base.release.allowlist import SHIPPED
    assert "code_base/check/mistake_models.py" not in SHIPPED
    assert not any(p.endswith("check/*.py") for p in SHIPPED)


def test_the_fixed_cases_are_dyadic_so_their_values_are_exact():
    for case_id in cases.CASES:
        _, inputs, _, _ = cases.case_inputs(case_id)
        for a in inputs.values():
            assert np.array_equal(a * 4, np.round(a * 4)), case_id


def test_write_expected_writes_the_file_whole(tmp_path):
    path = cases.write_expected(tmp_path / "e.json")
    assert path.read_text() == cases.EXPECTED_PATH.read_text()
    assert list(tmp_path.iterdir()) == [path]


def _cli(*args, cwd=ROOT, pythonpath=ROOT):
    env = {**os.environ, "PYTHONPATH": str(pythonpath), "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.run([PY, "-m", "code_base.check", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_groups_names_and_exit_codes():
    done = _cli("layers")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert [ln.split()[:2] for ln in lines[:-1]] == [["PASS", n] for n in
                                                      ("im2col", "col2im", "conv_forward", "conv_backward",
                                                       "max_pool_forward", "max_pool_backward",
                                                       "dropout_forward", "dropout_backward")]
    assert lines[-1] == "8 of 8 public checks pass; grading reruns your code on new inputs"
    done = _cli("loss", "-v")
    assert done.returncode == 0 and done.stdout.startswith("PASS  ThreeLayerConvNet.loss")
    assert done.stdout.count("\n        ok ") == 3
    done = _cli("conv_fwd")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("check: unknown name 'conv_fwd': use a function (im2col,")
    assert len(done.stderr.splitlines()) == 1
    assert check_lines(["nope"])[0].startswith("check: unknown name 'nope'")


# --- a release's stubs -------------------------------------------------------------------------

def _stub_copy(tmp_path):
    """code_base copied to tmp_path with every manifest function's body a stub raising its message."""
    shutil.copytree(ROOT / "code_base", tmp_path / "code_base",
                    ignore=shutil.ignore_patterns("__pycache__"))
    by_file = {}
    for t in TASKS:
        by_file.setdefault(t.path, []).append(t)
    for path, tasks in by_file.items():
        file = tmp_path / path
        lines = file.read_text().splitlines(keepends=True)
        tree = ast.parse("".join(lines))
        spans = []
        for t in tasks:
            node = tree
            for part in t.qualname.split("."):
                node = next(n for n in node.body if getattr(n, "name", None) == part)
            first = node.body[1] if ast.get_docstring(node) else node.body[0]
            indent = " " * first.col_offset
            spans.append((first.lineno - 1, node.end_lineno,
                          f"{indent}raise NotImplementedError({stub_message(t)!r})\n"))
        for start, end, text in sorted(spans, reverse=True):
            lines[start:end] = [text]
        file.write_text("".join(lines))
    return tmp_path


def test_on_a_release_s_stubs_every_function_is_todo_and_the_exit_code_is_1(tmp_path):
    root = _stub_copy(tmp_path)
    done = _cli(cwd=root, pythonpath=root)
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert [ln.split()[0] for ln in lines[:-1]] == ["TODO"] * len(TASKS)
    assert lines[2] == "TODO  conv_forward                    not written yet: see the TODO in code_base/layers.py"
    assert lines[1] == "TODO  col2im                          not written yet: see the TODO in code_base/im2col.py"
    assert lines[-2] == ("TODO  ThreeLayerConvNet.loss          not written yet: "
                         "see the TODO in code_base/classifiers/cnn.py")
    assert lines[-1] == ("0 of 10 public checks pass (10 not written yet); "
                         "grading reruns your code on new inputs")
    assert "Traceback" not in done.stdout + done.stderr


def test_the_check_imports_nothing_the_release_drops():
    allowed = {"numpy", "code_base.layers", "code_base.im2col", "code_base.classifiers.cnn",
               "code_base.layer_utils", "code_base.gradient_check"}
    for path in (ROOT / "code_base" / "check").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                names = [f"code_base.{node.module}" if node.module else f"code_base.{a.name}"
                         for a in node.names]
                assert set(names) <= allowed, (path.name, names)
            elif isinstance(node, ast.Import) or (isinstance(node, ast.ImportFrom) and node.level == 0):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                assert not any(m.startswith("code_base") for m in mods), (path.name, mods)
    calls_tree = ast.parse((ROOT / "code_base/check/calls.py").read_text())
    assert not [n for n in ast.walk(calls_tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


# --- known mistakes: FAIL with the right hint; 2017-style code that is right: PASS -------------

def _conv_loops(x, w, b, conv_param, per_side=False, flip=False):
    """A student's loop convolution, 2017 style; per_side pads `pad` pixels on each side."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    p = pad if per_side else pad // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    N, C, H, W = xp.shape
    F, _, HH, WW = w.shape
    wk = w[:, :, ::-1, ::-1] if flip else w
    out = np.zeros((N, F, 1 + (H - HH) // stride, 1 + (W - WW) // stride))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            field = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(field, wk, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)  # the old cache tuple


def _pool_forward_loops(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out = np.zeros((N, C, 1 + (H - ph) // stride, 1 + (W - pw) // stride))
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def _pool_every_tie(dout, cache):
    x, pool_param = cache
    out, _ = _pool_forward_loops(x, pool_param)
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(out.shape[2]):
        for j in range(out.shape[3]):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            hit = window == out[:, :, i, j][:, :, None, None]
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] += \
                hit * dout[:, :, i, j][:, :, None, None]
    return dx


def _dropout_2017(scale_by_keep=False, p_is_keep=False):
    def dropout_forward(x, dropout_param):
        p, mode = dropout_param["p"], dropout_param["mode"]
        if "seed" in dropout_param:
            np.random.seed(dropout_param["seed"])
        if mode == "test":
            return x, (dropout_param, None)
        keep = p if p_is_keep else 1 - p
        mask = (np.random.rand(*x.shape) < keep) * (keep if scale_by_keep else 1 / keep)
        return x * mask, (dropout_param, mask)
    return dropout_forward


def _hint(result):
    return result.detail.split("; hint: ")[1] if "; hint: " in result.detail else None


def test_per_side_padding_fails_with_its_hint(monkeypatch):
    monkeypatch.setattr(layers, "conv_forward",
                        lambda x, w, b, cp: _conv_loops(x, w, b, cp, per_side=True))
    r = verdict("conv_forward")
    assert r.verdict == "FAIL"
    assert r.detail.startswith("x (2, 3, 5, 5), w (4, 3, 3, 3), stride 1, pad 2: out: returned "
                               "shape (2, 4, 7, 7), expected shape (2, 4, 5, 5)")
    assert _hint(r) == ("pad is the TOTAL padding: pad=2 means one pixel on each side, "
                        "not pad pixels per side")


def test_a_flipped_filter_fails_with_its_hint(monkeypatch):
    monkeypatch.setattr(layers, "conv_forward", lambda x, w, b, cp: _conv_loops(x, w, b, cp, flip=True))
    r = verdict("conv_forward")
    assert r.verdict == "FAIL" and "correlation" in _hint(r)


def test_loop_convolution_with_an_old_cache_tuple_and_a_print_passes_with_a_note(monkeypatch):
    def conv_forward(x, w, b, conv_param):
        print("conv_forward called with", x.shape)
        return _conv_loops(x, w, b, conv_param)

    def conv_backward(dout, cache):  # 2017 style: recomputes from the old (x, w, b, param) tuple
        x, w, b, conv_param = cache
        from code_base.im2col import col2im, im2col
        F, C, HH, WW = w.shape
        cols = im2col(x, HH, WW, conv_param["stride"], conv_param["pad"])
        d = dout.transpose(1, 0, 2, 3).reshape(F, -1)
        dx = col2im(w.reshape(F, -1).T @ d, x.shape, HH, WW, conv_param["stride"], conv_param["pad"])
        return dx, (d @ cols.T).reshape(w.shape), d.sum(axis=1)

    monkeypatch.setattr(layers, "conv_forward", conv_forward)
    monkeypatch.setattr(layers, "conv_backward", conv_backward)
    for name in ("conv_forward", "conv_backward"):
        r = verdict(name)
        assert r.verdict == "PASS", r.detail
        assert r.note.startswith("note: it printed ") and r.note.endswith(" lines")
    assert "(note: it printed" in runner.format_result(verdict("conv_forward"))


def test_gradient_to_every_tied_maximum_fails_on_the_tie_case_with_its_hint(monkeypatch):
    monkeypatch.setattr(layers, "max_pool_forward", _pool_forward_loops)
    assert verdict("max_pool_forward").verdict == "PASS"
    monkeypatch.setattr(layers, "max_pool_backward", _pool_every_tie)
    r = verdict("max_pool_backward")
    assert r.verdict == "FAIL"
    assert r.cases[0][0] is True  # the numerical gradient (no ties) passes
    assert r.detail.startswith("x (1, 2, 4, 4) with tied maxima, 2x2 windows, stride 2: rel error")
    assert _hint(r) == "on a tie only the FIRST maximum (row-major) gets the gradient, not every tied one"


def test_2017_dropout_with_np_random_passes(monkeypatch):
    monkeypatch.setattr(layers, "dropout_forward", _dropout_2017())
    monkeypatch.setattr(layers, "dropout_backward",
                        lambda dout, cache: dout if cache[1] is None else dout * cache[1])
    assert verdict("dropout_forward").verdict == "PASS"
    assert verdict("dropout_backward").verdict == "PASS"


@pytest.mark.parametrize("mistake, hint", [
    (dict(scale_by_keep=True), "kept units are scaled by the keep probability (1 - p); "
                               "inverted dropout divides by it"),
    (dict(p_is_keep=True), "p is the probability of DROPPING a unit: you kept a fraction p of them"),
])
def test_dropout_mistakes_fail_with_their_hints(monkeypatch, mistake, hint):
    monkeypatch.setattr(layers, "dropout_forward", _dropout_2017(**mistake))
    r = verdict("dropout_forward")
    assert r.verdict == "FAIL" and _hint(r) == hint, r.detail


def test_an_exception_is_one_line_with_the_students_file_and_line(monkeypatch):
    def max_pool_forward(x, pool_param):
        return x.reshape(7, -1), None

    monkeypatch.setattr(layers, "max_pool_forward", max_pool_forward)
    r = verdict("max_pool_forward")
    line = max_pool_forward.__code__.co_firstlineno + 1
    assert r.verdict == "FAIL"
    assert r.detail == ("ValueError: cannot reshape array of size 96 into shape (7,newaxis) "
                        f"(tests/test_check.py:{line})")


def test_a_function_over_the_time_limit_fails(monkeypatch):
    def slow(x, pool_param):
        time.sleep(5)

    monkeypatch.setattr(layers, "max_pool_forward", slow)
    start = time.perf_counter()
    r = verdict("max_pool_forward", time_limit=0.3)
    assert time.perf_counter() - start < 2
    assert (r.verdict, r.detail) == ("FAIL", "took over 0.3 s (the limit) on 1 of 2 cases")


# --- hint_for_call on the assignment's own call (as grade-class uses it) -----------------------

def _assignment_inputs(function, rng):
    shapes = {"conv_forward_in_x": (2, 3, 5, 5), "conv_forward_in_w": (4, 3, 3, 3),
              "conv_forward_in_b": (4,), "conv_backward_in_x": (2, 3, 5, 5),
              "conv_backward_in_w": (2, 3, 3, 3), "conv_backward_in_b": (2,),
              "conv_backward_in_dout": (2, 2, 5, 5)}
    return {n: rng.standard_normal(shapes[n]) for n in calls.FUNCTION_INPUTS[function]}


def test_hints_on_the_assignments_calls():
    rng = np.random.default_rng(5)
    inputs = _assignment_inputs("conv_forward", rng)
    right = calls.call(layers, "conv_forward", inputs)
    assert hint_for_call("conv_forward", inputs, right, right) is None
    no_bias = {"conv_forward_out": right["conv_forward_out"]
               - inputs["conv_forward_in_b"][None, :, None, None]}
    assert hint_for_call("conv_forward", inputs, no_bias, right).startswith("the bias is missing")
    inputs = _assignment_inputs("conv_backward", rng)
    right = calls.call(layers, "conv_backward", inputs)
    wrong = {**right, "conv_backward_out_db": np.zeros(2)}
    assert hint_for_call("conv_backward", inputs, wrong, right).startswith("db is missing")
    garbage = {"conv_backward_out_dx": "x"}
    assert hint_for_call("conv_backward", inputs, garbage, right) is None


def test_a_2017_stub_that_returns_none_fails_with_a_hint(monkeypatch):
    monkeypatch.setattr(layers, "conv_forward", lambda x, w, b, conv_param: None)
    r = verdict("conv_forward")
    assert r.detail == ("TypeError: cannot unpack non-iterable NoneType object; hint: does the function "
                        "return its result (a forward pass returns out, cache)?")


def test_notebook_show_prints_the_check_lines(capsys):
    from code_base.check.notebook import show
    show("max_pool_forward")
    assert capsys.readouterr().out.splitlines() == check_lines(["max_pool_forward"])
    assert check_lines(["max_pool_forward"])[0].startswith("PASS  max_pool_forward")


# --- calls.py is the submission's call -----------------------------------------------------------

def test_calls_make_the_submissions_calls_with_its_parameters():
    from code_base import submission
    from code_base.submission.compute import compute_each
    from code_base.submission.handin import FUNCTION_OUTPUTS
    assert calls.PARAMS == {"conv_forward": submission.CONV_FORWARD_PARAM,
                            "conv_backward": submission.CONV_BACKWARD_PARAM,
                            "pool": submission.POOL_PARAM,
                            "dropout_forward_p": submission.DROPOUT_FORWARD_P,
                            "dropout_backward_p": submission.DROPOUT_BACKWARD_P}
    assert calls.FUNCTION_OUTPUTS == FUNCTION_OUTPUTS
    assert {n for names in calls.FUNCTION_INPUTS.values() for n in names} == set(submission.INPUT_SHAPES)
    inputs = submission.make_inputs(3)
    deterministic = submission.compute_deterministic(inputs)
    for function in ("conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward"):
        for name, value in calls.call(layers, function, inputs).items():
            np.testing.assert_array_equal(value, deterministic[name])
    every, failures = compute_each(inputs, seed=4)
    assert failures == {}
    for name, value in submission.compute_outputs(inputs, seed=4).items():
        np.testing.assert_array_equal(every[name], value)
    out = calls.call(layers, "dropout_forward", inputs, seed=9)
    again = calls.call(layers, "dropout_forward", inputs, seed=9)
    np.testing.assert_array_equal(out["dropout_forward_out_train"], again["dropout_forward_out_train"])


def test_a_missing_expected_json_is_one_line_and_exit_2(tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(ROOT / "code_base", root / "code_base", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "code_base" / "check" / "expected.json").unlink()
    done = _cli(cwd=root, pythonpath=root)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (f"check: {root / 'code_base/check/expected.json'}: cannot read the fixed cases' "
                           "expected values (No such file or directory); restore it from the release\n")


def test_a_written_function_waiting_for_a_stub_says_so(tmp_path):
    root = _stub_copy(tmp_path)
    layers_py = root / "code_base" / "layers.py"
    text = layers_py.read_text()
    stub = "raise NotImplementedError('conv_backward is yours to write: see the TODO in code_base/layers.py')"
    assert stub in text
    layers_py.write_text(text.replace(stub, "return None, None, None"))
    done = _cli("conv_backward", cwd=root, pythonpath=root)
    assert done.stdout.splitlines()[0] == ("TODO  conv_backward                   waits for conv_forward "
                                           "(not written yet)")


# --- the class grader's synthetic mistakes, through the check ---------------------------------

def _student(monkeypatch, mistake):
    """Put the synthetic student's functions (with `mistake`) in place of this package's layers."""
    import types
    from code_base.submission.classgrade.mistakes import layers_source
    module = types.ModuleType("student_layers")
    module.__file__ = str(ROOT / "code_base" / "student_layers.py")
    exec(compile(layers_source(mistake), module.__file__, "exec"), module.__dict__)
    for function in calls.FUNCTIONS:
        monkeypatch.setattr(layers, function, getattr(module, function))


@pytest.mark.parametrize("mistake, function, start, hint", [
    ("keep-p dropout", "dropout_forward", "x (100, 100), p = 0.3, train and test mode: dropped 0.",
     "p is the probability of DROPPING a unit: you kept a fraction p of them"),
    ("per-side padding", "conv_forward", "x (2, 3, 5, 5), w (4, 3, 3, 3), stride 1, pad 2",
     "pad is the TOTAL padding: pad=2 means one pixel on each side, not pad pixels per side"),
    ("per-side padding", "conv_backward", "x (2, 2, 5, 5), w (3, 2, 3, 3), stride 2, pad 2: rel error",
     "pad is the TOTAL padding: pad=2 means one pixel on each side, not pad pixels per side"),
    ("xrange", "max_pool_backward", "NameError: name 'xrange' is not defined (code_base/student_layers.py:",
     None),
    ("float shapes", "max_pool_forward", "TypeError: 'float' object cannot be interpreted as an integer "
                                         "(code_base/student_layers.py:", None),
])
def test_the_class_graders_mistakes_fail_the_check(monkeypatch, mistake, function, start, hint):
    _student(monkeypatch, mistake)
    r = verdict(function)
    assert r.verdict == "FAIL" and r.detail.startswith(start), r.detail
    assert _hint(r) == hint


def test_the_synthetic_student_passes_except_the_first_maximum_rule(monkeypatch):
    _student(monkeypatch, "2017 leftovers")  # a debug print in conv_backward
    results = {f: verdict(f) for f in calls.FUNCTIONS}
    assert {f: r.verdict for f, r in results.items() if f != "max_pool_backward"} == \
        {f: "PASS" for f in calls.FUNCTIONS if f != "max_pool_backward"}
    assert results["conv_backward"].note == "note: it printed 2 lines"


def test_exit_in_student_code_is_a_fail_not_the_end_of_the_check(monkeypatch):
    def dropout_forward(x, dropout_param):
        sys.exit(3)

    monkeypatch.setattr(layers, "dropout_forward", dropout_forward)
    r = verdict("dropout_forward")
    line = dropout_forward.__code__.co_firstlineno + 1
    assert (r.verdict, r.detail) == ("FAIL", f"it called exit(3) (tests/test_check.py:{line})")
