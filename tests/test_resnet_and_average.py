"""The residual network, weight averaging and named recipes (issue 18's options: each checked for correctness)."""

import json

import pytest
import torch

from cnnlab.config import RECIPES, RunConfig
from cnnlab.data.sources import make_synthetic
from cnnlab.errors import ConfigError, Interrupted
from cnnlab.files import load_tensors
from cnnlab.models import create_model
from cnnlab.models.resnet import Residual
from cnnlab.training import run as run_module
from cnnlab.training.run import train
from cnnlab.training.trainer import TrainConfig, Trainer


def test_a_residual_block_keeps_the_shape_and_passes_the_gradient_through_the_skip():
    block = Residual(4)
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    assert block(x).shape == x.shape
    for p in block.f.parameters():  # the correction branch gives nothing: the block is the identity...
        torch.nn.init.zeros_(p)
    block.eval()
    y = block(x)
    assert torch.equal(y, x)
    y.sum().backward()  # ...and the gradient still reaches the input in full, through the addition
    assert torch.equal(x.grad, torch.ones_like(x))


def test_the_residual_network_fits_its_inputs_and_every_layer_learns():
    m = create_model("resnet_small", num_classes=5, in_channels=3, image_size=32, widths=[8, 16, 32],
                     blocks=[1, 0, 1])
    x = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    assert m(x).shape == (4, 5) and m.forward_features(x).shape == (4, 32, 8, 8)
    torch.nn.functional.cross_entropy(m(x), torch.tensor([0, 1, 2, 3])).backward()
    dead = [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not dead, dead
    m.reset_classifier(7)
    assert m(x).shape == (4, 7) and m.get_classifier().out_features == 7
    with pytest.raises(ConfigError, match="blocks"):
        create_model("resnet_small", num_classes=2, widths=[8, 16], blocks=[1])
    with pytest.raises(ConfigError, match="widths"):
        create_model("resnet_small", num_classes=2, image_size=4, widths=[8, 16, 32, 64])


class Record:
    """Keeps a copy of the weights after every step."""

    def __init__(self):
        self.seen = []

    def after_batch(self, t):
        self.seen.append({k: v.detach().clone() for k, v in t.model.state_dict().items() if v.is_floating_point()})


def test_weight_averaging_is_the_mean_of_the_weights_it_averaged():
    train_set, _ = make_synthetic(n=256).split(0.2)
    torch.manual_seed(0)
    model = create_model("lecture_cnn", num_classes=3, image_size=16, widths=(8, 16), hidden=16)
    record = Record()
    t = Trainer(model, train_set, None, TrainConfig(epochs=2, batch_size=32, precision="fp32", average=0.5),
                callbacks=[record])
    t.fit()
    assert t.total_steps == 12 and t.averaged_count == 6  # the last half of the steps
    last = record.seen[-6:]
    final = t.model.state_dict()
    for k in last[0]:
        expected = torch.stack([s[k] for s in last]).mean(0)
        assert torch.allclose(final[k], expected, atol=1e-6), k
    assert not torch.equal(final["features.0.weight"], last[-1]["features.0.weight"])  # not just the last weights


def test_an_interrupted_averaging_run_resumes_with_its_average(tmp_path):
    opts = dict(data="synthetic", epochs=3, progress=False, average=0.6, model_args={"widths": [8], "hidden": 8})
    whole = train(out=tmp_path / "whole", **opts)

    class StopAt:
        def after_batch(self, t):
            if t.step == 8:  # inside the averaging window
                t.stop_requested = True

    original = run_module.Trainer

    class Stopping(original):
        def __init__(self, *a, callbacks=(), **k):
            super().__init__(*a, callbacks=[*callbacks, StopAt()], **k)

    run_module.Trainer = Stopping
    try:
        with pytest.raises(Interrupted):
            train(out=tmp_path / "split", **opts)
    finally:
        run_module.Trainer = original
    resumed = train(out=tmp_path / "split", resume=True, progress=False)
    assert resumed["metrics"]["test_accuracy"] == whole["metrics"]["test_accuracy"]
    a, b = (load_tensors(tmp_path / name / "model.safetensors") for name in ("whole", "split"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_recipe_sets_its_options_and_yours_win(tmp_path):
    cfg = RunConfig.build(recipe="fm-95")
    for key, value in RECIPES["fm-95"]["options"].items():
        assert cfg.flat()[key] == value
    mine = RunConfig.build(recipe="fm-95", epochs=2, augment="flip")
    assert (mine.training.epochs, mine.training.augment, mine.model.name) == (2, "flip", "resnet_small")
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"training": {"recipe": "fm-95", "epochs": 5}}))
    from_json = RunConfig.build(path)
    assert from_json.training.epochs == 5 and from_json.model.name == "resnet_small"
    saved = RunConfig.from_dict(mine.to_dict())
    assert saved == mine
    with pytest.raises(ConfigError, match="did you mean 'fm-95'"):
        RunConfig.build(recipe="fm95")
