import numpy as np
import pytest
import torch
from skimage import data as skdata

from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import make_synthetic
from cnnlab.models import create_model
from cnnlab.models.pretrained import PretrainedError, lite0_imagenet_state_dict, map_state_dict
from cnnlab.training.trainer import TrainConfig
from cnnlab.training.transfer import cache_key, cached_features, fit_transfer


@pytest.fixture(scope="module")
def imagenet():
    return create_model("efficientnet_lite0", num_classes=1000, pretrained=True).eval()


def test_weight_mapping_covers_every_tensor():
    import timm

    mapped = lite0_imagenet_state_dict()
    target = timm.create_model("tf_efficientnet_lite0").state_dict()
    assert list(mapped) == list(target)
    assert all(mapped[k].shape == target[k].shape for k in target)


def test_weight_mapping_fails_loudly_on_mismatch():
    src = {"a": torch.zeros(3), "b": torch.zeros(2, 2)}
    with pytest.raises(PretrainedError, match="shape mismatch"):
        map_state_dict(src, {"x": torch.zeros(3), "y": torch.zeros(4)})
    with pytest.raises(PretrainedError, match="tensors"):
        map_state_dict(src, {"x": torch.zeros(3)})


def test_chelsea_is_a_cat(imagenet):
    from timm.data import ImageNetInfo

    x = torch.from_numpy(skdata.chelsea().copy()).permute(2, 0, 1)[None]  # (1, 3, 300, 451), any size works
    with torch.inference_mode():
        top5 = imagenet(x).softmax(1)[0].topk(5).indices.tolist()
    names = [ImageNetInfo().index_to_description(i) for i in top5]
    assert "cat" in names[0], names


def test_predict_command_prints_imagenet_top5(tmp_path, capsys):
    from PIL import Image

    from cnnlab.cli import main

    p = tmp_path / "chelsea.png"
    Image.fromarray(skdata.chelsea()).save(p)
    assert main(["predict", "--model", "efficientnet_lite0", str(p), "--top-k", "5"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{p}: Egyptian cat") and line.count("%") == 5


def test_gray_input_works(imagenet):
    gray = torch.from_numpy(skdata.camera()[::2, ::2].copy())[None, None]  # (1, 1, 256, 256)
    assert imagenet(gray).shape == (1, 1000)


def small_photos(n=40, seed=0):
    d = make_synthetic(n=n, image_size=32, channels=3, num_classes=2, seed=seed)
    return d


def frozen_state(model):
    return {k: v.clone() for k, v in model.backbone.state_dict().items()}


@pytest.mark.parametrize("cache", [True, False])
def test_frozen_backbone_and_its_batchnorm_stats_do_not_change(cache):
    torch.manual_seed(0)
    model = create_model("efficientnet_lite0", num_classes=2, pretrained=True, input_size=64)
    before = frozen_state(model)
    head_before = model.head[-1].weight.clone()
    data = small_photos()
    cfg = TrainConfig(epochs=2, batch_size=8, precision="fp32", eval_batch_size=16)
    fit_transfer(model, data, None, cfg, feature_cache=cache)
    after = frozen_state(model)
    assert all(torch.equal(before[k], after[k]) for k in before)  # weights and running statistics
    assert not torch.equal(head_before, model.head[-1].weight)  # the head did train


def test_feature_cache_is_reused_and_invalidated(monkeypatch):
    import cnnlab.training.transfer as tr

    model = create_model("efficientnet_lite0", num_classes=2, pretrained=True, input_size=64)
    data = small_photos()
    calls = []
    real = tr.extract_features
    monkeypatch.setattr(tr, "extract_features", lambda *a, **k: calls.append(1) or real(*a, **k))
    f1 = cached_features(model, data)
    f2 = cached_features(model, data)
    assert len(calls) == 1 and torch.equal(f1.features, f2.features)
    changed = ImageSet(data.images.clone(), data.labels, data.classes)
    changed.images[0, 0, 0, 0] ^= 1
    key = cache_key(model, data, None, 1)
    assert cache_key(model, changed, None, 1) != key  # data
    assert cache_key(model, data, "flip", 4) != key  # preprocessing/augmentation
    other = create_model("efficientnet_lite0", num_classes=2, pretrained=True, input_size=96)
    assert cache_key(other, data, None, 1) != key  # preprocessing (input size)
    with torch.no_grad():
        other.backbone.conv_stem.weight.add_(1)
    assert cache_key(other, data, None, 1) != cache_key(create_model(
        "efficientnet_lite0", num_classes=2, pretrained=True, input_size=96), data, None, 1)  # weights
    cached_features(model, changed)
    assert len(calls) == 2
    aug = cached_features(model, data, augment="flip", views=3)
    assert len(aug) == 3 * len(data) and torch.equal(aug.features[: len(data)], f1.features)


def test_fine_tune_unfreezes_last_blocks_with_lower_lr():
    torch.manual_seed(0)
    model = create_model("efficientnet_lite0", num_classes=2, pretrained=True, input_size=64)
    first = model.backbone.conv_stem.weight.clone()
    last = model.backbone.conv_head.weight.clone()
    cfg = TrainConfig(epochs=2, batch_size=8, precision="fp32", eval_batch_size=16)
    res = fit_transfer(model, small_photos(), None, cfg, fine_tune=1)
    assert torch.equal(first, model.backbone.conv_stem.weight)  # early layers stay frozen
    assert not torch.equal(last, model.backbone.conv_head.weight)  # the last ones were tuned
    assert [h.get("phase") for h in res.history] == ["head", "fine-tune"]


def test_online_only_model_fails_with_offline_alternative(monkeypatch):
    import timm

    def no_network(*a, **k):
        raise OSError("Network is unreachable")

    monkeypatch.setattr(timm, "create_model", no_network)
    with pytest.raises(PretrainedError, match="efficientnet_lite0"):
        create_model("timm:resnet18", num_classes=3, pretrained=True)


def test_unknown_timm_model():
    with pytest.raises(ValueError, match="timm has no model"):
        create_model("timm:not_a_net", num_classes=3)


def test_transfer_run_directory_and_predict(tmp_path, capsys):
    from PIL import Image

    from cnnlab.cli import main

    root = tmp_path / "photos"
    d = small_photos(n=30)
    for i in range(len(d)):
        cls = d.classes[d.labels[i]]
        (root / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.asarray(d.images[i].permute(1, 2, 0))).resize((80, 60)).save(root / cls / f"{i}.png")
    out = tmp_path / "run"
    assert main(["train", "--data", f"folder:{root}", "--model", "efficientnet_lite0", "--pretrained", "--freeze",
                 "--epochs", "3", "--out", str(out), "--model-arg", "input_size=64", "--quiet"]) == 0
    assert (out / "model.safetensors").is_file() and (out / "report.md").is_file()
    capsys.readouterr()
    assert main(["predict", str(out), str(root / d.classes[0])]) == 0
    lines = [ln for ln in capsys.readouterr().out.strip().splitlines() if not ln.startswith(" ")]  # not the notes
    assert len(lines) == 15 and all(":" in ln for ln in lines)


def test_a_frozen_run_scores_its_test_split_from_cached_features_with_the_same_numbers(tmp_path, monkeypatch):
    """The test split of a frozen transfer run goes through the backbone once per data set, not once per run,
    and its scores are exactly those of the whole model (with and without the mirror test-time augmentation)."""
    import cnnlab.training.transfer as tr
    from cnnlab.data.sources import load_dataset
    from cnnlab.device import autocast_dtype, pick_device
    from cnnlab.training.run import train
    from cnnlab.training.rundir import load_model
    from cnnlab.training.trainer import evaluate

    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path / "home"))
    seen = []
    real = tr.extract_features
    monkeypatch.setattr(tr, "extract_features", lambda m, images, *a, **k: seen.append(len(images)) or
                        real(m, images, *a, **k))
    opts = dict(data="digits", model="efficientnet_lite0", pretrained=True, freeze=True, epochs=2, per_class=20,
                val_fraction=0.0, model_args={"input_size": 48}, progress=False)
    first = train(out=tmp_path / "a", seed=0, tta=True, **opts)
    test = load_dataset("digits", "test")
    assert seen.count(len(test)) == 2  # the test split and its mirror image, once
    seen.clear()
    train(out=tmp_path / "b", seed=1, tta=True, **opts)  # another seed: other training images, same test split
    assert len(test) not in seen and seen  # only the new training images went through the backbone
    model, _ = load_model(tmp_path / "a")
    dev = pick_device("auto")
    for tta in (True, False):
        whole = evaluate(model, test, 1024, dev, tta=tta, amp_dtype=autocast_dtype(dev, "auto"))
        cached = tr.evaluate_frozen(model, test, 1024, dev, tta=tta, amp_dtype=autocast_dtype(dev, "auto"))
        assert torch.equal(whole["predictions"], cached["predictions"])
        assert torch.allclose(whole["probabilities"], cached["probabilities"], atol=1e-6)
    assert first["metrics"]["test_accuracy"] == pytest.approx(
        evaluate(model, test, 1024, dev, tta=True, amp_dtype=autocast_dtype(dev, "auto"))["accuracy"])


def test_the_estimates_first_batch_of_features_is_the_runs_own(monkeypatch):
    """The estimate times the first batch of a frozen run's feature pass and keeps it: the pass starts at the
    second batch, and the features are bit for bit those of a pass that computes them all."""
    import copy

    import cnnlab.training.transfer as tr
    from cnnlab.device import autocast_dtype

    data = make_synthetic(n=tr.FEATURE_BATCH + 2, image_size=16, channels=3, num_classes=2, seed=0)
    torch.manual_seed(0)
    net = create_model("efficientnet_lite0", num_classes=2, pretrained=True, input_size=32)
    tr.freeze_backbone(net)
    amp = autocast_dtype(torch.device("cpu"), "auto")  # the precision a run uses on this machine
    plain = tr.cached_features(net, data, amp_dtype=amp, use_cache=False).features
    seen = []
    real = tr.extract_features
    monkeypatch.setattr(tr, "extract_features", lambda m, images, *a, **k: seen.append((len(images),
                        k.get("start", 0))) or real(m, images, *a, **k))
    first = tr.first_features(copy.deepcopy(net), data, amp_dtype=amp)  # the estimate times a copy of the model
    reused = tr.cached_features(net, data, amp_dtype=amp, use_cache=False).features
    assert torch.equal(reused, plain) and torch.equal(reused[:tr.FEATURE_BATCH], first)
    assert seen == [(tr.FEATURE_BATCH, 0), (len(data), tr.FEATURE_BATCH)]  # the pass began at its second batch
    seen.clear()
    tr.cached_features(net, data, amp_dtype=amp, use_cache=False)
    assert seen == [(len(data), 0)]  # the kept batch is used once


def test_the_head_trains_on_one_thread_and_the_setting_comes_back():
    """Cached features train a tiny dense layer: one thread (two wait on each other at every small step)."""
    data = make_synthetic(n=40, image_size=32, channels=3, num_classes=2, seed=0)
    net = create_model("efficientnet_lite0", num_classes=2, pretrained=True, input_size=48)
    seen = []

    class Threads:
        def before_epoch(self, t):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        fit_transfer(net, data, None, TrainConfig(epochs=2, batch_size=8, device="cpu"), callbacks=[Threads()],
                     feature_cache=True)
        assert seen == [1, 1] and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_frozen_run_that_looks_long_is_estimated_from_its_own_first_batch(monkeypatch, tmp_path):
    import cnnlab.training.estimate as est
    import cnnlab.training.transfer as tr
    from cnnlab.config import RunConfig, resolve_training
    from cnnlab.training.run import build_model

    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path))
    monkeypatch.setattr(est, "AUTO_SECONDS", 0.0)  # every run looks long: the estimate goes on after the first batch
    data = make_synthetic(n=tr.FEATURE_BATCH + 2, image_size=16, channels=3, num_classes=2, seed=0)
    cfg = RunConfig.build(data="synthetic", model="efficientnet_lite0", pretrained=True, freeze=True, epochs=2,
                          model_args={"input_size": 32}).validate()
    net = build_model(cfg, data)
    tcfg = resolve_training(cfg.training, cfg.model.name, len(data))
    seen = []
    real = tr.extract_features
    monkeypatch.setattr(tr, "extract_features", lambda m, images, *a, **k: seen.append((len(images),
                        k.get("start", 0))) or real(m, images, *a, **k))
    e = est.estimate_run(cfg, net, (data, None, data), tcfg, quick=True, budget=0.05)
    assert e["kind"] == "frozen" and e["features_per_second"] > 0 and e["peak_rss_bytes"] >= e["rss_now_bytes"]
    assert seen == [(tr.FEATURE_BATCH, 0)]  # one batch, the run's first: no other feature pass was timed
    tr.cached_features(net, data, None, 1, amp_dtype=tr.autocast_dtype(torch.device("cpu"), cfg.training.precision))
    assert seen[1:] == [(len(data), tr.FEATURE_BATCH)]  # the run's pass began at its second batch
