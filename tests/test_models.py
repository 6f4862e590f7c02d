import pytest
import torch

from cnnlab.models import create_model, list_models, summary
from cnnlab.models.summary import layer_table


@pytest.mark.parametrize("name", [n for n in list_models() if n != "efficientnet_lite0"])
def test_every_registered_model_runs_forward(name):
    model = create_model(name, num_classes=7, in_channels=3, image_size=16)
    out = model(torch.randint(0, 255, (2, 3, 16, 16), dtype=torch.uint8))
    assert out.shape == (2, 7)
    assert hasattr(model, "forward_features") and hasattr(model, "reset_classifier")
    model.reset_classifier(4)
    assert model(torch.zeros(2, 3, 16, 16, dtype=torch.uint8)).shape == (2, 4)


def test_unknown_model_lists_known_ones():
    with pytest.raises(ValueError) as e:
        create_model("resnet9000")
    assert "lecture_cnn" in str(e.value) and "mlp" in str(e.value)


def test_lecture_cnn_structure_follows_the_lecture():
    m = create_model("lecture_cnn", widths=(8, 16), hidden=32, dropout=0.5, pool_first=False)
    kinds = [type(x).__name__ for x in m.features]
    assert kinds[:4] == ["Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d"]  # BN before the activation
    fast = create_model("lecture_cnn", widths=(8, 16), convs_per_block=(1, 2))
    kinds = [type(x).__name__ for x in fast.features]
    assert kinds == ["Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU",  # pool_first (the default)
                     "Conv2d", "MaxPool2d", "BatchNorm2d", "ReLU", "Conv2d", "BatchNorm2d", "ReLU"]
    with pytest.raises(ValueError, match="one count"):
        create_model("lecture_cnn", widths=(8, 16), convs_per_block=(1, 2, 3))
    head = [type(x).__name__ for x in m.head]
    assert head == ["Flatten", "Linear", "BatchNorm1d", "ReLU", "Dropout", "Linear"]
    assert m.head[4].p == 0.5
    no_bn = create_model("lecture_cnn", widths=(8,), batch_norm=False)
    assert not any("BatchNorm" in type(x).__name__ for x in no_bn.modules())
    with pytest.raises(ValueError, match="too small"):
        create_model("lecture_cnn", image_size=4, widths=(8, 16, 32))


def test_normalization_is_inside_the_model_and_checks_channels():
    m = create_model("lecture_cnn", in_channels=1, mean=[100.0], std=[50.0]).eval()
    x = torch.full((1, 1, 28, 28), 100, dtype=torch.uint8)
    assert torch.allclose(m.normalize(x), torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="expects 1 channel"):
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
    save_model(tmp_path, old, {"architecture": arch})
    loaded, _ = load_model(tmp_path, "cpu")
    x = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), old(x))
