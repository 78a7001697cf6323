"""The functions a student writes: one list that the release, the check and the grader share.

Each :class:`Task` names a function (or method) by file and qualified name.  The release
(:mod:`code_base.release`) replaces its body by a stub built from ``todo`` and ``hint``, keeping
the signature, the docstring and the first ``keep`` statements of the body (code the 2017
release gave, such as dropout's parameter checks); :mod:`code_base.check` checks it.
"""

from typing import NamedTuple

__all__ = ["Task", "TASKS", "GROUPS", "task", "stub_message"]


class Task(NamedTuple):
    name: str       # what the student and the check call it
    path: str       # file, relative to the repository root
    qualname: str   # function, or Class.method, in that file
    group: str      # "layers" or "model"
    keep: int       # leading body statements (after the docstring) the release keeps
    todo: str       # the TODO the stub shows
    hint: str       # one line on how to start


TASKS = (
    Task("im2col", "code_base/im2col.py", "im2col", "layers", 0,
         "Unroll every receptive field of the (total-)padded input into a column.",
         "One (C*HH*WW, N*H'*W') matrix; loop over the HH*WW filter offsets, not the pixels."),
    Task("col2im", "code_base/im2col.py", "col2im", "layers", 0,
         "Sum the columns back into an input-shaped array: the adjoint of im2col.",
         "Overlapping windows add up; drop the padding at the end."),
    Task("conv_forward", "code_base/layers.py", "conv_forward", "layers", 0,
         "The convolution as one matrix product: im2col, then W reshaped to (F, C*HH*WW).",
         "pad is the TOTAL padding: pad // 2 zeros on each side; H' = 1 + (H + pad - HH) // stride."),
    Task("conv_backward", "code_base/layers.py", "conv_backward", "layers", 0,
         "Gradients of the product: dW from dout and the columns, dx through col2im, db a sum.",
         "Reshape dout to (F, N*H'*W') in the same order im2col used for the columns."),
    Task("max_pool_forward", "code_base/layers.py", "max_pool_forward", "layers", 0,
         "The maximum of each pool_height x pool_width window, stepping by stride.",
         "H' = 1 + (H - pool_height) // stride; keep what the backward pass needs in the cache."),
    Task("max_pool_backward", "code_base/layers.py", "max_pool_backward", "layers", 0,
         "Route each upstream gradient to the position of its window's maximum.",
         "On a tie, only the FIRST maximum (row-major order) gets the gradient."),
    Task("dropout_forward", "code_base/layers.py", "dropout_forward", "layers", 6,
         "Train mode: drop each unit with probability p and scale the kept ones; test: identity.",
         "p is the probability of DROPPING a unit: kept units are scaled by 1 / (1 - p)."),
    Task("dropout_backward", "code_base/layers.py", "dropout_backward", "layers", 4,
         "Train mode: the gradient flows through the kept units, with the same scaling.",
         "Reuse the mask from the cache; test mode is given."),
    Task("ThreeLayerConvNet.init_params", "code_base/classifiers/cnn.py",
         "ThreeLayerConvNet.init_params", "model", 0,
         "Weights from a normal distribution scaled by weight_scale, biases zero.",
         "W2 takes the pooled conv output: F * (H // 2) * (W // 2) inputs."),
    Task("ThreeLayerConvNet.loss", "code_base/classifiers/cnn.py", "ThreeLayerConvNet.loss",
         "model", 1,
         "The forward pass through the sandwich layers, then the loss and the backward pass.",
         "Add the L2 term 0.5 * reg * sum(W**2) to the loss and reg * W to each weight gradient."),
)

GROUPS = {"layers": tuple(t.name for t in TASKS if t.group == "layers"),
          "model": tuple(t.name for t in TASKS if t.group == "model")}


def task(name):
    """The Task called `name`; KeyError names the known ones."""
    for t in TASKS:
        if t.name == name:
            return t
    raise KeyError(f"no task {name!r}; the tasks are: {', '.join(t.name for t in TASKS)}")


def stub_message(t):
    """The one line a stub raises: 'conv_forward is yours to write: see the TODO in PATH'."""
    return f"{t.name} is yours to write: see the TODO in {t.path}"
