"""The fast kernels, and the switch that turns them off.

The assignment's modules (:mod:`code_base.layers`, :mod:`code_base.layer_utils`,
:mod:`code_base.optim`) hold the textbook computation.  Where a faster way pays, the function
starts with one visible dispatch to a kernel here, which computes the same thing (the tests
compare the two on every shape they cover):

==============================  ==============================================================
plain function                  fast kernel
==============================  ==============================================================
``layers.conv_forward``         :mod:`.conv`: the im2col product sharded over threads, the
/ ``conv_backward``             bias as a row of ones, reused buffers
``layer_utils.conv_relu_pool``  :mod:`.conv_pool`: conv + ReLU + pool fused, for pools that
                                tile the image (the model's 2x2, stride 2)
``layers.max_pool_forward``     :mod:`.pool`: for windows that tile the input, each window's
/ ``max_pool_backward``         first maximum recorded in a byte, on threads
``layer_utils.affine_relu``     :mod:`.affine`: the products split over blocks of w
``optim.adam`` (in place)       :mod:`.adam`: the update block by block in cache, on threads
==============================  ==============================================================

The machinery they share: :mod:`.parallel` (a thread pool, splitting, BLAS held to one thread)
and :mod:`.buffers` (scratch memory reused between steps).  The switch, :mod:`.settings`::

    with code_base.fast.disabled():   # run the plain code, e.g. to step through it
        ...
"""

from .adam import adam_inplace, adam_update
from .affine import FastAffineReluCache, affine_relu_backward, affine_relu_forward
from .conv import FastConvCache, conv_backward, conv_forward
from .pool import FastPoolCache, max_pool_backward, max_pool_forward, pool_tiles_input
from .conv_pool import (FusedConvReluPoolCache, conv_relu_pool_backward, conv_relu_pool_forward,
                        pool_tiles, super_kernel)
from .settings import configure, disabled, enabled, num_threads, session

__all__ = [
    "enabled", "disabled", "configure", "num_threads", "session",
    "conv_forward", "conv_backward", "FastConvCache",
    "conv_relu_pool_forward", "conv_relu_pool_backward", "FusedConvReluPoolCache", "pool_tiles",
    "super_kernel",
    "affine_relu_forward", "affine_relu_backward", "FastAffineReluCache",
    "max_pool_forward", "max_pool_backward", "FastPoolCache", "pool_tiles_input",
    "adam_update", "adam_inplace",
]
