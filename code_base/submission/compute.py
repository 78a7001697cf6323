"""The assignment's submission outputs: make input files, compute every output from them.

`run` makes the assignment's calls on the input arrays (all float64):
  conv_forward      stride 2, pad 2 (total, i.e. one pixel each side)
  conv_backward     stride 1, pad 2, after a forward pass
  max_pool_forward  2x2 windows, stride 2; max_pool_backward after a forward pass
  dropout_forward   p = 0.3 (drop probability), train and test mode
  dropout_backward  p = 0.8, after a forward pass, train and test mode
Every output is computed before any is written, so bad inputs leave the output folder as it was.

The inputs `make_inputs` draws are exact multiples of GRID = 2**-16, below 8 in magnitude
(INPUT_BOUND): a product of two such numbers is a multiple of 2**-32 below 64, and a sum of
up to 2**15 such products (the assignment's sums have at most 100) is exact in float64.  So
every correct way of computing the convolutions gives the same bits: a BLAS adds a matrix
product's terms in an order of its own (which differs between libraries, the builds for
different CPUs and thread counts), and here no order rounds.  The output files are then the
same bytes on every machine, and a student's correct code reproduces them exactly.
"""
import numpy as np

from .. import layers
from ..check import calls
from .files import INPUT_SHAPES, OUTPUT_SHAPES, file_name, load_folder, write_folder

__all__ = ["CONV_FORWARD_PARAM", "CONV_BACKWARD_PARAM", "POOL_PARAM", "DROPOUT_FORWARD_P",
           "DROPOUT_BACKWARD_P", "DEFAULT_INPUT_SEED", "DEFAULT_DROPOUT_SEED", "GRID",
           "INPUT_BOUND", "make_inputs", "compute_deterministic", "compute_dropout", "compute_each",
           "compute_outputs", "run", "summary_table"]

# The assignment's parameters, as its calls (check.calls) make them.
CONV_FORWARD_PARAM = calls.PARAMS["conv_forward"]
CONV_BACKWARD_PARAM = calls.PARAMS["conv_backward"]
POOL_PARAM = calls.PARAMS["pool"]
DROPOUT_FORWARD_P = calls.PARAMS["dropout_forward_p"]
DROPOUT_BACKWARD_P = calls.PARAMS["dropout_backward_p"]
DEFAULT_INPUT_SEED = 2017
DEFAULT_DROPOUT_SEED = 0
GRID = 2.0 ** -16  # every input value is a multiple of GRID ...
INPUT_BOUND = 8.0  # ... smaller than this in magnitude (see the module docstring)


def make_inputs(seed=DEFAULT_INPUT_SEED):
    """Random float64 input arrays of the assignment's shapes, reproducible from `seed`.

    Values are standard normal rounded to multiples of GRID (within +-INPUT_BOUND: see the
    module docstring), except the dropout forward input, 10 + N(0, 1), which keeps every entry
    far from 0 so that dropped and kept units are told apart.  Max-pool inputs are redrawn
    until all their values are distinct, so the max is never a tie.
    """
    rng = np.random.default_rng(seed)
    largest = INPUT_BOUND - GRID

    def draw(shape):
        return np.round(np.clip(rng.standard_normal(shape), -largest, largest) / GRID) * GRID

    arrays = {}
    for name, shape in INPUT_SHAPES.items():
        values = draw(shape)
        while name.startswith('maxpool') and np.unique(values).size != values.size:
            values = draw(shape)
        arrays[name] = values
    arrays['dropout_forward_in_x'] += 10.0
    return arrays


def compute_deterministic(inputs):
    """Convolution and max-pool outputs (`name -> array`) from the `name -> array` inputs, by the
    assignment's calls (check.calls: the same calls the check and the class grader make)."""
    outputs = {}
    for function in ("conv_forward", "conv_backward", "max_pool_forward", "max_pool_backward"):
        outputs.update(calls.call(layers, function, inputs))
    return outputs


def _dropout_forward_outputs(inputs, rng):
    x = inputs['dropout_forward_in_x']
    return {'dropout_forward_out_' + mode:
            layers.dropout_forward(x, {'mode': mode, 'p': DROPOUT_FORWARD_P, 'rng': rng})[0]
            for mode in ('train', 'test')}


def _dropout_backward_outputs(inputs, rng):
    x, dout, outputs = inputs['dropout_backward_in_x'], inputs['dropout_backward_in_dout'], {}
    for mode in ('train', 'test'):
        _, cache = layers.dropout_forward(x, {'mode': mode, 'p': DROPOUT_BACKWARD_P, 'rng': rng})
        outputs['dropout_backward_out_' + mode] = layers.dropout_backward(dout, cache)
    return outputs


def compute_dropout(inputs, seed=DEFAULT_DROPOUT_SEED):
    """Dropout outputs (train and test mode); the train masks are drawn from `seed`."""
    rng = np.random.default_rng(seed)
    return {**_dropout_forward_outputs(inputs, rng), **_dropout_backward_outputs(inputs, rng)}


def compute_each(inputs, seed=DEFAULT_DROPOUT_SEED):
    """(outputs, failures): the outputs of every function that runs, and function -> exception
    for those that raise (NotImplementedError: not written yet).  Same values as compute_outputs:
    the assignment's calls (check.calls, the grader's too), dropout masks drawn from `seed`."""
    rng = np.random.default_rng(seed)
    each = {f: (lambda f=f: calls.call(layers, f, inputs)) for f in calls.FUNCTIONS
            if not f.startswith('dropout_')}
    each['dropout_forward'] = lambda: _dropout_forward_outputs(inputs, rng)
    each['dropout_backward'] = lambda: _dropout_backward_outputs(inputs, rng)
    outputs, failures = {}, {}
    for function, compute in each.items():
        try:
            values = compute()
            for name, value in values.items():
                if np.shape(value) != OUTPUT_SHAPES[name]:
                    raise ValueError(f'{name}: returned shape {np.shape(value)}, '
                                     f'expected {OUTPUT_SHAPES[name]}')
            outputs.update({n: np.asarray(v, dtype=np.float64) for n, v in values.items()})
        except Exception as e:  # NotImplementedError included: the caller tells them apart
            failures[function] = e
    return outputs, failures


def compute_outputs(inputs, seed=DEFAULT_DROPOUT_SEED):
    """All ten outputs, checked against OUTPUT_SHAPES and cast to float64."""
    outputs = {**compute_deterministic(inputs), **compute_dropout(inputs, seed)}
    for name, shape in OUTPUT_SHAPES.items():
        if outputs[name].shape != shape:
            raise RuntimeError(f'{name}: the layers returned shape {outputs[name].shape}, expected {shape}')
    return {name: np.asarray(outputs[name], dtype=np.float64) for name in OUTPUT_SHAPES}


def run(inputs_dir, outputs_dir, seed=DEFAULT_DROPOUT_SEED, partial=False):
    """Load `inputs_dir`, compute every output, then write them all to `outputs_dir`.

    Returns the `name -> array` outputs. Raises MissingFileError / SubmissionError for bad inputs,
    before anything is written.  With partial=True, returns (outputs, failures) instead
    (compute_each): the outputs of the functions that run are written, and the files of those
    that raise are removed, so the folder holds only what the code gives now.
    """
    inputs = load_folder(inputs_dir, INPUT_SHAPES)
    if not partial:
        outputs = compute_outputs(inputs, seed)
        write_folder(outputs_dir, outputs)
        return outputs
    outputs, failures = compute_each(inputs, seed)
    write_folder(outputs_dir, outputs, remove=[file_name(n) for n in OUTPUT_SHAPES if n not in outputs])
    return outputs, failures


def summary_table(outputs):
    rows = [f'{"file":32} {"shape":15} {"values":>6} {"min":>10} {"max":>10}']
    for name, a in outputs.items():
        rows.append(f'{file_name(name):32} {str(a.shape):15} {a.size:6d} {a.min():10.4g} {a.max():10.4g}')
    return '\n'.join(rows)
