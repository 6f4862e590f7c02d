# %% [markdown]
# # Lesson 4 — Data augmentation
# Too few labelled images? Create new ones: mirror, rotate, shift, crop, change the colors —
# similar enough to keep the subject, different enough to teach the model something.

# %%
from cnnlab.data.augment import parse_augment, preview
from cnnlab.data.sources import load_dataset
from cnnlab.learn.experiments import AUGMENT, AUGMENT_SETTINGS, augmentation_experiment
from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import check, out_dir

aug = parse_augment("flip,rotate=15,translate=0.1,crop=4,color=0.2")
print(aug)
print(preview("fashion-mnist", aug, out_dir() / "04_preview.png", n=6, rows=5))
print(explain("augmentation", out=out_dir() / "04_augmentation.png")[0])

# %% [markdown]
# ## What one step does to one image

# %%
test = load_dataset("fashion-mnist", "test")
print(aug.summary(test.images[0], seed=0))

# %% [markdown]
# ## What does augmentation teach? An experiment
# Train the lecture CNN twice on 50 images per class: once as they are, once mirrored and moved
# at random (`flip,translate=0.15`, up to 4 pixels). Then test both twice: on Fashion-MNIST's test
# images as they are, and on the same test images moved and mirrored at random — as a photo taken
# by someone else would be: never perfectly centred.

# %%
print(f"settings: {AUGMENT_SETTINGS}, augmentation: {AUGMENT!r} (a few seconds per run)")
results = augmentation_experiment(out_dir() / "04_runs", seed=0)
for name, r in results.items():
    print(f"trained {name:9s}: test images as they are {r['test']:.1%}, moved and mirrored {r['moved']:.1%}")

# %% [markdown]
# ## What the numbers say
# - On the moved and mirrored test images the augmented model is far better (in our checks over
#   seeds 0, 1 and 2: about 75% against 50%). The plain model only ever saw centred clothes, so a
#   boot moved by 3 pixels looks new to it. Augmentation taught the model that a moved or mirrored
#   boot is still a boot.
# - On Fashion-MNIST's own test images augmentation does *not* help here: they are all centred and
#   upright, exactly like the training images, so the variation it teaches never appears there; the
#   model even pays a few points for learning it. Augmentation helps when the images the model will
#   meet vary in the ways you augment — choose the steps from what your real images look like.
#
# ## Summary
# - cnnlab draws random parameters per image, then transforms the whole batch at once.
# - The same seed gives the same augmented batch.
# - Augment with the variations your real images have (position, mirror, light), not with all of them.
#
# ## Exercises
# 1. A translation by 3 pixels to the right: where does a bright pixel at column 10 go?
#    (Check it yourself afterwards with `cnnlab.data.augment.kernels.warp` and `translation_matrices`.)
# 2. Which of these makes no sense for handwritten digits: "flip", "vflip", "rotate=10"? (a 6 becomes a 9)

# %%
answer_1 = None
answer_2 = None
check("4.1", answer_1)  # the answers live in cnnlab/learn/answers.py: try first, peek later
check("4.2", answer_2)
