# %% [markdown]
# # Lesson 6 — Dropout
# In training, each unit is switched off with probability p; the survivors are scaled by
# 1 / (1 - p). The network cannot rely on any single unit, which curbs overfitting.

# %%
import numpy as np

from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import FAST, check, out_dir
from cnnlab.learn.ref import dropout
from cnnlab.training.run import train_run

x = np.ones((4, 10))
out, mask = dropout(x, p=0.5, training=True, rng=np.random.default_rng(0))
print(out)
print("kept per row:", mask.sum(1), " mean stays about 1:", out.mean().round(2))
same, _ = dropout(x, p=0.5, training=False)
print("evaluation changes nothing:", np.array_equal(same, x))
print(explain("dropout", out=out_dir() / "06_dropout.png")[0])

# %% [markdown]
# ## Experiment: overfitting on a small training set
# Compare the gap between training and validation loss with no dropout and with heavy dropout.

# %%
epochs, per_class = (3, 20) if FAST else (20, 100)
for rate in (0.0, 0.5):
    meta = train_run("fashion-mnist", "lecture_cnn", epochs=epochs, per_class=per_class, augment="none",
                     model_args={"dropout": rate}, out=str(out_dir() / f"06_dropout_{rate}"), progress=False,
                     batch_size=32)
    print(f"dropout {rate}: test accuracy {meta['metrics']['test_accuracy']:.1%}")

# %% [markdown]
# ## Summary
# - Dropout trains many thinner networks that share weights; evaluation uses them all at once.
#
# ## Exercises
# 1. With p = 0.2, by what factor are the surviving units scaled in training?
# 2. A layer has 200 units and p = 0.25: about how many are active in one training step?

# %%
answer_1 = None
answer_2 = None
check("1. scale factor", answer_1, 1.25, tol=1e-3, hint="1 / (1 - p)")
check("2. active units", answer_2, 150, hint="(1 - p) * 200")
