"""The network builder's maths: a stack's layer table, and the same network as cnnlab code and as Keras code.

The table comes from :func:`cnnlab.models.layer_table` of the very model ``cnnlab.create_model("stack", ...)``
builds, so every shape, parameter count and FLOP count on the page is what ``cnnlab.summary`` prints; the
page's Train button trains that model with the options of :func:`train_options`, which the cnnlab code
shows word for word.

>>> t = table("conv 8 3, relu, maxpool 2, flatten, dense", DATA["digits"])
>>> [(r["label"], r["output"], r["params"]) for r in t["rows"]]
[('Conv2D 8 3x3', [8, 6, 6], 80), ('ReLU', [8, 6, 6], 0), ('MaxPooling2D 2x2', [8, 3, 3], 0), ('Flatten', [72], 0), \
('Dense 10', [10], 730)]
>>> t["totals"]["params"], t["totals"]["keras_params"]
(810, 810)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cnnlab.models import create_model, layer_table
from cnnlab.models.stack import canonical, keras_params, module_names, plan

PROJECT_SIZE = 32  # pixels a side of a project's photos in the builder: small, so a classroom run takes seconds


@dataclass(frozen=True)
class DataChoice:
    """A data set the builder trains on, and the settings of a classroom-sized run.

    Args:
        key: what the page sends ("fashion-mnist", "digits", "project:ID").
        spec: the engine's data spec ("fashion-mnist", "digits", "folder:PATH").
        name: the name shown.
        shape: one image's shape (C, H, W).
        classes: the class names.
        per_class: training images kept per class (None: all), so a run takes seconds, not minutes.
        image_size: the size photos are decoded at (folders only).
    """

    key: str
    spec: str
    name: str
    shape: tuple[int, int, int]
    classes: tuple[str, ...]
    per_class: int | None = None
    image_size: int | None = None


FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
DATA = {
    "fashion-mnist": DataChoice("fashion-mnist", "fashion-mnist", "Fashion-MNIST", (1, 28, 28), FASHION, per_class=300),
    "digits": DataChoice("digits", "digits", "digits", (1, 8, 8), tuple(str(i) for i in range(10))),
}


def project_choice(project_id: str, name: str, folder: str, classes: list[str], channels: int = 3) -> DataChoice:
    """A studio project as builder data: its photos at :data:`PROJECT_SIZE` pixels.

    Args:
        project_id: the project's id.
        name: its name.
        folder: the folder holding its class folders (what the training reads).
        classes: the class folder names.
        channels: 3, or 1 when every photo is gray (as training will read them: a folder's channels are "auto").

    Returns:
        A :class:`DataChoice`.

    >>> project_choice("pets-1", "Pets", "/tmp/pets", ["cat", "dog"]).shape
    (3, 32, 32)
    """
    return DataChoice(f"project:{project_id}", f"folder:{folder}", f"project {name}",
                      (channels, PROJECT_SIZE, PROJECT_SIZE), tuple(classes), image_size=PROJECT_SIZE)


def table(layers: str, data: DataChoice) -> dict:
    """Each layer of a stack with its output shape, parameters and FLOPs, as ``cnnlab.summary`` counts them.

    Args:
        layers: the stack (see :mod:`cnnlab.models.stack`).
        data: the data it is for (its image shape and number of classes).

    Returns:
        ``{"layers": the spec in the builder's words, "input": [C, H, W], "rows": [{"n", "name", "label",
        "type", "output", "params", "keras_params", "flops"}], "totals": {"params", "keras_params", "flops"}}``.

    Raises:
        StackError: a stack that cannot work (naming the layer).

    >>> table("flatten, dense", DATA["digits"])["totals"]
    {'params': 650, 'keras_params': 650, 'flops': 1280}
    """
    c, h, w = data.shape
    spec = canonical(layers)
    steps = plan(spec, c, (h, w), len(data.classes))  # refuses impossible or too big stacks before building
    model = create_model("stack", num_classes=len(data.classes), in_channels=c, image_size=[h, w], layers=spec)
    measured = {r["name"]: r for r in layer_table(model, data.shape)}
    rows = []
    for n, (step, name) in enumerate(zip(steps, module_names(spec), strict=True), 1):
        r = measured[name]
        rows.append({"n": n, "name": name, "label": step.label, "type": r["type"], "output": list(r["output"]),
                     "params": r["params"], "keras_params": keras_params(step), "flops": r["flops"]})
    totals = {"params": sum(p.numel() for p in model.parameters()),
              "keras_params": sum(r["keras_params"] for r in rows), "flops": sum(r["flops"] for r in rows)}
    return {"layers": spec, "input": list(data.shape), "rows": rows, "totals": totals}


def train_options(layers: str, data: DataChoice, epochs: int) -> dict:
    """The flat training options of the page's Train button (for ``cnnlab.train`` or ``cnnlab.Job.start``).

    A classroom-sized run: a subset of the bigger data sets, a few epochs, no augmentation.

    >>> train_options("flatten, dense", DATA["digits"], 2)
    {'data': 'digits', 'model': 'stack', 'model_args': {'layers': 'flatten, dense'}, 'epochs': 2, 'augment': 'none'}
    """
    options = {"data": data.spec, "model": "stack", "model_args": {"layers": canonical(layers)}, "epochs": epochs,
               "augment": "none"}
    if data.per_class:
        options["per_class"] = data.per_class
    if data.image_size:
        options["image_size"] = data.image_size
    return options


def cnnlab_code(layers: str, data: DataChoice, epochs: int) -> str:
    """The network and its training as cnnlab Python code (it runs: the tests run it).

    >>> print(cnnlab_code("flatten, dense", DATA["digits"], 1).splitlines()[2])
    layers = "flatten, dense"
    """
    spec = canonical(layers)
    c, h, w = data.shape
    opts = train_options(spec, data, epochs)
    extra = "".join(f", {k}={opts[k]!r}" for k in ("per_class", "image_size") if k in opts)
    flags = "".join(f" --{k.replace('_', '-')} {opts[k]}" for k in ("per_class", "image_size") if k in opts)
    return "\n".join([
        "import cnnlab",
        "",
        f"layers = {json.dumps(spec)}",
        "",
        "# the table on this page: output shapes, parameters, FLOPs",
        f'model = cnnlab.create_model("stack", num_classes={len(data.classes)}, in_channels={c}, '
        f"image_size={h}, layers=layers)",
        f"print(cnnlab.summary(model, ({c}, {h}, {w})))",
        "",
        "# train it as the Train button does",
        f"meta = cnnlab.train(data={json.dumps(data.spec)}, model=\"stack\", model_args={{\"layers\": layers}},",
        f"                    epochs={epochs}{extra}, augment=\"none\", out=\"runs/my-network\", overwrite=True)",
        "print(f\"test accuracy: {meta['metrics']['test_accuracy']:.1%}\")",
        "",
        "# the same in a terminal:",
        f"#   cnnlab train --data {data.spec} --model stack --epochs {epochs}{flags} --augment none \\",
        f"#       --model-arg layers=\"{spec}\"",
    ])


def keras_code(layers: str, data: DataChoice, epochs: int) -> str:
    """The same network in Keras 3 (``keras.Sequential``), each line commented with what Keras's summary shows.

    Keras puts channels last: a (C, H, W) map here is (None, H, W, C) there. Its parameter counts equal
    cnnlab's except batch norm, whose moving mean and variance Keras counts too (non-trainable).

    >>> code = keras_code("conv 8 3 same, relu, flatten, dense", DATA["digits"], 1)
    >>> [" ".join(line.split()) for line in code.splitlines() if "Conv2D" in line or "softmax" in line]
    ['layers.Conv2D(8, 3, padding="same"), # (None, 8, 8, 8) 80 params', \
'layers.Dense(10, activation="softmax"), # (None, 10) 5,130 params']
    """
    spec = canonical(layers)
    c, h, w = data.shape
    steps = plan(spec, c, (h, w), len(data.classes))
    body = []
    for i, s in enumerate(steps):
        x = s.layer
        if x.kind == "conv":
            line = f"layers.Conv2D({x.size}, {x.kernel}" + (', padding="same"' if x.padding == "same" else "") + ")"
        elif x.kind == "batchnorm":
            line = "layers.BatchNormalization()"
        elif x.kind == "relu":
            line = 'layers.Activation("relu")'
        elif x.kind == "maxpool":
            line = f"layers.MaxPooling2D({x.size})"
        elif x.kind == "dropout":
            line = f"layers.Dropout({x.rate:g})"
        elif x.kind == "flatten":
            line = "layers.Flatten()"
        elif i == len(steps) - 1:
            line = f'layers.Dense({s.output[0]}, activation="softmax")'
        else:
            line = f"layers.Dense({s.output[0]})"
        out = s.output
        shape = f"(None, {out[1]}, {out[2]}, {out[0]})" if len(out) == 3 else f"(None, {out[0]})"
        body.append((line + ",", f"{shape}  {keras_params(s):,} params"))
    width = max(len(a) for a, _ in body)
    lines = ["import keras", "from keras import layers", ""]
    lines += _keras_data(data)
    lines += ["", "normalize = layers.Normalization()  # (pixels - mean) / std of the training images, as cnnlab does",
              "normalize.adapt(x_train)" if not data.spec.startswith("folder:") else
              "normalize.adapt(train.map(lambda x, y: x))", "",
              "model = keras.Sequential([",
              f"    keras.Input(shape=({h}, {w}, {c})),",
              "    normalize,"]
    lines += [f"    {a:<{width}}  # {b}" for a, b in body]
    lines += ["])", "model.summary()",
              'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])']
    if data.spec.startswith("folder:"):
        lines += [f"model.fit(train, validation_data=test, epochs={epochs})", "model.evaluate(test)"]
    else:
        lines += [f"model.fit(x_train, y_train, epochs={epochs}, validation_split=0.1)",
                  "model.evaluate(x_test, y_test)"]
    return "\n".join(lines)


def _keras_data(data: DataChoice) -> list[str]:
    if data.key == "fashion-mnist":
        return ["(x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()",
                "x_train, x_test = x_train[..., None], x_test[..., None]  # (N, 28, 28, 1): Keras puts channels last"]
    if data.key == "digits":
        return ["from sklearn.datasets import load_digits",
                "from sklearn.model_selection import train_test_split",
                "",
                "digits = load_digits()",
                "x = (digits.images * 255 / 16).round().astype(\"uint8\")[..., None]"
                "  # (N, 8, 8, 1), 0..255 like cnnlab",
                "x_train, x_test, y_train, y_test = train_test_split(x, digits.target, test_size=0.2, random_state=0)"]
    folder = data.spec.split(":", 1)[1]
    size = f"({data.image_size}, {data.image_size})"
    names = json.dumps(list(data.classes))
    return [f"folder = {json.dumps(folder)}  # your project's photos, one folder per class",
            f"classes = {names}",
            f"train = keras.utils.image_dataset_from_directory(folder, class_names=classes, image_size={size},",
            '                                                   validation_split=0.2, subset="training", seed=0)',
            f"test = keras.utils.image_dataset_from_directory(folder, class_names=classes, image_size={size},",
            '                                                  validation_split=0.2, subset="validation", seed=0)']
