"""The code of a synthetic class: a student's layers.py, and the mistakes real hand-ins make.

STUDENT_LAYERS is a small hand-written layers.py (not a copy of this package) with the six
functions in the assignment's conventions: total padding `pad`, drop probability `p`, pool
parameters pool_height / pool_width / stride. Its dropout masks come from a generator seeded in
the module, as a student's notebook would seed it, so the class grades the same every run.
Each entry of MISTAKES turns it into a plausible wrong hand-in (see :mod:`.synthetic`).
"""
import dataclasses

__all__ = ["STUDENT_LAYERS", "HARD_CODED_LAYERS", "Mistake", "MISTAKES", "layers_source"]

STUDENT_LAYERS = '''"""layers.py of a synthetic student: the assignment's six functions, written plainly."""
import numpy as np

rng = np.random.default_rng(231)


def conv_forward(x, w, b, conv_param):
    stride, pad = conv_param['stride'], conv_param['pad']
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out = 1 + (H + pad - HH) // stride
    W_out = 1 + (W + pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2)))
    out = np.zeros((N, F, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            patch = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward(dout, cache):
    x, w, b, conv_param = cache
    stride, pad = conv_param['stride'], conv_param['pad']
    HH, WW = w.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
            dw += np.tensordot(dout[:, :, i, j], xp[:, :, rows, cols], axes=([0], [0]))
            dxp[:, :, rows, cols] += np.tensordot(dout[:, :, i, j], w, axes=([1], [0]))
    H, W = x.shape[2:]
    dx = dxp[:, :, pad // 2:pad // 2 + H, pad // 2:pad // 2 + W]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def max_pool_forward(x, pool_param):
    ph, pw, s = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C, H, W = x.shape
    H_out = 1 + (H - ph) // s
    W_out = 1 + (W - pw) // s
    out = np.zeros((N, C, H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            out[:, :, i, j] = x[:, :, i * s:i * s + ph, j * s:j * s + pw].max(axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward(dout, cache):
    x, pool_param = cache
    ph, pw, s = pool_param['pool_height'], pool_param['pool_width'], pool_param['stride']
    N, C = x.shape[:2]
    dx = np.zeros_like(x)
    for r in range(dout.shape[2]):
        for c in range(dout.shape[3]):
            window = x[:, :, r * s:r * s + ph, c * s:c * s + pw].reshape(N, C, ph * pw)
            first = window.argmax(axis=2)  # a tie sends the gradient to the first maximum only
            is_max = np.zeros_like(window)
            np.put_along_axis(is_max, first[:, :, None], 1.0, axis=2)
            is_max = is_max.reshape(N, C, ph, pw)
            dx[:, :, r * s:r * s + ph, c * s:c * s + pw] += is_max * dout[:, :, r:r + 1, c:c + 1]
    return dx


def dropout_forward(x, dropout_param):
    p, mode = dropout_param['p'], dropout_param['mode']
    mask = None
    if mode == 'train':
        mask = (rng.random(x.shape) >= p) / (1 - p)
        out = x * mask
    else:
        out = x
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    dropout_param, mask = cache
    if dropout_param['mode'] == 'train':
        return dout * mask
    return dout
'''

HARD_CODED_LAYERS = '''"""layers.py of a synthetic student who typed the outputs in: right for the official inputs only."""
import os

import numpy as np

OUTPUTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'output_files')


def typed_in(name, shape):
    return np.loadtxt(os.path.join(OUTPUTS, name + '.csv')).reshape(shape)


def conv_forward(x, w, b, conv_param):
    return typed_in('conv_forward_out', (2, 3, 3, 3)), None


def conv_backward(dout, cache):
    return (typed_in('conv_backward_out_dx', (4, 3, 5, 5)), typed_in('conv_backward_out_dw', (2, 3, 3, 3)),
            typed_in('conv_backward_out_db', (2,)))


def max_pool_forward(x, pool_param):
    return typed_in('maxpool_forward_out', (3, 3, 4, 4)), None


def max_pool_backward(dout, cache):
    return typed_in('maxpool_backward_out', (3, 2, 10, 10))


def dropout_forward(x, dropout_param):
    mode = dropout_param['mode']
    if x.shape == (20, 20):
        return typed_in('dropout_forward_out_' + mode, x.shape), mode
    return None, mode


def dropout_backward(dout, cache):
    return typed_in('dropout_backward_out_' + cache, dout.shape)
'''


@dataclasses.dataclass(frozen=True)
class Mistake:
    """A wrong hand-in: `edits` are (text, replacement) pairs applied to STUDENT_LAYERS (each text
    must occur exactly once), or `source` replaces it whole. `outputs_by_correct_code`: the output
    files were made by a correct version (in 2017, on Python 2 and an older NumPy, say); else by
    the wrong code, with no files for functions it lacks. `extra_files`: (path in the ID folder,
    text) pairs handed in too."""
    description: str
    edits: tuple = ()
    source: str | None = None
    outputs_by_correct_code: bool = False
    extra_files: tuple = ()


_TOP = "import numpy as np\n\nrng"
_TOTAL = "(pad // 2, pad - pad // 2), (pad // 2, pad - pad // 2)"
MISTAKES = {
    "keep-p dropout": Mistake("CS231n's convention: p is the probability of keeping a unit",
                              edits=(("mask = (rng.random(x.shape) >= p) / (1 - p)",
                                      "mask = (rng.random(x.shape) < p) / p"),)),
    "per-side padding": Mistake("pad taken as the padding of each side (CS231n's), not the total",
                                edits=(("(H + pad - HH) // stride", "(H + 2 * pad - HH) // stride"),
                                       ("(W + pad - WW) // stride", "(W + 2 * pad - WW) // stride"),
                                       ("xp = np.pad(x, ((0, 0), (0, 0), " + _TOTAL + "))\n    out",
                                        "xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    out"),
                                       ("xp = np.pad(x, ((0, 0), (0, 0), " + _TOTAL + "))\n    dxp",
                                        "xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    dxp"),
                                       ("pad // 2:pad // 2 + H, pad // 2:pad // 2 + W",
                                        "pad:pad + H, pad:pad + W"))),
    "hard-coded outputs": Mistake("functions that return the official outputs, typed in",
                                  source=HARD_CODED_LAYERS, outputs_by_correct_code=True),
    "never returns": Mistake("a conv_forward stuck in a loop",
                             edits=(("def conv_forward(x, w, b, conv_param):\n",
                                     "def conv_forward(x, w, b, conv_param):\n    while True:\n"
                                     "        pass\n"),), outputs_by_correct_code=True),
    "import fails": Mistake("layers.py imports CS231n's Cython extension, never compiled",
                            edits=((_TOP, "import numpy as np\n\nfrom code_base.im2col_cython import "
                                          "col2im_cython\n\nrng"),), outputs_by_correct_code=True),
    "python 2 print": Mistake("a Python 2 print statement: a SyntaxError on Python 3",
                              edits=((_TOP, 'import numpy as np\n\nprint "layers loaded"\n\nrng'),),
                              outputs_by_correct_code=True),
    "2017 leftovers": Mistake("Python 2 compatibility imports (harmless on Python 3) and a debug print",
                              edits=((_TOP, "from __future__ import print_function\nfrom builtins import "
                                            "range\n\nimport numpy as np\n\nrng"),
                                     ("    H, W = x.shape[2:]\n",
                                      "    print('dw', dw.shape)\n    H, W = x.shape[2:]\n"))),
    "every tied maximum": Mistake("max_pool_backward sends the gradient to every tied maximum of a "
                                  "window, not the first",
                                  edits=(("            window = x[:, :, r * s:r * s + ph, c * s:c * s + pw]"
                                          ".reshape(N, C, ph * pw)\n            first = window.argmax(axis=2)"
                                          "  # a tie sends the gradient to the first maximum only\n"
                                          "            is_max = np.zeros_like(window)\n"
                                          "            np.put_along_axis(is_max, first[:, :, None], 1.0, axis=2)\n"
                                          "            is_max = is_max.reshape(N, C, ph, pw)\n",
                                          "            window = x[:, :, r * s:r * s + ph, c * s:c * s + pw]\n"
                                          "            is_max = window == window.max(axis=(2, 3), keepdims=True)\n"),)),
    "xrange": Mistake("xrange, gone in Python 3, in max_pool_backward only",
                      edits=(("for r in range(dout.shape[2]):", "for r in xrange(dout.shape[2]):"),),
                      outputs_by_correct_code=True),
    "float shapes": Mistake("output sizes computed with /, floats NumPy no longer takes as shapes",
                            edits=(("H_out = 1 + (H - ph) // s", "H_out = 1 + (H - ph) / s"),
                                   ("W_out = 1 + (W - pw) // s", "W_out = 1 + (W - pw) / s")),
                            outputs_by_correct_code=True),
    "missing function": Mistake("dropout_backward never written, nor its outputs",
                                edits=(("\n\ndef dropout_backward(dout, cache):\n    dropout_param, mask = "
                                        "cache\n    if dropout_param['mode'] == 'train':\n        return "
                                        "dout * mask\n    return dout\n", "\n"),)),
    "extra files": Mistake("notes and a stray copy in output_files/, a notebook beside them",
                           extra_files=(("output_files/notes.txt", "p = 0.3 forward, 0.8 backward\n"),
                                        ("output_files/conv_forward_out (1).csv", "0.0\n"),
                                        ("assignment2.ipynb", "{}\n"))),
}


def layers_source(mistake=None):
    """The text of layers.py with the named mistake of MISTAKES (None: the correct one)."""
    if mistake is None:
        return STUDENT_LAYERS
    m = MISTAKES[mistake]
    source = m.source or STUDENT_LAYERS
    for text, replacement in m.edits:
        if source.count(text) != 1:
            raise ValueError(f"mistake {mistake!r}: {text!r} occurs {source.count(text)} times in the source")
        source = source.replace(text, replacement)
    return source
