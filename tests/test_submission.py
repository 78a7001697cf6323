"""Submission files: make-inputs, run (inputs -> outputs) and the grader."""
import itertools
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fractions import Fraction

from code_base import layers
from code_base.check import calls, reference
from code_base.gradient_check import rel_error
from code_base.submission import (CONV_BACKWARD_PARAM, CONV_FORWARD_PARAM, DEFAULT_INPUT_SEED, GRID,
                                  INPUT_BOUND, INPUT_SHAPES, OUTPUT_SHAPES, MissingFileError,
                                  SubmissionError, compute_deterministic, drop_bound, format_array,
                                  grade, load_folder, make_inputs, parse_values, results_table, run,
                                  write_folder)

REPO = Path(__file__).resolve().parents[1]
VALUE = r'-?\d\.\d{18}e[+-]\d{2,3}'  # '%.18e': 19 significant figures


def cli(*args):
    return subprocess.run([sys.executable, '-m', 'code_base.submission', *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir())}


@pytest.fixture(scope='module')
def inputs_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp('inputs')
    write_folder(folder, make_inputs(seed=7))
    return folder


@pytest.fixture(scope='module')
def good_dir(inputs_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp('outputs')
    run(inputs_dir, folder, seed=3)
    return folder


@pytest.fixture
def submission(good_dir, tmp_path):
    """A fresh copy of a correct output folder, to spoil."""
    return Path(shutil.copytree(good_dir, tmp_path / 'submission'))


def failed_files(results):
    return {r.file for r in results if not r.passed}


# ---------------------------------------------------------------- make-inputs

def test_make_inputs_is_reproducible_by_seed(tmp_path):
    for name, seed in [('a', 5), ('b', 5), ('c', 6)]:
        assert cli('make-inputs', '--seed', seed, '--out', tmp_path / name).returncode == 0
    a, b, c = (snapshot(tmp_path / n) for n in 'abc')
    assert sorted(a) == sorted(n + '.csv' for n in INPUT_SHAPES)
    assert a == b
    assert all(a[f] != c[f] for f in a)


def test_make_inputs_shapes_and_values():
    arrays = make_inputs(seed=11)
    assert {n: a.shape for n, a in arrays.items()} == INPUT_SHAPES
    assert all(a.dtype == np.float64 for a in arrays.values())
    for name in ('maxpool_forward_in_x', 'maxpool_backward_in_x'):
        assert np.unique(arrays[name]).size == arrays[name].size  # no ties for the max
    x = arrays['dropout_forward_in_x']
    assert 9.5 < x.mean() < 10.5 and x.min() > 5


# ---------------------------------------------------------------- run

def test_run_writes_every_file_in_format(inputs_dir, good_dir):
    assert sorted(os.listdir(good_dir)) == sorted(n + '.csv' for n in OUTPUT_SHAPES)
    for name, shape in OUTPUT_SHAPES.items():
        lines = (good_dir / (name + '.csv')).read_text().splitlines()
        if name.startswith('dropout_'):
            assert len(lines) == shape[0]
            assert all(re.fullmatch(rf'{VALUE}( {VALUE}){{{shape[1] - 1}}}', ln) for ln in lines)
        else:
            assert len(lines) == np.prod(shape)
            assert all(re.fullmatch(VALUE, ln) for ln in lines)


def test_run_outputs_round_trip_exactly(inputs_dir, tmp_path):
    outputs = run(inputs_dir, tmp_path, seed=3)
    reread = load_folder(tmp_path, OUTPUT_SHAPES)
    for name in OUTPUT_SHAPES:
        np.testing.assert_array_equal(reread[name], outputs[name])  # bit-exact float64 round trip


def test_run_uses_the_assignment_calls(inputs_dir, good_dir):
    given = load_folder(inputs_dir, INPUT_SHAPES)
    got = load_folder(good_dir, OUTPUT_SHAPES)
    x, w, b = (given['conv_forward_in_' + k] for k in 'xwb')
    assert rel_error(got['conv_forward_out'], layers.conv_forward(x, w, b, {'stride': 2, 'pad': 2})[0]) < 1e-12
    pooled = given['maxpool_forward_in_x'].reshape(3, 3, 4, 2, 4, 2).max(axis=(3, 5))
    np.testing.assert_array_equal(got['maxpool_forward_out'], pooled)
    np.testing.assert_array_equal(got['dropout_forward_out_test'], given['dropout_forward_in_x'])
    np.testing.assert_array_equal(got['dropout_backward_out_test'], given['dropout_backward_in_dout'])


def test_conv_forward_matches_the_worked_example():
    x, w, b, conv_param, expected = reference.conv_forward_example()
    assert CONV_FORWARD_PARAM == conv_param
    got = calls.call(layers, "conv_forward", {"conv_forward_in_x": x, "conv_forward_in_w": w,
                                              "conv_forward_in_b": b})["conv_forward_out"]
    assert rel_error(got, expected) < reference.TOLERANCE


def drop_file(folder):
    os.remove(folder / 'conv_forward_in_w.csv')


def drop_last_line(folder):
    path = folder / 'conv_forward_in_x.csv'
    path.write_text(''.join(path.read_text().splitlines(keepends=True)[:-1]))


def corrupt_value(folder):
    path = folder / 'maxpool_backward_in_dout.csv'
    path.write_text(path.read_text().replace('e', 'x', 1))


@pytest.mark.parametrize('spoil, expected', [
    (drop_file, r'conv_forward_in_w\.csv: file not found \(expected an array of shape \(3, 3, 4, 4\)\)'),
    (drop_last_line, r'conv_forward_in_x\.csv: expected 216 values for shape \(2, 3, 6, 6\), found 215'),
    (corrupt_value, r'maxpool_backward_in_dout\.csv: not a table of numbers'),
])
def test_run_rejects_bad_inputs_and_leaves_outputs(inputs_dir, submission, tmp_path, spoil, expected):
    bad = Path(shutil.copytree(inputs_dir, tmp_path / 'bad'))
    spoil(bad)
    before = snapshot(submission)
    with pytest.raises(SubmissionError, match=expected):
        run(bad, submission)
    assert snapshot(submission) == before


def test_run_cli_error_is_one_line_and_nonzero(inputs_dir, submission, tmp_path):
    bad = Path(shutil.copytree(inputs_dir, tmp_path / 'bad'))
    drop_last_line(bad)
    before = snapshot(submission)
    result = cli('run', '--inputs', bad, '--outputs', submission)
    assert result.returncode == 2
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr
    assert re.search(r'conv_forward_in_x\.csv: expected 216 values for shape \(2, 3, 6, 6\), found 215',
                     result.stderr)
    assert snapshot(submission) == before


def test_run_missing_inputs_folder_raises_missing_file(tmp_path):
    with pytest.raises(MissingFileError, match='folder not found'):
        run(tmp_path / 'nowhere', tmp_path / 'out')
    assert not (tmp_path / 'out').exists()


def test_run_accepts_comma_delimited_inputs(inputs_dir, good_dir, tmp_path):
    commas = tmp_path / 'commas'
    commas.mkdir()
    for name in INPUT_SHAPES:
        text = (inputs_dir / (name + '.csv')).read_text()
        if name.startswith('dropout_'):
            text = text.replace(' ', ',')  # rows of comma-separated values
        else:
            text = ','.join(text.split()) + '\n'  # the whole array on one comma-separated line
        (commas / (name + '.csv')).write_text(text)
    run(commas, tmp_path / 'out', seed=3)
    assert snapshot(tmp_path / 'out') == snapshot(good_dir)


def test_a_byte_order_mark_is_accepted(inputs_dir, good_dir, submission, tmp_path):
    # Some editors (Notepad, Excel's "CSV UTF-8") start a UTF-8 file with U+FEFF.
    marked = tmp_path / 'marked'
    shutil.copytree(inputs_dir, marked)
    for folder in (marked, submission):
        for path in folder.iterdir():
            path.write_bytes(b'\xef\xbb\xbf' + path.read_bytes())
    np.testing.assert_array_equal(parse_values(marked / 'conv_forward_in_b.csv'),
                                  parse_values(inputs_dir / 'conv_forward_in_b.csv'))
    run(marked, tmp_path / 'out', seed=3)
    assert snapshot(tmp_path / 'out') == snapshot(good_dir)
    results = grade(inputs_dir, submission)
    assert all(r.passed for r in results), results_table(results)


def test_run_creates_nested_output_folder_and_leaves_no_temp_files(inputs_dir, tmp_path):
    out = tmp_path / 'a' / 'b'
    run(inputs_dir, out)
    assert sorted(os.listdir(out)) == sorted(n + '.csv' for n in OUTPUT_SHAPES)


# ---------------------------------------------------------------- grade

def test_grade_passes_a_correct_submission(inputs_dir, good_dir):
    results = grade(inputs_dir, good_dir)
    assert all(r.passed for r in results), results_table(results)
    assert {r.file for r in results} == {n + '.csv' for n in OUTPUT_SHAPES}
    assert len(results) == 2 * len(OUTPUT_SHAPES) + 2  # file + value check each, + 2 drop fractions


def test_grade_cli_exit_codes(inputs_dir, good_dir, submission):
    ok = cli('grade', '--inputs', inputs_dir, '--outputs', good_dir)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert '22 checks passed, 0 failed' in ok.stdout
    os.remove(submission / 'conv_backward_out_db.csv')
    bad = cli('grade', '--inputs', inputs_dir, '--outputs', submission)
    assert bad.returncode == 1
    assert re.search(r'conv_backward_out_db\.csv +file +missing .* FAIL', bad.stdout)


def rewrite(folder, name, array):
    (folder / (name + '.csv')).write_text(format_array(name, array))


def fortran_order(folder, given):
    out = np.loadtxt(folder / 'conv_forward_out.csv').reshape(2, 3, 3, 3)
    (folder / 'conv_forward_out.csv').write_text(format_array('x', out.ravel(order='F')))


def transposed_dx(folder, given):
    dx = np.loadtxt(folder / 'maxpool_backward_out.csv').reshape(3, 2, 10, 10)
    rewrite(folder, 'maxpool_backward_out', dx.transpose(0, 1, 3, 2))


def per_side_pad(folder, given):
    x, w, b = (given['conv_forward_in_' + k] for k in 'xwb')
    out, _ = layers.conv_forward(x, w, b, {'stride': 2, 'pad': 4})  # two pixels each side
    rewrite(folder, 'conv_forward_out', out)


def keep_p_dropout(folder, given):
    """CS231n convention: p is the KEEP probability, kept units scaled by 1/p."""
    rng = np.random.default_rng(0)
    x = given['dropout_forward_in_x']
    rewrite(folder, 'dropout_forward_out_train', x * (rng.random(x.shape) < 0.3) / 0.3)
    dout = given['dropout_backward_in_dout']
    rewrite(folder, 'dropout_backward_out_train', dout * (rng.random(dout.shape) < 0.8) / 0.8)


def unscaled_dropout(folder, given):
    x = given['dropout_forward_in_x']
    rewrite(folder, 'dropout_forward_out_train', x * (np.random.default_rng(0).random(x.shape) >= 0.3))


def scaled_test_mode(folder, given):
    rewrite(folder, 'dropout_forward_out_test', given['dropout_forward_in_x'] / 0.7)


def missing_file(folder, given):
    os.remove(folder / 'dropout_backward_out_test.csv')


def truncated_file(folder, given):
    path = folder / 'conv_backward_out_dx.csv'
    path.write_text(''.join(path.read_text().splitlines(keepends=True)[:-1]))


def cut_mid_number(folder, given):
    path = folder / 'dropout_forward_out_test.csv'
    path.write_text(path.read_text()[:5010])  # 10 rows of 20 values, then part of one


def slightly_off(folder, given):
    db = np.loadtxt(folder / 'conv_backward_out_db.csv')
    rewrite(folder, 'conv_backward_out_db', db * (1 + 1e-5))


@pytest.mark.parametrize('spoil, failing', [
    (fortran_order, {'conv_forward_out.csv': {'rel error vs this implementation'}}),
    (transposed_dx, {'maxpool_backward_out.csv': {'rel error vs this implementation'}}),
    (per_side_pad, {'conv_forward_out.csv': {'file'}}),
    (keep_p_dropout, {'dropout_forward_out_train.csv': {'nonzero == x/(1-p)', 'fraction dropped'},
                      'dropout_backward_out_train.csv': {'nonzero == dout/(1-p)', 'fraction dropped'}}),
    (unscaled_dropout, {'dropout_forward_out_train.csv': {'nonzero == x/(1-p)'}}),
    (scaled_test_mode, {'dropout_forward_out_test.csv': {'rel error vs input x'}}),
    (missing_file, {'dropout_backward_out_test.csv': {'file'}}),
    (truncated_file, {'conv_backward_out_dx.csv': {'file'}}),
    (cut_mid_number, {'dropout_forward_out_test.csv': {'file'}}),
    (slightly_off, {'conv_backward_out_db.csv': {'rel error vs this implementation'}}),
])
def test_grade_catches_wrong_submission(inputs_dir, submission, spoil, failing):
    spoil(submission, load_folder(inputs_dir, INPUT_SHAPES))
    results = grade(inputs_dir, submission)
    got = {}
    for r in results:
        if not r.passed:
            got.setdefault(r.file, set()).add(r.check)
    assert got == failing, results_table(results)


def test_grade_reports_what_it_found(inputs_dir, submission):
    truncated_file(submission, None)
    missing_file(submission, None)
    cut_mid_number(submission, None)
    notes = {r.file: r.note for r in grade(inputs_dir, submission) if not r.passed}
    assert notes.pop('dropout_forward_out_test.csv').startswith('not a table of numbers')
    assert notes == {'conv_backward_out_dx.csv': 'found 299 values', 'dropout_backward_out_test.csv': 'missing'}


def test_grade_against_a_reference_folder(inputs_dir, good_dir, submission):
    assert all(r.passed for r in grade(inputs_dir, good_dir, reference=good_dir))
    slightly_off(submission, None)  # now the reference disagrees with the submission's db
    results = grade(inputs_dir, good_dir, reference=submission)
    assert failed_files(results) == {'conv_backward_out_db.csv'}
    assert [r.check for r in results if not r.passed] == ['rel error vs reference']
    os.remove(submission / 'maxpool_forward_out.csv')
    with pytest.raises(MissingFileError, match=r'maxpool_forward_out\.csv: file not found'):
        grade(inputs_dir, good_dir, reference=submission)


@pytest.mark.parametrize('n, p, bound', [(400, 0.3, 4 * np.sqrt(84) + 1), (100, 0.8, 17.0)])
def test_drop_bound(n, p, bound):
    assert drop_bound(n, p) == pytest.approx(bound)


def test_correct_dropout_passes_for_many_masks(inputs_dir, good_dir):
    """200 masks from other seeds all pass (a failure would be a 4-sigma event)."""
    from code_base.submission.grader import check_dropout_train
    x = load_folder(inputs_dir, INPUT_SHAPES)['dropout_forward_in_x']
    for seed in range(200):
        out, _ = layers.dropout_forward(x, {'mode': 'train', 'p': 0.3, 'seed': seed})
        assert all(r.passed for r in check_dropout_train('f', out.ravel(), x, 0.3, 'x'))


def test_ambiguous_zero_inputs_are_ignored():
    from code_base.submission.grader import check_dropout_train
    x = np.r_[np.zeros(50), np.full(50, 2.0)]
    out = np.r_[np.zeros(50), np.tile([0.0, 2.0 / 0.5], 25)]  # 25 of the 50 nonzero x dropped
    values, fraction = check_dropout_train('f', out, x, 0.5, 'x')
    assert values.passed and values.measured == 0.0
    assert fraction.measured == 0.5 and fraction.note == '25 of 50'
    out[0] = 1.0  # nonzero where x is 0
    assert not check_dropout_train('f', out, x, 0.5, 'x')[0].passed


# ---------------------------------------------------------------- the committed files

def test_committed_inputs_are_made_by_make_inputs(tmp_path):
    write_folder(tmp_path, make_inputs(DEFAULT_INPUT_SEED))
    assert snapshot(tmp_path) == snapshot(REPO / 'input_files')


def test_committed_outputs_pass_the_grader():
    results = grade(REPO / 'input_files', REPO / 'output_files')
    assert all(r.passed for r in results), results_table(results)


# ---------------------------------------------------------------- the same bytes on every machine

def exact_conv(x, w, b, dout, stride, pad):
    """out, dx, dw, db of a convolution in exact rational arithmetic, then rounded once."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    p = pad // 2
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))).astype(object)
    H_out, W_out = 1 + (H + pad - HH) // stride, 1 + (W + pad - WW) // stride
    as_fractions = np.vectorize(Fraction, otypes=[object])
    xp, w, b = as_fractions(xp), as_fractions(w), as_fractions(b)
    dout = as_fractions(dout) if dout is not None else None
    out = np.full((N, F, H_out, W_out), Fraction(0), dtype=object)
    dxp, dw = np.full(xp.shape, Fraction(0), dtype=object), np.full(w.shape, Fraction(0), dtype=object)
    for n, f, i, j in itertools.product(range(N), range(F), range(H_out), range(W_out)):
        rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
        out[n, f, i, j] = (xp[n, :, rows, cols] * w[f]).sum() + b[f]
        if dout is not None:
            dxp[n, :, rows, cols] += dout[n, f, i, j] * w[f]
            dw[f] += dout[n, f, i, j] * xp[n, :, rows, cols]
    db = dout.sum(axis=(0, 2, 3)) if dout is not None else None
    to_float = np.vectorize(float, otypes=[np.float64])
    return [None if a is None else to_float(a)
            for a in (out, dxp[:, :, p : p + H, p : p + W], dw, db)]


@pytest.mark.parametrize('seed', [DEFAULT_INPUT_SEED, 7, 8])
def test_inputs_lie_on_a_grid_where_every_conv_sum_is_exact(seed):
    for name, a in make_inputs(seed).items():
        assert np.array_equal(np.round(a / GRID) * GRID, a), name
        if not name.startswith('dropout_forward'):
            assert np.abs(a).max() < INPUT_BOUND, name
    # The committed inputs are make_inputs(DEFAULT_INPUT_SEED): see the test below.


@pytest.mark.parametrize('seed', [DEFAULT_INPUT_SEED, 7])
def test_conv_outputs_are_the_exact_values(seed):
    # Exact in any order of summation: equal, bit for bit, to rational arithmetic.
    inputs = make_inputs(seed)
    got = compute_deterministic(inputs)
    x, w, b = (inputs['conv_forward_in_' + k] for k in 'xwb')
    want = exact_conv(x, w, b, None, CONV_FORWARD_PARAM['stride'], CONV_FORWARD_PARAM['pad'])
    np.testing.assert_array_equal(got['conv_forward_out'], want[0])
    x, w, b, dout = (inputs['conv_backward_in_' + k] for k in ('x', 'w', 'b', 'dout'))
    _, dx, dw, db = exact_conv(x, w, b, dout, CONV_BACKWARD_PARAM['stride'], CONV_BACKWARD_PARAM['pad'])
    for name, value in (('dx', dx), ('dw', dw), ('db', db)):
        np.testing.assert_array_equal(got['conv_backward_out_' + name], value)


# OpenBLAS kernels for older x86-64 CPUs that every x86-64 CPU can run: they add a product's
# terms in other orders than the newer ones (the committed conv files made from inputs off the
# grid differed in their last bits between these).  None: the kernels OpenBLAS picks itself.
CORETYPES = [None, 'Prescott', 'Nehalem'] if platform.machine() in ('x86_64', 'AMD64') else [None]
RUN_UNDER = """
import contextlib, sys
from threadpoolctl import threadpool_info
from code_base import fast, submission
with (fast.disabled() if sys.argv[3] == 'plain' else contextlib.nullcontext()):
    submission.run(sys.argv[1], sys.argv[2])
print(*[d.get('architecture') for d in threadpool_info() if d['internal_api'] == 'openblas'])
"""


def test_committed_outputs_are_the_same_bytes_under_any_blas(tmp_path):
    settings = [(coretype, '1', 'fast') for coretype in CORETYPES]
    settings += [(CORETYPES[-1], '2', 'fast'), (CORETYPES[-1], '2', 'plain')]
    kernels = set()
    for k, (coretype, blas_threads, path) in enumerate(settings):
        env = {**os.environ, 'OPENBLAS_NUM_THREADS': blas_threads}
        env.pop('OPENBLAS_CORETYPE', None)
        if coretype:
            env['OPENBLAS_CORETYPE'] = coretype
        out = tmp_path / str(k)
        done = subprocess.run([sys.executable, '-c', RUN_UNDER, REPO / 'input_files', out, path],
                              capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        kernels.add(done.stdout.strip())
        assert snapshot(out) == snapshot(REPO / 'output_files'), (coretype, blas_threads, path)
    assert len(kernels) == len(CORETYPES), kernels  # each core type did run kernels of its own


def test_negative_zero_is_written_as_zero():
    text = format_array('maxpool_backward_out', np.array([-0.0, -1.5, 0.0]))
    assert text.splitlines() == ['0.000000000000000000e+00', '-1.500000000000000000e+00',
                                 '0.000000000000000000e+00']
