"""Submission files: make-inputs, run (inputs -> outputs) and the grader."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from code_base import layers
from code_base.gradient_check import rel_error
from code_base.submission import (CONV_FORWARD_PARAM, DEFAULT_INPUT_SEED, INPUT_SHAPES, OUTPUT_SHAPES,
                                  MissingFileError, SubmissionError, drop_bound, format_array, grade,
                                  load_folder, make_inputs, results_table, run, write_folder)
from code_base.submission.compute import conv_forward_outputs

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
    x = np.linspace(-0.1, 0.5, num=96).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=144).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    expected = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                          [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                          [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                         [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                          [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                          [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    assert CONV_FORWARD_PARAM == {'stride': 2, 'pad': 2}
    assert rel_error(conv_forward_outputs(x, w, b), expected) < 1e-7


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


def test_negative_zero_is_written_as_zero():
    text = format_array('maxpool_backward_out', np.array([-0.0, -1.5, 0.0]))
    assert text.splitlines() == ['0.000000000000000000e+00', '-1.500000000000000000e+00',
                                 '0.000000000000000000e+00']
