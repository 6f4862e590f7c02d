"""check_model_args: every --model-arg value is converted to the builder's type or refused with one ConfigError.

Before, values went to the builder as given: ``pool_first=maybe`` was stored as "maybe" (a truthy string),
unknown keys and malformed values ended in Python tracebacks (TypeError, ValueError from deep inside torch).
"""

import pytest
import torch

from cnnlab.errors import ConfigError, ModelError
from cnnlab.models import check_model_args, create_model


def refused(name: str, key: str, value) -> ConfigError:
    """The ConfigError for one bad argument (and only a ConfigError: no other exception type)."""
    with pytest.raises(ConfigError) as e:
        check_model_args(name, {key: value})
    assert type(e.value) is ConfigError and e.value.key == f"model_args.{key}"
    return e.value


@pytest.mark.parametrize("given, expected", [("true", True), ("false", False), ("True", True), ("1", True),
                                             ("0", False), (True, True), (False, False), (1, True), (0, False)])
def test_switches_accept_true_false_1_0(given, expected):
    assert check_model_args("lecture_cnn", {"pool_first": given}) == {"pool_first": expected}


@pytest.mark.parametrize("bad", ["maybe", "2", 2, 0.5, "yes please", [True]])
def test_switches_refuse_anything_else(bad):
    e = refused("lecture_cnn", "pool_first", bad)
    assert "true or false (or 1 or 0)" in str(e)


@pytest.mark.parametrize("given, expected", [("64", 64), (64, 64), (64.0, 64), (" 7 ", 7)])
def test_whole_numbers(given, expected):
    out = check_model_args("lecture_cnn", {"hidden": given})
    assert out == {"hidden": expected} and type(out["hidden"]) is int


@pytest.mark.parametrize("bad", ["0", 0, -3, 1.5, "abc", True, "[64]", None])
def test_whole_numbers_must_be_at_least_1(bad):
    e = refused("lecture_cnn", "hidden", bad)
    assert "a whole number of at least 1" in str(e)


@pytest.mark.parametrize("given, expected", [("0.5", 0.5), (0.5, 0.5), (0, 0.0), ("0", 0.0), (0.99, 0.99)])
def test_dropout_is_a_fraction(given, expected):
    assert check_model_args("mlp", {"dropout": given}) == {"dropout": expected}


@pytest.mark.parametrize("bad", [1, "1.0", -0.1, 1.5, "NaN", "Infinity", "half", False])
def test_dropout_outside_0_to_1_is_refused(bad):
    e = refused("mlp", "dropout", bad)
    assert "from 0 up to (but not including) 1" in str(e)


@pytest.mark.parametrize("given", ["[32,64]", "32,64", "(32, 64)", [32, 64], (32, 64), "[32, 64.0]"])
def test_lists_of_whole_numbers(given):
    assert check_model_args("lecture_cnn", {"widths": given}) == {"widths": [32, 64]}


def test_one_number_is_a_list_of_one():
    assert check_model_args("lecture_cnn", {"widths": 64}) == {"widths": [64]}
    assert check_model_args("mlp", {"hidden": "128"}) == {"hidden": [128]}


@pytest.mark.parametrize("bad", ["[]", [], "[32,-1]", "[32.5]", "[32,,x]", "[[32]]", "wide", [32, "x"], "[true]"])
def test_malformed_lists_are_refused(bad):
    e = refused("lecture_cnn", "widths", bad)
    assert "a list of whole numbers of at least 1, e.g. [32, 64]" in str(e)


def test_one_number_or_a_list():
    assert check_model_args("lecture_cnn", {"convs_per_block": "2"}) == {"convs_per_block": 2}
    assert check_model_args("lecture_cnn", {"convs_per_block": "[1,2]"}) == {"convs_per_block": [1, 2]}
    e = refused("lecture_cnn", "convs_per_block", "0")
    assert "a whole number of at least 1 or a list of whole numbers of at least 1" in str(e)


def test_unknown_keys_list_the_accepted_ones_with_a_close_match():
    e = refused("lecture_cnn", "widht", 32)
    assert "widths, convs_per_block, hidden, batch_norm, dropout, pool_first" in str(e)
    assert "did you mean 'widths'?" in str(e)
    e = refused("lecture_cnn", "zzz", 1)
    assert "did you mean" not in str(e)
    e = refused("timm:resnet18", "widths", [32])
    assert "an argument of timm:resnet18: dropout" in str(e)


@pytest.mark.parametrize("key, words", [("image_size", "--image-size"), ("num_classes", "set from the data"),
                                        ("in_channels", "set from the data"), ("mean", "computed from the training"),
                                        ("std", "computed from the training"), ("pretrained", "--pretrained")])
def test_arguments_training_fills_in_are_refused_with_a_hint(key, words):
    e = refused("lecture_cnn" if key != "pretrained" else "efficientnet_lite0", key, 3)
    assert words in str(e)


def test_values_already_converted_pass_unchanged_and_the_result_builds_the_model():
    given = {"widths": "16,32", "convs_per_block": "[1,2]", "hidden": "32", "batch_norm": "0", "dropout": "0.25",
             "pool_first": "false"}
    out = check_model_args("lecture_cnn", given)
    assert out == {"widths": [16, 32], "convs_per_block": [1, 2], "hidden": 32, "batch_norm": False,
                   "dropout": 0.25, "pool_first": False}
    assert check_model_args("lecture_cnn", out) == out  # resuming re-checks saved arguments: nothing changes
    m = create_model("lecture_cnn", num_classes=3, image_size=16, **out).eval()
    assert m(torch.zeros(2, 1, 16, 16, dtype=torch.uint8)).shape == (2, 3)
    assert not any("BatchNorm" in type(x).__name__ for x in m.modules()) and m.head[-2].p == 0.25


def test_pretrained_models_arguments():
    assert check_model_args("efficientnet_lite0", {"input_size": "160", "dropout": 0.1}) == {"input_size": 160,
                                                                                           "dropout": 0.1}
    refused("efficientnet_lite0", "input_size", "0")
    assert check_model_args("timm:resnet18", {"dropout": "0.3"}) == {"dropout": 0.3}


def test_unknown_model_is_a_model_error():
    with pytest.raises(ModelError, match="did you mean 'mlp'"):
        check_model_args("mpl", {"dropout": 0.1})
