# %% [markdown]
# # Chapter 7 (optional) — Under the hood
#
# For engineers. Chapters 1-6 are the course; this chapter opens two things they use without
# dwelling on them: how a numerical gradient check of a chain of layers is kept away from the
# kinks of ReLU and max pooling (so that it is valid by construction, not by luck), and how the
# fast kernel behind `conv_relu_pool_forward` computes a convolution and a 2x2 pool in one
# matrix product.

# %%
# %matplotlib inline
import numpy as np
from IPython.display import display

from code_base import fast
from code_base.gradient_check import error_table, eval_numerical_gradient_array, kink_margins, rel_error
from code_base.im2col import im2col
from code_base.layer_utils import (conv_relu_backward, conv_relu_forward, conv_relu_pool_backward,
                                   conv_relu_pool_forward)
from code_base.layers import conv_forward
from code_base.vis_utils import Table, stable_format

np.set_printoptions(precision=6, suppress=True)

# %% [markdown]
# ## 1. Numerical checks away from kinks
#
# A convolution is almost always followed by a ReLU, and often by a pooling layer. The "sandwich"
# functions in `code_base.layer_utils` chain these so a model calls one forward and one backward
# function per block. Their backward pass is the chain rule in reverse order:
#
# $$\frac{\partial L}{\partial x} =
#   \underbrace{\mathtt{conv\_backward}}_{\text{Ch. 1}}\Big(
#   \underbrace{\mathtt{relu\_backward}}_{\delta \odot [a > 0]}\big(
#   \underbrace{\mathtt{max\_pool\_backward}}_{\text{route to winner}}(\delta)\big)\Big),
#   \qquad a = \text{conv}(x).$$
#
# Checking a chain numerically meets both kinds of kink at once: a pre-activation $a$ near $0$
# (ReLU), and two near-equal candidates in a pooling window. With a fixed seed we can simply
# *measure* the distance to the nearest kink and compare it with how far one step can move a
# pre-activation. Changing one input pixel by $h$ moves each $a$ by at most $h \max|w|$; changing
# one weight by $h$ moves it by at most $h \max|x|$; changing a bias, by $h$. If every $|a|$, and
# every gap between a pooling window's two largest values, exceeds twice the largest such move,
# no step crosses a kink and the check is valid by construction rather than by luck. Between kinks
# the chain is linear in each argument, so as for the affine layer a step of $h = 10^{-4}$ keeps
# the rounding error small.
#
# The conv-relu-pool sandwich is checked twice. Its first line hands pools whose windows tile the
# image (like this 2x2, stride-2 one) to a fused fast kernel, section 2's subject; inside
# `with fast.disabled():` it runs chapter 2's chain of layers. `kink_margins`
# (`code_base.gradient_check`) measures the two margins from the pre-activations.

# %%
H_SANDWICH = 1e-4
conv_param = {"stride": 1, "pad": 2}
pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}


def check_sandwich(x, w, b, dout, pool):
    """(kink margins, the largest move, relative errors of dx, dw, db) of one sandwich."""
    if pool is None:
        forward = lambda x, w, b: conv_relu_forward(x, w, b, conv_param)[0]
        dx, dw, db = conv_relu_backward(dout, conv_relu_forward(x, w, b, conv_param)[1])
    else:
        forward = lambda x, w, b: conv_relu_pool_forward(x, w, b, conv_param, pool)[0]
        dx, dw, db = conv_relu_pool_backward(dout, conv_relu_pool_forward(x, w, b, conv_param, pool)[1])
    largest_move = H_SANDWICH * max(np.abs(w).max(), np.abs(x).max(), 1.0)
    errors = {
        "dx": rel_error(dx, eval_numerical_gradient_array(lambda v: forward(v, w, b), x, dout, h=H_SANDWICH)),
        "dw": rel_error(dw, eval_numerical_gradient_array(lambda v: forward(x, v, b), w, dout, h=H_SANDWICH)),
        "db": rel_error(db, eval_numerical_gradient_array(lambda v: forward(x, w, v), b, dout, h=H_SANDWICH)),
    }
    margins = kink_margins(conv_forward(x, w, b, conv_param)[0], pool)
    return margins, largest_move, errors


sandwich_rng = np.random.default_rng(231)
rows, margin_rows = [], []
for name, x_shape, pool in [("conv-relu-pool x(2, 3, 16, 16)", (2, 3, 16, 16), pool_param),
                            ("conv-relu x(2, 3, 8, 8)", (2, 3, 8, 8), None)]:
    x = sandwich_rng.standard_normal(x_shape)
    w = sandwich_rng.standard_normal((3, 3, 3, 3))
    b = sandwich_rng.standard_normal(3)
    out_hw = x_shape[2] // (2 if pool else 1)  # size-preserving conv, then the 2x2 pool
    dout = sandwich_rng.standard_normal((x_shape[0], 3, out_hw, out_hw))
    paths = [("plain", fast.disabled), ("fused", fast.configure)] if pool else [("", fast.configure)]
    for path, switch in paths:
        with switch():  # fast.configure() with no arguments keeps the default: fast kernels on
            margins, move, errors = check_sandwich(x, w, b, dout, pool)
        label = f"{name}, {path}" if path else name
        assert min(margins.values()) > 2 * move, label  # no step crosses a kink
        margin_rows.append([label, stable_format(margins["relu"], rel=1e-9),
                            stable_format(margins["pool gap"], rel=1e-9) if pool else "—",
                            stable_format(move, rel=1e-9)])
        rows.append((label, errors))

display(Table(["case", "min |a|", "min pool gap", "largest move"], margin_rows))
error_table(rows, bound=1e-7)

# %% [markdown]
# ## 2. Fast path: convolution and pooling in one product
#
# Section 1 also checked the kernel that `conv_relu_pool_forward` picks on its first line when the
# pool's windows tile the image: `code_base.fast.conv_relu_pool_forward`, in
# `code_base/fast/conv_pool.py`. This is how it computes the convolution and the pool in one
# matrix product. A 2x2, stride-2
# pool compares the four outputs $(2h_2 + d_i,\ 2w_2 + d_j)$, $d_i, d_j \in \{0, 1\}$, of each
# window. With a stride-1 convolution, kernel tap $(i, j)$ of output $(2h_2 + d_i, 2w_2 + d_j)$
# reads padded input pixel $(2h_2 + s,\ 2w_2 + t)$ with $s = d_i + i$, $t = d_j + j$. So all four
# offsets read the same *shifted columns*
#
# $$X^{s}[(c, s, t), (n, h_2, w_2)] = x_{\text{pad}}[n, c, 2h_2 + s, 2w_2 + t],
#   \qquad s, t \in [0, HH + 1),$$
#
# through a *super-kernel* that holds each filter shifted by $(d_i, d_j)$ and zeros elsewhere:
#
# $$\text{conv}[(d_i, d_j), f] = W^{\text{sup}}[(d_i, d_j), f]\; X^{s},\qquad
#   W^{\text{sup}}[(d_i, d_j), f, c, s, t] = w[f, c, s - d_i, t - d_j].$$
#
# One product yields four contiguous blocks, and the pool is three element-wise maxima of blocks.
# The shifted columns need no new code: they are chapter 1's im2col for an
# $(HH + 1) \times (WW + 1)$ kernel at stride 2. After the pool come the bias and the ReLU: a
# maximum commutes with both (they never reorder two values), and there a quarter of the values
# are left. Tiny example: one 1x1 filter of weight 2 on a 4x4 image with no padding. The
# super-kernel is 2x2 per offset, and block $(d_i, d_j)$ is the image's sub-grid
# $x[d_i::2,\ d_j::2]$ times 2.

# %%
x_small = np.arange(16.0).reshape(1, 1, 4, 4)
w_small = np.full((1, 1, 1, 1), 2.0)
w_sup = fast.super_kernel(w_small, 1, 2, 2)  # (4 offsets * 1 filter, 1 channel * 2 * 2)
print("super-kernel rows (one per offset):\n", w_sup)
xs = im2col(x_small, 2, 2, 2, 0)  # shifted columns: a 2x2 kernel at stride 2, (1*2*2, 1*2*2)
blocks = (w_sup @ xs).reshape(2, 2, 2, 2)  # (d_i, d_j, h_2, w_2)
for di in range(2):
    for dj in range(2):
        np.testing.assert_array_equal(blocks[di, dj], 2 * x_small[0, 0, di::2, dj::2])
pooled_small, _ = fast.conv_relu_pool_forward(x_small, w_small, np.zeros(1), {"stride": 1, "pad": 0},
                                               {"pool_height": 2, "pool_width": 2, "stride": 2})
print("pooled:\n", pooled_small[0, 0])
np.testing.assert_array_equal(pooled_small[0, 0], blocks.max(axis=(0, 1)))
np.testing.assert_array_equal(pooled_small[0, 0], [[10, 14], [26, 30]])

# %% [markdown]
# For the model's 7x7 filters the shifted columns have $8 \cdot 8 = 64$ rows per channel instead
# of im2col's $4 \cdot 49 = 196$ (a third of the copying), at the price of $64/49 - 1 = 31\,\%$
# more multiplications, by zeros, in a product four times taller, which BLAS runs more
# efficiently. The fused sandwich equals the plain layers: the table below compares the
# forward outputs and all three gradients on the model's shapes (float64; element-wise relative
# errors, which rounding inflates where a gradient is near zero; pooling ties excluded
# by random data; the unit tests also check ties).

# %%
fast_rng = np.random.default_rng(5)
x_m = fast_rng.standard_normal((4, 3, 32, 32))
w_m = 0.1 * fast_rng.standard_normal((32, 3, 7, 7))
b_m = fast_rng.standard_normal(32)
conv_m = {"stride": 1, "pad": 6}
pool_m = {"pool_height": 2, "pool_width": 2, "stride": 2}
out_fast, cache_fast = conv_relu_pool_forward(x_m, w_m, b_m, conv_m, pool_m)  # fused
dout_m = fast_rng.standard_normal(out_fast.shape)
grads_fast = conv_relu_pool_backward(dout_m, cache_fast)
with fast.disabled():  # the same call, through conv_forward, relu_forward, max_pool_forward
    out_plain, cache_plain = conv_relu_pool_forward(x_m, w_m, b_m, conv_m, pool_m)
    grads_plain = conv_relu_pool_backward(dout_m, cache_plain)
diffs = {"out": rel_error(out_fast, out_plain)}
diffs.update({k: rel_error(f, p) for k, f, p in zip(("dx", "dw", "db"), grads_fast, grads_plain)})
assert isinstance(cache_fast, fast.FusedConvReluPoolCache)
error_table([("fused vs plain, model shapes", diffs)], bound=1e-10)

# %% [markdown]
# ## Summary
#
# * Measuring the distance to the nearest kink (`kink_margins`) and bounding how far one step of
#   the numerical gradient can move a pre-activation makes a check of a chain of layers valid by
#   construction.
# * The model's conv - ReLU - pool runs fused: shifted columns and a super-kernel compute the
#   four window offsets as contiguous blocks of one product, equal to the plain layers up to
#   rounding.
