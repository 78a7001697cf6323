# %% [markdown]
# # Chapter 4 — Dropout
#
# Dropout (Hinton et al., 2012) fights overfitting by randomly silencing units while training. A
# unit that may vanish at any step cannot rely on particular partners, so the network is pushed
# towards features that are useful on their own — an effect much like averaging many thinned
# networks. This chapter states the layer, checks its forward pass statistically and its backward
# pass numerically, and then measures its effect on a network that overfits.
#
# Convention of this assignment: **$p$ is the probability of dropping a unit** (Caffe's convention),
# and the kept units are scaled up by $1/(1-p)$ during training ("inverted dropout").

# %%
# %matplotlib inline
# %load_ext code_base.check.notebook
import math

import matplotlib.pyplot as plt
import numpy as np

from code_base.check.notebook import show
from code_base.classifiers.cnn import ThreeLayerConvNet
from code_base.data_utils import get_CIFAR2_data
from code_base.gradient_check import error_table, eval_numerical_gradient_array, rel_error
from code_base.layers import dropout_backward, dropout_forward
from code_base.solver import Solver
from code_base.vis_utils import Table

plt.rcParams["figure.figsize"] = (9.0, 4.0)

# %% [markdown]
# ## 1. The layer
#
# In training mode each unit $i$ draws an independent mask $m_i \sim \text{Bernoulli}(1-p)$
# (1 = keep). The output and its gradient are
#
# $$\text{out}_i = \frac{m_i}{1-p}\, x_i, \qquad
#   \frac{\partial L}{\partial x_i} = \frac{m_i}{1-p}\, \frac{\partial L}{\partial\, \text{out}_i}.$$
#
# Because $\mathbb{E}[m_i] = 1-p$, the expected output is $x_i$ itself. That is why, in test mode,
# the layer is simply the identity: no rescaling at test time is needed, and a trained network can
# be used without remembering $p$.
#
# ## 2. Forward pass: the statistics of the mask
#
# Of $n$ units, the number dropped $k$ is Binomial$(n, p)$, with mean $np$ and standard deviation
# $\sqrt{np(1-p)}$. A correct layer lands within four standard deviations,
# $|k - np| \le 4\sqrt{np(1-p)} + 1$, except with probability below $10^{-4}$ — the same bound the
# grader applies to submitted dropout files. The kept values must equal $x/(1-p)$, the mean of
# $\text{out}/x$ must be close to 1, and test mode must return $x$ unchanged.

# %%
# NEEDS: dropout_forward
rng = np.random.default_rng(0)
x = 10 + rng.standard_normal((500, 500))  # no zeros, so dropped and kept units are told apart
n = x.size
print(f"{'p':>5} {'dropped':>9} {'expected':>9} {'bound':>7} {'kept value error':>17} {'mean out/x':>11}")
for p in (0.1, 0.3, 0.5, 0.8):
    out, _ = dropout_forward(x, {"mode": "train", "p": p, "rng": rng})
    kept = out != 0
    k = n - np.count_nonzero(kept)
    bound = 4 * math.sqrt(n * p * (1 - p)) + 1
    value_err = rel_error(out[kept], x[kept] / (1 - p))
    mean_ratio = np.mean(out / x)
    print(f"{p:5.1f} {k / n:9.4f} {p:9.4f} {bound / n:7.4f} {value_err:17.1e} {mean_ratio:11.4f}")
    assert abs(k - n * p) <= bound
    assert value_err < 1e-12
    # mean of out/x: kept fraction / (1-p); its standard deviation is sqrt(p / ((1-p) n))
    assert abs(mean_ratio - 1) <= 4 * math.sqrt(p / ((1 - p) * n)) + 1 / n

    out_test, _ = dropout_forward(x, {"mode": "test", "p": p})
    assert np.array_equal(out_test, x)

# %% [markdown]
# A picture of the same facts: one $20 \times 20$ mask at $p = 0.3$ (each cell is either dropped or
# scaled by $1/(1-p) \approx 1.43$), and, for 10,000 units at each of 19 values of $p$, how far the
# measured fraction of dropped units lies from $p$, against its four-sigma binomial band.

# %%
# NEEDS: dropout_forward
p_demo = 0.3
out_demo, _ = dropout_forward(np.ones((20, 20)), {"mode": "train", "p": p_demo, "seed": 1})
ps = np.linspace(0.05, 0.95, 19)
measured = np.array([np.mean(dropout_forward(np.ones(10_000), {"mode": "train", "p": q, "rng": rng})[0] == 0)
                     for q in ps])
band = 4 * np.sqrt(ps * (1 - ps) / 10_000) + 1e-4

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(9, 3.8))
im = ax0.imshow(out_demo, cmap="Greys_r", vmin=0, vmax=1 / (1 - p_demo))
ax0.set_title(f"out for x = 1, p = {p_demo}: black = dropped")
ax0.axis("off")
fig.colorbar(im, ax=ax0, fraction=0.046, ticks=[0, 1, 1 / (1 - p_demo)])
ax1.fill_between(ps, -band, band, color="tab:blue", alpha=0.25, label="binomial 4-sigma band")
ax1.plot(ps, measured - ps, "o", ms=4, label="measured (10,000 units each)")
ax1.axhline(0, color="black", lw=1, ls=":")
ax1.set_xlabel("p (probability of dropping)")
ax1.set_ylabel("fraction dropped  -  p")
ax1.set_title("drop fraction stays within its band")
ax1.set_ylim(-0.035, 0.05)  # room above the band for the legend
ax1.legend(loc="upper center", fontsize=8)
plt.tight_layout()
plt.show()
assert set(np.unique(out_demo)) <= {0.0, 1 / (1 - p_demo)}
assert np.all(np.abs(measured - ps) <= band)

# %%
# CHECK
show("dropout_forward")

# %% [markdown]
# ## 3. Backward pass
#
# For a numerical check the mask must be the same in every forward call, so the layer gets a fixed
# `seed` (each call then draws the same mask). With the mask fixed, dropout is linear in $x$: the
# centred difference is exact up to rounding, and a step of $h = 10^{-3}$ keeps that rounding small.
# In test mode the gradient passes through unchanged.

# %%
# NEEDS: dropout_forward, dropout_backward
x = rng.standard_normal((10, 10))
dout = rng.standard_normal((10, 10))
rows = []
for p in (0.2, 0.5, 0.8):
    param = {"mode": "train", "p": p, "seed": 123}
    out, cache = dropout_forward(x, param)
    dx = dropout_backward(dout, cache)
    dx_num = eval_numerical_gradient_array(lambda v: dropout_forward(v, param)[0], x, dout, h=1e-3)
    rows.append((f"p = {p}", {"dx": rel_error(dx, dx_num)}))
    assert np.array_equal(dx == 0, out == 0)  # gradient flows exactly through the kept units
    _, cache_test = dropout_forward(x, {"mode": "test", "p": p})
    assert np.array_equal(dropout_backward(dout, cache_test), dout)
error_table(rows, bound=1e-10)

# %%
# CHECK
show("dropout_backward")

# %% [markdown]
# ## 4. Does it reduce overfitting?
#
# An experiment small enough to run in seconds: a narrow network (8 filters of $3\times3$, 500
# hidden units) trained for 20 epochs on only 200 CIFAR2 images, once without dropout and once with
# $p = 0.75$ on the hidden layer. Validation uses 1,000 other training images that neither network
# sees while learning. Everything else — initial weights, mini-batch order, learning rate — is
# identical.
#
# Without dropout the network memorises its 200 images (training accuracy 100 %) and the gap to
# validation accuracy is large. With dropout the training accuracy climbs more slowly and the gap
# shrinks; validation accuracy holds up as well or slightly better. On data this small the effect
# is modest — dropout is a regulariser, not magic.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, dropout_forward, dropout_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
data = get_CIFAR2_data()
subset = {
    "X_train": data["X_train"][:200], "y_train": data["y_train"][:200],
    "X_val": data["X_train"][5000:6000], "y_val": data["y_train"][5000:6000],
}
histories = {}
for p in (0.0, 0.75):
    model = ThreeLayerConvNet(num_filters=8, filter_size=3, hidden_dim=500, weight_scale=1e-2,
                              num_classes=2, dropout=p, seed=0)
    solver = Solver(model, subset, update_rule="adam", optim_config={"learning_rate": 5e-4},
                    num_epochs=20, batch_size=50, num_train_samples=None, verbose=False, progress=True, seed=0)
    solver.train()
    histories[p] = (np.array(solver.train_acc_history), np.array(solver.val_acc_history))

gaps = {p: float(np.mean(train_acc[10:] - val_acc[10:])) for p, (train_acc, val_acc) in histories.items()}
Table(["dropout p", "final train", "final val", "best val", "mean gap, epochs 10-20"],
      [[f"{p:.2f}", f"{train_acc[-1]:.2f}", f"{val_acc[-1]:.2f}", f"{val_acc.max():.2f}", f"{gaps[p]:.2f}"]
       for p, (train_acc, val_acc) in histories.items()])

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, dropout_forward, dropout_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
fig, ax = plt.subplots(figsize=(8, 4))
for p, color in zip(histories, ("tab:red", "tab:blue")):
    train_acc, val_acc = histories[p]
    label = "no dropout" if p == 0 else f"dropout p = {p}"
    ax.plot(train_acc, "-", color=color, label=f"{label}: train")
    ax.plot(val_acc, "--", color=color, label=f"{label}: validation")
ax.set_xlabel("epoch")
ax.set_ylabel("accuracy")
ax.set_ylim(0.35, 1.02)
ax.set_xticks(range(0, 21, 2))
ax.set_title("200 training images: dropout narrows the train/validation gap")
ax.legend(loc="lower right")
plt.tight_layout()
plt.show()

assert histories[0.0][0][-1] >= 0.98  # without dropout the small set is memorised
assert gaps[0.75] < gaps[0.0] - 0.02  # dropout overfits measurably less

# %% [markdown]
# ## Summary
#
# * Inverted dropout zeroes each unit with probability $p$ and scales the survivors by $1/(1-p)$,
#   so test mode is the identity. The measured drop fractions stay inside their binomial bounds.
# * The backward pass multiplies by the same mask; with a fixed seed it matches the numerical
#   gradient to rounding error.
# * On a deliberately tiny training set, dropout slows memorisation and narrows the gap between
#   training and validation accuracy.
