"""A finished run's results for the page: metrics, the confusion matrix, the images behind each cell, Grad-CAM.

The engine's run folder keeps the metrics but not the answer for each test image, so the studio works
them out once, after training, and keeps them in ``.studio/predictions.json``: the run's test split
comes from the same folder loader and cache as in training (:func:`cnnlab.deploy.evaluate.load_test_split`)
and is scored by the run's own input pipeline (:func:`cnnlab.deploy.pipeline.run_logits`); each test image
is matched to its file by repeating the loader's split (the folder's files in order, minus unreadable ones,
then the fixed stratified hold-out) and checked against the labels.

>>> import tempfile
>>> ensure_predictions(Path(tempfile.mkdtemp()))
Traceback (most recent call last):
  ...
cnnlab.errors.RunError: this run has no finished model yet, so it has no results
"""

from __future__ import annotations

import io
import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from cnnlab.data.cache import cache_dir, folder_prefix
from cnnlab.data.images import load_image, resize
from cnnlab.data.imageset import SPLIT_SEED, TEST_FRACTION, stratified_indices
from cnnlab.data.layout import list_files
from cnnlab.deploy.evaluate import load_test_split
from cnnlab.deploy.pipeline import prepare_image, prepare_images, run_logits
from cnnlab.errors import CnnlabError, RunError
from cnnlab.files import read_json, write_json
from cnnlab.learn.explain.trained import grad_cam
from cnnlab.training.metrics import classification_metrics, count_matrix
from cnnlab.training.rundir import load_model

STUDIO = ".studio"  # the studio's files inside a run folder (hidden: the engine ignores them)
PREDICTIONS = "predictions.json"
THUMB = 128  # thumbnail size, pixels
CAM_SIZE = 256  # Grad-CAM overlays are drawn at least this large
_models: OrderedDict = OrderedDict()  # (run folder, weights mtime) -> (model, meta): the last few used
_lock = threading.Lock()  # one model load, prediction or Grad-CAM at a time (hooks and caches are shared)


def cached_model(run_dir: Path):
    """``(model, meta)`` of a finished run, kept in memory for the next Grad-CAM (the last 2 runs)."""
    weights = run_dir / "model.safetensors"
    key = (str(run_dir), weights.stat().st_mtime_ns if weights.is_file() else 0)
    if key not in _models:
        _models[key] = load_model(run_dir)
        while len(_models) > 2:
            _models.popitem(last=False)
    _models.move_to_end(key)
    return _models[key]


def split_files(data_dir: Path, meta: dict) -> list[tuple[Path, int]]:
    """The run's test images as ``(file, label)``, in the order of its test split.

    Repeats the folder loader's split: the files of each class folder in order, minus the unreadable ones
    (``skipped_files`` in model.json), then the fixed stratified hold-out of :func:`cnnlab.data.imageset.hold_out`.
    """
    root = data_dir.resolve()
    _, files = list_files(root)
    skipped = {(Path(p).parent.name, Path(p).name) for p, _ in meta.get("skipped_files", [])}
    readable = [(p, label) for p, label in files if (p.parent.name, p.name) not in skipped]
    _, test = stratified_indices(np.array([label for _, label in readable], np.int64), TEST_FRACTION, SPLIT_SEED)
    return [readable[i] for i in test]


def drop_folder_cache(run_dir: Path, meta: dict) -> None:
    """Remove the decoded copy of a run's photos from cnnlab's cache (its results are saved by then)."""
    inp = meta.get("input", {})
    size = inp.get("size", [0])[0]
    prefix = folder_prefix((run_dir / STUDIO / "data").resolve(), f"{size}|auto|{inp.get('fit', 'crop')}")
    for p in (cache_dir() / "folders").glob(f"{prefix}-*.npz"):
        p.unlink(missing_ok=True)


def ensure_predictions(run_dir: Path) -> dict:
    """Every test image's prediction, worked out once and kept in ``.studio/predictions.json``.

    Returns:
        ``{"classes": [...], "rows": [{"folder", "file", "true", "pred", "probs"}]}``, one row per test image.

    Raises:
        RunError: no finished model, no copy of the run's photos, or photos that no longer match the run.
    """
    path = run_dir / STUDIO / PREDICTIONS
    if path.is_file():
        return read_json(path)
    if not (run_dir / "model.json").is_file():
        raise RunError("this run has no finished model yet, so it has no results")
    data_dir = run_dir / STUDIO / "data"
    if not data_dir.is_dir():
        raise RunError("this run was not trained in the studio, so its test images are not known; "
                       "its scores are in its report")
    with _lock:
        if path.is_file():
            return read_json(path)
        model, meta = cached_model(run_dir)
        test = load_test_split(meta, data=f"folder:{data_dir.resolve()}")  # (N, C, H, W) as the run was tested
        files = split_files(data_dir, meta)
        if [label for _, label in files] != test.labels.tolist():
            raise RunError("the run's photos no longer match its test split; train a new run")
        x, _ = prepare_images(test.images, meta)
        probs = run_logits(model, x, meta).softmax(1) if len(x) else torch.zeros(0, len(meta["classes"]))  # (N, K)
        rows = [{"folder": p.parent.name, "file": p.name, "true": label, "pred": int(q.argmax()),
                 "probs": [round(float(v), 5) for v in q]} for (p, label), q in zip(files, probs, strict=True)]
        result = {"classes": meta["classes"], "rows": rows}
        write_json(path, result)
        drop_folder_cache(run_dir, meta)
    return result


def read_history(run_dir: Path) -> list[dict]:
    """The run's per-epoch records (history.jsonl), skipping damaged lines."""
    path = run_dir / "history.jsonl"
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(read_json_line(line))
        except ValueError:
            continue
    return rows


def read_json_line(line: str) -> dict:
    """One JSON object from a line of a .jsonl file.

    >>> read_json_line('{"epoch": 1}')
    {'epoch': 1}
    """
    value = json.loads(line)
    if not isinstance(value, dict):
        raise ValueError("not an object")
    return value


def results(run_dir: Path, folders: dict[str, str]) -> dict:
    """What the results page shows: meta, metrics, history, classes and the confusion matrix.

    Args:
        run_dir: a finished run folder.
        folders: ``{class folder name: class id}`` (from the run's ``.studio/run.json``).

    Returns:
        ``{"meta", "metrics": {"accuracy", "ci", "images", "correct", "per_class": [...], "macro"},
        "history", "classes": [{"id", "name"}], "confusion": [[...]] or None, "note"?}``.

    Raises:
        RunError: the run has no finished model.
    """
    try:
        meta = read_json(run_dir / "model.json")
    except CnnlabError:
        raise RunError("this run has no finished model yet, so it has no results") from None
    classes = [{"id": folders.get(name, name), "name": name} for name in meta["classes"]]
    out = {"meta": meta, "history": read_history(run_dir), "classes": classes, "confusion": None}
    try:
        rows = ensure_predictions(run_dir)["rows"]
    except CnnlabError as e:  # a run made elsewhere: the scores model.json recorded
        recorded = meta.get("test_metrics", {})
        out["note"] = str(e)
        out["metrics"] = {"accuracy": meta["metrics"].get("test_accuracy"), "ci": meta["metrics"].get(
            "test_accuracy_ci95"), "per_class": recorded.get("per_class", []), "macro": recorded.get("macro")}
        return out
    y, p = [r["true"] for r in rows], [r["pred"] for r in rows]
    m = classification_metrics(y, p, meta["classes"])
    for row, c in zip(m["per_class"], classes, strict=True):
        row["id"] = c["id"]
    out["metrics"] = {"accuracy": m["accuracy"], "ci": m["accuracy_ci95"], "images": m["images"],
                      "correct": m["correct"], "per_class": m["per_class"], "macro": m["macro"]}
    out["confusion"] = count_matrix(y, p, len(classes)).tolist()
    return out


def image_rows(run_dir: Path, folders: dict[str, str], url: str, true: int | None = None, pred: int | None = None,
               mistakes: bool = False, limit: int = 1000) -> list[dict]:
    """Test images with the model's answers, most confident first: one confusion-matrix cell, or the mistakes.

    Args:
        run_dir: a finished run folder.
        folders: ``{class folder name: class id}``.
        url: the run's URL (``/api/projects/p/runs/r``); image URLs are ``{url}/images/{class}/{image}``.
        true, pred: the cell (row = true class, column = predicted class).
        mistakes: every wrong answer instead of one cell (rows then carry ``true`` and ``pred``).
        limit: at most this many rows.

    Returns:
        ``[{"image": {"c", "i", "url", "thumb"}, "confidence", "probs"}]``.
    """
    out = []
    for r in ensure_predictions(run_dir)["rows"]:
        if (mistakes and r["true"] != r["pred"]) or (not mistakes and (r["true"], r["pred"]) == (true, pred)):
            c, i = folders.get(r["folder"], r["folder"]), Path(r["file"]).stem
            row = {"image": {"c": c, "i": i, "url": f"{url}/images/{c}/{i}", "thumb": f"{url}/images/{c}/{i}?thumb=1"},
                   "confidence": r["probs"][r["pred"]], "probs": r["probs"]}
            if mistakes:
                row.update(true=r["true"], pred=r["pred"])
            out.append(row)
    out.sort(key=lambda row: -row["confidence"])
    return out[:limit]


def thumbnail_png(path: Path, size: int = THUMB) -> bytes:
    """A PNG at most ``size`` pixels on its longer side, decoded with cnnlab's safe image loader."""
    img = Image.fromarray(load_image(path))
    img.thumbnail((size, size))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _jet(cam: np.ndarray) -> np.ndarray:
    """A (H, W) map in 0..1 as (H, W, 3) colours, blue (0) to red (1)."""
    return np.stack([np.clip(1.5 - np.abs(4 * cam - k), 0, 1) for k in (3, 2, 1)], axis=-1)


def gradcam_png(run_dir: Path, image: Path, alpha: float = 0.45) -> bytes:
    """A Grad-CAM overlay of one image for the class the run's model predicts, as PNG bytes.

    The image goes through the run's input pipeline (decode, crop, resize), so the map shows where the
    model looked in what it saw.

    Raises:
        RunError: no finished model. ModelError: the model has no convolution layer. ImageError: unreadable.
    """
    with _lock:
        model, meta = cached_model(run_dir)
        chw, _ = prepare_image(image, meta)  # uint8 (C, H, W)
        cam, _ = grad_cam(model, torch.from_numpy(chw)[None])  # (H, W) in 0..1
    rgb = np.repeat(chw, 3, 0) if chw.shape[0] == 1 else chw
    rgb = rgb.transpose(1, 2, 0).astype(np.float32) / 255  # (H, W, 3)
    blend = ((1 - alpha) * rgb + alpha * _jet(cam)) * 255
    out = blend.clip(0, 255).astype(np.uint8)
    h, w = out.shape[:2]
    if max(h, w) < CAM_SIZE:
        scale = CAM_SIZE / max(h, w)
        out = resize(out, (round(h * scale), round(w * scale)), fit="stretch")
    buf = io.BytesIO()
    Image.fromarray(out).save(buf, format="PNG")
    return buf.getvalue()
