# %% [markdown]
# **Author:** the cnn-from-scratch maintainers (reference solution) · **Student ID:** e0123456g

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Markdown, display

from code_base import training
from code_base.submission.packer import find_root
from code_base.training.search import read_table
from code_base.vis_utils import Table, visualize_grid

RUN = find_root() / "runs" / "best"
run = training.load_run(RUN)
config, history, summary = run["config"], run["history"], run["summary"]
m, s, a, d = config["model"], config["solver"], config["augment"], config["data"]
t, cm = summary["timing"], np.array(summary["confusion_matrix"])
W1 = np.load(RUN / "W1.npy", allow_pickle=False)  # (F, C, HH, WW)
plt.rcParams.update({"font.size": 8, "figure.dpi": 150})

# %% [markdown]
# # The best network on CIFAR2
#
# The network keeps the three layers — conv → ReLU → 2×2 max pool → affine → ReLU → dropout →
# affine → softmax — with **64 filters of 5×5**, **256 hidden units**, dropout 0.25, L2
# $10^{-4}$ and weights drawn from $\mathcal{N}(0, 0.01^2)$ on inputs scaled to unit variance.
# Adam ($\eta = 10^{-3}$, batches of 64) trains it for 40 epochs with a cosine learning-rate
# decay after a 1-epoch linear warm-up, on random crops (zero padding 2 pixels) and mirror flips
# of the 9,800 training images. We keep the parameters after the last epoch (200 validation
# images are too few to rank epochs) and score each test image as the mean of its own and its
# mirror image's scores.

# %%
# The paragraph above describes the committed configuration: these are its numbers.
assert (m["num_filters"], m["filter_size"], m["hidden_dim"], m["dropout"], m["reg"],
        m["weight_scale"]) == (64, 5, 256, 0.25, 1e-4, 0.01)
assert (s["update_rule"], s["optim_config"]["learning_rate"], s["batch_size"], s["num_epochs"],
        s["keep"]) == ("adam", 1e-3, 64, 40, "final")
assert config["schedule"]["name"] == "cosine" and config["schedule"]["warmup_epochs"] == 1
assert (a["padding"], a["flip"], a["cutout"]) == (2, True, 0) and config["eval"]["flip_tta"]
assert (d["num_training"], d["num_validation"]) == (9800, 200)

values = {"acc": summary["test_accuracy"], "plain": summary["test_accuracy_without_flip_tta"],
          "val": summary["kept_val_accuracy"], "train": summary["final_train_accuracy"],
          "n_test": summary["num_test"], "minutes": t["train_seconds"] / 60, "updates": t["iterations"],
          "cores": summary["machine"]["cpu_count"], "seed": config["seed"]}
display(Markdown("**Result: {acc:.2%} test accuracy** on the {n_test:,} test images ({plain:.2%} "
                 "without mirror averaging) after **{minutes:.1f} minutes** of training ({updates:,} "
                 "updates) on {cores} CPU cores, reproducible from seed {seed}. The last epoch scores "
                 "{train:.1%} on a sample of the training images and {val:.1%} on the validation "
                 "images.".format(**values)))

# %%
loss = np.asarray(history["loss_history"])
ipe = history["iterations_per_epoch"]
epochs = np.arange(len(history["val_acc_history"]))
smooth = np.convolve(loss, np.ones(ipe) / ipe, mode="valid")
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(7.6, 1.9))
ax0.plot(np.arange(1, len(loss) + 1) / ipe, loss, alpha=0.25, lw=0.4, label="mini-batch")
ax0.plot(np.arange(ipe, len(loss) + 1) / ipe, smooth, lw=1.5, label="mean over an epoch")
ax0.set(xlabel="epoch", ylabel="training loss", ylim=(0, 1.0))
ax0.legend(fontsize=7)
n_train, n_val = s["num_train_samples"] or d["num_training"], d["num_validation"]
ax1.plot(epochs, history["train_acc_history"], "o-", ms=1.5, label=f"train ({n_train:,} images)")
ax1.plot(epochs, history["val_acc_history"], "o-", ms=1.5, label=f"validation ({n_val:,} images)")
ax1.axhline(summary["test_accuracy"], color="gray", ls=":", label="test, final")
ax1.set(xlabel="epoch", ylabel="accuracy", ylim=(0.7, 1.0))
ax1.legend(loc="lower right", fontsize=7)  # below every curve after epoch 0
plt.tight_layout()
plt.show()

# %% [markdown]
# *Figure 1.* The training loss, and accuracy after every epoch. Validation accuracy sits below
# test accuracy because its 200 images (standard error about 2.4 points) happen to be harder than
# average and are scored without mirror averaging; the 2,000 test images are the estimate to trust.

# %%
names = summary["class_names"]
fig, (ax0, ax1, ax2) = plt.subplots(1, 3, figsize=(7.6, 1.9), gridspec_kw={"width_ratios": [1.6, 1, 1]})
ax0.plot(np.arange(len(history["learning_rate_per_epoch"])) + 1, history["learning_rate_per_epoch"],
         "o-", ms=1.5)
ax0.set(xlabel="epoch", ylabel="learning rate")
ax1.imshow(cm, cmap="Blues")
for (i, j), count in np.ndenumerate(cm):
    ax1.text(j, i, str(count), ha="center", va="center",
             color="white" if count > cm.max() / 2 else "black")
ax1.set(xticks=range(len(names)), xticklabels=names, yticks=range(len(names)), yticklabels=names,
        xlabel="predicted", ylabel="true")
ax2.imshow(visualize_grid(W1.transpose(0, 2, 3, 1)).astype(np.uint8), interpolation="nearest")
ax2.set_axis_off()
plt.tight_layout()
plt.show()

# %% [markdown]
# *Figure 2.* Left: the learning rate of each epoch (linear warm-up, cosine decay). Middle: the
# test confusion matrix. Right: the 64 first-layer filters, each rescaled to the full colour range.

# %%
search = read_table(RUN / "search_results.csv")
Table([f"variant (search: {search[0]['epochs']} epochs)", "best val acc", "s / epoch"],
      [[r["name"], f"{r['best_val_acc']:.3f}", f"{r['seconds_per_epoch']:.0f}"]
       for r in sorted(search, key=lambda r: -r["best_val_acc"])],
      caption="Table 1: the short search, one change to the base configuration per variant, "
              "scored on 1,000 validation images.")

# %% [markdown]
# **Findings.** *The short search is flat:* after four epochs every one-change variant, the
# assignment's starting point included, lands within about one standard error (one point on
# 1,000 validation images) of the others (Table 1); what it does show is cost — the affine layer
# after the pool has $F \cdot 16 \cdot 16$ inputs per hidden unit, so 64 filters cost about twice
# as much per epoch as 32. *Length is what pays:* loss and training accuracy keep improving over
# all 40 epochs, while crops, flips and dropout keep the network from simply memorising the
# training images (training accuracy only a few points above test accuracy). *The
# filters need a small initial scale:* from He initialisation (standard deviation 0.16) Adam's
# steps of about $\eta$ left them 0.996-correlated with their random start after 20 epochs (an
# exploratory run), whereas from $\mathcal{N}(0, 0.01^2)$ they become the colour blobs and edges
# of Figure 2. *Keep the last epoch:* after a cosine decay it is the most careful one. Averaging
# each test image's scores with its mirror image's is nearly free and adds a few tenths of a
# point.

# %%
assert summary["test_accuracy"] >= 0.92 and t["train_seconds"] <= 600
assert len(search) >= 2 and max(r["best_val_acc"] for r in search) - min(r["best_val_acc"] for r in search) < 0.03
assert 0 < summary["final_train_accuracy"] - summary["test_accuracy"] < 0.06
assert 0 <= summary["test_accuracy"] - summary["test_accuracy_without_flip_tta"] < 0.01

# %% [markdown]
# # The layers
#
# Each layer maps its input to an output in a forward pass and, in the backward pass, turns the
# upstream gradient $\bar y = \partial L / \partial y$ into gradients for its input and its
# parameters. Shapes: $N$ images of $C$ channels and $H \times W$ pixels; $F$ filters of
# $C \times H_f \times W_f$.
#
# **Affine.** With the input flattened to $X \in \mathbb{R}^{N \times D}$,
# $Y = XW + \mathbf{1}b^\top$ and $\bar X = \bar Y W^\top$, $\bar W = X^\top \bar Y$,
# $\bar b = \bar Y^\top \mathbf{1}$.
# **ReLU.** $y = \max(0, x)$ elementwise; $\bar x = \bar y \odot [x > 0]$.
#
# **Convolution through im2col.** With total zero padding $P$ (half on each side) and stride $S$,
# the output is $H' = 1 + (H + P - H_f)/S$ by $W' = 1 + (W + P - W_f)/S$. *im2col* copies every
# receptive field into one column of
# $\mathrm{cols} \in \mathbb{R}^{C H_f W_f \times N H' W'}$, so the whole layer is one matrix
# product with the filters $W_m \in \mathbb{R}^{F \times C H_f W_f}$ (each filter a row):
# $$Y = W_m\, \mathrm{cols} + b\,\mathbf{1}^\top, \qquad
#   \bar W_m = \bar Y\, \mathrm{cols}^\top, \qquad \bar b = \bar Y\,\mathbf{1}, \qquad
#   \overline{\mathrm{cols}} = W_m^\top\, \bar Y,$$
# where $\bar Y$ is the upstream gradient laid out as $F \times N H' W'$. *col2im* then adds
# every column of $\overline{\mathrm{cols}}$ back onto the pixels it was copied from — a pixel
# shared by overlapping windows collects the sum of their gradients — and drops the padding.
#
# **Max pooling** over windows $R_{ij}$ (here $2 \times 2$, stride 2):
# $y_{ij} = \max_{(p, q) \in R_{ij}} x_{pq}$. Only the winning input influences the output, so
# the backward pass routes each $\bar y_{ij}$ to the position of its window's maximum (the first
# one on ties) and gives every other input zero:
# $\bar x_{pq} = \sum_{ij} \bar y_{ij}\,[(p, q) = \arg\max_{R_{ij}} x]$.
#
# **Softmax loss.** For scores $s \in \mathbb{R}^{N \times K}$ and labels $y_n$, with the row
# maximum subtracted first so that no exponential overflows,
# $$p_{nk} = \frac{e^{s_{nk}}}{\sum_j e^{s_{nj}}}, \qquad
#   L = -\frac{1}{N}\sum_n \log p_{n y_n}, \qquad
#   \frac{\partial L}{\partial s_{nk}} = \frac{1}{N}\left(p_{nk} - [k = y_n]\right).$$
# L2 regularisation adds $\frac{\lambda}{2}\sum_\ell \lVert W_\ell\rVert^2$ to $L$ and
# $\lambda W_\ell$ to each weight gradient.
#
# **Inverted dropout** with drop probability $p$: in training a mask
# $m_i \sim \mathrm{Bernoulli}(1 - p)$ gives $y = x \odot m / (1 - p)$ and
# $\bar x = \bar y \odot m / (1 - p)$; at test time $y = x$. The scaling keeps
# $\mathbb{E}[y] = x$, so the test-time network needs no correction.
#
# **Adam** keeps running means of the gradient $g_t$ and of its square, corrects their bias towards
# zero in the first steps, and takes a step of roughly the learning rate $\eta$ in each coordinate:
# $$m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2,
#   \quad w_t = w_{t-1}
#   - \eta\, \frac{m_t / (1 - \beta_1^t)}{\sqrt{v_t / (1 - \beta_2^t)} + \epsilon}.$$
