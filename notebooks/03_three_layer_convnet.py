# %% [markdown]
# # Chapter 3 — A three-layer convolutional network on CIFAR2
#
# The layers of chapters 1 and 2 now become a classifier, `ThreeLayerConvNet`:
#
# | block | operation | output shape (CIFAR2, defaults) |
# |---|---|---|
# | input | mean-subtracted image | $N \times 3 \times 32 \times 32$ |
# | 1 | conv ($F$ filters $7\times7$, stride 1, `pad = 6`) → ReLU → $2\times2$ max pool | $N \times F \times 16 \times 16$ |
# | 2 | affine → ReLU (→ optional dropout, chapter 4) | $N \times \text{hidden}$ |
# | 3 | affine → softmax | $N \times \text{classes}$ |
#
# With total padding $P = HH - 1$ the convolution keeps the $32 \times 32$ size
# ($H' = 1 + (32 + 6 - 7)/1 = 32$), and the pooling halves it. The loss is the softmax
# cross-entropy plus an L2 penalty on the weights,
#
# $$L = -\frac{1}{N}\sum_{i=1}^N \log \frac{e^{s_{i, y_i}}}{\sum_c e^{s_{i c}}}
#       + \frac{\lambda}{2}\left(\lVert W_1\rVert^2 + \lVert W_2\rVert^2 + \lVert W_3\rVert^2\right).$$
#
# This chapter checks the loss at initialisation, checks every gradient numerically, shows the
# network memorising a small training set, trains it for one epoch on all of CIFAR2 (airplanes vs
# birds), and looks at the filters it learned. No CIFAR image is displayed here: only numbers,
# curves and learned weights.

# %%
# %matplotlib inline
# %load_ext code_base.check.notebook
import math

import matplotlib.pyplot as plt
import numpy as np

from IPython.display import display

from code_base.check.notebook import show
from code_base.classifiers.cnn import ThreeLayerConvNet
from code_base.data_utils import get_CIFAR2_data
from code_base.gradient_check import error_table, eval_numerical_gradient, kink_margins, rel_error
from code_base.layer_utils import conv_relu_pool_forward
from code_base.layers import affine_forward, conv_forward
from code_base.solver import Solver
from code_base.vis_utils import Table, stable_format, visualize_grid

plt.rcParams["figure.figsize"] = (9.0, 4.0)
np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. The loss at initialisation
#
# With weights drawn at scale $10^{-3}$ all class scores are nearly $0$, so the softmax is nearly
# uniform and the data loss is $-\log(1/C) = \log C$: $\log 10 \approx 2.303$ for ten classes,
# $\log 2 \approx 0.693$ for CIFAR2's two. A regularisation strength $\lambda$ adds exactly
# $\frac{\lambda}{2}\sum \lVert W\rVert^2$, which we can compute independently from the parameters.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
rng = np.random.default_rng(0)
X = rng.standard_normal((50, 3, 32, 32)).astype(np.float32)
table = []
for num_classes in (10, 2):
    y = rng.integers(num_classes, size=50)
    model = ThreeLayerConvNet(num_classes=num_classes, seed=0)
    loss, _ = model.loss(X, y)
    model.reg = 0.5
    loss_reg, _ = model.loss(X, y)
    reg_term = 0.25 * sum(np.sum(model.params[k].astype(np.float64) ** 2) for k in ("W1", "W2", "W3"))
    assert abs(loss - math.log(num_classes)) < 1e-3
    assert loss_reg > loss
    assert math.isclose(loss_reg - loss, reg_term, rel_tol=1e-4)
    # float32 sums: shown to the digits that do not depend on the machine's BLAS
    table += [[num_classes, "0", stable_format(loss, 4, rel=1e-5, spec="f"),
               f"{math.log(num_classes):.4f}", "—"],
              [num_classes, "0.5", stable_format(loss_reg, 4, rel=1e-5, spec="f"), "—",
               stable_format(reg_term, 4, rel=1e-5, spec="f")]]
Table(["classes", "reg", "loss", "log C", "expected reg term"], table)

# %% [markdown]
# ## 2. Numerical gradient check of every parameter
#
# A small network (3 filters of $3\times3$, 7 hidden units, 10 classes) on two random
# $3\times16\times16$ inputs in float64 keeps the check quick. Every parameter is perturbed one entry
# at a time with $h = 10^{-6}$.
#
# The network has kinks (ReLU at 0, ties in pooling windows). A perturbation of one entry of $W_1$
# or $X$ by $h$ moves a convolution output by at most about $h \max|X|$, so we first measure the
# distance of every pre-activation and every pooling gap from its kink and require it to be at least
# ten times that — with this seed no check straddles a kink. The assignment warns that correct code
# can show relative errors up to $10^{-2}$ (small gradients amplify rounding in the relative
# measure); with the kinks out of the way the errors are much smaller, and we assert $10^{-3}$.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
gc_rng = np.random.default_rng(3)
X_gc = gc_rng.standard_normal((2, 3, 16, 16))
y_gc = gc_rng.integers(10, size=2)
model = ThreeLayerConvNet(num_filters=3, filter_size=3, input_dim=(3, 16, 16), hidden_dim=7,
                          num_classes=10, weight_scale=1e-2, dtype=np.float64, seed=3)
p = model.params
H_STEP = 1e-6

a, _ = conv_forward(X_gc, p["W1"], p["b1"], model.conv_param)  # (2, 3, 16, 16)
conv_margins = kink_margins(a, model.pool_param)
pooled, _ = conv_relu_pool_forward(X_gc, p["W1"], p["b1"], model.conv_param, model.pool_param)
hidden_pre, _ = affine_forward(pooled, p["W2"], p["b2"])
margins = {
    "conv pre-activation": conv_margins["relu"],
    "pooling gap": conv_margins["pool gap"],
    "hidden pre-activation": kink_margins(hidden_pre)["relu"],
}
largest_move = H_STEP * max(np.abs(X_gc).max(), 1.0)
for name, margin in margins.items():
    assert margin > 10 * largest_move, name
display(Table(["closest to its kink", "margin", "largest move"],
              [[name, stable_format(m, rel=1e-9), stable_format(largest_move, rel=1e-9)]
               for name, m in margins.items()]))

loss, grads = model.loss(X_gc, y_gc)
gc_errors = {}
for name in sorted(grads):
    numeric = eval_numerical_gradient(lambda _: model.loss(X_gc, y_gc)[0], p[name], h=H_STEP)
    gc_errors[name] = rel_error(numeric, grads[name])
error_table([(f"{name} {p[name].shape}", {"rel": err}) for name, err in gc_errors.items()], bound=1e-3)

# %%
# CHECK
show("ThreeLayerConvNet.init_params", "ThreeLayerConvNet.loss")

# %% [markdown]
# ## 3. Overfitting a small training set
#
# A network that cannot drive the training loss down on 100 images has a bug. With Adam
# (learning rate $10^{-3}$), 15 epochs of two mini-batches of 50 should take the training
# accuracy to (nearly) 100 %, while the accuracy on the 200 validation images stays far lower: the
# network memorises instead of generalising. The `Solver` records the loss of every iteration
# and both accuracies after every epoch (index 0 is before training).

# %%
data = get_CIFAR2_data()
for key, value in data.items():
    print(f"{key:8} {str(value.shape):18} {value.dtype}")

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
small_data = {
    "X_train": data["X_train"][:100], "y_train": data["y_train"][:100],
    "X_val": data["X_val"], "y_val": data["y_val"],
}
model = ThreeLayerConvNet(weight_scale=1e-2, num_classes=2, seed=0)
solver = Solver(model, small_data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                num_epochs=15, batch_size=50, verbose=False, progress=True, seed=0)
solver.train()  # the bar shows the epoch, the loss and the last validation accuracy
overfit = solver
print(f"after 15 epochs: training accuracy {overfit.train_acc_history[-1]:.2f}, "
      f"best validation accuracy {max(overfit.val_acc_history):.2f}")
assert overfit.train_acc_history[-1] >= 0.95
assert max(overfit.val_acc_history) < overfit.train_acc_history[-1] - 0.1

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.6))
ax0.plot(np.arange(1, len(overfit.loss_history) + 1), overfit.loss_history, "o-", ms=3)
ax0.set_xlabel("iteration")
ax0.set_ylabel("training loss")
ax0.set_title("loss on 100 training images")
epochs = np.arange(len(overfit.train_acc_history))
ax1.plot(epochs, overfit.train_acc_history, "o-", label="train (100 images)")
ax1.plot(epochs, overfit.val_acc_history, "o-", label="validation (200 images)")
ax1.axhline(0.5, color="gray", ls=":", label="chance")
ax1.set_xlabel("epoch")
ax1.set_ylabel("accuracy")
ax1.set_ylim(0.3, 1.02)
ax1.legend(loc="lower right")
ax1.set_title("memorising, not generalising")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. One epoch on the full training set
#
# Now the real thing: one pass over all 9,800 training images in mini-batches of 50 (196
# iterations) with 32 filters of $7\times7$, 500 hidden units, $\lambda = 10^{-3}$, initial weight
# scale $10^{-3}$ and Adam at $10^{-3}$. One epoch is enough to reach about 80 % validation accuracy
# on this two-class problem (chance is 50 %). The model keeps the parameters with the best
# validation accuracy; we also report the accuracy on the 2,000 test images, which played no part
# in training or selection.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
model = ThreeLayerConvNet(weight_scale=1e-3, hidden_dim=500, reg=1e-3, num_classes=2, seed=0)
solver = Solver(model, data, update_rule="adam", optim_config={"learning_rate": 1e-3},
                num_epochs=1, batch_size=50, verbose=False, progress=True, seed=0)
solver.train()
test_acc = solver.check_accuracy(data["X_test"], data["y_test"])
print(f"best validation accuracy {solver.best_val_acc:.2f}, test accuracy {test_acc:.2f}")
assert solver.best_val_acc >= 0.75
assert test_acc >= 0.75

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
losses = np.asarray(solver.loss_history)
window = 10
smoothed = np.convolve(losses, np.ones(window) / window, mode="valid")
plt.figure(figsize=(7, 3.4))
plt.plot(np.arange(1, len(losses) + 1), losses, ".", alpha=0.4, label="mini-batch loss")
plt.plot(np.arange(window, len(losses) + 1), smoothed, "-", lw=2, label=f"mean of {window}")
plt.axhline(math.log(2), color="gray", ls=":", label="log 2 (uniform guess)")
plt.xlabel("iteration")
plt.ylabel("loss")
plt.title("one epoch on CIFAR2")
plt.legend()
plt.tight_layout()
plt.show()
assert smoothed[-1] < math.log(2) - 0.15  # clearly better than guessing by the end

# %% [markdown]
# ## 5. What the first layer learned
#
# Each of the 32 first-layer filters is a $3\times7\times7$ array of weights; shown as a small RGB
# image (each rescaled to the full colour range by `visualize_grid`), it tells what pattern the
# filter responds to. After only one epoch many are still noisy, close to their random start, but
# several already show smooth colour blobs or light and dark bands — colour and edge detectors of the
# same kind as the hand-made Sobel filter of chapter 1, found here by gradient descent.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward, max_pool_forward, max_pool_backward, ThreeLayerConvNet.init_params, ThreeLayerConvNet.loss
W1 = model.params["W1"]  # (F, C, HH, WW)
grid = visualize_grid(W1.transpose(0, 2, 3, 1))  # (F, HH, WW, C) tiles -> one image
assert grid.shape == (6 * 8 - 1, 6 * 8 - 1, 3)  # 32 tiles of 7x7 on a 6x6 grid, 1-pixel gaps
assert grid.min() == 0 and np.isclose(grid.max(), 255)  # each tile spans the full range
plt.figure(figsize=(4.5, 4.5))
plt.imshow(grid.astype(np.uint8), interpolation="nearest")
plt.axis("off")
plt.title("first-layer filters after one epoch")
plt.show()

# %% [markdown]
# ## Summary
#
# * At initialisation the loss is $\log C$, and the regularisation term adds exactly
#   $\frac{\lambda}{2}\sum\lVert W\rVert^2$.
# * Every gradient of the network agrees with a numerical estimate (errors $< 10^{-3}$) once the
#   check is kept away from ReLU and pooling kinks.
# * On 100 images the network reaches 100 % training accuracy while validation accuracy stays far
#   lower: the classic picture of overfitting.
# * One epoch on the 9,800 CIFAR2 training images gives about 80 % validation and test accuracy, and
#   first-layer filters that begin to look like colour and edge detectors.
