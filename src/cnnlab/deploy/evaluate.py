"""Test accuracy of a saved run, through the same input pipeline as :func:`cnnlab.deploy.predict.predict`.

The test images are loaded as the run's data was (photo folders decoded at the run's image size),
converted by :func:`~cnnlab.deploy.pipeline.prepare_images` and scored by
:func:`~cnnlab.deploy.pipeline.run_logits` with the run's own test-time augmentation, so the result
is the run's recorded test accuracy.

    evaluate("runs/fm")                       # on the run's own test split
    evaluate("runs/fm", data="folder:more")   # on another data set with the same classes
"""

from __future__ import annotations

import torch.nn.functional as F

from cnnlab.data.imageset import ImageSet
from cnnlab.data.sources import load_dataset
from cnnlab.deploy.pipeline import RunInput, prepare_images, run_logits
from cnnlab.device import pick_device
from cnnlab.errors import RunError
from cnnlab.training.metrics import classification_metrics
from cnnlab.training.rundir import load_model


def load_test_split(meta: dict, data: str | None = None) -> ImageSet:
    """The test split a run is evaluated on: its own data set's, or that of ``data``.

    Photo folders are decoded at the run's image size and fit, as when it was trained.

    Args:
        meta: the run's ``model.json``.
        data: a data spec (``fashion-mnist``, ``folder:PATH``...) to test on instead of the run's own.

    Returns:
        The test ImageSet (its images not yet converted to the model's channels).

    Raises:
        RunError: the data set's classes differ from the model's.
        DataError: the data set cannot be loaded.

    >>> meta = {"input": {"channels": 1, "size": [8, 8]}, "data": "digits", "classes": [str(i) for i in range(10)]}
    >>> load_test_split(meta).shape
    (359, 1, 8, 8)
    """
    spec = data or meta["data"]
    inp = RunInput.from_meta(meta)
    options = {}
    if spec.startswith("folder:"):
        size = inp.size[0] if inp.size[0] == inp.size[1] else inp.size
        options = {"image_size": size, "fit": inp.fit, "progress": False}
    test = load_dataset(spec, "test", **options)
    if list(test.classes) != list(meta["classes"]):
        why = describe_class_difference(test.classes, meta["classes"])
        raise RunError(f"the classes of {spec} differ from the model's: {why}; "
                       "evaluate on data with the same classes (one folder per class, same names), "
                       "or train a new run on this data")
    return test


def describe_class_difference(found: list[str], expected: list[str]) -> str:
    """Plain words for how two class lists differ.

    >>> describe_class_difference(["cat", "dog"], ["Cat", "dog"])
    "the data has 'cat' where the model has 'Cat'"
    >>> describe_class_difference(["a", "b", "c"], ["a", "b"])
    'the data has 3 classes, the model 2 (extra: c)'
    """
    if len(found) != len(expected):
        extra = [c for c in found if c not in expected]
        missing = [c for c in expected if c not in found]
        parts = ([f"extra: {', '.join(extra[:5])}"] if extra else []) + (
            [f"missing: {', '.join(missing[:5])}"] if missing else [])
        detail = f" ({'; '.join(parts)})" if parts else ""
        return f"the data has {len(found)} classes, the model {len(expected)}{detail}"
    pairs = [(f, e) for f, e in zip(found, expected, strict=True) if f != e]
    return "; ".join(f"the data has {f!r} where the model has {e!r}" for f, e in pairs[:3])


def evaluate(run, data: str | None = None, device: str = "auto", precision: str | None = None) -> dict:
    """Test accuracy and loss of a saved run on its own test split, or on ``data``'s.

    Args:
        run: a run folder (made by ``cnnlab train --out DIR``).
        data: a data spec to test on instead of the run's own (same classes needed).
        device: ``auto`` (GPU when there is one), ``cpu``, ``cuda`` or ``mps``.
        precision: ``auto``, ``fp32`` or ``bf16``; default: the run's own setting.

    Returns:
        ``{"run", "data", "test_accuracy", "test_accuracy_ci95", "correct", "test_loss", "images",
        "per_class", "macro", "confusions", "skipped"}``: the accuracy with its 95% Wilson interval
        ``[low, high]``, per-class ``precision``/``recall``/``f1``/``support`` (None where there is
        nothing to measure), their averages over classes and the most confused pairs (see
        :func:`~cnnlab.training.metrics.classification_metrics`); ``skipped`` lists ``[file, reason]``
        for test files that could not be read.

    Raises:
        RunError: the run folder is unusable, or the data's classes differ from the model's.
        DataError: the data set cannot be loaded.

    >>> import tempfile
    >>> from cnnlab.models import create_model
    >>> from cnnlab.training.rundir import save_model
    >>> run = tempfile.mkdtemp()
    >>> model = create_model("mlp", num_classes=10, in_channels=1, image_size=8)
    >>> save_model(run, model, {"architecture": model.cnnlab_config, "classes": [str(i) for i in range(10)],
    ...                         "input": {"channels": 1, "size": [8, 8]}, "data": "digits"})
    >>> r = evaluate(run, device="cpu")   # an untrained model: about 10% right
    >>> r["images"], 0.0 <= r["test_accuracy"] <= 1.0, len(r["per_class"])
    (359, True, 10)
    """
    dev = pick_device(device)
    model, meta = load_model(run, dev)
    spec = data or meta["data"]
    test = load_test_split(meta, data)
    x, _ = prepare_images(test.images, meta)  # uint8 (N, C, H, W) at the model's channels and size
    scores = run_logits(model, x, meta, precision=precision)  # (N, K)
    labels = test.labels
    m = classification_metrics(labels, scores.argmax(1), meta["classes"])
    return {"run": str(run), "data": spec,
            "test_accuracy": (scores.argmax(1) == labels).float().mean().item() if len(labels) else float("nan"),
            "test_accuracy_ci95": m["accuracy_ci95"], "correct": m["correct"],
            "test_loss": F.cross_entropy(scores, labels).item() if len(labels) else float("nan"),
            "images": len(test), "per_class": m["per_class"], "macro": m["macro"], "confusions": m["confusions"],
            "skipped": [list(s) for s in test.skipped]}


__all__ = ["describe_class_difference", "evaluate", "load_test_split"]
