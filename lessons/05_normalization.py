# %% [markdown]
# # Lesson 5 — Normalization and batch normalization
# Data normalization: x' = (x - mean) / std, so the data has mean 0 and variance 1.
# Batch normalization does the same to the outputs of a layer, over each mini-batch.

# %%
import numpy as np

import cnnlab
from cnnlab.data.sources import load_dataset
from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import FAST, check, out_dir
from cnnlab.learn.ref import batch_norm, normalize

train = load_dataset("fashion-mnist", "train")
mean, std = train.mean_std()
print(f"Fashion-MNIST pixels: mean {mean[0]:.1f}, std {std[0]:.1f} (0..255)")
x = train.images[:1000].float().numpy()
xn, m, s = normalize(x)
print(f"after normalizing: mean {xn.mean():.4f}, variance {xn.var():.4f}")
print(explain("normalization", out=out_dir() / "05_normalization.png")[0])

# %% [markdown]
# ## Batch normalization, training vs evaluation
# In training it uses the batch's own statistics and updates running averages; in evaluation
# it uses the running averages, so one image gives the same answer whatever batch it is in.

# %%
rng = np.random.default_rng(0)
acts = rng.normal(5.0, 3.0, size=(64, 4))  # 64 samples, 4 features
out, cache, rm, rv = batch_norm(acts, np.ones(4), np.zeros(4), np.zeros(4), np.ones(4), training=True)
print("batch mean after BN:", out.mean(0).round(3), " running mean now:", rm.round(3))
print(explain("batchnorm", out=out_dir() / "05_batchnorm.png")[0])

# %% [markdown]
# ## Experiment: the lecture CNN with and without batch norm

# %%
epochs, per_class = (2, 30) if FAST else (5, 300)
for bn in (True, False):
    meta = cnnlab.train(out=out_dir() / f"05_bn_{bn}", data="fashion-mnist", model="lecture_cnn", epochs=epochs,
                        per_class=per_class, model_args={"batch_norm": bn}, progress=False, overwrite=True)
    print(f"batch_norm={bn!s:5s}: test accuracy {meta['metrics']['test_accuracy']:.1%}")

# %% [markdown]
# ## Summary
# - Normalized inputs make the loss surface round, so gradient descent walks straight to the minimum.
# - cnnlab puts the normalization inside the model: a saved model always uses the right statistics.
#
# ## Exercises
# 1. mean 100, std 50: what does the pixel value 200 become?
# 2. After batch norm in training mode (gamma=1, beta=0), what is the mean of each feature over the batch?

# %%
answer_1 = None
answer_2 = None
check("5.1", answer_1)  # the answers live in cnnlab/learn/answers.py: try first, peek later
check("5.2", answer_2)
