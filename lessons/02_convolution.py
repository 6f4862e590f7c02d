# %% [markdown]
# # Lesson 2 — Convolution
# A kernel W slides over the image X. At each position: multiply the window by the kernel,
# element by element, and add everything up. That sum is one pixel of the result Z = X (*) W.

# %%
import numpy as np
from skimage import data

from cnnlab.data.images import convert_mode
from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import check, out_dir
from cnnlab.learn.ref import LECTURE_IMAGE, conv2d, conv2d_loops, trace, trace_text

X = np.array(LECTURE_IMAGE, dtype=float)
W = np.array([[0, 1], [1, 0]], dtype=float)
print(trace_text(trace(X, W)))  # every step, with its window, products and sum

# %% [markdown]
# ## Two ways to compute it, one answer
# `conv2d_loops` is four nested loops you can read; `conv2d` does the same with one tensor
# contraction. Shapes are (N, C, H, W) for images and (K, C, kh, kw) for kernels.

# %%
x = X[None, None]  # (N=1, C=1, 3, 3)
w = W[None, None]  # (K=1, C=1, 2, 2)
print(conv2d_loops(x, w)[0, 0])
print(conv2d(x, w)[0, 0])
assert np.allclose(conv2d_loops(x, w), conv2d(x, w))

# %% [markdown]
# ## Kernels find features
# An edge kernel answers "does brightness change here?". Try it on the cat.

# %%
gray = convert_mode(data.chelsea(), "gray").astype(float)[::2, ::2]
sobel_x = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float)
edges = conv2d(gray[None, None], sobel_x[None, None])[0, 0]
print("image", gray.shape, "-> edges", edges.shape, " strongest response:", abs(edges).max())
for topic in ("convolution", "kernels", "multichannel"):
    print("figure:", explain(topic, out=out_dir() / f"02_{topic}.png")[0])

# %% [markdown]
# ## Many channels
# For an RGB image there is one kernel slice per channel; the three results are summed.

# %%
rgb = data.chelsea()[::4, ::4].astype(float).transpose(2, 0, 1)[None]  # (1, 3, H, W)
kernel = np.random.default_rng(0).standard_normal((1, 3, 3, 3))
total = conv2d(rgb, kernel)
per_channel = sum(conv2d(rgb[:, c:c + 1], kernel[:, c:c + 1]) for c in range(3))
print("sum of per-channel results equals the multi-channel convolution:", np.allclose(total, per_channel))

# %% [markdown]
# ## Summary
# - Each output pixel depends only on a small window of the input: positions matter.
# - One small kernel is reused everywhere (9 weights for a 3x3 kernel, whatever the image size).
# - Output size: (H + 2*padding - k) // stride + 1.
#
# ## Exercises
# 1. Window [[1, 2], [3, 4]] and kernel [[1, 0], [0, -1]]: what is the sum of products?
# 2. A 3x3 kernel with stride 1 and no padding on a 28x28 image: output height?
# 3. Same with padding 1 and stride 2?

# %%
answer_1 = None
answer_2 = None
answer_3 = None
check("2.1", answer_1)  # the answers live in cnnlab/learn/answers.py: try first, peek later
check("2.2", answer_2)
check("2.3", answer_3)
