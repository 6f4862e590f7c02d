# %% [markdown]
# # Lesson 6 — Dropout
# In training, each unit is switched off with probability p; the survivors are scaled by
# 1 / (1 - p). The network cannot rely on any single unit, which curbs overfitting.

# %%
import numpy as np

from cnnlab.learn.experiments import DROPOUT_SETTINGS, dropout_experiment
from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import check, out_dir
from cnnlab.learn.ref import dropout

x = np.ones((4, 10))
out, mask = dropout(x, p=0.5, training=True, rng=np.random.default_rng(0))
print(out)
print("kept per row:", mask.sum(1), " mean stays about 1:", out.mean().round(2))
same, _ = dropout(x, p=0.5, training=False)
print("evaluation changes nothing:", np.array_equal(same, x))
print(explain("dropout", out=out_dir() / "06_dropout.png")[0])

# %% [markdown]
# ## Experiment: overfitting on a small training set
# A network that overfits memorizes its training images: it scores close to 100% on them and much
# lower on images it has never seen. The difference, the *gap*, measures overfitting.
# We train the dense network of lesson 1 (flatten, then layers of 256 and 128 units, with dropout
# after each) on 50 images per class, without dropout and with p = 0.5, and measure the accuracy on
# its own training images and on the 10,000 test images it never saw.
# (The lecture CNN has dropout only in its last layers, and its convolutions and batch norm already
# keep it from memorizing as much: there the effect is too small to see in a few seconds.)

# %%
print(f"settings: {DROPOUT_SETTINGS} (a few seconds per run)")
results = dropout_experiment(out_dir() / "06_runs", seed=0, rates=(0.0, 0.5))
for rate, r in results.items():
    print(f"dropout p={rate}: training images {r['train']:.1%}, new images {r['new']:.1%}, "
          f"gap {r['gap']:.1%}")

# %% [markdown]
# ## What the numbers say
# - Without dropout the network knows its 500 training images by heart (about 100%) and the gap to
#   new images is large (21 to 23 points in our checks over seeds 0, 1 and 2).
# - With dropout it can no longer rely on single units: it scores lower on its training images and
#   the gap shrinks (to 15-16 points). That is what "curbs overfitting" means.
# - A smaller gap is not automatically a higher score on new images: here the accuracy on new images
#   hardly changes (within 3 points either way; more often a little lower). With only 500 images,
#   the data is the limit; cnnlab's training also already regularizes in other ways (weight decay,
#   label smoothing). Dropout pays most in large networks trained for long on more data.
#
# ## Summary
# - Dropout trains many thinner networks that share weights; evaluation uses them all at once.
# - Compare accuracy on training images and on new images: a large gap means overfitting.
#
# ## Exercises
# 1. With p = 0.2, by what factor are the surviving units scaled in training?
# 2. A layer has 200 units and p = 0.25: about how many are active in one training step?

# %%
answer_1 = None
answer_2 = None
check("6.1", answer_1)  # the answers live in cnnlab/learn/answers.py: try first, peek later
check("6.2", answer_2)
