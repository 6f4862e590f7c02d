import ast
import dataclasses
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from cnnlab.errors import ConfigError, ModelError
from cnnlab.files import load_tensors, read_json
from cnnlab.models import (
    Classifier,
    ModelInfo,
    Normalize,
    create_model,
    list_models,
    model_from_config,
    model_info,
    register_model,
    registry,
    summary,
)
from cnnlab.models.summary import layer_table

MODELS_DIR = Path(registry.__file__).parent
FIXTURE_RUN = Path(__file__).parent / "fixtures" / "run-v0.1"


@pytest.fixture
def clean_registry():
    """Let a test register models without leaking them into the others."""
    saved = dict(registry._REGISTRY), dict(registry._INFO)
    yield
    registry._REGISTRY.clear(), registry._REGISTRY.update(saved[0])
    registry._INFO.clear(), registry._INFO.update(saved[1])


# ---------------------------------------------------------------- every registered model


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_runs_forward_on_its_expected_input(name):
    """Registry-wide (timm's idea): build each model without pretrained weights, feed a uint8 batch of the
    input its ModelInfo says it expects, and check the timm-style interface."""
    info = model_info(name)
    channels, size = info.channels or 1, info.input_size or 16
    args = {"image_size": size} if "image_size" in info.arguments else {}
    if "pretrained" in info.arguments:
        args["pretrained"] = False
    torch.manual_seed(0)
    model = create_model(name, num_classes=7, in_channels=channels, **args).eval()
    x = torch.randint(0, 256, (2, channels, size, size), dtype=torch.uint8)  # (N, C, H, W)
    with torch.no_grad():
        out = model(x)
        assert out.shape == (2, 7) and out.dtype == torch.float32 and torch.isfinite(out).all()
        torch.testing.assert_close(model.forward_head(model.forward_features(x)), out)
        model.reset_classifier(4)
        assert model(x).shape == (2, 4)
    assert model.cnnlab_config["name"] == name


def test_builtin_models_carry_their_pretrained_configuration():
    cnn = model_info("lecture_cnn")
    assert (cnn.pretrained, cnn.input_size, cnn.channels, cnn.augment, cnn.folder_image_size) == (None, None, None,
                                                                                                 "flip", 64)
    assert (cnn.batch_size, cnn.eval_batch_size) == (256, 1024) and "image_size" in cnn.arguments
    assert model_info("mlp").pretrained is None and "the lecture" in model_info("mlp").about
    lite = model_info("efficientnet_lite0")
    assert (lite.pretrained, lite.input_size, lite.channels, lite.batch_size, lite.eval_batch_size, lite.augment,
            lite.folder_image_size) == ("offline", 224, 3, 32, 64, None, 224)
    assert "image_size" not in lite.arguments and "PyPI" in lite.about
    with pytest.raises(dataclasses.FrozenInstanceError):
        lite.batch_size = 8


def test_timm_names_get_their_info_from_timms_pretrained_config_without_download():
    info = model_info("timm:resnet18")
    assert (info.name, info.pretrained, info.input_size, info.channels, info.augment) == (
        "timm:resnet18", "online", 224, 3, None)
    assert model_info("timm:test_efficientnet").input_size == 160  # read from timm, not assumed to be 224
    with pytest.raises(ModelError, match=r"timm has no model 'resnet18x'; did you mean timm:resnet18"):
        model_info("timm:resnet18x")


def test_unknown_model_says_did_you_mean_and_lists_known_ones():
    with pytest.raises(ModelError) as e:
        model_info("lecture_cn")
    msg = str(e.value)
    assert "did you mean 'lecture_cnn'?" in msg and "mlp" in msg and "efficientnet_lite0" in msg and "timm:NAME" in msg
    with pytest.raises(ModelError, match="Known models: efficientnet_lite0, lecture_cnn, mlp"):
        create_model("resnet9000")


def test_unknown_builder_argument_is_a_model_error_not_a_type_error():
    with pytest.raises(ModelError, match=r"no argument 'widht'; did you mean 'widths'\?"):
        create_model("lecture_cnn", widht=(8,))


def test_register_model_bare_with_fields_and_with_info(clean_registry):
    def make(num_classes=10, in_channels=1, image_size=8, mean=None, std=None):
        n = in_channels * image_size ** 2
        return Classifier(Normalize([0.0] * in_channels, [1.0] * in_channels), nn.Flatten(),
                          nn.Sequential(nn.Linear(n, num_classes)))

    def plain(num_classes=10, in_channels=1, image_size=8, mean=None, std=None):
        """A plain test model.

        More text.
        """
        return make(num_classes, in_channels, image_size)

    def big(num_classes=10, in_channels=3):
        return make(num_classes, in_channels, 224)

    def given(num_classes=10, in_channels=1, image_size=8):
        return make(num_classes, in_channels, image_size)

    register_model(plain)
    register_model(batch_size=16, pretrained="online", input_size=224, channels=3, augment=None)(big)
    register_model(info=ModelInfo("ignored", eval_batch_size=7, about="given"))(given)
    assert model_info("plain") == ModelInfo("plain", about="A plain test model.",
                                            arguments=("num_classes", "in_channels", "image_size", "mean", "std"))
    assert (model_info("big").batch_size, model_info("big").pretrained, model_info("big").augment) == (16, "online",
                                                                                                       None)
    assert (model_info("given").name, model_info("given").eval_batch_size, model_info("given").about) == (
        "given", 7, "given")
    assert {"plain", "big", "given"} <= set(list_models())
    assert create_model("plain", num_classes=3, image_size=4)(torch.zeros(1, 1, 4, 4, dtype=torch.uint8)).shape == (
        1, 3)


def test_registering_a_name_twice_warns(clean_registry):
    def twice(num_classes=10, in_channels=1):
        return Classifier(nn.Identity(), nn.Flatten(), nn.Sequential(nn.Linear(4, num_classes)))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the first registration is silent
        register_model(twice)
    with pytest.warns(UserWarning, match="'twice' is already registered"):
        register_model(twice)


def test_register_model_refuses_bad_info(clean_registry):
    with pytest.raises(ModelError, match="unknown ModelInfo field"):
        register_model(batchsize=32)
    with pytest.raises(ModelError, match="'offline', 'online' or None"):
        register_model(pretrained=True)(lambda num_classes=10, in_channels=1: None)


def test_a_model_without_the_timm_interface_is_refused(clean_registry):
    @register_model
    def bare(num_classes=10, in_channels=1):
        return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))

    with pytest.raises(ModelError, match="without forward_features, forward_head, reset_classifier"):
        create_model("bare")


# ---------------------------------------------------------------- import structure


def _function_imports(path: Path):
    tree = ast.parse(path.read_text())
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


@pytest.mark.parametrize("path", sorted(MODELS_DIR.glob("*.py")), ids=lambda p: p.name)
def test_models_import_cnnlab_only_at_top_and_defer_heavy_imports_with_a_comment(path):
    lines = path.read_text().splitlines()
    for node in _function_imports(path):
        names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
        assert not any(n.startswith("cnnlab") for n in names), f"{path.name}:{node.lineno} imports cnnlab in a function"
        around = lines[node.lineno - 1] + lines[node.lineno - 2]
        assert "deferred" in around, f"{path.name}:{node.lineno}: say why this import is deferred"


def test_the_registry_never_imports_the_modules_that_register_models():
    tree = ast.parse((MODELS_DIR / "registry.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not imported & {"cnnlab.models", "cnnlab.models.lecture", "cnnlab.models.pretrained"}


# ---------------------------------------------------------------- the lecture's networks


def test_lecture_cnn_structure_follows_the_lecture():
    m = create_model("lecture_cnn", widths=(8, 16), hidden=32, dropout=0.5, pool_first=False)
    kinds = [type(x).__name__ for x in m.features]
    assert kinds[:4] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]  # BN before the activation
    fast = create_model("lecture_cnn", widths=(8, 16), convs_per_block=(1, 2))
    kinds = [type(x).__name__ for x in fast.features]
    assert kinds == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU",  # pool_first (the default)
                     "Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU"]
    head = [type(x).__name__ for x in m.head]
    assert head == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert m.head[4].p == 0.5
    no_bn = create_model("lecture_cnn", widths=(8,), batch_norm=False)
    assert not any("BatchNorm" in type(x).__name__ for x in no_bn.modules())


def test_lecture_cnn_argument_conflicts_are_config_errors():
    with pytest.raises(ConfigError, match="one per block") as e:
        create_model("lecture_cnn", widths=(8, 16), convs_per_block=(1, 2, 3))
    assert e.value.key == "model_args.convs_per_block"
    with pytest.raises(ConfigError, match="too small") as e:
        create_model("lecture_cnn", image_size=4, widths=(8, 16, 32))
    assert e.value.key == "model_args.widths" and "at most 2 blocks for 4x4 images" in str(e.value)
    with pytest.raises(ConfigError, match="at least one block"):  # was: ValueError from min() of an empty list
        create_model("lecture_cnn", widths=())


def test_normalization_is_inside_the_model_and_checks_channels():
    m = create_model("lecture_cnn", in_channels=1, mean=[100.0], std=[50.0]).eval()
    x = torch.full((1, 1, 28, 28), 100, dtype=torch.uint8)
    assert torch.allclose(m.normalize(x), torch.zeros(1, 1, 28, 28))
    with pytest.raises(ModelError, match="expects 1 channel"):
        m(torch.zeros(1, 3, 28, 28, dtype=torch.uint8))


def test_summary_counts_parameters_and_flops():
    m = create_model("lecture_cnn", widths=(8,), hidden=16, image_size=8)
    rows = layer_table(m, (1, 8, 8))
    conv = next(r for r in rows if r["type"] == "Conv2d")
    assert conv["output"] == (8, 8, 8) and conv["params"] == 8 * 9
    assert conv["flops"] == 2 * 8 * 8 * 8 * 9  # 2 FLOPs per multiply-add
    text = summary(m, (1, 8, 8))
    assert f"Total params: {sum(p.numel() for p in m.parameters()):,}" in text
    assert "MaxPool2d" in text and "(8, 4, 4)" in text


def test_pool_first_computes_the_slides_block_when_the_bn_scale_is_positive():
    """Max pooling commutes with ReLU and with a positive per-channel scale: with batch norm's running
    statistics (eval mode) the reordered block gives exactly the slide's output."""
    torch.manual_seed(0)
    slide = create_model("lecture_cnn", widths=(8, 16), hidden=16, pool_first=False).eval()
    fast = create_model("lecture_cnn", widths=(8, 16), hidden=16, pool_first=True).eval()
    for bn in (m for m in slide.modules() if isinstance(m, torch.nn.BatchNorm2d)):
        bn.weight.data.uniform_(0.5, 2.0)  # positive scales
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    by_kind = lambda m: [x for x in m.modules() if isinstance(x, (torch.nn.Conv2d, torch.nn.BatchNorm2d,  # noqa: E731
                                                                   torch.nn.Linear, torch.nn.BatchNorm1d))]
    for a, b in zip(by_kind(slide), by_kind(fast), strict=True):
        b.load_state_dict(a.state_dict())
    x = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8)
    torch.testing.assert_close(fast(x), slide(x))
    slide.features[1].weight.data[0] = -1.0  # a negative scale turns max into min: no longer the same
    fast.features[2].weight.data[0] = -1.0
    assert not torch.allclose(fast(x), slide(x))


# ---------------------------------------------------------------- saved configurations


def test_the_saved_config_rebuilds_the_same_architecture():
    m = create_model("lecture_cnn", num_classes=3, in_channels=3, image_size=16, widths=(8, 16))
    cfg = dict(m.cnnlab_config)
    assert cfg["num_classes"] == 3 and cfg["in_channels"] == 3 and cfg["pool_first"] is True  # defaults recorded
    again = create_model(cfg.pop("name"), **cfg)
    assert [(k, v.shape) for k, v in again.state_dict().items()] == [(k, v.shape) for k, v in m.state_dict().items()]


def test_runs_saved_before_pool_first_existed_still_load(tmp_path):
    from cnnlab.training.rundir import load_model, save_model

    old = create_model("lecture_cnn", widths=(8, 16), hidden=16, pool_first=False).eval()
    arch = {k: v for k, v in old.cnnlab_config.items() if k != "pool_first"}  # as such runs recorded it
    save_model(tmp_path, old, {"architecture": arch, "classes": [str(i) for i in range(10)],
                               "input": {"channels": 1, "size": [28, 28]}})
    loaded, _ = load_model(tmp_path, "cpu")
    x = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), old(x))


def test_the_v0_1_fixture_architecture_rebuilds_exactly():
    """A run saved by cnnlab 0.1.0: its architecture record rebuilds a model whose tensors are exactly the
    saved ones (names and shapes), and the saved weights load strictly."""
    arch = read_json(FIXTURE_RUN / "model.json")["architecture"]
    model = model_from_config(arch)
    saved = load_tensors(FIXTURE_RUN / "model.safetensors")
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {k: tuple(v.shape) for k, v in saved.items()}
    model.load_state_dict(saved, strict=True)
    assert model.cnnlab_config == arch
