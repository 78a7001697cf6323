"""Submission files of the assignment: make inputs, compute outputs, grade a student's outputs.

    python -m code_base.submission make-inputs --seed 2017 --out input_files
    python -m code_base.submission run --inputs input_files --outputs output_files [--seed 0]
    python -m code_base.submission grade --inputs input_files --outputs output_files [--reference DIR]

`run` makes the assignment's calls on the input arrays (all float64):
  conv_forward      stride 2, pad 2 (total, i.e. one pixel each side)
  conv_backward     stride 1, pad 2, after a forward pass
  max_pool_forward  2x2 windows, stride 2; max_pool_backward after a forward pass
  dropout_forward   p = 0.3 (drop probability), train and test mode
  dropout_backward  p = 0.8, after a forward pass, train and test mode
Every output is computed before any is written, so bad inputs leave the output folder as it was.
Exit codes: 0 success, 1 a graded check failed, 2 unusable inputs (one line on stderr).
See code_base/grader.py for what `grade` checks.
"""
import argparse
import sys

import numpy as np

from code_base import layers
from code_base.submission_io import (INPUT_SHAPES, OUTPUT_SHAPES, SubmissionError, file_name,
                                     load_folder, write_folder)

CONV_FORWARD_PARAM = {'stride': 2, 'pad': 2}
CONV_BACKWARD_PARAM = {'stride': 1, 'pad': 2}
POOL_PARAM = {'pool_height': 2, 'pool_width': 2, 'stride': 2}
DROPOUT_FORWARD_P = 0.3
DROPOUT_BACKWARD_P = 0.8
DEFAULT_INPUT_SEED = 2017
DEFAULT_DROPOUT_SEED = 0


def make_inputs(seed=DEFAULT_INPUT_SEED):
    """Random float64 input arrays of the assignment's shapes, reproducible from `seed`.

    Values are standard normal, except the dropout forward input, 10 + N(0, 1), which keeps
    every entry far from 0 so that dropped and kept units are told apart.
    Max-pool inputs are redrawn until all their values are distinct, so the max is never a tie.
    """
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape in INPUT_SHAPES.items():
        values = rng.standard_normal(shape)
        while name.startswith('maxpool') and np.unique(values).size != values.size:
            values = rng.standard_normal(shape)
        arrays[name] = values
    arrays['dropout_forward_in_x'] += 10.0
    return arrays


def conv_forward_outputs(x, w, b):
    out, _ = layers.conv_forward(x, w, b, CONV_FORWARD_PARAM)
    return out


def conv_backward_outputs(x, w, b, dout):
    _, cache = layers.conv_forward(x, w, b, CONV_BACKWARD_PARAM)
    return layers.conv_backward(dout, cache)


def maxpool_forward_outputs(x):
    out, _ = layers.max_pool_forward(x, POOL_PARAM)
    return out


def maxpool_backward_outputs(x, dout):
    _, cache = layers.max_pool_forward(x, POOL_PARAM)
    return layers.max_pool_backward(dout, cache)


def compute_deterministic(inputs):
    """Convolution and max-pool outputs (`name -> array`) from the `name -> array` inputs."""
    dx, dw, db = conv_backward_outputs(inputs['conv_backward_in_x'], inputs['conv_backward_in_w'],
                                       inputs['conv_backward_in_b'], inputs['conv_backward_in_dout'])
    return {
        'conv_forward_out': conv_forward_outputs(inputs['conv_forward_in_x'], inputs['conv_forward_in_w'],
                                                 inputs['conv_forward_in_b']),
        'conv_backward_out_dx': dx,
        'conv_backward_out_dw': dw,
        'conv_backward_out_db': db,
        'maxpool_forward_out': maxpool_forward_outputs(inputs['maxpool_forward_in_x']),
        'maxpool_backward_out': maxpool_backward_outputs(inputs['maxpool_backward_in_x'],
                                                         inputs['maxpool_backward_in_dout']),
    }


def compute_dropout(inputs, seed=DEFAULT_DROPOUT_SEED):
    """Dropout outputs (train and test mode); the train masks are drawn from `seed`."""
    rng = np.random.default_rng(seed)
    outputs = {}
    x = inputs['dropout_forward_in_x']
    for mode in ('train', 'test'):
        out, _ = layers.dropout_forward(x, {'mode': mode, 'p': DROPOUT_FORWARD_P, 'rng': rng})
        outputs['dropout_forward_out_' + mode] = out
    x, dout = inputs['dropout_backward_in_x'], inputs['dropout_backward_in_dout']
    for mode in ('train', 'test'):
        _, cache = layers.dropout_forward(x, {'mode': mode, 'p': DROPOUT_BACKWARD_P, 'rng': rng})
        outputs['dropout_backward_out_' + mode] = layers.dropout_backward(dout, cache)
    return outputs


def compute_outputs(inputs, seed=DEFAULT_DROPOUT_SEED):
    """All ten outputs, checked against OUTPUT_SHAPES and cast to float64."""
    outputs = {**compute_deterministic(inputs), **compute_dropout(inputs, seed)}
    for name, shape in OUTPUT_SHAPES.items():
        if outputs[name].shape != shape:
            raise RuntimeError(f'{name}: the layers returned shape {outputs[name].shape}, expected {shape}')
    return {name: np.asarray(outputs[name], dtype=np.float64) for name in OUTPUT_SHAPES}


def run(inputs_dir, outputs_dir, seed=DEFAULT_DROPOUT_SEED):
    """Load `inputs_dir`, compute every output, then write them all to `outputs_dir`.

    Returns the `name -> array` outputs. Raises MissingFileError / SubmissionError for bad inputs,
    before anything is written.
    """
    inputs = load_folder(inputs_dir, INPUT_SHAPES)
    outputs = compute_outputs(inputs, seed)
    write_folder(outputs_dir, outputs)
    return outputs


def summary_table(outputs):
    rows = [f'{"file":32} {"shape":15} {"values":>6} {"min":>10} {"max":>10}']
    for name, a in outputs.items():
        rows.append(f'{file_name(name):32} {str(a.shape):15} {a.size:6d} {a.min():10.4g} {a.max():10.4g}')
    return '\n'.join(rows)


def _parser():
    parser = argparse.ArgumentParser(prog='python -m code_base.submission', description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    p = sub.add_parser('make-inputs', help='write random input files')
    p.add_argument('--seed', type=int, default=DEFAULT_INPUT_SEED)
    p.add_argument('--out', default='input_files', help='folder to write (created if needed)')
    p = sub.add_parser('run', help='compute the output files from the input files')
    p.add_argument('--inputs', default='input_files')
    p.add_argument('--outputs', default='output_files')
    p.add_argument('--seed', type=int, default=DEFAULT_DROPOUT_SEED, help='seed of the dropout masks')
    from code_base.grader import BOUND_TEXT
    p = sub.add_parser('grade', help='check an output folder; exit code 1 if any check fails',
                       description='Grade an output folder. ' + BOUND_TEXT)
    p.add_argument('--inputs', default='input_files')
    p.add_argument('--outputs', default='output_files')
    p.add_argument('--reference', default=None,
                   help='folder of reference conv/maxpool outputs (default: computed here)')
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == 'make-inputs':
            write_folder(args.out, make_inputs(args.seed))
            print(f'wrote {len(INPUT_SHAPES)} input files to {args.out} (seed {args.seed})')
        elif args.command == 'run':
            outputs = run(args.inputs, args.outputs, args.seed)
            print(summary_table(outputs))
            print(f'wrote {len(outputs)} files to {args.outputs}')
        else:
            from code_base.grader import grade, results_table
            results = grade(args.inputs, args.outputs, args.reference)
            print(results_table(results))
            failed = sum(not r.passed for r in results)
            print(f'{len(results) - failed} checks passed, {failed} failed')
            return 1 if failed else 0
    except SubmissionError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    return 0


if __name__ == '__main__':
    sys.exit(main())
