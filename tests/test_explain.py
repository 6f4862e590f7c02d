"""Every lecture figure is drawn from real data and written as a PNG."""

import numpy as np
import pytest
from PIL import Image

from cnnlab.cli import main
from cnnlab.learn.explain import TOPICS, explain

FAST_TOPICS = [t for t in TOPICS if t != "trained"]


@pytest.mark.parametrize("topic", FAST_TOPICS)
def test_each_topic_writes_a_png(topic, tmp_path):
    [path] = explain(topic, out=tmp_path / f"{topic}.png")
    img = Image.open(path)
    assert img.format == "PNG" and img.width > 400 and img.height > 200
    assert np.asarray(img.convert("L")).std() > 10  # not a blank canvas


def test_user_image_and_gif(tmp_path):
    from skimage import data

    photo = tmp_path / "mine.png"
    Image.fromarray(data.coffee()).save(photo)
    assert main(["explain", "kernels", "--image", str(photo), "--out", str(tmp_path / "k.png")]) == 0
    [gif] = explain("convolution", out=tmp_path / "conv.gif")
    assert Image.open(gif).n_frames == 25  # one frame per output position of a 3x3 kernel on 7x7


def test_trained_topic_uses_a_run(tmp_path):
    from cnnlab.training.run import train_run

    run = tmp_path / "run"
    train_run("digits", "lecture_cnn", epochs=2, out=str(run), progress=False, model_args={"widths": [8, 16]})
    [path] = explain("trained", out=tmp_path / "t.png", run=str(run))
    assert path.stat().st_size > 10_000


def test_unknown_topic_lists_topics():
    with pytest.raises(ValueError, match="convolution"):
        explain("attention", out="x.png")


def test_grad_cam_points_at_the_object():
    """On a synthetic image with one bright bar, Grad-CAM of a model that learned bars looks at the bar."""
    import torch

    from cnnlab.data.sources import make_synthetic
    from cnnlab.learn.explain.trained import grad_cam
    from cnnlab.models import create_model
    from cnnlab.training.trainer import TrainConfig, Trainer

    torch.manual_seed(0)
    data = make_synthetic(n=300, image_size=16, num_classes=2, seed=1)
    m = create_model("lecture_cnn", num_classes=2, image_size=16, widths=(8, 16), mean=[40.0], std=[50.0])
    Trainer(m, data, None, TrainConfig(epochs=8, batch_size=32, precision="fp32")).fit()
    x = data.images[:1]
    cam, _ = grad_cam(m, x)
    bright = x[0, 0].numpy() > 150
    assert cam[bright].mean() > cam[~bright].mean()
