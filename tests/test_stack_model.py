"""The stack model (the network builder's engine): its spec, every refusal sentence, equality with a hand-built
PyTorch network and with cnnlab.summary, training through cnnlab.train, and the code the builder shows."""

from __future__ import annotations

import ast
import contextlib
import io
import os

import pytest
import torch
import torch.nn as nn

import cnnlab
from cnnlab.config import RunConfig
from cnnlab.learn.lab.builder import DATA, cnnlab_code, keras_code, project_choice, table, train_options
from cnnlab.models import Classifier, Normalize, check_model_args, create_model, layer_table, model_info
from cnnlab.models.stack import SLIDE, Layer, StackError, canonical, keras_params, module_names, parse, plan

LECTURE = "conv 32 3 same, batchnorm, relu, maxpool 2, conv 64 3, batchnorm, relu, maxpool 2, flatten, dense 128, " \
          "relu, dropout 0.3, dense"


def test_the_spec_reads_the_builders_words_and_keras_spellings():
    assert parse("conv 32, conv 16 5 same, bn, relu, maxpool, dropout 0.5, flatten, dense 64, dense") == [
        Layer("conv", 32, 3), Layer("conv", 16, 5, "same"), Layer("batchnorm"), Layer("relu"), Layer("maxpool", 2),
        Layer("dropout", rate=0.5), Layer("flatten"), Layer("dense", 64), Layer("dense")]
    keras = ("Conv2D(64, (3,3)), BatchNormalization(), Activation('relu'), MaxPooling2D(pool_size=(2, 2)), "
             "Dropout(rate=0.25), Flatten(), Dense(units=64), Dense(10)")
    assert canonical(keras) == "conv 64 3, batchnorm, relu, maxpool 2, dropout 0.25, flatten, dense 64, dense 10"
    assert canonical(" CONV 8 3 SAME ,RELU,  flatten,dense ") == "conv 8 3 same, relu, flatten, dense"
    assert canonical(SLIDE) == SLIDE


ERRORS = [
    ("", None, "the stack is empty: start with a layer such as 'conv 32 3' and end with 'dense'"),
    ("conv 8 3,, flatten, dense", 2, "layer 2 is empty: remove the extra comma"),
    ("conv 8 3, maxpol 2, flatten, dense", 2, "layer 2 'maxpol 2' is not a layer this builder knows (did you "
     "mean 'maxpool'?); the layers are conv, batchnorm, relu, maxpool, dropout, flatten and dense"),
    ("conv 8 3, zebra, flatten, dense", 2, "layer 2 'zebra' is not a layer this builder knows; the layers are conv, "
     "batchnorm, relu, maxpool, dropout, flatten and dense"),
    ("flatten, dense, softmax", 3, "layer 3 'softmax': leave it out; the last Dense gives one score per class and "
     "training applies softmax itself (the Keras code adds activation='softmax' to its last Dense)"),
    ("conv 0 3, flatten, dense", 1, "layer 1 'conv 0 3': the number of filters must be a whole number from 1 to 512, "
     "not 0"),
    ("conv 8 13, flatten, dense", 1, "layer 1 'conv 8 13': the kernel size must be a whole number from 1 to 11, "
     "not 13"),
    ("conv 8 4 same, flatten, dense", 1, "layer 1 'conv 8 4 same': padding 'same' needs an odd kernel size (1, 3, "
     "5...), so that the kernel has a centre pixel: use 3 or 5, or drop 'same'"),
    ("conv 8 3 5, flatten, dense", 1, "layer 1 'conv 8 3 5': it takes the number of filters and one kernel size "
     "(square kernels only); write it as conv FILTERS KERNEL, e.g. 'conv 32 3' (add 'same' to keep the size)"),
    ("conv eight, flatten, dense", 1, "layer 1 'conv eight': 'eight' is not a number; write it as conv FILTERS "
     "KERNEL, e.g. 'conv 32 3' (add 'same' to keep the size)"),
    ("conv 8.5 3, flatten, dense", 1, "layer 1 'conv 8.5 3': its numbers must be whole numbers; write it as conv "
     "FILTERS KERNEL, e.g. 'conv 32 3' (add 'same' to keep the size)"),
    ("maxpool 1, flatten, dense", 1, "layer 1 'maxpool 1': the pool size must be a whole number from 2 to 8, not 1"),
    ("relu 2, flatten, dense", 1, "layer 1 'relu 2': it takes no numbers; write it as relu"),
    ("flatten, dropout 1, dense", 2, "layer 2 'dropout 1': the rate must be one number from 0 up to (but not "
     "including) 1; write it as dropout RATE, e.g. 'dropout 0.3'"),
    ("flatten, dense 0, dense", 2, "layer 2 'dense 0': the number of units must be a whole number from 1 to 4096, "
     "not 0"),
    ("flatten, dense 8 8, dense", 2, "layer 2 'dense 8 8': it takes one number, its units; write it as dense UNITS, "
     "e.g. 'dense 64' (the last one: just 'dense')"),
    ("conv 8 3, maxpool 2, maxpool 2, maxpool 2, flatten, dense", 4, "layer 4 (MaxPooling2D 2x2) gets a 1x1 map: "
     "there is no 2x2 window left to pool. Remove it, or pool less before it"),
    ("conv 8 3, conv 8 3, conv 8 3, conv 8 3, flatten, dense", 4, "layer 4 (Conv2D 8 3x3) gets a 2x2 map, smaller "
     "than its 3x3 kernel: use padding 'same', a smaller kernel, or pool less before it"),
    ("flatten, conv 8 3, dense", 2, "layer 2 (Conv2D 8 3x3) comes after Flatten (layer 1), but convolution needs a "
     "2-D map with channels: move it before Flatten"),
    ("conv 8 3, dense 16, flatten, dense", 2, "layer 2 (Dense 16) gets a 8-channel 6x6 map, but a Dense layer needs "
     "one flat list of numbers: add Flatten before it"),
    ("flatten, flatten, dense", 2, "layer 2 (Flatten): the numbers are already flat (layer 1 flattened them): "
     "remove it"),
    ("flatten, dense, dense", 2, "layer 2 (Dense) has no number of units; only the last Dense may leave it out (it "
     "gets one unit per class): write e.g. 'dense 64'"),
    ("flatten, dense 32", 2, "the last Dense layer (layer 2) has 32 units, but there are 10 classes: write 'dense' "
     "without a number there (it gets one unit per class)"),
    ("conv 8 3, relu", 2, "the last layer (layer 2, ReLU) must be a Dense layer that gives one score per class: add "
     "'dense' at the end"),
    ("flatten, dense, relu", 3, "the last layer (layer 3, ReLU) must be a Dense layer that gives one score per "
     "class: add 'dense' at the end"),
    (", ".join(["relu"] * 41), None, "the stack has 41 layers; at most 40 fit on this page"),
]


@pytest.mark.parametrize("spec, layer, sentence", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_every_impossible_stack_gets_one_sentence_naming_its_layer(spec, layer, sentence):
    with pytest.raises(StackError) as e:
        plan(spec, 1, 8, 10)
    assert (e.value.sentence, e.value.layer) == (sentence, layer)
    assert str(e.value) == f"model_args.layers={spec!r}: expected a stack of layers that fits together; {sentence}"
    assert e.value.key == "model_args.layers"  # the CLI shows it as --model-arg layers=...


def test_networks_too_big_for_a_laptop_are_refused_with_the_layer_to_change():
    with pytest.raises(StackError) as e:
        plan("conv 64 3, flatten, dense 128, dense", 1, 28, 10)
    assert e.value.layer == 3
    assert e.value.sentence.startswith("the network has 5,539,850 parameters, more than a laptop")
    assert "add MaxPooling2D before Flatten" in e.value.sentence
    with pytest.raises(StackError) as e:
        plan("conv 128 3 same, conv 512 11 same, maxpool 8, flatten, dense", 3, 8, 10)
    assert e.value.layer == 2
    assert e.value.sentence.endswith("alone has 7,930,368: use fewer filters or a smaller kernel")
    with pytest.raises(StackError) as e:
        plan("conv 128 3 same, conv 128 3 same, maxpool 8, maxpool 8, flatten, dense", 3, 64, 10)
    assert e.value.layer == 2 and "FLOPs" in e.value.sentence and "pool earlier" in e.value.sentence


def hand_built(in_channels: int = 1) -> Classifier:
    """The LECTURE spec written out in PyTorch, layer by layer (28x28 input)."""
    features = nn.Sequential(nn.Conv2d(in_channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                             nn.Conv2d(32, 64, 3), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2))
    head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 6 * 6, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, 10))
    return Classifier(Normalize([127.5] * in_channels, [127.5] * in_channels), features, head)


def test_shapes_params_and_outputs_equal_a_hand_built_torch_model_and_the_plan():
    torch.manual_seed(0)
    mine = create_model("stack", num_classes=10, in_channels=1, image_size=28, layers=LECTURE).eval()
    ref = hand_built().eval()
    ref.load_state_dict(mine.state_dict())  # same names, same shapes: the same network
    x = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8)
    torch.testing.assert_close(mine(x), ref(x))
    rows, ref_rows = layer_table(mine, (1, 28, 28)), layer_table(ref, (1, 28, 28))
    assert [(r["name"], r["output"], r["params"], r["flops"]) for r in rows] == \
        [(r["name"], r["output"], r["params"], r["flops"]) for r in ref_rows]
    steps = plan(LECTURE, 1, 28, 10)
    assert [(s.output, s.params, s.flops) for s in steps] == [(r["output"], r["params"], r["flops"]) for r in rows[1:]]
    assert sum(s.params for s in steps) == sum(p.numel() for p in mine.parameters())
    # Keras counts batch norm's moving mean and variance too: 2 more per channel
    assert [keras_params(s) for s in steps][:3] == [320, 128, 0]


@pytest.mark.parametrize("spec", [SLIDE, LECTURE, "flatten, dense 16, batchnorm, relu, dense",
                                  "conv 4 5 same, maxpool 3, dropout 0.1, conv 6 1, flatten, dense"])
def test_the_builder_table_equals_layer_table_for_gray_colour_and_odd_sizes(spec):
    for data in (DATA["fashion-mnist"], project_choice("p", "P", "/nowhere", ["a", "b", "c"])):
        out = table(spec, data)
        model = create_model("stack", num_classes=len(data.classes), in_channels=data.shape[0],
                             image_size=data.shape[1], layers=spec)
        names = module_names(spec)  # an MLP-like stack's empty features are an Identity row: no layer of the stack
        want = [r for r in layer_table(model, data.shape) if r["name"] in names]
        assert len(want) == len(out["rows"])
        assert [(r["type"], tuple(r["output"]), r["params"], r["flops"]) for r in out["rows"]] == \
            [(r["type"], r["output"], r["params"], r["flops"]) for r in want]
        assert out["totals"]["params"] == sum(p.numel() for p in model.parameters())


def test_the_model_is_registered_with_a_default_and_takes_its_layers_as_text():
    assert model_info("stack").augment is None and "layers" in model_info("stack").arguments
    assert create_model("stack").cnnlab_config["layers"] == SLIDE
    assert check_model_args("stack", {"layers": "conv 8 3, relu, flatten, dense"}) == {
        "layers": "conv 8 3, relu, flatten, dense"}
    cfg = RunConfig.build(model="stack", model_args={"layers": "flatten, dense"}).validate()
    assert cfg.model.args == {"layers": "flatten, dense"}


def test_a_tiny_stack_trains_through_cnnlab_train_and_reloads(tmp_path):
    meta = cnnlab.train(out=tmp_path / "run", progress=False,
                        **train_options("conv 8 3 same, relu, maxpool 2, flatten, dense", DATA["digits"], 1))
    assert meta["architecture"]["layers"] == "conv 8 3 same, relu, maxpool 2, flatten, dense"
    assert meta["metrics"]["test_accuracy"] > 0.5
    model, _ = cnnlab.load(tmp_path / "run")
    assert model(torch.zeros(1, 1, 8, 8, dtype=torch.uint8)).shape == (1, 10)


def test_the_cnnlab_code_shown_runs_and_the_keras_code_is_python(tmp_path, monkeypatch):
    spec = "conv 4 3, relu, flatten, dense"
    code = cnnlab_code(spec, DATA["digits"], 1)
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "builder-code.py", "exec"), {})  # noqa: S102 - the code the page shows, run as shown
    text = printed.getvalue()
    total = table(spec, DATA["digits"])["totals"]["params"]  # what the page shows above the code
    assert f"Total params: {total:,} " in text and "test accuracy:" in text
    assert os.path.isfile(tmp_path / "runs" / "my-network" / "model.json")
    for data in (DATA["fashion-mnist"], DATA["digits"], project_choice("p", "P", "/photos/p", ["a", "b"])):
        keras = keras_code(LECTURE, data, 2)
        ast.parse(keras)  # Keras is not installed here: at least it is valid Python
        assert "keras.Input(shape=(" in keras and 'layers.Dense(' in keras and 'activation="softmax"' in keras
    assert 'layers.Conv2D(32, 3, padding="same"),' in keras and "layers.MaxPooling2D(2)," in keras
    assert "layers.Dropout(0.3)," in keras and "keras.Input(shape=(32, 32, 3))" in keras
