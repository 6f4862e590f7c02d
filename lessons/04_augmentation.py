# %% [markdown]
# # Lesson 4 — Data augmentation
# Too few labelled images? Create new ones: mirror, rotate, shift, crop, change the colors —
# similar enough to keep the subject, different enough to teach the model something.

# %%
import torch

from cnnlab.data.augment import kernels as K
from cnnlab.data.augment import parse_augment, preview
from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import FAST, check, out_dir
from cnnlab.training.run import train_run

aug = parse_augment("flip,rotate=15,translate=0.1,crop=4,color=0.2")
print(aug)
print(preview("fashion-mnist", aug, out_dir() / "04_preview.png", n=6, rows=5))
print(explain("augmentation", out=out_dir() / "04_augmentation.png")[0])

# %% [markdown]
# ## What one step does to one image

# %%
from cnnlab.data.sources import load_dataset

test = load_dataset("fashion-mnist", "test")
print(aug.summary(test.images[0], seed=0))

# %% [markdown]
# ## Does it help when data is scarce? An experiment
# Train the lecture CNN on 50 images per class, with and without augmentation.

# %%
epochs, per_class = (3, 20) if FAST else (15, 50)
results = {}
for name, spec in [("none", "none"), ("flip+shift", "flip,crop=2")]:
    meta = train_run("fashion-mnist", "lecture_cnn", epochs=epochs, per_class=per_class, augment=spec,
                     out=str(out_dir() / f"04_run_{name}"), batch_size=32, progress=False)
    results[name] = meta["metrics"]["test_accuracy"]
    print(f"augmentation {name:10s}: test accuracy {results[name]:.1%}")

# %% [markdown]
# ## Summary
# - cnnlab draws random parameters per image, then transforms the whole batch at once.
# - The same seed gives the same augmented batch.
#
# ## Exercises
# 1. A translation by 3 pixels to the right: where does a bright pixel at column 10 go?
# 2. Which of these makes no sense for handwritten digits: "flip", "vflip", "rotate=10"? (a 6 becomes a 9)

# %%
answer_1 = None
answer_2 = None
x = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
x[0, 0, 5, 10] = 255
moved = K.warp(x, K.translation_matrices(torch.tensor([3]), torch.tensor([0]), 16, 16))
print("check it yourself afterwards: the bright pixel is now in column", int(moved[0, 0, 5].argmax()))
check("1. new column", answer_1, 13)
check("2. the harmful augmentation", answer_2, "vflip", hint="which one turns a 6 upside down?")
