"""cnn-from-scratch: a literate, tested NumPy convolutional network.

The layers follow the CS231n convention: ``x_forward(...) -> (out, cache)`` and
``x_backward(dout, cache) -> gradients``.  Shape letters used throughout:
N batch, C input channels, H/W height/width, F filters, HH/WW filter height/width.
"""

__version__ = "0.1.0"
