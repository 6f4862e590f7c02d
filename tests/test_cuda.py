"""On a CUDA GPU: training (bf16 autocast, channels-last), evaluation and prediction give the CPU's answers.

Skipped cleanly on machines without CUDA (``pytest -m cuda`` selects only these).
"""

import numpy as np
import pytest
import torch

from cnnlab.cli import main
from cnnlab.data.splits import load_splits
from cnnlab.deploy.predict import predict
from cnnlab.files import read_json
from cnnlab.models import create_model
from cnnlab.training.rundir import load_model
from cnnlab.training.trainer import TrainConfig, Trainer, evaluate
from cnnlab.training.transfer import extract_features

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


@pytest.fixture(scope="module")
def gpu_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cuda") / "digits"
    assert main(["train", "--data", "digits", "--epochs", "6", "--device", "cuda", "--out", str(out), "--quiet",
                 "--model-arg", "widths=[16,32]"]) == 0
    return out


def test_a_gpu_run_trains_in_bf16_and_scores_the_same_on_the_cpu(gpu_run):
    meta = read_json(gpu_run / "model.json")
    assert meta["device"].startswith("cuda")
    assert meta["precision"] == ("bfloat16" if torch.cuda.is_bf16_supported() else "float32")
    assert meta["metrics"]["test_accuracy"] > 0.85
    model, _ = load_model(gpu_run, "cpu")
    _, _, test = load_splits("digits", val_fraction=0.1, seed=0)
    cpu = evaluate(model, test, tta=meta["training"]["tta"])["accuracy"]
    assert cpu == pytest.approx(meta["metrics"]["test_accuracy"], abs=0.02)  # bf16 on the GPU, fp32 here


def test_prediction_on_the_gpu_matches_the_cpu(gpu_run):
    _, _, test = load_splits("digits", val_fraction=0.1, seed=0)
    images = test.images[:200].numpy()
    on_cpu, _ = predict(gpu_run, images, top_k=1, device="cpu", precision="fp32")
    on_gpu, _ = predict(gpu_run, images, top_k=1, device="cuda")
    same = np.mean([a["top"][0][0] == b["top"][0][0] for a, b in zip(on_cpu, on_gpu)])
    assert same >= 0.97


def test_the_trainer_keeps_channels_last_and_bf16_on_the_gpu():
    train, _ = load_splits("digits", val_fraction=0, seed=0)[:2]
    torch.manual_seed(0)
    net = create_model("lecture_cnn", num_classes=10, image_size=8, in_channels=1, widths=(8, 16), hidden=16)
    t = Trainer(net, train, None, TrainConfig(epochs=1, batch_size=64, device="cuda"))
    conv = next(m for m in t.model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_cuda and conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert t.amp_dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else None)
    result = t.fit()
    assert np.isfinite(result.history[-1]["train_loss"])


def test_frozen_backbone_features_on_the_gpu_match_the_cpu():
    torch.manual_seed(0)
    net = create_model("efficientnet_lite0", num_classes=3)
    images = torch.randint(0, 256, (8, 3, 224, 224), dtype=torch.uint8)
    cpu = extract_features(net, images, device=torch.device("cpu"))
    gpu = extract_features(net.to("cuda"), images, device=torch.device("cuda"))
    assert torch.allclose(cpu, gpu.cpu(), rtol=1e-2, atol=1e-2)  # TF32/cuDNN sums in another order
