"""cnnlab: the lecture "Introduction to CNNs" as real software.

The public API, all a newcomer needs:

    train(config_or_options, out=...)   train a model, write a run folder, return its model.json
    load(run_dir)                        the trained model and its model.json
    predict(run_dir, images)             top-k classes of image files or arrays
    evaluate(run_dir)                    test accuracy of a saved run (per class too)
    export(run_dir, format="onnx")       model.onnx or model.pt2 that predicts what evaluate measured
    load_dataset(spec, split)            an ImageSet: uint8 (N, C, H, W), labels, classes
    create_model(name, ...)              a registered network
    summary(model, input_shape)          layer table: output shapes, parameters, FLOPs
    RunConfig                            every training option, with its default, in one place
    Job                                  a training run in the background, with its events

>>> import cnnlab
>>> train = cnnlab.load_dataset("digits")
>>> train.shape
(1438, 1, 8, 8)
>>> model = cnnlab.create_model("lecture_cnn", num_classes=10, in_channels=1, image_size=8, widths=(16, 32))
>>> print(cnnlab.summary(model, (1, 8, 8)).splitlines()[-2])
Total params: 22,778  (trainable 22,778, frozen 0)
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnnlab._version import __version__
from cnnlab.config import RunConfig
from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import load_dataset
from cnnlab.deploy.evaluate import evaluate
from cnnlab.deploy.export import export
from cnnlab.deploy.predict import predict
from cnnlab.errors import CnnlabError
from cnnlab.models import create_model, list_models, summary
from cnnlab.training.jobs import Job
from cnnlab.training.run import train
from cnnlab.training.rundir import load_model


def load(run_dir: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, dict]:
    """The trained model of a run folder (eval mode) and its model.json.

    Args:
        run_dir: a folder written by :func:`train` (or ``cnnlab train --out``).
        device: where to put the model.

    Returns:
        ``(model, meta)``: the network, taking uint8 images (N, C, H, W), and the run's model.json as a dict.

    Raises:
        RunError: the folder holds no finished run, or its files are broken or do not fit together.

    >>> import cnnlab
    >>> model, meta = cnnlab.load("tests/fixtures/run-v0.1")  # a run saved by cnnlab 0.1, in the repository
    >>> meta["classes"][:3], model.training
    (['0', '1', '2'], False)
    """
    return load_model(run_dir, device)


__all__ = ["CnnlabError", "ImageSet", "Job", "RunConfig", "__version__", "create_model", "evaluate", "export",
           "list_models", "load", "load_dataset", "predict", "summary", "train"]
