"""Each speed option gives correct results (timings live in bench/, never in tests)."""

import torch

from cnnlab.data.sources import make_synthetic
from cnnlab.models import create_model
from cnnlab.training.trainer import TrainConfig, Trainer, evaluate, predict_logits


def model_and_data():
    torch.manual_seed(0)
    data = make_synthetic(n=256, image_size=16, num_classes=3, seed=2)
    m = create_model("lecture_cnn", num_classes=3, image_size=16, widths=(8, 16), mean=[40.0], std=[50.0])
    Trainer(m, data, None, TrainConfig(epochs=3, batch_size=32, precision="fp32")).fit()
    return m.eval(), data


def test_bf16_autocast_agrees_with_fp32():
    m, data = model_and_data()
    fp32 = predict_logits(m, data.images)
    bf16 = predict_logits(m, data.images, amp_dtype=torch.bfloat16)
    torch.testing.assert_close(bf16, fp32, atol=0.15, rtol=0.05)
    agree = (bf16.argmax(1) == fp32.argmax(1)).float().mean()
    assert agree > 0.98


def test_channels_last_equals_contiguous():
    m, data = model_and_data()
    x = data.images[:64]
    with torch.no_grad():
        a = m(x)
        b = m.to(memory_format=torch.channels_last)(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_compiled_and_eager_give_the_same_outputs():
    m, data = model_and_data()
    x = data.images[:32]
    with torch.no_grad():
        eager = m(x)
        compiled = torch.compile(m)(x)
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=1e-4)


def test_flip_tta_averages_the_image_and_its_mirror():
    m, data = model_and_data()
    x = data.images[:16]
    with torch.no_grad():
        manual = (m(x).log_softmax(1) + m(x.flip(-1)).log_softmax(1)) / 2
    torch.testing.assert_close(predict_logits(m, x, tta=True), manual, atol=1e-5, rtol=1e-5)
    r = evaluate(m, data, tta=True)
    assert 0 <= r["accuracy"] <= 1


def test_bf16_training_reaches_fp32_accuracy():
    accs = {}
    for precision in ("fp32", "bf16"):
        torch.manual_seed(0)
        data = make_synthetic(n=300, image_size=16, num_classes=3, seed=3)
        train, val = data.split(0.3, seed=0)
        m = create_model("lecture_cnn", num_classes=3, image_size=16, widths=(8, 16), mean=[40.0], std=[50.0])
        hist = Trainer(m, train, val, TrainConfig(epochs=6, batch_size=32, precision=precision, lr=5e-3)).fit().history
        accs[precision] = hist[-1]["val_accuracy"]
    assert accs["bf16"] >= accs["fp32"] - 0.05


def _bench_module(name):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_benchmark_recipes_build_train_and_parse():
    """The recipes the README's numbers come from stay runnable (a step each, on a few images)."""
    from cnnlab.data.augment import parse_augment

    recipes = _bench_module("train_speed").RECIPES
    assert {"default", "medium", "large"} <= set(recipes)
    data = make_synthetic(n=64, image_size=28, num_classes=5, seed=0)
    for model_args, train_args in recipes.values():
        parse_augment(train_args["augment"])
        model_args = dict(model_args)  # cnnlab train's recipes name their own model
        m = create_model(model_args.pop("model", "lecture_cnn"), num_classes=5, image_size=28, **model_args)
        cfg = TrainConfig(**dict(train_args, epochs=1), batch_size=32)
        Trainer(m, data, None, cfg).fit()
        assert torch.isfinite(predict_logits(m, data.images[:4])).all()


def test_speed_option_steps_all_train():
    make_step = _bench_module("speed_options").make_step
    for channels_last in (False, True):
        for pool_first in (False, True):
            step = make_step(channels_last, False, pool_first, batch=8)
            losses = [step().item() for _ in range(8)]
            assert all(torch.isfinite(torch.tensor(losses)))
            assert losses[-1] < losses[0]  # the same batch again and again: the loss must fall
