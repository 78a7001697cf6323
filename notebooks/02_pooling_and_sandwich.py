# %% [markdown]
# # Chapter 2 — ReLU, affine, max pooling and sandwich layers
#
# Chapter 1 built the convolution. A convolutional network needs three more pieces: an
# element-wise non-linearity (ReLU), fully connected ("affine") layers at the end, and a pooling
# layer that shrinks the feature maps. This chapter states each one's forward and backward rule,
# checks it numerically, and then checks the "sandwich" layers that chain them. (How the kinks of
# ReLU and pooling are kept out of a numerical check, and the fused fast kernel of the
# conv-ReLU-pool sandwich, are the subject of the optional chapter 7, *Under the hood*.)

# %%
# %matplotlib inline
# %load_ext code_base.check.notebook
import matplotlib.pyplot as plt
import numpy as np
from IPython.display import display
from matplotlib.patches import Rectangle

from code_base.check.notebook import show
from code_base.check.reference import TOLERANCE, max_pool_forward_example
from code_base.gradient_check import error_table, eval_numerical_gradient_array, kink_margins, rel_error
from code_base.layer_utils import conv_relu_pool_backward, conv_relu_pool_forward
from code_base.layers import (affine_backward, affine_forward, conv_forward, max_pool_backward,
                              max_pool_forward, relu_backward, relu_forward)
from code_base.vis_utils import Table, stable_format

plt.rcParams["figure.figsize"] = (9.0, 4.0)
np.set_printoptions(precision=6, suppress=True)

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

assert out.shape == x_relu.shape and np.all(out >= 0)
assert np.array_equal(out > 0, x_relu > 0)
display(error_table([("affine x(5, 2, 3, 2) w(12, 4)", affine_errors)], bound=1e-8))
display(error_table([("relu x(4, 3, 5, 5)", relu_errors)], bound=1e-8))

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
# NEEDS: max_pool_forward
x, pool_param, reference_out = max_pool_forward_example()  # the assignment's numbers
out, _ = max_pool_forward(x, pool_param)
err = rel_error(out, reference_out)
print(f"relative error against the reference: {stable_format(err)} (required: < {TOLERANCE:.0e})")
assert out.shape == (2, 3, 2, 2)
assert err < TOLERANCE

# %%
# CHECK
show("max_pool_forward")

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
# NEEDS: max_pool_forward, max_pool_backward
# NBVAL_CHECK_OUTPUT
pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
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
# NEEDS: max_pool_forward, max_pool_backward
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
# NEEDS: max_pool_forward, max_pool_backward
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
error_table(rows, bound=1e-8)

# %%
# CHECK
show("max_pool_backward")

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
# A numerical check of the chain meets both kinds of kink at once: a pre-activation $a$ near 0
# (ReLU) and two near-equal values in a pooling window. `kink_margins` measures how far this
# seed's data stays from both; a step of $h = 10^{-4}$ moves no pre-activation by more than
# $h \max(|x|, |w|, 1)$, far less than either margin, so no step crosses a kink. (Chapter 7 says
# why that bound holds, and checks the fused fast kernel that this sandwich runs on.)

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward
H_SANDWICH = 1e-4
sandwich_rng = np.random.default_rng(231)
x = sandwich_rng.standard_normal((2, 3, 16, 16))
w = sandwich_rng.standard_normal((3, 3, 3, 3))
b = sandwich_rng.standard_normal(3)
conv_param = {"stride": 1, "pad": 2}
dout = sandwich_rng.standard_normal((2, 3, 8, 8))
margins = kink_margins(conv_forward(x, w, b, conv_param)[0], pool_param)
largest_move = H_SANDWICH * max(np.abs(w).max(), np.abs(x).max(), 1.0)
assert min(margins.values()) > 2 * largest_move  # no step crosses a kink


def forward(x, w, b):
    return conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0]


dx, dw, db = conv_relu_pool_backward(dout, conv_relu_pool_forward(x, w, b, conv_param, pool_param)[1])
errors = {
    "dx": rel_error(dx, eval_numerical_gradient_array(lambda v: forward(v, w, b), x, dout, h=H_SANDWICH)),
    "dw": rel_error(dw, eval_numerical_gradient_array(lambda v: forward(x, v, b), w, dout, h=H_SANDWICH)),
    "db": rel_error(db, eval_numerical_gradient_array(lambda v: forward(x, w, v), b, dout, h=H_SANDWICH)),
}
display(Table(["closest to a kink", "margin", "largest move"],
              [[name, stable_format(m, rel=1e-9), stable_format(largest_move, rel=1e-9)]
               for name, m in margins.items()]))
error_table([("conv-relu-pool x(2, 3, 16, 16)", errors)], bound=1e-7)

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
