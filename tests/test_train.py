import json

import pytest
import torch

from cnnlab import train
from cnnlab.data.sources import make_synthetic
from cnnlab.errors import RunError, TrainingError
from cnnlab.models import create_model
from cnnlab.training.callbacks import EarlyStopping, NonFiniteGuard
from cnnlab.training.rundir import load_model, load_resume, save_resume
from cnnlab.training.trainer import TrainConfig, Trainer, one_cycle


def small(seed=0, **cfg):
    data = make_synthetic(n=240, image_size=16, num_classes=3, seed=0)
    train, val = data.split(0.25, seed=0)
    model = create_model("lecture_cnn", num_classes=3, in_channels=1, image_size=16, widths=(8, 16), hidden=16,
                         mean=train.mean_std()[0], std=train.mean_std()[1])
    config = TrainConfig(epochs=cfg.pop("epochs", 3), batch_size=32, seed=seed, precision="fp32", **cfg)
    return model, train, val, config


def weights(model):
    return torch.cat([v.flatten().float() for v in model.state_dict().values()])


def test_learns_synthetic_shapes():
    model, train, val, config = small(epochs=6, lr=5e-3)
    hist = Trainer(model, train, val, config).fit().history
    assert hist[-1]["val_accuracy"] > 0.9
    assert hist[-1]["val_loss"] < hist[0]["val_loss"]


def test_same_seed_same_numbers_different_seed_differs():
    runs = []
    for seed in (0, 0, 1):
        torch.manual_seed(seed)
        model, train, val, config = small(seed=seed, augment="flip,crop=2")
        hist = Trainer(model, train, val, config).fit().history
        runs.append((weights(model), hist[-1]["val_loss"]))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert not torch.equal(runs[0][0], runs[2][0])


def test_events_fire_in_order():
    seen = []

    class Spy:
        def __getattr__(self, name):
            if name.startswith(("before_", "after_")):
                return lambda t: seen.append(name)
            raise AttributeError(name)

    model, train, val, config = small(epochs=1)
    Trainer(model, train, val, config, callbacks=[Spy()]).fit()
    assert seen[:5] == ["before_fit", "before_epoch", "before_batch", "after_loss", "after_batch"]
    assert seen[-2:] == ["after_epoch", "after_fit"]


def test_early_stopping_stops():
    model, train, val, config = small(epochs=20, lr=1e-9)
    hist = Trainer(model, train, val, config, callbacks=[EarlyStopping("val_accuracy", patience=2)]).fit()
    hist = hist.history
    assert len(hist) < 20


def test_nan_loss_stops_with_clear_message_and_weights_stay_finite(tmp_path):
    model, train, val, config = small(epochs=2)

    class Poison:
        def before_batch(self, t):
            if t.step == 3:
                t.x = t.x.float() * float("nan")

    t = Trainer(model, train, val, config, callbacks=[Poison(), NonFiniteGuard()])
    with pytest.raises(TrainingError, match="lower learning rate"):
        t.fit()
    # the step was never taken: every parameter is still finite
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # the NaN batch did reach the batch-norm running statistics, so saving must refuse
    from cnnlab.errors import RunError
    from cnnlab.training.rundir import save_model

    with pytest.raises(RunError, match="NaN"):
        save_model(tmp_path, model, {})
    assert not (tmp_path / "model.safetensors").exists()


def test_one_cycle_schedule_shape():
    lrs = [one_cycle(s, 100, 1.0) for s in range(100)]
    assert lrs[0] < 0.1 and max(lrs) == pytest.approx(1.0, abs=0.01) and lrs[-1] < 0.01
    assert lrs.index(max(lrs)) == 25


def test_fractional_epochs_run_the_whole_schedule_in_a_partial_last_epoch():
    model, train, val, config = small(epochs=1.6)  # 180 images / 32 = 5 batches per epoch -> 8 steps
    lrs = []

    class Spy:
        def after_batch(self, t):
            lrs.append(t.lr)

    t = Trainer(model, train, val, config, callbacks=[Spy()])
    hist = t.fit().history
    assert (t.total_steps, t.step, len(hist)) == (8, 8, 2)
    assert hist[-1]["step"] == 8 and hist[-1]["images_per_second"] > 0
    # the one-cycle schedule spans exactly the 8 steps: it ends annealed inside the partial epoch
    assert lrs == pytest.approx([one_cycle(s, 8, config.lr, config.warmup) for s in range(8)])
    assert lrs[-1] < 0.1 * max(lrs)
    with pytest.raises(ValueError, match="epochs=0: expected a number of epochs above 0"):
        Trainer(*small(epochs=0)[:3], small(epochs=0)[3])


def test_resume_mid_epoch_is_bit_equal(tmp_path):
    torch.manual_seed(0)
    model, train, val, config = small(epochs=2, augment="flip,crop=2")
    straight = Trainer(model, train, val, config)
    straight.fit()

    torch.manual_seed(0)  # the same initial weights as the straight run
    model2, *_ = small()
    first = Trainer(model2, train, val, config)

    class StopAt:
        def after_batch(self, t):
            if t.step == 7:  # mid-epoch 2 (5 batches per epoch)
                t.stop_requested = True

    first.add_callback(StopAt())
    first.fit()
    save_resume(tmp_path, first, {})
    model3, *_ = small()
    torch.manual_seed(123)  # a different global RNG state must not matter
    second = Trainer(model3, train, val, config)
    load_resume(tmp_path, second)
    assert (second.epoch, second.batch) == (1, 2)
    second.fit()
    assert torch.equal(weights(straight.model), weights(second.model))
    so, ro = straight.optimizer.state_dict()["state"], second.optimizer.state_dict()["state"]
    assert all(torch.equal(so[k]["exp_avg_sq"], ro[k]["exp_avg_sq"]) for k in so)
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in second.history]


def test_train_run_writes_complete_run_directory(tmp_path):
    out = tmp_path / "run"
    meta = train(data="synthetic", model="lecture_cnn", epochs=3, out=str(out), model_args={"widths": [8, 16]},
                 progress=False, batch_size=32)
    for f in ("model.safetensors", "model.json", "history.jsonl", "report.md", "curves.png", "confusion.png"):
        assert (out / f).is_file(), f
    assert not (out / "resume.json").exists()
    saved = json.loads((out / "model.json").read_text())
    assert saved["metrics"]["test_accuracy"] == meta["metrics"]["test_accuracy"]
    assert saved["normalization"]["mean"] and saved["versions"]["torch"] == torch.__version__
    assert (out / "report.md").read_text().startswith("# Test accuracy: ")
    assert len((out / "history.jsonl").read_text().splitlines()) == 3
    model, meta2 = load_model(out)
    assert meta2["classes"] == meta["classes"]


def test_train_run_refuses_to_clobber_an_interrupted_run(tmp_path):
    (tmp_path / "resume.json").write_text("{}")
    with pytest.raises(RunError, match="--resume"):
        train(data="synthetic", out=str(tmp_path), epochs=1, progress=False)
