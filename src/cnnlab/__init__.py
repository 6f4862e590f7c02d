"""cnnlab: the lecture "Introduction to CNNs" as real software.

Names are imported on first use (``cnnlab.train`` imports PyTorch, ``import cnnlab`` alone does not), so the
torch-free install (``pip install "cnnlab[deploy]"``) can import the package too.

The public API, all a newcomer needs:

    train(config_or_options, out=...)   train a model, write a run folder, return its model.json
    load(run_dir)                        the trained model and its model.json
    predict(run_dir, images)             top-k classes of image files or arrays
    evaluate(run_dir)                    test accuracy of a saved run (per class too)
    export(run_dir, format="onnx")       model.onnx, model.pt2 or a web demo that predicts what evaluate measured
    predict_onnx(model_onnx, images)     predict with an exported model.onnx and onnxruntime alone (no PyTorch)
    load_dataset(spec, split)            an ImageSet: uint8 (N, C, H, W), labels, classes
    create_model(name, ...)              a registered network
    summary(model, input_shape)          layer table: output shapes, parameters, FLOPs
    RunConfig                            every training option, with its default, in one place
    Job                                  a training run in the background, with its events
    experiment(claim, seeds, budget)     test a claim of the lecture; writes a lab report

>>> import cnnlab
>>> train = cnnlab.load_dataset("digits")
>>> train.shape
(1438, 1, 8, 8)
>>> model = cnnlab.create_model("lecture_cnn", num_classes=10, in_channels=1, image_size=8, widths=(16, 32))
>>> print(cnnlab.summary(model, (1, 8, 8)).splitlines()[-2])
Total params: 22,778  (trainable 22,778, frozen 0)
"""

from __future__ import annotations

import importlib

from cnnlab._version import __version__
from cnnlab.errors import CnnlabError

# public name -> the module that defines it; imported on first use (PEP 562), never at ``import cnnlab``
_WHERE = {
    "RunConfig": "cnnlab.config",
    "ImageSet": "cnnlab.data.imageset",
    "load_dataset": "cnnlab.data.sources",
    "evaluate": "cnnlab.deploy.evaluate",
    "export": "cnnlab.deploy.export",
    "experiment": "cnnlab.prove",
    "predict": "cnnlab.deploy.predict",
    "predict_onnx": "cnnlab.deploy.onnx_predict",
    "create_model": "cnnlab.models",
    "list_models": "cnnlab.models",
    "summary": "cnnlab.models",
    "Job": "cnnlab.training.jobs",
    "train": "cnnlab.training.run",
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'cnnlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


def load(run_dir, device="cpu"):
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
    return importlib.import_module("cnnlab.training.rundir").load_model(run_dir, device)


__all__ = ["CnnlabError", "ImageSet", "Job", "RunConfig", "__version__", "create_model", "evaluate", "experiment",
           "export", "list_models", "load", "load_dataset", "predict", "predict_onnx", "summary", "train"]
