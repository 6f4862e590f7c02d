# %% [markdown]
# # Lesson 3 — Max pooling
# Max pooling keeps the largest value of each small window: the result is smaller, and the
# strongest feature of each region survives even if it moves a little inside the window.

# %%
import numpy as np

from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import check, out_dir
from cnnlab.learn.ref import max_pool2d, max_pool2d_loops, trace, trace_text

x = np.array([[1, 3, 2, 0],
              [4, 2, 1, 5],
              [0, 1, 7, 2],
              [3, 2, 1, 0]], dtype=float)
pooled, where = max_pool2d(x[None, None], size=2)
print(pooled[0, 0])
print("positions of the maxima (row, col):", where[0, 0].reshape(-1, 2).tolist())
print(trace_text(trace(x, pool=2)[:2]))
assert np.array_equal(pooled, max_pool2d_loops(x[None, None], 2)[0])
print("figure:", explain("pooling", out=out_dir() / "03_pooling.png")[0])

# %% [markdown]
# ## Translation invariance, measured
# Shift the image one pixel inside the windows: the pooled result barely changes.

# %%
shifted = np.roll(x, 1, axis=1)
shifted[:, 0] = 0
print("after a 1-pixel shift:", max_pool2d(shifted[None, None], 2)[0][0, 0].tolist())

# %% [markdown]
# ## Summary
# - 2x2 max pooling halves height and width: a quarter of the numbers remain.
# - The gradient flows back only to the position of each maximum.
#
# ## Exercises
# 1. Shape after 2x2 max pooling of a (32, 28, 28) feature map?
# 2. The pooled value of the window [[0, 9], [5, 2]]?

# %%
answer_1 = None
answer_2 = None
check("3.1", answer_1)  # a shape is a tuple, like x.shape: (C, H, W)
check("3.2", answer_2)
