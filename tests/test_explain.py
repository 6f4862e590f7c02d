"""Every lecture figure is drawn from real data and written as a PNG; --image reaches every topic that shows one."""

import ast
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import cnnlab.learn.explain.common as common
from cnnlab.cli import main
from cnnlab.data.sources import make_synthetic
from cnnlab.errors import ConfigError, DataError, ImageError
from cnnlab.learn.explain import IMAGE_TOPICS, TOPICS, explain, figure
from cnnlab.learn.explain.common import figure_text, with_article
from cnnlab.learn.explain.trained import grad_cam
from cnnlab.models import create_model
from cnnlab.plots import pyplot
from cnnlab.training.run import train
from cnnlab.training.trainer import TrainConfig, Trainer

FAST_TOPICS = [t for t in TOPICS if t != "trained"]
LEARN = Path(common.__file__).parent.parent


def png_pixels(fig) -> np.ndarray:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    pyplot().close(fig)
    return np.asarray(Image.open(buf).convert("L"))


@pytest.fixture(scope="module")
def coffee(tmp_path_factory):
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "coffee.png"
    Image.fromarray(data.coffee()).save(path)
    return path


@pytest.mark.parametrize("topic", FAST_TOPICS)
def test_each_topic_writes_a_png(topic, tmp_path):
    [path] = explain(topic, out=tmp_path / f"{topic}.png")
    img = Image.open(path)
    assert img.format == "PNG" and img.width > 400 and img.height > 200
    assert np.asarray(img.convert("L")).std() > 10  # not a blank canvas


@pytest.mark.parametrize("topic", [t for t in IMAGE_TOPICS if t != "trained"])
def test_every_topic_that_shows_an_image_shows_the_given_photo(topic, coffee):
    """Was: convolution, flatten and pooling drew the same Fashion-MNIST patch whatever --image said."""
    default, mine = png_pixels(figure(topic)), png_pixels(figure(topic, image=coffee))
    assert default.shape != mine.shape or np.abs(default.astype(int) - mine).mean() > 1
    assert "coffee.png" in figure_text(figure(topic, image=coffee))  # the title names the photo


def test_the_gif_shows_the_given_photo(tmp_path, coffee):
    [plain] = explain("convolution", out=tmp_path / "plain.gif")
    [mine] = explain("convolution", out=tmp_path / "mine.gif", image=coffee)
    assert Image.open(plain).n_frames == Image.open(mine).n_frames == 25  # one frame per position, 3x3 on 7x7
    assert plain.read_bytes() != mine.read_bytes()


@pytest.mark.parametrize("topic", list(TOPICS) + ["all"])
def test_a_missing_image_is_an_error_for_every_topic(topic, tmp_path):
    """Was: a nonexistent --image still wrote a figure and exited 0 (topics that ignored it never opened it)."""
    with pytest.raises(ImageError, match="no-such.jpg: no such file"):
        explain(topic, out=tmp_path / "x.png", image=tmp_path / "no-such.jpg")
    assert [p.name for p in tmp_path.iterdir() if p.name != "cnnlab-home"] == []  # nothing drawn, nothing trained


def test_the_cli_says_one_line_and_exits_2_for_a_missing_image(tmp_path, capsys):
    code = main(["explain", "convolution", "--image", str(tmp_path / "no.jpg"), "--out", str(tmp_path / "c.png")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "no such file" in err
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("topic", [t for t in TOPICS if t not in IMAGE_TOPICS])
def test_an_image_for_a_topic_without_one_is_refused(topic, coffee):
    with pytest.raises(ConfigError, match="topics that show your image are"):
        figure(topic, image=coffee)


def test_the_cli_accepts_a_photo(tmp_path, coffee):
    assert main(["explain", "kernels", "--image", str(coffee), "--out", str(tmp_path / "k.png")]) == 0
    assert Image.open(tmp_path / "k.png").format == "PNG"


def test_unknown_topic_lists_topics():
    with pytest.raises(ConfigError, match="convolution"):
        explain("attention", out="x.png")


def test_image_arrays_of_another_shape_are_refused():
    with pytest.raises(ImageError, match=r"\(H, W\) or \(H, W, 3\)"):
        figure("numbers", image=np.zeros((4, 4, 2), np.uint8))


# ---------------------------------------------------------------- titles name the data actually used

def test_offline_without_fashion_mnist_titles_name_the_digits(monkeypatch):
    """Was: the figures fell back to scikit-learn's digits but their titles still said Fashion-MNIST."""
    real = common.load_dataset

    def no_fashion(spec, split="train", **options):
        if spec == "fashion-mnist":
            raise DataError("Fashion-MNIST is not on this machine")
        return real(spec, split, **options)

    monkeypatch.setattr(common, "load_dataset", no_fashion)
    for topic in ("flatten", "convolution", "pooling", "normalization", "batchnorm"):
        text = figure_text(figure(topic))
        assert "Fashion-MNIST" not in text, topic
        assert "digits" in text, topic


def test_titles_use_the_right_article():
    """Was: "a Ankle boot"."""
    text = figure_text(figure("pooling"))
    assert "a Ankle" not in text and "an Ankle boot from Fashion-MNIST" in text
    assert [with_article(w) for w in ("Ankle boot", "Bag", "8", "1", "umbrella", "unicorn", "hour")] == [
        "an Ankle boot", "a Bag", "an 8", "a 1", "an umbrella", "a unicorn", "an hour"]


# ---------------------------------------------------------------- the trained model, from the inside

def test_trained_topic_uses_a_run_and_the_given_photo(tmp_path, coffee):
    run = tmp_path / "run"
    train(out=run, data="digits", model="lecture_cnn", epochs=2, progress=False, model_args={"widths": [8, 16]})
    [path] = explain("trained", out=tmp_path / "t.png", run=str(run))
    assert path.stat().st_size > 10_000
    default, mine = figure("trained", run=str(run)), figure("trained", image=coffee, run=str(run))
    assert "coffee.png" in figure_text(mine) and "converted from RGB to gray" in figure_text(mine)
    assert np.abs(png_pixels(default).astype(int) - png_pixels(mine)).mean() > 1


def test_trained_topic_works_for_a_frozen_pretrained_backbone(tmp_path, photo_folder):
    """Was: AttributeError ('PretrainedClassifier' object has no attribute 'features')."""
    run = tmp_path / "lite0"
    train(out=run, data=f"folder:{photo_folder}", model="efficientnet_lite0", pretrained=True, freeze=True,
          epochs=1, image_size=32, model_args={"input_size": 64}, progress=False)
    text = figure_text(figure("trained", run=str(run)))
    assert "pretrained stem (backbone.conv_stem)" in text and "kept frozen" in text
    assert "feature maps of the first layer" in text and "Grad-CAM" in text and "backbone.bn2" in text


def test_trained_topic_says_what_an_mlp_cannot_show(tmp_path):
    run = tmp_path / "mlp"
    train(out=run, data="digits", model="mlp", epochs=1, progress=False)
    text = figure_text(figure("trained", run=str(run)))
    assert "no kernels to show" in text and "no Grad-CAM" in text and "no feature maps" in text


def test_grad_cam_points_at_the_object():
    """On a synthetic image with one bright bar, Grad-CAM of a model that learned bars looks at the bar."""
    torch.manual_seed(0)
    data = make_synthetic(n=300, image_size=16, num_classes=2, seed=1)
    m = create_model("lecture_cnn", num_classes=2, image_size=16, widths=(8, 16), mean=[40.0], std=[50.0])
    Trainer(m, data, None, TrainConfig(epochs=8, batch_size=32, precision="fp32")).fit()
    x = data.images[:1]
    cam, _ = grad_cam(m, x)
    bright = x[0, 0].numpy() > 150
    assert cam[bright].mean() > cam[~bright].mean()


# ---------------------------------------------------------------- code rules of the area

def test_learn_uses_cnnlab_progress_bars_only():
    """Progress bars go through cnnlab.progress.bar (no tqdm drawn into log files)."""
    for path in LEARN.rglob("*.py"):
        assert "tqdm" not in path.read_text(), path


def test_learn_imports_cnnlab_modules_at_the_top():
    for path in LEARN.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("cnnlab"):
                        pytest.fail(f"{path.name}:{inner.lineno} imports {inner.module} inside {node.name}()")
