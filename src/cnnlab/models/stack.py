"""A network stacked from the lecture's layers, written as text: ``"conv 32 3, batchnorm, relu, ..., dense"``.

The lecture's Keras slide builds networks by stacking layers one after another (``model.add(layers.Conv2D(64,
(3,3)))``, ``BatchNormalization()``, ``Activation('relu')``, ``Flatten()``, ``Dense(64)``...). The ``stack`` model
does the same from a short spec, one layer per comma:

    conv F [K] [same|valid]   Conv2D: F filters of K x K (K = 3 if left out); padding "valid" (Keras's default:
                              the map shrinks by K - 1) or "same" (the map keeps its size)
    batchnorm                 BatchNormalization (2-D after convolutions, 1-D after Flatten)
    relu                      Activation("relu")
    maxpool [P]               MaxPooling2D: the biggest number of each P x P window (P = 2 if left out)
    dropout R                 Dropout: switch off a share R of the numbers while training
    flatten                   Flatten: the map becomes one long list of numbers
    dense [N]                 Dense: N units; the last Dense leaves N out and gets one unit per class

Keras spellings work too (``Conv2D(32, (3, 3), padding="same")``, ``Activation('relu')``, ``Dense(64)``), so a
line of the slide can be pasted. Every stack that cannot work is refused with one :class:`StackError` that
names the layer and says, in plain words, what to change. Convolutions keep their bias, as Keras's do, so
the parameter counts equal Keras's (apart from batch norm's running averages, see :func:`keras_params`).

>>> import torch
>>> from cnnlab.models import create_model
>>> model = create_model("stack", num_classes=10, in_channels=1, image_size=28,
...                      layers="conv 8 3, relu, maxpool 2, flatten, dense")
>>> model(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)).shape
torch.Size([2, 10])
>>> [(s.label, s.output, s.params) for s in plan("conv 8 3, relu, maxpool 2, flatten, dense", 1, 28, 10)]
[('Conv2D 8 3x3', (8, 26, 26), 80), ('ReLU', (8, 26, 26), 0), ('MaxPooling2D 2x2', (8, 13, 13), 0), \
('Flatten', (1352,), 0), ('Dense 10', (10,), 13530)]
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch.nn as nn

from cnnlab.errors import ConfigError
from cnnlab.models.layers import Normalize, default_stats
from cnnlab.models.lecture import Classifier
from cnnlab.models.registry import register_model

# the lecture's batch-norm slide, for 10 classes: Conv2D(64, (3,3)) BN ReLU Flatten Dense(64) BN ReLU Dense
SLIDE = "conv 64 3, batchnorm, relu, flatten, dense 64, batchnorm, relu, dense"
MAX_LAYERS = 40
MAX_PARAMS = 5_000_000  # a laptop in a classroom trains this many in about a minute an epoch on a data subset
MAX_FLOPS = 1_000_000_000  # per image, forward
RANGES = {"filters": (1, 512), "kernel": (1, 11), "pool": (2, 8), "units": (1, 4096)}
KINDS = ("conv", "batchnorm", "relu", "maxpool", "dropout", "flatten", "dense")
ALIASES = {  # every accepted name (lower case) -> its kind
    "conv": "conv", "conv2d": "conv", "convolution": "conv",
    "batchnorm": "batchnorm", "bn": "batchnorm", "batchnormalization": "batchnorm", "batch_norm": "batchnorm",
    "batchnorm2d": "batchnorm", "batchnorm1d": "batchnorm",
    "relu": "relu", "activation": "relu",
    "maxpool": "maxpool", "maxpooling2d": "maxpool", "maxpool2d": "maxpool", "pool": "maxpool",
    "dropout": "dropout",
    "flatten": "flatten",
    "dense": "dense", "linear": "dense",
}
# words that may stand in a Keras-style layer without changing it
KEYWORDS = {"filters", "kernel_size", "padding", "pool_size", "rate", "units", "layers"}
FORM = {"conv": "conv FILTERS KERNEL, e.g. 'conv 32 3' (add 'same' to keep the size)", "batchnorm": "batchnorm",
        "relu": "relu", "maxpool": "maxpool SIZE, e.g. 'maxpool 2'", "dropout": "dropout RATE, e.g. 'dropout 0.3'",
        "flatten": "flatten", "dense": "dense UNITS, e.g. 'dense 64' (the last one: just 'dense')"}


class StackError(ConfigError):
    """A stack of layers that cannot work: the sentence says which layer and what to change.

    Attributes:
        layer: the layer's number, counting from 1 (None when the problem is the whole stack).
        sentence: the problem and its fix, in plain words (also the error's hint).
    """

    def __init__(self, spec: str, sentence: str, layer: int | None = None):
        self.layer, self.sentence = layer, sentence
        super().__init__("model_args.layers", spec, "a stack of layers that fits together", hint=sentence)


@dataclass(frozen=True)
class Layer:
    """One layer of a stack, as parsed: its kind and numbers (None where the kind has none)."""

    kind: str
    size: int | None = None  # conv filters, maxpool size, dense units (None: the last dense's classes)
    kernel: int | None = None  # conv kernel size
    padding: str = "valid"  # conv padding
    rate: float | None = None  # dropout rate

    def text(self) -> str:
        """The layer in the spec's own words (``conv 32 3 same``)."""
        if self.kind == "conv":
            return f"conv {self.size} {self.kernel}" + (" same" if self.padding == "same" else "")
        if self.kind == "maxpool":
            return f"maxpool {self.size}"
        if self.kind == "dropout":
            return f"dropout {self.rate:g}"
        if self.kind == "dense" and self.size is not None:
            return f"dense {self.size}"
        return self.kind


@dataclass(frozen=True)
class Step:
    """One layer with what it does to one image: output shape (C, H, W) or (N,), parameters, FLOPs."""

    layer: Layer
    label: str  # "Conv2D 32 3x3", "Dense 10"
    output: tuple[int, ...]
    params: int
    flops: int  # forward, one image, 2 per multiply-add (as cnnlab.summary counts)


def parse(spec: str) -> list[Layer]:
    """The layers of a spec, checked one by one (their numbers and spelling; not yet how they fit together).

    Args:
        spec: layers separated by commas (see the module's docstring); commas inside parentheses belong to
            a Keras-style layer (``Conv2D(32, (3, 3))``).

    Returns:
        The list of :class:`Layer`.

    Raises:
        StackError: an empty stack or layer, an unknown layer (with the closest name), a number out of range.

    >>> parse("Conv2D(32, (3, 3), padding='same'), Activation('relu'), MaxPooling2D(2), Flatten(), Dense(10)")[0]
    Layer(kind='conv', size=32, kernel=3, padding='same', rate=None)
    >>> parse("conv 32 3, maxpol 2")
    Traceback (most recent call last):
      ...
    cnnlab.models.stack.StackError: model_args.layers='conv 32 3, maxpol 2': expected a stack of layers that fits \
together; layer 2 'maxpol 2' is not a layer this builder knows (did you mean 'maxpool'?); the layers are conv, \
batchnorm, relu, maxpool, dropout, flatten and dense
    """
    if not isinstance(spec, str) or not spec.strip():
        raise StackError(str(spec), "the stack is empty: start with a layer such as 'conv 32 3' and end with 'dense'")
    items = _split(spec)
    if len(items) > MAX_LAYERS:
        raise StackError(spec, f"the stack has {len(items)} layers; at most {MAX_LAYERS} fit on this page")
    return [_layer(spec, i, item) for i, item in enumerate(items, 1)]


def plan(layers: str | Sequence[Layer], in_channels: int, image_size: int | Sequence[int],
         num_classes: int) -> list[Step]:
    """What each layer does to one image, worked out without building the network; refuses impossible stacks.

    Args:
        layers: a spec (see :func:`parse`) or parsed layers.
        in_channels: channels of the images (1 gray, 3 colour).
        image_size: the images' size, one number (square) or (H, W).
        num_classes: outputs of the last Dense layer.

    Returns:
        One :class:`Step` per layer.

    Raises:
        StackError: the first layer that does not fit (pooling or a kernel bigger than the map, a convolution
            after Flatten, Dense before Flatten, no Dense at the end...), or a network too big for a laptop.

    >>> plan("conv 32 3, flatten, dense 64", 1, 28, 10)
    Traceback (most recent call last):
      ...
    cnnlab.models.stack.StackError: model_args.layers='conv 32 3, flatten, dense 64': expected a stack of layers \
that fits together; the last Dense layer (layer 3) has 64 units, but there are 10 classes: write 'dense' \
without a number there (it gets one unit per class)
    """
    spec = layers if isinstance(layers, str) else ", ".join(x.text() for x in layers)
    layers = parse(layers) if isinstance(layers, str) else list(layers)
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    shape: tuple[int, ...] = (in_channels, h, w)  # (C, H, W) until Flatten, then (N,)
    dense_at = [i for i, x in enumerate(layers) if x.kind == "dense"]
    flat_at = None
    steps = []
    for i, x in enumerate(layers):
        n = i + 1

        def refuse(sentence: str, n=n, x=x):
            raise StackError(spec, sentence.replace("LAYER", f"layer {n} ({_label(x)})"), n)

        params = flops = 0
        if x.kind in ("conv", "maxpool") and len(shape) == 1:
            what = "convolution" if x.kind == "conv" else "max pooling"
            refuse(f"LAYER comes after Flatten (layer {flat_at}), but {what} needs a 2-D map with channels: "
                   "move it before Flatten")
        if x.kind == "conv":
            c, hh, ww = shape
            if x.padding == "valid" and min(hh, ww) < x.kernel:
                refuse(f"LAYER gets a {_map(shape)} map, smaller than its {x.kernel}x{x.kernel} kernel: use "
                       "padding 'same', a smaller kernel, or pool less before it")
            if x.padding == "valid":
                hh, ww = hh - x.kernel + 1, ww - x.kernel + 1
            params = x.size * (c * x.kernel * x.kernel + 1)
            flops = 2 * c * x.kernel * x.kernel * x.size * hh * ww
            shape = (x.size, hh, ww)
        elif x.kind == "maxpool":
            c, hh, ww = shape
            if min(hh, ww) < x.size:
                refuse(f"LAYER gets a {_map(shape)} map: there is no {x.size}x{x.size} window left to pool. "
                       "Remove it, or pool less before it")
            shape = (c, hh // x.size, ww // x.size)
        elif x.kind == "batchnorm":
            params = 2 * shape[0]  # a scale and a shift per channel (per unit after Flatten)
        elif x.kind == "flatten":
            if flat_at is not None:
                refuse(f"LAYER: the numbers are already flat (layer {flat_at} flattened them): remove it")
            flat_at = n
            shape = (_prod(shape),)
        elif x.kind == "dense":
            if len(shape) != 1:
                refuse(f"LAYER gets a {shape[0]}-channel {_map(shape)} map, but a Dense layer needs one flat list of "
                       "numbers: add Flatten before it")
            last = i == dense_at[-1]
            if x.size is None and not last:
                refuse("LAYER has no number of units; only the last Dense may leave it out (it gets one unit per "
                       "class): write e.g. 'dense 64'")
            if last and i == len(layers) - 1 and x.size not in (None, num_classes):
                raise StackError(spec, f"the last Dense layer (layer {n}) has {x.size} units, but there are "
                                       f"{num_classes} classes: write 'dense' without a number there (it gets one "
                                       "unit per class)", n)
            units = num_classes if x.size is None else x.size
            params = units * (shape[0] + 1)
            flops = 2 * shape[0] * units
            shape = (units,)
        steps.append(Step(x, _label(x, shape), shape, params, flops))
    if layers[-1].kind != "dense":
        raise StackError(spec, f"the last layer (layer {len(layers)}, {_label(layers[-1])}) must be a Dense layer that "
                               "gives one score per class: add 'dense' at the end", len(layers))
    total, cost = sum(s.params for s in steps), sum(s.flops for s in steps)
    if total > MAX_PARAMS:
        big = max(range(len(steps)), key=lambda j: steps[j].params)
        raise StackError(spec, f"the network has {total:,} parameters, more than a laptop in class trains quickly "
                               f"({MAX_PARAMS:,}); layer {big + 1} ({steps[big].label}) alone has "
                               f"{steps[big].params:,}: " + ("use fewer filters or a smaller kernel"
                                                              if steps[big].layer.kind == "conv" else
                                                              "add MaxPooling2D before Flatten, or use fewer units"),
                         big + 1)
    if cost > MAX_FLOPS:
        big = max(range(len(steps)), key=lambda j: steps[j].flops)
        raise StackError(spec, f"one image costs {cost:,} FLOPs, more than a laptop in class can train quickly "
                               f"({MAX_FLOPS:,}); layer {big + 1} ({steps[big].label}) costs the most: pool "
                               "earlier, or use fewer filters", big + 1)
    return steps


def canonical(spec: str) -> str:
    """A spec in the builder's own words, one space after each comma.

    >>> canonical("Conv2D(64, (3,3)), BatchNormalization(), Activation('relu'), Flatten(), Dense(10)")
    'conv 64 3, batchnorm, relu, flatten, dense 10'
    """
    return ", ".join(x.text() for x in parse(spec))


def keras_params(step: Step) -> int:
    """The parameter count Keras's ``model.summary()`` shows for a layer.

    Equal to cnnlab's except batch norm: Keras also counts its moving mean and variance (2 per channel,
    "non-trainable params"), which PyTorch keeps as buffers, not parameters.

    >>> [keras_params(s) for s in plan("conv 4 3, batchnorm, flatten, dense", 1, 8, 10)]
    [40, 16, 0, 1450]
    """
    return 2 * step.params if step.layer.kind == "batchnorm" else step.params


@register_model(augment=None, about="your own stack of the lecture's layers, e.g. layers='conv 32 3, relu, "
                                    "maxpool 2, flatten, dense'")
def stack(num_classes: int = 10, in_channels: int = 1, image_size: int | Sequence[int] = 28, layers: str = SLIDE,
          mean=None, std=None) -> Classifier:
    """A network stacked from the lecture's layers (see the module's docstring for the spec).

    Args:
        num_classes: outputs of the last Dense layer.
        in_channels: 1 for gray images, 3 for colour.
        image_size: the images' size, one number (square) or (H, W).
        layers: the stack, e.g. ``"conv 32 3, batchnorm, relu, maxpool 2, flatten, dense"``; the default is the
            lecture's batch-norm slide.
        mean, std: per-channel normalization in pixel units (training sets them from the data).

    Returns:
        A :class:`Classifier`: its features are the layers before Flatten, its head Flatten and what follows.

    Raises:
        StackError: a stack that cannot work (the message names the layer and the fix).

    >>> import torch
    >>> m = stack(num_classes=3, in_channels=1, image_size=8, layers="conv 4 3 same, maxpool 2, flatten, dense")
    >>> m.forward_features(torch.zeros(2, 1, 8, 8, dtype=torch.uint8)).shape   # (N, C, H, W) before Flatten
    torch.Size([2, 4, 4, 4])
    >>> module_names("conv 4 3 same, maxpool 2, flatten, dense")
    ['features.0', 'features.1', 'head.0', 'head.1']
    """
    steps = plan(layers, in_channels, image_size, num_classes)
    mean, std = (mean, std) if mean is not None else default_stats(in_channels)
    features: list[nn.Module] = []
    head: list[nn.Module] = []
    shape: tuple[int, ...] = (in_channels,)
    for s in steps:
        x = s.layer
        if x.kind == "conv":
            module = nn.Conv2d(shape[0], x.size, x.kernel, padding=x.padding)
        elif x.kind == "batchnorm":
            module = nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
        elif x.kind == "relu":
            module = nn.ReLU()
        elif x.kind == "maxpool":
            module = nn.MaxPool2d(x.size)
        elif x.kind == "dropout":
            module = nn.Dropout(x.rate)
        elif x.kind == "flatten":
            module = nn.Flatten()
        else:
            module = nn.Linear(shape[0], s.output[0])
        (head if head or x.kind == "flatten" else features).append(module)
        shape = s.output
    return Classifier(Normalize(mean, std), nn.Sequential(*features) if features else nn.Identity(),
                      nn.Sequential(*head))


def module_names(layers: str | Sequence[Layer]) -> list[str]:
    """The name :func:`cnnlab.models.layer_table` gives each layer of a stack model, in order."""
    layers = parse(layers) if isinstance(layers, str) else list(layers)
    flat = next(i for i, x in enumerate(layers) if x.kind == "flatten") if any(
        x.kind == "flatten" for x in layers) else len(layers)
    return [f"features.{i}" if i < flat else f"head.{i - flat}" for i in range(len(layers))]


# ---------------------------------------------------------------- helpers


def _split(spec: str) -> list[str]:
    """Split at commas outside parentheses."""
    items, depth, start = [], 0, 0
    for j, ch in enumerate(spec):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            items.append(spec[start:j])
            start = j + 1
    items.append(spec[start:])
    return [s.strip() for s in items]


def _layer(spec: str, n: int, item: str) -> Layer:
    if not item:
        raise StackError(spec, f"layer {n} is empty: remove the extra comma", n)
    words = [t for t in re.split(r"[\s()\[\],'\"=]+", item.lower()) if t and t not in KEYWORDS]
    name, args = words[0], words[1:]
    if name == "activation" and args[:1] == ["relu"]:
        args = args[1:]
    kind = ALIASES.get(name)
    if kind is None:
        if name in ("softmax", "sigmoid") or (name == "activation" and args[:1] in (["softmax"], ["sigmoid"])):
            raise StackError(spec, f"layer {n} '{item}': leave it out; the last Dense gives one score per class and "
                                   "training applies softmax itself (the Keras code adds activation='softmax' to its "
                                   "last Dense)", n)
        close = difflib.get_close_matches(name, list(ALIASES), n=1, cutoff=0.5)
        maybe = f" (did you mean '{ALIASES[close[0]]}'?)" if close else ""
        raise StackError(spec, f"layer {n} '{item}' is not a layer this builder knows{maybe}; the layers are "
                               f"{', '.join(KINDS[:-1])} and {KINDS[-1]}", n)
    padding = "valid"
    for word in ("same", "valid"):
        if kind == "conv" and word in args:
            padding = word
            args = [a for a in args if a != word]

    def bad(what: str):
        raise StackError(spec, f"layer {n} '{item}': {what}; write it as {FORM[kind]}", n)

    numbers = []
    for a in args:
        try:
            numbers.append(float(a))
        except ValueError:
            bad(f"'{a}' is not a number")
    whole = [int(v) for v in numbers if v.is_integer()]
    if kind in ("batchnorm", "relu", "flatten"):
        if numbers:
            bad("it takes no numbers")
        return Layer(kind)
    if kind == "dropout":
        if len(numbers) != 1 or not 0 <= numbers[0] < 1:
            bad("the rate must be one number from 0 up to (but not including) 1")
        return Layer(kind, rate=numbers[0])
    if len(whole) != len(numbers):
        bad("its numbers must be whole numbers")
    if kind == "conv":
        if len(whole) == 3 and whole[1] == whole[2]:  # Keras's (3, 3)
            whole = whole[:2]
        if not 1 <= len(whole) <= 2:
            bad("it takes the number of filters and one kernel size (square kernels only)")
        filters, kernel = whole[0], whole[1] if len(whole) == 2 else 3
        _check(spec, n, item, "filters", filters)
        _check(spec, n, item, "kernel", kernel)
        if padding == "same" and kernel % 2 == 0:
            raise StackError(spec, f"layer {n} '{item}': padding 'same' needs an odd kernel size (1, 3, 5...), so "
                                   f"that the kernel has a centre pixel: use {kernel - 1} or {kernel + 1}, "
                                   "or drop 'same'",
                             n)
        return Layer(kind, size=filters, kernel=kernel, padding=padding)
    if kind == "maxpool":
        if len(whole) == 2 and whole[0] == whole[1]:
            whole = whole[:1]
        if len(whole) > 1:
            bad("it takes one pool size (square windows only)")
        size = whole[0] if whole else 2
        _check(spec, n, item, "pool", size)
        return Layer(kind, size=size)
    if len(whole) > 1:  # dense
        bad("it takes one number, its units")
    if whole:
        _check(spec, n, item, "units", whole[0])
    return Layer(kind, size=whole[0] if whole else None)


def _check(spec: str, n: int, item: str, what: str, value: int) -> None:
    lo, hi = RANGES[what]
    if not lo <= value <= hi:
        words = {"filters": "the number of filters", "kernel": "the kernel size", "pool": "the pool size",
                 "units": "the number of units"}[what]
        raise StackError(spec, f"layer {n} '{item}': {words} must be a whole number from {lo} to {hi}, not {value}", n)


def _label(x: Layer, shape: tuple[int, ...] | None = None) -> str:
    if x.kind == "conv":
        return f"Conv2D {x.size} {x.kernel}x{x.kernel}" + (" same" if x.padding == "same" else "")
    if x.kind == "maxpool":
        return f"MaxPooling2D {x.size}x{x.size}"
    if x.kind == "dropout":
        return f"Dropout {x.rate:g}"
    if x.kind == "dense":
        units = x.size if x.size is not None else (shape[0] if shape else None)
        return f"Dense {units}" if units is not None else "Dense"
    return {"batchnorm": "BatchNormalization", "relu": "ReLU", "flatten": "Flatten"}[x.kind]


def _map(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[2]}" if len(shape) == 3 else f"flat {shape[0]}"


def _prod(shape: tuple[int, ...]) -> int:
    out = 1
    for v in shape:
        out *= v
    return out
