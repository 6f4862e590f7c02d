"""Predict the class of images with a saved run (or ImageNet classes with a pretrained model).

Images go through the run's own input pipeline (:mod:`cnnlab.deploy.pipeline`), the same one
``evaluate`` uses, so a test photo gets the same answer from both. Each answer row carries notes on
what was changed to fit the model (colour -> gray, crop, resize) and a warning when the model has
never seen images like it.

    rows, skipped = predict("runs/fm", ["shoe.png", "photos/", "more/*.jpg"], top_k=3)
    print(format_rows(rows))
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnnlab.deploy.inputs import prepared_batches
from cnnlab.deploy.pipeline import RunInput, run_logits
from cnnlab.deploy.rows import check_top_k, expand_paths, format_rows, image_items, write_csv
from cnnlab.device import pick_device
from cnnlab.errors import ConfigError, RunError
from cnnlab.models import create_model
from cnnlab.training.rundir import load_model

IMAGENET_MODELS = ("efficientnet_lite0",)  # pretrained models whose ImageNet classifier works offline
NOT_A_RUN = ("the first argument must be a run folder (made by cnnlab train --out DIR); "
             "for ImageNet classes use --model efficientnet_lite0 (model_name='efficientnet_lite0' in Python)")


def check_run_folder(run) -> Path:
    """``run`` as a Path, refused clearly when it is plainly not a run folder (a photo, a missing path).

    An interrupted run (resume.json, no model.json) passes: :func:`~cnnlab.training.rundir.load_model`
    then says how to finish it.

    Raises:
        RunError: ``run`` is a file, does not exist, or is a folder with no run files.

    >>> check_run_folder("cat.jpg")
    Traceback (most recent call last):
      ...
    cnnlab.errors.RunError: cat.jpg: no such run folder; the first argument must be a run folder (made by \
cnnlab train --out DIR); for ImageNet classes use --model efficientnet_lite0 (model_name='efficientnet_lite0' in Python)
    """
    if run is None:
        raise RunError(f"no run folder given; {NOT_A_RUN}")
    path = Path(run)
    if not path.exists():
        raise RunError(f"{path}: no such run folder; {NOT_A_RUN}")
    if path.is_file():
        raise RunError(f"{path} is a file, not a run folder; {NOT_A_RUN}")
    if not (path / "model.json").is_file() and not (path / "resume.json").is_file():
        raise RunError(f"{path} is not a run folder (it has no model.json); {NOT_A_RUN}")
    return path


def imagenet_model(name: str = "efficientnet_lite0") -> tuple[torch.nn.Module, dict]:
    """A pretrained model with its ImageNet classifier, and a ``model.json``-like description of its input.

    Args:
        name: a model whose ImageNet weights ship offline (``efficientnet_lite0``).

    Returns:
        ``(model, meta)`` with the 1000 ImageNet class names in ``meta["classes"]``.

    Raises:
        ConfigError: ``name`` has no offline ImageNet classifier (key ``model_name``).

    >>> imagenet_model("resnet50")
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: model_name='resnet50': expected efficientnet_lite0 (ImageNet classes offline); \
for your own classes pass a run folder instead
    """
    if name not in IMAGENET_MODELS:
        raise ConfigError("model_name", name, " or ".join(IMAGENET_MODELS) + " (ImageNet classes offline)",
                          hint="for your own classes pass a run folder instead")
    from timm.data import ImageNetInfo  # deferred: timm is slow to import

    model = create_model(name, num_classes=1000, pretrained=True).eval()
    cfg = model.pretrained_cfg
    info = ImageNetInfo()
    meta = {"classes": [info.index_to_description(i) for i in range(1000)], "data": "imagenet",
            "input": {"channels": 3, "size": list(cfg["input_size"][1:]), "fit": "crop",
                      "resample": cfg.get("interpolation", "bicubic")},
            "training": {"tta": False, "precision": "auto"}}
    return model.to(memory_format=torch.channels_last), meta


def load_predictor(run=None, model_name: str | None = None, device: str = "cpu") -> tuple[torch.nn.Module, dict]:
    """The model and its ``model.json`` for :func:`predict`: from a run folder, or an ImageNet model by name.

    Args:
        run: a run folder (made by ``cnnlab train --out DIR``), or None with ``model_name``.
        model_name: ``efficientnet_lite0`` for the 1000 ImageNet classes (instead of a run).
        device: ``cpu`` (default), ``cuda``, ``mps`` or ``auto``.

    Returns:
        ``(model, meta)``.

    Raises:
        RunError: ``run`` is not a usable run folder.
        ConfigError: both or neither of ``run`` and ``model_name``, or an unknown ``model_name``.

    >>> load_predictor(None)
    Traceback (most recent call last):
      ...
    cnnlab.errors.RunError: no run folder given; the first argument must be a run folder (made by cnnlab train \
--out DIR); for ImageNet classes use --model efficientnet_lite0 (model_name='efficientnet_lite0' in Python)
    """
    dev = pick_device(device)
    if model_name is not None:
        if run is not None:
            raise ConfigError("model_name", model_name, "either a run folder or model_name, not both")
        model, meta = imagenet_model(model_name)
        return model.to(dev), meta
    return load_model(check_run_folder(run), dev)


def predict(run, images, top_k: int | None = None, model_name: str | None = None, device: str = "cpu",
            precision: str | None = None, batch_size: int = 256) -> tuple[list[dict], list[tuple[str, str]]]:
    """Top-k classes of each image, as the run's model sees it; unreadable files come back in ``skipped``.

    Args:
        run: a run folder (made by ``cnnlab train --out DIR``), or None with ``model_name``.
        images: image file paths, folders or glob patterns; a uint8 array or tensor (N, C, H, W) or one
            image (H, W) / (H, W, 3); or a list of paths and arrays.
        top_k: how many classes to show per image, 1 to the number of classes (None: 3, or all when fewer).
        model_name: ``efficientnet_lite0`` to predict the 1000 ImageNet classes instead of a run's classes.
        device: where to compute (``cpu`` by default; ``auto`` picks a GPU).
        precision: ``auto``, ``fp32`` or ``bf16``; default: the run's own setting.
        batch_size: images decoded and scored at a time.

    Returns:
        ``(rows, skipped)``: per image ``{"file": name, "top": [(class, probability), ...], "notes": [...]}``
        (notes say what was changed to fit the model; one starting with "warning:" says the model has
        never seen such images), and ``(file, reason)`` for each file that could not be read.

    Raises:
        RunError: ``run`` is not a finished run folder (or its files do not fit together).
        ConfigError: a bad ``top_k``, ``model_name`` or array.
        DataError: a path or pattern matches no file.

    >>> import tempfile
    >>> import numpy as np
    >>> from cnnlab.training.rundir import save_model
    >>> run = tempfile.mkdtemp()
    >>> model = create_model("mlp", num_classes=2, in_channels=1, image_size=8)
    >>> save_model(run, model, {"architecture": model.cnnlab_config, "classes": ["cat", "dog"],
    ...                         "input": {"channels": 1, "size": [8, 8]}, "data": "digits"})
    >>> rows, skipped = predict(run, np.zeros((8, 8), np.uint8), top_k=1)  # one gray 8x8 image
    >>> rows[0]["file"], rows[0]["top"][0][0] in ("cat", "dog"), rows[0]["notes"]
    ('image 0', True, [])
    """
    model, meta = load_predictor(run, model_name, device)
    classes = meta["classes"]
    k = check_top_k(top_k, len(classes))
    spec = RunInput.from_meta(meta)
    items = image_items(images)
    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    for names, arrays, notes in prepared_batches(items, spec, batch_size, skipped):
        x = torch.from_numpy(arrays)  # uint8 (N, C, H, W)
        probs = run_logits(model, x, meta, precision=precision).softmax(1)  # (N, K)
        top = probs.topk(k, dim=1)
        for name, p, idx, why in zip(names, top.values.tolist(), top.indices.tolist(), notes, strict=True):
            rows.append({"file": name, "top": [(classes[j], pj) for j, pj in zip(idx, p, strict=True)],
                         "notes": why})
    return rows, skipped


__all__ = ["check_run_folder", "check_top_k", "expand_paths", "format_rows", "load_predictor", "predict",
           "write_csv"]
