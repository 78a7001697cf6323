"""cnn-from-scratch: a literate, tested NumPy convolutional network.

The assignment's modules, each the textbook computation: :mod:`.layers`, :mod:`.layer_utils`,
:mod:`.classifiers.cnn`, :mod:`.optim`, :mod:`.solver`, :mod:`.gradient_check`,
:mod:`.data_utils`, :mod:`.vis_utils` (with :mod:`.im2col` and :mod:`.geometry`, the shapes of a
convolution).  Beside them: :mod:`.fast`, the fast kernels the layers dispatch to (and the switch
that turns them off); :mod:`.training`, the training pipeline; :mod:`.submission`, the hand-in
files and their grader; :mod:`.utils`, helpers.  Imports flow one way:
training / submission -> model, solver, data -> layers -> fast -> im2col, geometry -> utils.

The layers follow the CS231n convention: ``x_forward(...) -> (out, cache)`` and
``x_backward(dout, cache) -> gradients``.  Shape letters used throughout:
N batch, C input channels, H/W height/width, F filters, HH/WW filter height/width.
"""

__version__ = "0.1.0"
