"""Predict with an exported ``model.onnx`` and onnxruntime alone: no PyTorch (``pip install "cnnlab[deploy]"``).

This module needs numpy, Pillow and onnxruntime, nothing else. Images go through the same
:func:`cnnlab.deploy.inputs.prepare_image` as the PyTorch path (decode, centre crop, resize, gray/RGB),
and the exported graph holds the rest (normalization, resizing for pretrained backbones, the run's flip
test-time augmentation), so the answers are the PyTorch path's answers. Everything the predictor needs
to know about the run is read from the ONNX file's metadata (written by :func:`cnnlab.export`).

    rows, skipped = predict_onnx("runs/fm", ["shoe.png"])        # runs/fm/model.onnx
    rows, skipped = predict_onnx("fm.onnx", "photos/", top_k=1)  # a model.onnx copied anywhere

>>> predict_onnx("no-such-model.onnx", [])
Traceback (most recent call last):
  ...
cnnlab.errors.RunError: no-such-model.onnx: no such file; give a model.onnx written by cnnlab export, or a run \
folder that holds one
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cnnlab.deploy.inputs import RunInput, prepared_batches
from cnnlab.deploy.rows import check_top_k, image_items
from cnnlab.errors import CnnlabError, RunError

INSTALL = 'pip install "cnnlab[deploy]"  (numpy, Pillow and onnxruntime; no PyTorch)'
NEEDED = ("classes", "input_size", "channels")  # metadata keys a cnnlab export always writes


def find_onnx(run_or_onnx) -> Path:
    """The ONNX file to use: the file itself, or ``model.onnx`` inside a run folder (refused when stale).

    Args:
        run_or_onnx: a ``.onnx`` file, or a run folder that holds ``model.onnx`` (made by ``cnnlab export RUN``).

    Returns:
        The path of the ONNX file.

    Raises:
        RunError: no such file or folder; a run folder without ``model.onnx``; or a ``model.onnx`` older than
            the run's model (the run was trained further after the export, so it would predict with old weights).
    """
    path = Path(run_or_onnx)
    if not path.exists():
        raise RunError(f"{path}: no such file; give a model.onnx written by cnnlab export, or a run folder "
                       "that holds one")
    if path.is_file():
        return path
    onnx_file, weights = path / "model.onnx", path / "model.safetensors"
    if not onnx_file.is_file():
        raise RunError(f"{path} has no model.onnx; export it where PyTorch is installed (cnnlab export {path}) "
                       "and copy the run folder (or just model.onnx) here")
    if weights.is_file() and weights.stat().st_mtime > onnx_file.stat().st_mtime:
        raise RunError(f"{onnx_file} is older than the run's model (it was trained further after the export); "
                       f"export it again: cnnlab export {path}")
    return onnx_file


class OnnxPredictor:
    """An exported cnnlab model in onnxruntime: uint8 images in, class probabilities out.

    Args:
        path: a ``model.onnx`` written by :func:`cnnlab.export` (or a run folder holding one).
        threads: onnxruntime's intra-op threads (None: onnxruntime's default).

    Attributes:
        classes: the class names, in the model's output order.
        spec: the :class:`~cnnlab.deploy.inputs.RunInput` (channels, size, fit) images are prepared for.
        meta: a ``model.json``-like dict (``classes``, ``input``, ``data``, ``training.tta``).

    Raises:
        CnnlabError: onnxruntime is not installed.
        RunError: the file is not an ONNX model written by cnnlab.
    """

    def __init__(self, path, threads: int | None = None):
        try:
            import onnxruntime as ort  # deferred: optional (the deploy extra), and slow to import
        except ImportError:
            raise CnnlabError(f"predicting with model.onnx needs onnxruntime: {INSTALL}") from None
        self.path = find_onnx(path)
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        except Exception as e:  # onnxruntime raises its own exception types for unreadable files
            raise RunError(f"{self.path}: not a readable ONNX model ({str(e).splitlines()[0][:200]})") from None
        props = self.session.get_modelmeta().custom_metadata_map
        missing = [k for k in NEEDED if k not in props]
        if missing:
            raise RunError(f"{self.path}: an ONNX model without cnnlab's metadata ({', '.join(missing)} missing); "
                           "export it with cnnlab export RUN")
        self.classes = list(json.loads(props["classes"]))
        self.meta = {"classes": self.classes, "data": props.get("data", ""),
                     "input": {"channels": int(props["channels"]), "size": json.loads(props["input_size"]),
                               "fit": props.get("fit", "crop"), "resample": props.get("resample", "bilinear")},
                     "training": {"tta": props.get("tta") == "true"}}
        self.spec = RunInput.from_meta(self.meta)
        self.input_name = self.session.get_inputs()[0].name

    def probabilities(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, C, H, W) at the model's size -> float32 probabilities (N, K), each row summing to 1.

        >>> import tempfile, pathlib
        >>> OnnxPredictor(pathlib.Path(tempfile.mkdtemp()))
        Traceback (most recent call last):
          ...
        cnnlab.errors.RunError: ... has no model.onnx; export it where PyTorch is installed ...
        """
        x = np.ascontiguousarray(images, dtype=np.float32)  # the graph takes float pixels 0..255
        return self.session.run(None, {self.input_name: x})[0]


def predict_onnx(run_or_onnx, images, top_k: int | None = None,
                 batch_size: int = 256) -> tuple[list[dict], list[tuple[str, str]]]:
    """Top-k classes of each image with an exported model: the same rows as :func:`cnnlab.predict`.

    Args:
        run_or_onnx: a ``model.onnx`` file, or a run folder holding one.
        images: image files, folders or glob patterns; a uint8 array (N, C, H, W) or one image; or a list.
        top_k: classes per image, 1 to the number of classes (None: 3, or all when fewer).
        batch_size: images decoded and scored at a time.

    Returns:
        ``(rows, skipped)``: per image ``{"file", "top": [(class, probability), ...], "notes"}``, and
        ``(file, reason)`` for each file that could not be read.

    Raises:
        RunError: no usable ONNX file.
        ConfigError: a bad ``top_k`` or array.
        DataError: a path or pattern matches no file.
    """
    model = OnnxPredictor(run_or_onnx)
    k = check_top_k(top_k, len(model.classes))
    items = image_items(images)
    rows: list[dict] = []
    skipped: list[tuple[str, str]] = []
    for names, x, notes in prepared_batches(items, model.spec, batch_size, skipped):
        probs = model.probabilities(x)  # (N, K)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        for name, p, idx, why in zip(names, probs, order, notes, strict=True):
            rows.append({"file": name, "top": [(model.classes[j], float(p[j])) for j in idx], "notes": why})
    return rows, skipped


__all__ = ["OnnxPredictor", "find_onnx", "predict_onnx"]
