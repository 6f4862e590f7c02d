"""The lecture's claims, each as a controlled experiment: two arms that differ in one thing, paired by seed.

A claim names its two arms (the one the lecture recommends first), the conditions it is tested under (e.g.
training-set sizes or learning rates), the budgets (``quick``: each claim within about a minute on a 2-core
laptop, what CI runs; ``standard``: within about 5 minutes), and one ``trial`` function that trains or
measures one arm under one condition with one seed and returns its numbers. Everything not named by the arm
is the same in both arms of a seed: the training subset, the initial weights, the batch order (cnnlab's
``seed`` fixes all three), the test images.

The comparisons say which number of which arm the claim expects to be better; the first is the headline,
whose verdict is the claim's. Every claim cites the published result it echoes.

>>> [c.name for c in CLAIMS.values()]
['cnn-vs-mlp', 'augmentation', 'normalization', 'batchnorm', 'dropout', 'pooling', 'transfer']
>>> CLAIMS["dropout"].arms
('dropout', 'no-dropout')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cnnlab.prove import trials

BUDGETS = ("quick", "standard")


@dataclass(frozen=True)
class Comparison:
    """One paired comparison: ``metric`` of arm ``better`` against arm ``other`` under ``condition``.

    Attributes:
        metric: a key of the trials' numbers, e.g. "test_accuracy".
        label: the comparison in words, e.g. "test accuracy, 250 training images".
        condition: the condition's label ("" when the claim has one condition).
        higher_is_better: the difference is better - other when True, other - better when False.
        unit: "%" (numbers 0..1 shown as percentage points), "steps" or "" (plain numbers).
    """

    metric: str
    label: str
    condition: str = ""
    higher_is_better: bool = True
    unit: str = "%"


@dataclass(frozen=True)
class Claim:
    """A claim of the lecture as an experiment (see the module's docstring)."""

    name: str
    title: str
    question: str
    arms: tuple[str, str]
    conditions: dict[str, list[str]]  # budget -> condition labels, e.g. ["250", "1000"]
    seeds: dict[str, int]  # budget -> default number of seeds
    settings: dict[str, dict]  # budget -> settings passed to trial
    trial: Callable[[str, str, int, dict, Path], dict[str, float]]
    comparisons: Callable[[list[str]], list[Comparison]]
    setup: str  # the design in words (settings are added from the budget)
    explanation: str  # what the result means, for a student
    citation: str
    published: str  # what the cited work found, to compare with ours
    expects: str  # the direction in words, e.g. "the CNN scores higher"

    def condition_list(self, budget: str) -> list[str]:
        """The conditions of a budget."""
        return self.conditions[budget]


def _per_condition(metric: str, words: str, higher: bool = True, unit: str = "%", label=str):
    def make(conditions: list[str]) -> list[Comparison]:
        return [Comparison(metric, f"{words}, {label(c)}", c, higher, unit) for c in conditions]
    return make


def _sizes(c: str) -> str:
    return f"{int(c):,} training images"


CLAIMS: dict[str, Claim] = {}


def _add(claim: Claim) -> None:
    CLAIMS[claim.name] = claim


_add(Claim(
    name="cnn-vs-mlp", title="Convolutions beat flattening",
    question="Does a small CNN recognise clothes better than a network with the same number of weights that "
             "looks at the flattened pixels?",
    arms=("cnn", "mlp"), conditions={"quick": [""], "standard": [""]}, seeds={"quick": 3, "standard": 5},
    settings={"quick": {"data": "fashion-mnist", "per_class": 100, "epochs": 4, "cnn": trials.CNN_SMALL},
              "standard": {"data": "fashion-mnist", "per_class": 600, "epochs": 6, "cnn": trials.CNN_SMALL}},
    trial=trials.cnn_vs_mlp,
    comparisons=lambda conds: [Comparison("test_accuracy", "test accuracy"),
                               Comparison("shifted_accuracy", "accuracy on test images moved by 2-4 pixels")],
    setup="The lecture's CNN (two blocks of 16 and 32 kernels, a 64-unit dense layer: 105,978 weights) against a "
          "flatten-then-dense network with one hidden layer sized to the same number of weights (133 units). Same "
          "training images (100 per class and 4 epochs at the quick budget, 600 and 6 at the standard one), no "
          "augmentation; scored on all 10,000 test images, and on the same test "
          "images each moved 2 to 4 pixels in a random direction.",
    explanation="A dense layer gives every pixel its own weight, so it has to learn a shirt at every position "
                "separately; a convolution reuses one small kernel everywhere, so it needs fewer examples and "
                "copes better with things that moved.",
    citation="Xiao, Rasul & Vollgraf (2017), Fashion-MNIST, benchmark table",
    published="In the Fashion-MNIST benchmark the best scikit-learn MLP reaches about 88% while small CNNs reach "
              "about 90-93%.",
    expects="the CNN scores higher"))

_add(Claim(
    name="augmentation", title="Augmentation helps when data is scarce",
    question="Does training on mirrored and moved copies of the images raise the test accuracy, and does the "
             "gain shrink as the training set grows?",
    arms=("augmented", "plain"), conditions={"quick": ["250", "1000"], "standard": ["250", "1000", "4000"]},
    seeds={"quick": 3, "standard": 5},
    settings={"quick": {"data": "fashion-mnist", "images_seen": 4_000, "cnn": trials.CNN_SMALL,
                        "augment": "flip,translate=0.1"},
              "standard": {"data": "fashion-mnist", "images_seen": 24_000, "cnn": trials.CNN_SMALL,
                           "augment": "flip,translate=0.1"}},
    trial=trials.augmentation,
    comparisons=lambda conds: (_per_condition("test_accuracy", "test accuracy", label=_sizes)(conds)
                               + _per_condition("moved_accuracy", "accuracy on moved and mirrored test images",
                                                label=_sizes)(conds)),
    setup="The lecture's CNN (16 and 32 kernels) trained on 250 and 1,000 Fashion-MNIST images (the standard "
          "budget adds 4,000) for the same number of steps at every size (4,000 images seen at the quick budget, "
          "24,000 at the standard one), with augmentation "
          "'flip,translate=0.1' (mirror half of the images, move them up to 10%) or without. Scored "
          "on the 10,000 test images as they are, and on the same images moved and mirrored the same way.",
    explanation="Augmentation shows the network new versions of the same photos, so it memorises less. It helps "
                "most when there are few photos, and it helps on test photos that look like the augmented ones: "
                "Fashion-MNIST's test images are all centred, like its training images.",
    citation="Simard, Steinkraus & Platt (2003); Shorten & Khoshgoftaar (2019), a survey of image data augmentation",
    published="Distorted copies of the training images lowered the error of networks on handwritten digits; the "
              "survey reports the largest gains on small training sets.",
    expects="the augmented network scores higher, most with few images"))

_add(Claim(
    name="normalization", title="Normalized inputs make gradient descent easier",
    question="With the learning rate tuned for each, does gradient descent reach a low loss in fewer steps when "
             "the pixels are standardized (mean 0, standard deviation 1) than when they are fed as 0..255?",
    arms=("standardized", "raw"), conditions={"quick": ["nobn", "bn"], "standard": ["nobn", "bn"]},
    seeds={"quick": 3, "standard": 5},
    settings={"quick": {"data": "fashion-mnist", "steps": 100, "per_class": 300, "threshold": 1.0,
                        "model": "linear", "lrs": trials.LINEAR_LRS[1::2]},
              "standard": {"data": "fashion-mnist", "steps": 400, "per_class": 600, "threshold": 0.8,
                           "model": "linear", "lrs": trials.LINEAR_LRS}},
    trial=trials.normalization,
    comparisons=lambda conds: [
        Comparison("best_steps", "steps to the loss threshold at each arm's best learning rate, without batch norm",
                   "nobn", higher_is_better=False, unit="steps"),
        Comparison("diverged_share", "share of learning rates that diverged, without batch norm", "nobn",
                   higher_is_better=False),
        Comparison("best_steps", "steps to the loss threshold at each arm's best learning rate, with batch norm",
                   "bn", higher_is_better=False, unit="steps"),
        Comparison("best_loss", "loss at the end, best learning rate, without batch norm", "nobn",
                   higher_is_better=False, unit="")],
    setup="The lecture's w x + b with one weight per pixel and class (one dense layer on the flattened "
          "Fashion-MNIST pixels, softmax) trained by plain gradient descent (SGD without momentum, 64 images a "
          "step) from the same starting weights on the same batches, with the pixels standardized by the "
          "training images' mean and standard deviation, or raw (0..255), at every learning rate from 1e-7 to "
          "1 (8 rates, 10 times apart; the quick budget tries 1e-6, 1e-4, 0.01 and 1). Counted: the steps "
          "until the loss, averaged over 10 steps, is below the threshold (the budget + 1 when it never is) "
          "at each arm's best learning rate, and how many rates made the loss blow up. Then again with batch norm "
          "on the flattened pixels before the dense layer.",
    explanation="With raw pixels the numbers entering the layer are about 100 times larger and all positive, so "
                "the loss surface is a long thin valley: a learning rate large enough to move fast along it jumps "
                "out of it, and one small enough to stay in it crawls. Standardized inputs make the valley round "
                "(the normalization page of the studio draws it). Batch norm standardizes inside the network, so "
                "with it the two arms train the same.",
    citation="LeCun, Bottou, Orr & Müller (1998), Efficient BackProp",
    published="Inputs shifted to mean 0 and scaled to similar variances make gradient descent converge faster.",
    expects="standardized inputs need fewer steps"))

_add(Claim(
    name="batchnorm", title="Batch norm speeds up training",
    question="With the same number of steps and the learning rate tuned for each, is the loss lower with batch "
             "norm, and does batch norm let training survive larger learning rates?",
    arms=("batchnorm", "no-batchnorm"), conditions={"quick": [""], "standard": [""]},
    seeds={"quick": 3, "standard": 5},
    settings={"quick": {"data": "fashion-mnist", "steps": 120, "per_class": 300, "threshold": 1.0,
                        "lrs": [0.01, 0.1, 0.5, 2.0]},
              "standard": {"data": "fashion-mnist", "steps": 300, "per_class": 600, "threshold": 0.8,
                           "lrs": [0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]}},
    trial=trials.batchnorm,
    comparisons=lambda conds: [Comparison("best_loss", "loss after the last step, best learning rate",
                                          higher_is_better=False, unit=""),
                               Comparison("diverged_share", "share of learning rates that diverged",
                                          higher_is_better=False),
                               Comparison("best_steps", "steps to the loss threshold, best learning rate",
                                          higher_is_better=False, unit="steps")],
    setup="A small lecture CNN (8 and 16 kernels) with or without batch norm, trained by plain gradient descent "
          "(SGD without momentum, 64 images a step) from the same seed on the same batches, standardized "
          "inputs, at every learning rate of a grid (quick budget: 0.01, 0.1, 0.5, 2 for 120 steps; standard: 7 "
          "rates from 0.003 to 3 for 300 steps). Compared: the loss averaged "
          "over the last 10 steps at each arm's best learning rate, and the share of learning rates at which "
          "the loss blew up (a diverged run counts as loss 10).",
    explanation="Batch norm keeps the numbers inside the network at a steady scale whatever the weights do, so "
                "larger learning rates work and the loss falls faster in the same number of steps.",
    citation="Ioffe & Szegedy (2015), Batch Normalization",
    published="Batch norm reached the same accuracy in 14 times fewer steps and allowed much higher learning "
              "rates.",
    expects="batch norm ends at a lower loss and diverges less"))

_add(Claim(
    name="dropout", title="Dropout curbs overfitting",
    question="On a small training set, does dropout (rate 0.5) shrink the gap between accuracy on the training "
             "images and on new images, and raise the test accuracy?",
    arms=("dropout", "no-dropout"), conditions={"quick": [""], "standard": [""]}, seeds={"quick": 3, "standard": 5},
    settings={"quick": {"data": "fashion-mnist", "per_class": 50, "epochs": 20, "hidden": [256, 128]},
              "standard": {"data": "fashion-mnist", "per_class": 100, "epochs": 40, "hidden": [512, 256]}},
    trial=trials.dropout,
    comparisons=lambda conds: [Comparison("gap", "train-test accuracy gap", higher_is_better=False),
                               Comparison("test_accuracy", "test accuracy")],
    setup="A dense network (two hidden layers of 256 and 128 units, 20 epochs, 50 images per class at the quick "
          "budget; 512 and 256 units, 40 epochs, 100 images per class at the standard one), with dropout 0.5 "
          "after each hidden layer or none; no weight decay, no label smoothing, no augmentation, so dropout is "
          "the only brake. Scored on its own training images and on the 10,000 test images.",
    explanation="With few images a big network can learn them by heart: near 100% on them, much less on new "
                "ones. Dropout switches off random neurons at every step, so no neuron can rely on another: the "
                "network learns sturdier features and memorises less.",
    citation="Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014), Dropout",
    published="Dropout lowered the test error of networks on MNIST, CIFAR, ImageNet and others, most when "
              "the training set was small relative to the network.",
    expects="dropout has the smaller gap"))

_add(Claim(
    name="pooling", title="Pooling gives some translation invariance",
    question="If the test images move by a few pixels, does a CNN with max pooling change its answer less often "
             "than the same CNN without pooling?",
    arms=("max-pooling", "no-pooling"), conditions={"quick": [""], "standard": [""]},
    seeds={"quick": 3, "standard": 5},
    settings={"quick": {"data": "fashion-mnist", "per_class": 100, "epochs": 2, "shifts": [1, 2, 3, 4],
                        "pooled": trials.POOLED, "unpooled": trials.UNPOOLED},
              "standard": {"data": "fashion-mnist", "per_class": 500, "epochs": 6, "shifts": [1, 2, 3, 4],
                           "pooled": trials.POOLED, "unpooled": trials.UNPOOLED}},
    trial=trials.pooling,
    comparisons=lambda conds: ([Comparison("unchanged_2px", "predictions unchanged when moved by 2 pixels")]
                               + [Comparison(f"unchanged_{k}px", f"predictions unchanged when moved by {k} pixel"
                                             f"{'s' if k > 1 else ''}") for k in (1, 3, 4)]
                               + [Comparison("test_accuracy", "test accuracy")]),
    setup="Two CNNs that differ only in max pooling: two 3x3 convolutions (16 and 32 kernels, 'same' padding) "
          "each followed by 2x2 max pooling, or the same convolutions without pooling (the dense layer then "
          "reads a 28x28 map instead of a 7x7 one). Trained on the same images (100 per class and 2 epochs at the "
          "quick budget, 500 and 6 at the standard one); each test image is then moved "
          "by 1, 2, 3 and 4 pixels in a random direction, and we count how often the prediction stays the same.",
    explanation="Max pooling keeps the largest value of each window, and the largest value often stays the "
                "largest when the picture moves a little, so the next layers see nearly the same thing. The "
                "invariance is only partial: a move that crosses a window border changes the result.",
    citation="Azulay & Weiss (2019), Why do deep convolutional networks generalize so poorly to small image "
             "transformations?",
    published="Modern CNNs change their prediction for a sizeable share of images moved by one pixel; "
              "subsampling (strides and pooling) breaks exact invariance.",
    expects="max pooling keeps more predictions unchanged"))

_add(Claim(
    name="transfer", title="Transfer learning beats training from scratch with few labels",
    question="With only a few labelled images per class, does a frozen ImageNet network with a new head beat "
             "the lecture's CNN trained from scratch?",
    arms=("transfer", "scratch"), conditions={"quick": ["5", "20"], "standard": ["5", "20", "80"]},
    seeds={"quick": 3, "standard": 5},
    settings={"quick": {"data": "fashion-mnist", "epochs": 15, "input_size": 112},
              "standard": {"data": "fashion-mnist", "epochs": 15, "input_size": 224}},
    trial=trials.transfer,
    comparisons=_per_condition("test_accuracy", "test accuracy", label=lambda c: f"{c} labels per class"),
    setup="EfficientNet-Lite0 pretrained on ImageNet, frozen, with a new dense head (12,810 weights trained) "
          "against the lecture's CNN trained from scratch, on the same 5 and 20 Fashion-MNIST images per class "
          "(the standard budget adds 80); the pretrained network sees the images enlarged (112 pixels at the "
          "quick budget, 224 at the standard one, the size it "
          "was trained at). The test images' backbone features are computed once and reused by every seed (the "
          "backbone is frozen, so they are the same).",
    explanation="The pretrained network already knows edges, textures and shapes from a million photos, so a "
                "few examples are enough to learn which of its features mean 'sneaker'. From scratch, the CNN "
                "has to learn those features from the same few examples.",
    citation="Yosinski, Clune, Bengio & Lipson (2014), How transferable are features in deep neural networks?",
    published="Features learned on ImageNet transfer to new tasks, and transferring them beats random "
              "initialization, most with little data.",
    expects="the transferred network scores higher, most with few labels"))
