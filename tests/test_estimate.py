"""The estimate before training: its numbers add up, it changes nothing, --dry-run writes nothing, advice."""

import pytest
import torch
from safetensors.torch import load_file

from cnnlab.cli import main
from cnnlab.config import RunConfig, resolve_training
from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import make_synthetic
from cnnlab.data.splits import load_splits
from cnnlab.files import write_json
from cnnlab.training import estimate as estimate_module
from cnnlab.training.estimate import emit_estimate, estimate_run, time_steps
from cnnlab.training.estimate_words import describe, duration, suggestions
from cnnlab.training.run import build_model, train
from cnnlab.training.transfer import cached_features

TINY = {"data": "synthetic", "model_args": {"widths": [8, 16], "hidden": 16}, "epochs": 2, "precision": "fp32"}


def setup(**options):
    cfg = RunConfig.build(**{**TINY, **options}).validate()
    splits = load_splits(cfg.data.source, val_fraction=cfg.data.val_fraction, seed=0)
    net = build_model(cfg, splits[0])
    return cfg, net, splits, resolve_training(cfg.training, cfg.model.name, len(splits[0]))


def test_the_estimate_event_holds_numbers_that_add_up():
    cfg, net, splits, tcfg = setup()
    e = estimate_run(cfg, net, splits, tcfg, budget=0.05)
    train, val, test = splits
    assert e["event"] == "estimate" and e["kind"] == "from scratch" and e["suggestions"] == []
    assert e["steps_per_epoch"] == len(train) // tcfg.batch_size and e["batch_size"] == tcfg.batch_size
    assert e["step_seconds"] > 0 and e["eval_images_per_second"] > 0 and e["calibration_steps"] >= 2
    assert e["val_seconds"] == pytest.approx(len(val) / e["eval_images_per_second"], rel=0.01, abs=1e-3)
    assert e["epoch_seconds"] == pytest.approx(e["steps_per_epoch"] * e["step_seconds"] + e["val_seconds"],
                                               rel=0.01, abs=1e-3)
    assert e["total_seconds"] == pytest.approx(2 * e["epoch_seconds"] + e["test_seconds"], rel=0.01, abs=0.01)
    assert e["peak_rss_bytes"] >= e["rss_now_bytes"] > 10**6 and e["available_bytes"] > 0
    assert 0 < e["calibration_seconds"] < 30
    assert e["text"].startswith("estimate: ") and "per epoch" in e["text"] and "\n" not in e["text"]


@pytest.fixture
def short_is_an_hour(monkeypatch):
    """"Short" made generous: on a busy machine a fresh process's first steps can take a second each."""
    monkeypatch.setattr(estimate_module, "AUTO_SECONDS", 3600.0)


def test_a_short_run_is_not_estimated_unless_asked(short_is_an_hour):
    cfg, net, splits, tcfg = setup()
    assert estimate_run(cfg, net, splits, tcfg, quick=True) is None  # estimate=None: a few seconds is not worth it
    events = []
    assert emit_estimate(cfg, net, splits, tcfg, events.append) is None and events == []
    off = cfg.merge({"estimate": False})
    assert emit_estimate(off, net, splits, tcfg, events.append) is None and events == []
    on = cfg.merge({"estimate": True})
    assert emit_estimate(on, net, splits, tcfg, events.append)["event"] == "estimate" and len(events) == 1


def test_the_estimate_leaves_the_trained_weights_bit_identical(tmp_path, short_is_an_hour):
    weights, kinds = [], []
    for estimate in (True, None):
        events = []
        train(**{**TINY, "epochs": 1}, per_class=30, estimate=estimate, out=tmp_path / str(estimate), progress=False,
              on_event=events.append)
        weights.append(load_file(tmp_path / str(estimate) / "model.safetensors"))
        kinds.append([e["event"] for e in events].count("estimate"))
    assert kinds == [1, 0]  # asked for; the default skips a run this short
    for other in weights[1:]:
        assert weights[0].keys() == other.keys()
        assert all(torch.equal(weights[0][k], other[k]) for k in weights[0])


def test_dry_run_prints_the_estimate_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", "synthetic", "--model-arg", "widths=[8,16]", "--model-arg", "hidden=16",
                 "--epochs", "3", "--out", str(out), "--dry-run", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("estimate: ") and "3 epochs" in printed
    assert list(tmp_path.iterdir()) == []  # no run folder, no lock file


def test_dry_run_of_an_interrupted_run_estimates_its_saved_settings(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()  # what a run stopped before its first checkpoint leaves (cnnlab.training.run writes it first)
    write_json(out / "resume.json", {"config": RunConfig.build(**{**TINY, "epochs": 3}).to_dict(), "train_seconds": 0})
    assert main(["train", "--out", str(out), "--resume", "--dry-run", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("estimate: ") and "3 epochs" in printed  # not the defaults (8 epochs)
    assert main(["train", "--out", str(out), "--resume", "--dry-run", "--epochs", "5"]) == 2  # as --resume would
    assert "--epochs 5" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "none"), "--resume", "--dry-run"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


def test_a_slow_run_gets_concrete_suggestions():
    cfg, net, splits, tcfg = setup()
    e = estimate_run(cfg, net, splits, tcfg, budget=0.05, slow_epoch_seconds=0.0)  # every epoch counts as slow
    assert len(e["suggestions"]) == 1 and e["suggestions"][0].startswith("--per-class ")
    k = int(e["suggestions"][0].split()[1])
    assert 1 <= k < len(splits[0]) / len(splits[0].classes)
    assert "this is slow; to make it smaller try: --per-class" in e["text"]


def fake_estimate(**changes) -> dict:
    e = {"kind": "from scratch", "epochs": 8, "steps_per_epoch": 100, "step_seconds": 8.0, "val_seconds": 20.0,
         "epoch_seconds": 820.0, "total_seconds": 6600.0, "eval_images_per_second": 50.0, "peak_rss_bytes": 3e9,
         "rss_now_bytes": 1e9, "available_bytes": 8e9, "calibration_seconds": 1.5}
    return {**e, **changes}


def test_suggestions_name_valid_options_for_photos_and_pretrained_models():
    photos = ImageSet(torch.zeros(200, 3, 64, 64, dtype=torch.uint8), torch.arange(200) % 2, ["a", "b"])
    splits = (photos, None, photos.subset(torch.arange(40)))
    scratch = RunConfig.build(data="folder:photos", image_size=64)
    tips = suggestions(scratch, splits, fake_estimate())
    assert tips[0] == f"--image-size 32 (about {duration(820 / 4)} per epoch)"
    assert tips[1].startswith("--per-class ")
    pretrained = RunConfig.build(data="folder:photos", model="efficientnet_lite0", pretrained=True)
    tips = suggestions(pretrained, splits, fake_estimate())
    assert tips[0].startswith("--pretrained --freeze (the pretrained part runs once per image, about 4.8s")
    assert tips[1].startswith("--model-arg input_size=160 ")
    assert suggestions(scratch, splits, fake_estimate(epoch_seconds=30.0)) == []  # not slow, fits in memory
    big = fake_estimate(epoch_seconds=30.0, peak_rss_bytes=20e9, available_bytes=4e9)
    tips = suggestions(scratch, splits, big)
    assert tips and "needs more memory than the 4.0 GB available" in describe({**big, "suggestions": tips})


def test_a_frozen_run_is_estimated_as_a_feature_pass_then_head_epochs(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNLAB_HOME", str(tmp_path))
    data = make_synthetic(n=60, image_size=32, channels=3, num_classes=2, seed=0)
    train_set, val_set = data.split(0.2)
    cfg = RunConfig.build(data="synthetic", model="efficientnet_lite0", pretrained=True, freeze=True, epochs=3,
                          model_args={"input_size": 64}, precision="fp32").validate()
    net = build_model(cfg, train_set)
    tcfg = resolve_training(cfg.training, cfg.model.name, len(train_set))
    e = estimate_run(cfg, net, (train_set, val_set, val_set), tcfg, budget=0.1)
    assert e["kind"] == "frozen" and e["features_images"] == len(train_set) + len(val_set)
    assert e["features_seconds"] == pytest.approx(e["features_images"] / e["features_per_second"], rel=0.02, abs=0.01)
    assert e["epoch_seconds"] < e["features_seconds"]  # the head trains on cached features
    assert "once" in e["text"] and "per head epoch" in e["text"]
    assert not (tmp_path / "features").exists()  # the estimate wrote no cache
    cached_features(net, train_set, None, 1, device=torch.device("cpu"))
    again = estimate_run(cfg, net, (train_set, val_set, val_set), tcfg, budget=0.1)
    assert again["features_images"] == len(val_set)  # the training features are cached now


def test_a_ctrl_c_while_timing_stops_the_run_too():
    """The timing trainer catches Ctrl-C like any trainer; it must not swallow it (a studio Stop was lost)."""
    cfg, net, splits, tcfg = setup()

    class CtrlC:
        def after_batch(self, t):
            t._on_sigint(None, None)  # what the SIGINT handler does

    with pytest.raises(KeyboardInterrupt):
        time_steps(net, splits[0], tcfg, callbacks=[CtrlC()])
