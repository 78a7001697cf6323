# %% [markdown]
# # Chapter 1 — Convolution as a matrix product
#
# A convolutional layer slides a small filter over an image and, at every position, takes the
# dot product of the filter with the pixels under it. Written as nested loops this is slow in
# Python. The trick used by `code_base.layers.conv_forward` is to *copy every receptive field into a column
# of a matrix* ("im2col"); the whole layer then becomes one matrix product, which NumPy hands to
# an optimised BLAS routine.
#
# This chapter
# 1. states the shapes and the output-size formula (with the assignment's *total* padding),
# 2. works through an example small enough to check by hand,
# 3. compares `conv_forward` with the assignment's reference numbers,
# 4. uses hand-made filters for grayscale conversion and edge detection on two photos,
# 5. derives the backward pass and checks it against numerical gradients.

# %%
# %matplotlib inline
# %load_ext code_base.check.notebook
import io

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle
from IPython.display import Image as ShowImage
from IPython.display import display
from PIL import Image

from code_base.check.notebook import show
from code_base.check.reference import TOLERANCE, conv_forward_example
from code_base.gradient_check import error_table, eval_numerical_gradient_array, rel_error
from code_base.im2col import im2col
from code_base.layers import conv_backward, conv_forward
from code_base.submission.packer import find_root
from code_base.vis_utils import stable_format

plt.rcParams["figure.figsize"] = (9.0, 5.0)
plt.rcParams["image.interpolation"] = "nearest"
np.set_printoptions(precision=6, suppress=True)
ROOT = find_root()  # the notebook runs from notebooks/; the photos live at the top

# %% [markdown]
# ## 1. Shapes and output size
#
# A batch of $N$ images with $C$ channels of size $H \times W$ is convolved with $F$ filters,
# each spanning all $C$ channels over an $HH \times WW$ window:
#
# $$x \in \mathbb{R}^{N \times C \times H \times W}, \qquad
#   w \in \mathbb{R}^{F \times C \times HH \times WW}, \qquad b \in \mathbb{R}^{F}.$$
#
# In this assignment `pad` is the **total** number of zero rows (and columns) added, split
# evenly between the two sides: `pad = 2` puts a one-pixel frame of zeros around the image.
# With stride $S$ and total padding $P$ the output has
#
# $$H' = 1 + \frac{H + P - HH}{S}, \qquad W' = 1 + \frac{W + P - WW}{S},$$
#
# and the layer refuses parameters for which these are not whole numbers.
#
# **im2col.** For image $n$, stack the $H'W'$ receptive fields (each flattened to
# $C \cdot HH \cdot WW$ numbers, in the order channel, row, column) as the columns of a matrix
# $X^{\text{col}}_n \in \mathbb{R}^{C\,HH\,WW \times H'W'}$. Flatten each filter the same way into a
# row of $W_{\text{mat}} \in \mathbb{R}^{F \times C\,HH\,WW}$. Then every output value is one
# row-times-column product:
#
# $$\text{out}_n = W_{\text{mat}}\, X^{\text{col}}_n + b\,\mathbf{1}^\top
#   \;\in\; \mathbb{R}^{F \times H'W'},$$
#
# reshaped to $F \times H' \times W'$. Placing the columns of all $N$ images side by side makes
# the whole batch a single product, which is what `conv_forward` does.

# %% [markdown]
# ## 2. A tiny example to check by hand
#
# One image, one channel, a $3\times 3$ input holding $1,\dots,9$; one $2\times 2$ filter
# $\begin{pmatrix}1&2\\3&4\end{pmatrix}$ and bias $1$; stride 1 and no padding, so
# $H' = W' = 1 + (3 + 0 - 2)/1 = 2$. The top-left output is
# $1\cdot1 + 2\cdot2 + 3\cdot4 + 4\cdot5 + 1 = 38$, and moving the window one step right or down
# adds $1+2+3+4 = 10$ or $3\cdot 10 = 30$, giving $48$, $68$ and $78$.

# %%
# NEEDS: im2col, conv_forward
# NBVAL_CHECK_OUTPUT
x_tiny = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
w_tiny = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)
b_tiny = np.array([1.0])

cols = im2col(x_tiny, 2, 2, 1, 0).reshape(4, 4)  # (C*HH*WW, H'*W'), one image
print("im2col columns (one receptive field per column):\n", cols)
print("filter as a row:", w_tiny.reshape(1, -1)[0])
out_tiny, _ = conv_forward(x_tiny, w_tiny, b_tiny, {"stride": 1, "pad": 0})
print("conv_forward output:\n", out_tiny[0, 0])
assert np.array_equal(out_tiny[0, 0], [[38.0, 48.0], [68.0, 78.0]])
assert np.array_equal(out_tiny.reshape(-1), (w_tiny.reshape(1, -1) @ cols + b_tiny).ravel())

# %% [markdown]
# With `pad = 2` the input gains a one-pixel frame of zeros and the output grows to
# $1 + (3 + 2 - 2)/1 = 4$ pixels a side. The top-left window now covers three zeros and the
# pixel $x_{00} = 1$, which meets the filter's bottom-right weight $4$: the output there is
# $4 \cdot 1 + 1 = 5$. The picture shows where one column of $X^{\text{col}}$ comes from.

# %%
# NEEDS: im2col, conv_forward
# NBVAL_CHECK_OUTPUT
out_pad, _ = conv_forward(x_tiny, w_tiny, b_tiny, {"stride": 1, "pad": 2})
print("output with pad=2:\n", out_pad[0, 0])
assert out_pad.shape == (1, 1, 4, 4)
assert out_pad[0, 0, 0, 0] == 4 * 1 + 1
assert out_pad[0, 0, 3, 3] == 1 * 9 + 1  # bottom-right window: only x_22 = 9, under weight 1

# %%
# NEEDS: im2col
cols_pad = im2col(x_tiny, 2, 2, 1, 2).reshape(4, 16)  # (C*HH*WW, H'*W')
x_padded = np.pad(x_tiny[0, 0], 1)
row, col = 1, 2  # the output position to highlight
k = row * 4 + col  # its column in im2col

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.2), gridspec_kw={"width_ratios": [1, 3]})
ax0.imshow(x_padded, cmap="Blues", vmin=-3, vmax=12)
for (i, j), v in np.ndenumerate(x_padded):
    ax0.text(j, i, f"{v:g}", ha="center", va="center")
ax0.add_patch(Rectangle((col - 0.5, row - 0.5), 2, 2, fill=False, ec="red", lw=3))
ax0.set_title("padded input (pad=2 total)")
ax1.imshow(cols_pad, cmap="Blues", vmin=-3, vmax=12)
for (i, j), v in np.ndenumerate(cols_pad):
    ax1.text(j, i, f"{v:g}", ha="center", va="center", fontsize=9)
ax1.add_patch(Rectangle((k - 0.5, -0.5), 1, 4, fill=False, ec="red", lw=3))
ax1.set_title(f"im2col matrix: column {k} is the red window, read row by row")
ax1.set_xlabel("output position (row-major)")
ax1.set_ylabel("offset in window")
for ax in (ax0, ax1):
    ax.set_xticks([])
    ax.set_yticks([])
ax1.set_ylabel("offset in window")
plt.tight_layout()
plt.show()
assert np.array_equal(cols_pad[:, k], x_padded[row:row + 2, col:col + 2].ravel())

# %% [markdown]
# ## 3. The assignment's reference values
#
# The assignment gives the output of a convolution of two $3\times4\times4$ inputs with three
# $4\times4$ filters, stride 2, `pad = 2`, so $H' = 1 + (4 + 2 - 4)/2 = 2$. The reference numbers
# are printed with eight decimals, so agreement to a relative error around $10^{-8}$ is all
# one can expect; we require better than $10^{-7}$.

# %%
# NEEDS: im2col, conv_forward
x, w, b, conv_param, reference_out = conv_forward_example()  # the assignment's numbers
out, _ = conv_forward(x, w, b, conv_param)
err = rel_error(out, reference_out)
print(f"relative error against the reference: {stable_format(err)} (required: < {TOLERANCE:.0e})")
assert out.shape == (2, 3, 2, 2)
assert err < TOLERANCE

# %% [markdown]
# A check cell runs the same public checks as `python -m code_base.check` and prints one line
# per function: PASS, FAIL (with the failing case and a hint) or TODO while the function is not
# written yet.

# %%
# CHECK
show("im2col", "conv_forward")

# %% [markdown]
# ## 4. Aside: image processing with hand-made filters
#
# Filters need not be learned. Two $3\times3$ filters written by hand:
#
# * **grayscale**: only the centre tap is non-zero, weighting red, green and blue by
#   $0.3, 0.6, 0.1$ — a per-pixel weighted sum of the channels;
# * **horizontal edges** (a Sobel filter on the blue channel):
#   $\begin{pmatrix}1&2&1\\0&0&0\\-1&-2&-1\end{pmatrix}$, which responds where brightness changes
#   from one row to the next. A bias of $128$ shifts its output to mid-gray.
#
# The two photos (a cat and a dog, see `NOTICE.md` for their sources and licences) are cropped
# to squares and resized to $200\times200$; with stride 1 and `pad = 2` the outputs keep that
# size. Each panel is rescaled to the full gray range for display.

# %%
# NEEDS: im2col, conv_forward
def load_square(path, size=200):
    """RGB photo -> centre square crop resized to size x size, as a float array (3, size, size)."""
    image = Image.open(path).convert("RGB")
    w_px, h_px = image.size
    side = min(w_px, h_px)
    left, top = (w_px - side) // 2, (h_px - side) // 2
    image = image.crop((left, top, left + side, top + side)).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float64).transpose(2, 0, 1)


photos = {"kitten": load_square(ROOT / "kitten.jpg"), "puppy": load_square(ROOT / "puppy.jpg")}
x_img = np.stack(list(photos.values()))  # (2, 3, 200, 200)

w_img = np.zeros((2, 3, 3, 3))
w_img[0, :, 1, 1] = [0.3, 0.6, 0.1]  # grayscale: centre tap only
w_img[1, 2] = [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]  # horizontal edges in the blue channel
b_img = np.array([0.0, 128.0])
out_img, _ = conv_forward(x_img, w_img, b_img, {"stride": 1, "pad": 2})
print("output shape:", out_img.shape)


def show_image(ax, img, title=""):
    ax.imshow(img.astype(np.uint8) if img.ndim == 3 else img, cmap="gray")
    ax.set_title(title)
    ax.axis("off")


fig, axes = plt.subplots(2, 3, figsize=(7.5, 5.2))
for r, (name, photo) in enumerate(photos.items()):
    show_image(axes[r, 0], photo.transpose(1, 2, 0), f"{name} (input)")
    show_image(axes[r, 1], out_img[r, 0], "grayscale filter")
    show_image(axes[r, 2], out_img[r, 1], "horizontal-edge filter")
plt.tight_layout()
# Shown as a JPEG: photos compress badly as PNG and would bloat the committed notebook.
buffer = io.BytesIO()
fig.savefig(buffer, format="jpeg", dpi=100, pil_kwargs={"quality": 85})
plt.close(fig)
display(ShowImage(buffer.getvalue()))

# %% [markdown]
# (The dark line along the top of each edge map, and the light one along the bottom, come from the
# zero frame added by the padding: there the "row above" or "row below" is black.)
#
# The pictures are a check in themselves, but the numbers can be checked too: away from the
# border the grayscale output is exactly $0.3R + 0.6G + 0.1B$, and the edge output minus 128 is
# the blue channel one row *above* minus one row *below*, smoothed $1:2:1$ along the row. (The
# convolution here is a cross-correlation: the filter is not flipped.)

# %%
# NEEDS: im2col, conv_forward
R, G, B = x_img[:, 0], x_img[:, 1], x_img[:, 2]
gray = 0.3 * R + 0.6 * G + 0.1 * B
assert np.allclose(out_img[:, 0], gray, rtol=0, atol=1e-9)

smooth = B[:, :, :-2] + 2 * B[:, :, 1:-1] + B[:, :, 2:]  # 1:2:1 along each row, (N, 200, 198)
edges = smooth[:, :-2] - smooth[:, 2:]  # row above minus row below, interior pixels (N, 198, 198)
assert np.allclose(out_img[:, 1, 1:-1, 1:-1] - 128, edges, rtol=0, atol=1e-9)

# %% [markdown]
# ## 5. The backward pass
#
# Given the upstream gradient $\delta_n = \partial L / \partial\, \text{out}_n$, reshaped to
# $F \times H'W'$, the forward formula $\text{out}_n = W_{\text{mat}} X^{\text{col}}_n + b\mathbf{1}^\top$
# is an ordinary matrix product, so its gradients are the familiar ones of an affine layer:
#
# $$\frac{\partial L}{\partial W_{\text{mat}}} = \sum_n \delta_n \,(X^{\text{col}}_n)^\top,
# \qquad
# \frac{\partial L}{\partial b_f} = \sum_n \sum_{p} (\delta_n)_{f p},
# \qquad
# \frac{\partial L}{\partial X^{\text{col}}_n} = W_{\text{mat}}^\top \delta_n .$$
#
# The last one is a gradient with respect to the *copies* of the pixels. A pixel that appears
# in several receptive fields was copied several times, so its gradient is the **sum** over its
# copies. That summing step, `col2im`, is the adjoint of `im2col`:
#
# $$\frac{\partial L}{\partial x_n} = \mathtt{col2im}\left(W_{\text{mat}}^\top \delta_n\right),$$
#
# after which the padding frame is cut away. `conv_backward` keeps $X^{\text{col}}$ from the
# forward pass in its cache, so the backward pass is two matrix products and one col2im.
#
# **Picture of col2im.** With all-ones input, filter and upstream gradient, $\partial L/\partial x$
# at each pixel simply counts how many receptive fields contain that pixel. For a $3\times3$ filter
# on a $5\times5$ image with `pad = 2`, stride 1, the count per row is $(2, 3, 3, 3, 2)$ — the
# border rows lose the window that would start outside the frame — and the 2-D count is the outer
# product of two such vectors. With stride 2 the windows overlap only on every other row, giving
# $(1, 2, 1, 2, 1)$.

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward
# NBVAL_CHECK_OUTPUT
def coverage(stride):
    x1 = np.ones((1, 1, 5, 5))
    w1 = np.ones((1, 1, 3, 3))
    out1, cache1 = conv_forward(x1, w1, np.zeros(1), {"stride": stride, "pad": 2})
    dx1, _, _ = conv_backward(np.ones_like(out1), cache1)
    return dx1[0, 0]


counts = {1: coverage(1), 2: coverage(2)}
expected_counts = {1: np.outer([2, 3, 3, 3, 2], [2, 3, 3, 3, 2]), 2: np.outer([1, 2, 1, 2, 1], [1, 2, 1, 2, 1])}
for s in counts:
    print(f"stride {s}: windows covering each pixel\n{counts[s].astype(int)}")
    assert np.array_equal(counts[s], expected_counts[s])

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward
fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
for ax, (s, c) in zip(axes, counts.items()):
    ax.imshow(c, cmap="viridis", vmin=0, vmax=9)
    for (i, j), v in np.ndenumerate(c):
        ax.text(j, i, f"{v:g}", ha="center", va="center", color="white" if v < 5 else "black")
    ax.set_title(f"dx with all-ones inputs, stride {s}")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Numerical gradient check
#
# For a scalar loss $L = \sum \text{out} \odot \delta$ with a random $\delta$, the centred
# difference $\frac{L(x + h e_i) - L(x - h e_i)}{2h}$ approximates $\partial L/\partial x_i$
# with an error of order $h^2 \, \partial^3 L$ plus a rounding error of order
# $\varepsilon |L| / h$. A convolution is *linear* in each of $x$, $w$ and $b$, so the first term
# vanishes and a fairly large step, $h = 10^{-3}$, keeps the rounding error small. The relative
# error $\max_i \frac{|a_i - n_i|}{\max(10^{-8}, |a_i| + |n_i|)}$ must then stay below
# $10^{-8}$ in float64 for every case below, including the assignment's
# (4 images of $3\times5\times5$, two $3\times3$ filters, stride 1, `pad = 2`).

# %%
# NEEDS: im2col, col2im, conv_forward, conv_backward
rng = np.random.default_rng(2017)
cases = [
    # (x shape, w shape, stride, total pad)
    ((4, 3, 5, 5), (2, 3, 3, 3), 1, 2),  # the assignment's backward example
    ((2, 3, 6, 6), (3, 3, 4, 4), 2, 2),  # the assignment's forward example
    ((2, 2, 7, 7), (3, 2, 3, 3), 2, 0),
    ((1, 3, 6, 8), (2, 3, 5, 3), 1, 4),
]
H_STEP = 1e-3  # exact for linear functions up to rounding, see above
rows = []
for x_shape, w_shape, stride, pad in cases:
    x = rng.standard_normal(x_shape)
    w = rng.standard_normal(w_shape)
    b = rng.standard_normal(w_shape[0])
    param = {"stride": stride, "pad": pad}
    out, cache = conv_forward(x, w, b, param)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = conv_backward(dout, cache)
    errors = {
        "dx": rel_error(dx, eval_numerical_gradient_array(lambda v: conv_forward(v, w, b, param)[0], x, dout, h=H_STEP)),
        "dw": rel_error(dw, eval_numerical_gradient_array(lambda v: conv_forward(x, v, b, param)[0], w, dout, h=H_STEP)),
        "db": rel_error(db, eval_numerical_gradient_array(lambda v: conv_forward(x, w, v, param)[0], b, dout, h=H_STEP)),
    }
    rows.append((f"x{x_shape} w{w_shape} s={stride} pad={pad}", errors))

error_table(rows, bound=1e-8)  # asserts every error; shows the bound, the same on every machine

# %%
# CHECK
show("col2im", "conv_backward")

# %% [markdown]
# ## Summary
#
# * With total padding $P$, a convolution maps $H$ to $H' = 1 + (H + P - HH)/S$.
# * im2col turns the layer into $W_{\text{mat}} X^{\text{col}} + b$: one matrix product per batch.
# * `conv_forward` matches the assignment's reference to better than $10^{-7}$, and hand-made
#   filters do what they should on real photos.
# * The backward pass is the matrix-product rule plus `col2im`, which sums the gradients of a
#   pixel's copies; numerical checks agree to better than $10^{-8}$ on every case.
