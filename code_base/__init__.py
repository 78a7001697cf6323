"""cnn-from-scratch: a literate, tested NumPy convolutional network.

The assignment's modules, each the textbook computation: :mod:`.layers`, :mod:`.layer_utils`,
:mod:`.classifiers.cnn`, :mod:`.optim`, :mod:`.solver`, :mod:`.gradient_check`,
:mod:`.data_utils`, :mod:`.vis_utils` (with :mod:`.im2col` and :mod:`.geometry`, the shapes of a
convolution).  Beside them: :mod:`.check`, which says which of the functions a student writes
pass; :mod:`.submission`, the hand-in files; :mod:`.utils`, helpers.  The solution also holds
the kernels the layers dispatch to, the training pipeline, the class grader and the release
builder (see the README).  Imports flow one way, from the tools down to the layers and utils.

The layers follow the CS231n convention: ``x_forward(...) -> (out, cache)`` and
``x_backward(dout, cache) -> gradients``.  Shape letters used throughout:
N batch, C input channels, H/W height/width, F filters, HH/WW filter height/width.
"""

__version__ = "0.1.0"
