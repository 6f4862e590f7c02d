# %% [markdown]
# # Lesson 1 — Images are arrays of numbers
# A grayscale image is a 2-D array of brightness values from 0 (darkest) to 255 (brightest).
# A color image stacks three such arrays: red, green and blue. Run each cell and look.

# %%
import numpy as np
from skimage import data

from cnnlab.data.images import flatten
from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import check, out_dir
from cnnlab.learn.ref import LECTURE_IMAGE

image = np.array(LECTURE_IMAGE, dtype=np.uint8)  # the lecture's 3x3 image
print(image)
print("shape:", image.shape, "  dtype:", image.dtype)
print("the darkest pixel is at (row, col):", np.unravel_index(image.argmin(), image.shape))

# %% [markdown]
# ## A real photo
# scikit-image ships a photo of a cat called Chelsea. It is an RGB image: shape (H, W, 3).

# %%
cat = data.chelsea()
print("shape:", cat.shape, "=", cat.size, "numbers")
print("the top-left pixel (R, G, B):", cat[0, 0])
print("mean of each channel:", cat.mean(axis=(0, 1)).round(1))
for topic in ("numbers", "channels"):
    print("figure:", explain(topic, out=out_dir() / f"01_{topic}.png")[0])

# %% [markdown]
# ## Flattening
# A fully connected network needs one long vector. Row r, column c lands at index r * W + c.

# %%
flat = flatten(image)
print(flat, "length", len(flat))
print("figure:", explain("flatten", out=out_dir() / "01_flatten.png")[0])

# %% [markdown]
# ## Summary
# - Images are arrays: (H, W) for gray, (H, W, 3) for color, values 0..255 (uint8).
# - Flattening turns an (H, W) image into H*W numbers and forgets which pixels were neighbours.
#
# ## Exercises — replace each None with your answer and run the cell
# 1. How many numbers describe a 1024 x 1024 color photo?
# 2. After flattening the 3x3 lecture image, at which index is the dark pixel?
# 3. In a 28 x 28 image, two pixels are vertical neighbours. How far apart are they after flattening?

# %%
answer_1 = None
answer_2 = None
answer_3 = None
check("1.1", answer_1)  # the answers live in cnnlab/learn/answers.py: try first, peek later
check("1.2", answer_2)
check("1.3", answer_3)
