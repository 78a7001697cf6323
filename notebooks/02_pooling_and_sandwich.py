# %% [markdown]
# # Chapter 2 — ReLU, affine, max pooling and sandwich layers
#
# Chapter 1 built the convolution. A convolutional network needs three more pieces: an
# element-wise non-linearity (ReLU), fully connected ("affine") layers at the end, and a pooling
# layer that shrinks the feature maps. This chapter states each one's forward and backward rule,
# checks it numerically, and then checks the "sandwich" layers that chain them.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from code_base import fast
from code_base.gradient_check import eval_numerical_gradient_array, rel_error
from code_base.layer_utils import (conv_relu_backward, conv_relu_forward, conv_relu_pool_backward,
                                   conv_relu_pool_forward)
from code_base.layers import (affine_backward, affine_forward, conv_backward, conv_forward,
                              max_pool_backward, max_pool_forward, relu_backward, relu_forward)

plt.rcParams["figure.figsize"] = (9.0, 4.0)
np.set_printoptions(precision=6, suppress=True)


def print_errors(rows):
    """rows: list of (case, {gradient name: relative error}) -> a fixed-width table."""
    names = list(rows[0][1])
    print(f"{'case':40}" + "".join(f"{n + ' error':>12}" for n in names))
    for case, errors in rows:
        print(f"{case:40}" + "".join(f"{errors[n]:12.1e}" for n in names))


# %% [markdown]
# ## 1. ReLU and affine layers (short)
#
# **Affine.** Each example is flattened to a vector of $D$ numbers; with $X \in \mathbb{R}^{N\times D}$,
# $W \in \mathbb{R}^{D\times M}$ and upstream gradient $\delta = \partial L/\partial\,\text{out}$:
#
# $$\text{out} = XW + \mathbf{1}b^\top, \qquad
#   \frac{\partial L}{\partial X} = \delta W^\top, \quad
#   \frac{\partial L}{\partial W} = X^\top \delta, \quad
#   \frac{\partial L}{\partial b} = \mathbf{1}^\top\delta,$$
#
# with $\partial L/\partial X$ reshaped back to the input's shape.
#
# **ReLU.** $\text{out} = \max(x, 0)$ element-wise, so the gradient passes where $x > 0$ and is
# blocked elsewhere: $\partial L/\partial x = \delta \odot [x > 0]$. At $x = 0$ ReLU has a kink and
# no derivative; a numerical check that straddles a kink measures neither side, so the inputs
# below are kept at least $0.1$ away from $0$.
#
# Both layers are linear in each argument (ReLU piecewise, between kinks), so the centred difference
# has no truncation error and only rounding error, which shrinks as the step grows: we use
# $h = 10^{-3}$, still far below ReLU's $0.1$ margin.

# %%
H_LINEAR = 1e-3
rng = np.random.default_rng(0)
x = rng.standard_normal((5, 2, 3, 2))  # 5 examples of 2x3x2 = 12 numbers each
w = rng.standard_normal((12, 4))
b = rng.standard_normal(4)
out, cache = affine_forward(x, w, b)
dout = rng.standard_normal(out.shape)
dx, dw, db = affine_backward(dout, cache)
affine_errors = {
    "dx": rel_error(dx, eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout, h=H_LINEAR)),
    "dw": rel_error(dw, eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout, h=H_LINEAR)),
    "db": rel_error(db, eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout, h=H_LINEAR)),
}

x_relu = rng.standard_normal((4, 3, 5, 5))
x_relu += np.where(x_relu >= 0, 0.1, -0.1)  # no input within 0.1 of the kink
out, cache = relu_forward(x_relu)
dout = rng.standard_normal(out.shape)
relu_errors = {"dx": rel_error(relu_backward(dout, cache),
                               eval_numerical_gradient_array(lambda v: relu_forward(v)[0], x_relu, dout,
                                                                            h=H_LINEAR))}

print_errors([("affine x(5, 2, 3, 2) w(12, 4)", affine_errors)])
print_errors([("relu x(4, 3, 5, 5)", relu_errors)])
assert out.shape == x_relu.shape and np.all(out >= 0)
assert np.array_equal(out > 0, x_relu > 0)
assert max(affine_errors.values()) < 1e-8 and relu_errors["dx"] < 1e-8

# %% [markdown]
# ## 2. Max pooling
#
# A $k_h \times k_w$ pooling window moves over each channel with stride $S$ and keeps the largest
# value it sees. There is no padding, so
#
# $$H' = 1 + \frac{H - k_h}{S}, \qquad
#   \text{out}_{n,c,i,j} = \max_{0 \le a < k_h,\; 0 \le b < k_w} x_{n,\,c,\; iS + a,\; jS + b}.$$
#
# The channels are pooled independently, and nothing is learned.
#
# ### Forward: the assignment's reference values
#
# Two $3\times4\times4$ inputs filled with evenly spaced numbers, $2\times2$ windows, stride 2. The
# reference has eight decimals, so a relative error near $10^{-8}$ is expected; we require $10^{-7}$.

# %%
x_shape = (2, 3, 4, 4)
x = np.linspace(-0.3, 0.4, num=np.prod(x_shape)).reshape(x_shape)
pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
out, _ = max_pool_forward(x, pool_param)
reference_out = np.array([
    [[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
     [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
     [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
    [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
     [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
     [[0.32631579, 0.34105263], [0.38526316, 0.40000000]]],
])
err = rel_error(out, reference_out)
print(f"relative error against the reference: {err:.2e}")
assert out.shape == (2, 3, 2, 2)
assert err < 1e-7

# %% [markdown]
# ### Backward: the gradient is routed to the winner
#
# Inside one window, $\max$ is locally the identity on the largest input and constant in the
# others. So the upstream gradient of each output goes, unchanged, to the input that won its
# window; every other input gets zero:
#
# $$\frac{\partial L}{\partial x_{n,c,p,q}} = \sum_{(i,j)\,:\,(p,q) = \text{argmax of window } (i,j)}
#   \delta_{n,c,i,j}.$$
#
# (The sum matters only for overlapping windows, $S < k$.) When two inputs tie for the maximum the
# function has a kink; `max_pool_backward` then sends the gradient to the first one in row-major
# order. A small picture first: upstream gradients $10, 20, 30, 40$ land on the four winners.

# %%
# NBVAL_CHECK_OUTPUT
x_small = np.array([[1.0, 5.0, 2.0, 0.0],
                    [3.0, 4.0, 8.0, 6.0],
                    [9.0, 0.0, 1.0, 2.0],
                    [2.0, 7.0, 3.0, 4.0]]).reshape(1, 1, 4, 4)
out_small, cache_small = max_pool_forward(x_small, pool_param)
dout_small = np.array([[10.0, 20.0], [30.0, 40.0]]).reshape(1, 1, 2, 2)
dx_small = max_pool_backward(dout_small, cache_small)
print("pooled:\n", out_small[0, 0])
print("dx:\n", dx_small[0, 0])
assert np.array_equal(out_small[0, 0], [[5.0, 8.0], [9.0, 4.0]])
assert np.array_equal(dx_small[0, 0], [[0, 10, 0, 0], [0, 0, 20, 0], [30, 0, 0, 0], [0, 0, 0, 40]])

# %%
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(7, 3.4))
for ax, grid, title in ((ax0, x_small[0, 0], "input x (winners boxed)"),
                        (ax1, dx_small[0, 0], "dx: upstream gradient at the winners")):
    ax.imshow(grid, cmap="Oranges", vmin=0, vmax=grid.max() * 1.3)
    for (i, j), v in np.ndenumerate(grid):
        ax.text(j, i, f"{v:g}", ha="center", va="center")
    ax.axhline(1.5, color="black", lw=2)  # borders of the 2x2 windows
    ax.axvline(1.5, color="black", lw=2)
    for (i, j) in zip(*np.nonzero(dx_small[0, 0])):
        ax.add_patch(Rectangle((j - 0.45, i - 0.45), 0.9, 0.9, fill=False, ec="red", lw=2.5))
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Numerical check, away from ties
#
# A centred difference with step $h$ is only meaningful if no window's top two values are within
# $h$ of each other (otherwise the perturbation changes the winner). Using a random permutation of
# evenly spaced values, $0.01$ apart, guarantees this for $h = 10^{-5}$. Pooling is piecewise
# linear, so away from ties the numerical gradient is exact up to rounding.

# %%
rows = []
for x_shape, param in [
    ((3, 2, 10, 10), {"pool_height": 2, "pool_width": 2, "stride": 2}),  # the assignment's case
    ((2, 3, 8, 8), {"pool_height": 2, "pool_width": 2, "stride": 2}),
    ((2, 2, 7, 7), {"pool_height": 3, "pool_width": 3, "stride": 2}),  # overlapping windows
    ((1, 2, 5, 9), {"pool_height": 2, "pool_width": 3, "stride": 3}),
]:
    x = 0.01 * rng.permutation(np.prod(x_shape)).reshape(x_shape) - 1.0  # distinct, 0.01 apart
    out, cache = max_pool_forward(x, param)
    dout = rng.standard_normal(out.shape)
    dx = max_pool_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: max_pool_forward(v, param)[0], x, dout)
    k = f"{param['pool_height']}x{param['pool_width']}/{param['stride']}"
    rows.append((f"x{x_shape} pool {k}", {"dx": rel_error(dx, dx_num)}))
    # each output's gradient lands on exactly one input: the totals agree
    assert np.isclose(dx.sum(), dout.sum())
print_errors(rows)
for case, errors in rows:
    assert errors["dx"] < 1e-8, case

# %% [markdown]
# ## 3. Sandwich layers
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
# image (like this 2x2, stride-2 one) to a fused fast kernel, section 4's subject; inside
# `with fast.disabled():` it runs the chain of layers written above.

# %%
def kink_margins(x, w, b, conv_param, pool_param=None):
    """Smallest |pre-activation| and, with pooling, smallest gap between a window's top two values."""
    a, _ = conv_forward(x, w, b, conv_param)
    relu_margin = np.abs(a).min()
    if pool_param is None:
        return relu_margin, np.inf
    k, s = pool_param["pool_height"], pool_param["stride"]
    r = np.maximum(a, 0)
    N, F, H, W = r.shape
    windows = np.stack([r[:, :, i:i + s * ((H - k) // s + 1):s, j:j + s * ((W - k) // s + 1):s]
                        for i in range(k) for j in range(k)])  # (k*k, N, F, H', W')
    top2 = np.sort(windows, axis=0)[-2:]
    positive = top2[1] > 0  # an all-zero window has no gradient to misroute
    return relu_margin, (top2[1] - top2[0])[positive].min()


H_SANDWICH = 1e-4
conv_param = {"stride": 1, "pad": 2}
pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}


def check_sandwich(x, w, b, dout, pool):
    """(kink margins and the largest move, relative errors of dx, dw, db) of one sandwich."""
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
    return (*kink_margins(x, w, b, conv_param, pool), largest_move), errors


sandwich_rng = np.random.default_rng(231)
rows, margins = [], []
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
            case_margins, errors = check_sandwich(x, w, b, dout, pool)
        label = f"{name}, {path}" if path else name
        margins.append((label, *case_margins))
        rows.append((label, errors))

print(f"{'case':40}{'min |a|':>12}{'min pool gap':>14}{'largest move':>14}")
for name, relu_margin, pool_gap, move in margins:
    print(f"{name:40}{relu_margin:12.1e}{pool_gap:14.1e}{move:14.1e}")
print()
print_errors(rows)
for name, relu_margin, pool_gap, move in margins:
    assert relu_margin > 2 * move and pool_gap > 2 * move, name  # no step crosses a kink
for name, errors in rows:
    assert max(errors.values()) < 1e-7, (name, errors)

# %% [markdown]
# ## 4. Fast path: convolution and pooling in one product
#
# Section 3 also checked the kernel that `conv_relu_pool_forward` picks on its first line when the
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
from code_base import fast
from code_base.im2col import im2col

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
print(f"{'array':8}{'fused vs plain, relative error':>34}")
for k, v in diffs.items():
    print(f"{k:8}{v:34.1e}")
assert isinstance(cache_fast, fast.FusedConvReluPoolCache) and max(diffs.values()) < 1e-10, diffs

# %% [markdown]
# ## Summary
#
# * Affine and ReLU backward passes are one matrix product each and a mask; both agree with
#   numerical gradients to better than $10^{-8}$ (ReLU inputs kept away from its kink).
# * Max pooling takes each window's maximum; its backward pass routes each upstream gradient to the
#   window's winner. It matches the assignment's reference values, and numerical gradients when no
#   window has a tie.
# * Sandwich layers are the chain rule applied to these blocks. Measuring the distance to the nearest
#   kink makes their numerical checks trustworthy: all errors are below $10^{-7}$.
# * The model's conv - ReLU - pool runs fused: shifted columns and a super-kernel compute the
#   four window offsets as contiguous blocks of one product, equal to the plain layers up to
#   rounding.
