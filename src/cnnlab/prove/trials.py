"""What each claim measures: one trial trains or measures one arm under one condition with one seed.

A trial function ``f(arm, condition, seed, settings, work) -> {metric: number}`` gets the claim's settings for the
budget and a work folder (its training runs go to ``work/runs/ARM[-CONDITION]-seedSEED``); everything not named by
the arm is the same in both arms of a seed (cnnlab's ``seed`` fixes the subset, the initial weights, the batches).
The claims themselves (questions, comparisons, citations) are in :mod:`cnnlab.prove.claims`.

>>> matched_mlp_hidden(105_978, 784, 10)   # (784 + 1) * h + (h + 1) * 10 ~ 105,978
133
"""

from __future__ import annotations

import math
from pathlib import Path

from cnnlab.data.augment import parse_augment
from cnnlab.deploy.evaluate import load_test_split
from cnnlab.learn.experiments import accuracy, training_images
from cnnlab.models import create_model
from cnnlab.prove.measure import descent_curve, predictions, shifted_by, shifted_random, steps_to
from cnnlab.training.run import train


def _run_dir(work: Path, arm: str, condition: str, seed: int) -> Path:
    return work / "runs" / f"{arm}{'-' + condition if condition else ''}-seed{seed}"


def _train(work: Path, arm: str, condition: str, seed: int, **options) -> tuple[dict, Path]:
    out = _run_dir(work, arm, condition, seed)
    meta = train(out=out, seed=seed, progress=False, overwrite=True, tta=False, **options)
    return meta, out


# ------------------------------------------------------------------------------ 1. CNN vs flattened MLP

def matched_mlp_hidden(params: int, inputs: int, classes: int) -> int:
    """Units of one hidden layer that give an MLP about ``params`` parameters.

    >>> matched_mlp_hidden(105_978, 784, 10)   # (784 + 1) * h + (h + 1) * 10 ~ 105,978
    133
    """
    return max(1, round((params - classes) / (inputs + 1 + classes)))


def cnn_vs_mlp(arm, condition, seed, s, work):
    common = dict(data=s["data"], per_class=s["per_class"], epochs=s["epochs"], augment="none")
    if arm == "cnn":
        meta, run = _train(work, arm, condition, seed, model="lecture_cnn", model_args=s["cnn"], **common)
    else:
        cnn = create_model("lecture_cnn", num_classes=10, in_channels=1, image_size=28, **s["cnn"])
        hidden = matched_mlp_hidden(sum(p.numel() for p in cnn.parameters()), 28 * 28, 10)
        meta, run = _train(work, arm, condition, seed, model="mlp", model_args={"hidden": [hidden], "dropout": 0.0},
                           **common)
    test = load_test_split(meta)
    moved = shifted_random(test.images, 2, 4)
    return {"test_accuracy": meta["metrics"]["test_accuracy"], "shifted_accuracy": accuracy(run, moved, test.labels),
            "parameters": float(meta["parameters"])}


CNN_SMALL = {"widths": [16, 32], "hidden": 64}

# ------------------------------------------------------------------------------ 2. augmentation vs n


def augmentation(arm, condition, seed, s, work):
    per_class = int(condition) // 10
    epochs = s["images_seen"] / int(condition)  # the same number of steps for every training-set size
    meta, run = _train(work, arm, condition, seed, data=s["data"], per_class=per_class, epochs=epochs,
                       model="lecture_cnn", model_args=s["cnn"], augment=s["augment"] if arm == "augmented" else "none")
    test = load_test_split(meta)
    moved = parse_augment(s["augment"])(test.images, seed=12345)
    return {"test_accuracy": meta["metrics"]["test_accuracy"], "moved_accuracy": accuracy(run, moved, test.labels)}


# ------------------------------------------------------------------------------ 3. normalization, 4. batch norm

def _lr_key(lr: float) -> str:
    return f"lr{lr:g}"


def _grid(arm_is_raw: bool, batch_norm: bool, seed: int, s: dict) -> dict[float, list[float]]:
    """The loss curve at every learning rate of the grid (the same batches and start for every rate)."""
    return {lr: descent_curve(s["data"], seed, s["steps"], lr, raw=arm_is_raw, batch_norm=batch_norm,
                              per_class=s["per_class"], model=s.get("model", "cnn")) for lr in s["lrs"]}


def _finite(x: float, cap: float = 10.0) -> float:
    """A loss for averaging: a diverged run counts as ``cap`` (worse than guessing among 10 classes: 2.3)."""
    return cap if not math.isfinite(x) or x > cap else x


def _grid_numbers(curves: dict[float, list[float]], threshold: float) -> dict[str, float]:
    out: dict[str, float] = {}
    for lr, curve in curves.items():
        out[f"steps_{_lr_key(lr)}"] = float(steps_to(curve, threshold))
        out[f"loss_{_lr_key(lr)}"] = _finite(sum(curve[-10:]) / 10)
    out["best_steps"] = min(out[f"steps_{_lr_key(lr)}"] for lr in curves)
    out["best_loss"] = min(out[f"loss_{_lr_key(lr)}"] for lr in curves)
    out["diverged_share"] = sum(math.isinf(c[-1]) for c in curves.values()) / len(curves)
    return out


def normalization(arm, condition, seed, s, work):
    return _grid_numbers(_grid(arm == "raw", condition == "bn", seed, s), s["threshold"])


def batchnorm(arm, condition, seed, s, work):
    return _grid_numbers(_grid(False, arm == "batchnorm", seed, s), s["threshold"])


LINEAR_LRS = [1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.1, 1.0]

# ------------------------------------------------------------------------------ 5. dropout

def dropout(arm, condition, seed, s, work):
    rate = 0.5 if arm == "dropout" else 0.0
    meta, run = _train(work, arm, condition, seed, data=s["data"], per_class=s["per_class"], epochs=s["epochs"],
                       model="mlp", model_args={"hidden": s["hidden"], "dropout": rate}, augment="none",
                       weight_decay=0.0, label_smoothing=0.0)
    seen = training_images(meta)
    train_acc = accuracy(run, seen.images, seen.labels)
    return {"test_accuracy": meta["metrics"]["test_accuracy"], "train_accuracy": train_acc,
            "gap": train_acc - meta["metrics"]["test_accuracy"]}


# ------------------------------------------------------------------------------ 6. pooling

POOLED = "conv 16 3 same, relu, maxpool 2, conv 32 3 same, relu, maxpool 2, flatten, dense 64, relu, dense"
UNPOOLED = "conv 16 3 same, relu, conv 32 3 same, relu, flatten, dense 64, relu, dense"


def pooling(arm, condition, seed, s, work):
    layers = s["pooled"] if arm == "max-pooling" else s["unpooled"]
    meta, run = _train(work, arm, condition, seed, data=s["data"], per_class=s["per_class"], epochs=s["epochs"],
                       model="stack", model_args={"layers": layers}, augment="none")
    test = load_test_split(meta)
    base = predictions(run, test.images)
    out = {"test_accuracy": meta["metrics"]["test_accuracy"]}
    for k in s["shifts"]:
        moved = predictions(run, shifted_by(test.images, k))
        out[f"unchanged_{k}px"] = float((moved == base).float().mean())
        out[f"accuracy_{k}px"] = float((moved == test.labels).float().mean())
    return out


# ------------------------------------------------------------------------------ 7. transfer

def transfer(arm, condition, seed, s, work):
    per_class = int(condition)
    common = dict(data=s["data"], per_class=per_class, epochs=s["epochs"], batch_size=16, val_fraction=0.0)
    if arm == "transfer":
        meta, _ = _train(work, arm, condition, seed, model="efficientnet_lite0", pretrained=True, freeze=True,
                         model_args={"input_size": s["input_size"]}, **common)
    else:
        meta, _ = _train(work, arm, condition, seed, model="lecture_cnn", **common)
    return {"test_accuracy": meta["metrics"]["test_accuracy"]}
