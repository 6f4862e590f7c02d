"""Predict the class of image files with a saved run (or ImageNet classes with a pretrained model).

>>> from cnnlab.deploy.predict import predict_files
>>> rows, skipped = predict_files("runs/fashion-mnist", ["shoe.png"], top_k=3)  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import glob
import io
from pathlib import Path

import numpy as np
import torch

from cnnlab.data.images import ImageError, convert_mode, load_image, resize, to_chw
from cnnlab.device import inference_autocast
from cnnlab.errors import ConfigError, DataError


def expand_paths(paths: list[str]) -> list[Path]:
    """Files, folders (searched recursively for image files) and glob patterns -> sorted unique files."""
    out: list[Path] = []
    for p in paths:
        matches = [Path(m) for m in sorted(glob.glob(p, recursive=True))] if any(c in p for c in "*?[") else [Path(p)]
        if not matches:
            raise DataError(f"{p}: no file matches this pattern")
        for m in matches:
            if m.is_dir():
                out += sorted(f for f in m.rglob("*") if f.is_file() and not f.name.startswith("."))
            elif m.exists():
                out.append(m)
            else:
                raise DataError(f"{m}: no such file or folder")
    seen, unique = set(), []
    for f in out:
        if f not in seen:
            seen.add(f)
            unique.append(f)
    return unique


def prepare(arr: np.ndarray, channels: int, size) -> np.ndarray:
    """Decoded image -> (C, H, W) uint8 matching the model's input."""
    arr = convert_mode(arr, "gray" if channels == 1 else "rgb")
    if tuple(arr.shape[:2]) != tuple(size):
        arr = resize(arr, tuple(size), fit="crop", resample="bicubic")
    return to_chw(arr)


def imagenet_model():
    from cnnlab.models import create_model

    model = create_model("efficientnet_lite0", num_classes=1000, pretrained=True).eval()
    model = model.to(memory_format=torch.channels_last)
    from timm.data import ImageNetInfo

    info = ImageNetInfo()
    classes = [info.index_to_description(i) for i in range(1000)]
    return model, classes, 3, model.pretrained_cfg["input_size"][1:]


def predict_files(run_dir: str | None, paths: list[str], top_k: int = 3, model_name: str | None = None,
                  batch_size: int = 64) -> tuple[list[dict], list[tuple[str, str]]]:
    """Top-k predictions for each readable file; unreadable ones come back in ``skipped``."""
    if model_name:
        if model_name != "efficientnet_lite0":
            raise ConfigError("model", model_name, "efficientnet_lite0 (ImageNet classes offline)",
                              hint="for your own classes pass a run directory instead")
        model, classes, channels, size = imagenet_model()
    else:
        from cnnlab.training.rundir import load_model

        model, meta = load_model(run_dir)
        classes, channels = meta["classes"], meta["input"]["channels"]
        size = meta["input"]["size"]
        if meta.get("pretrained_cfg"):
            size = meta["pretrained_cfg"]["input_size"][1:]
    files = expand_paths(paths)
    rows, skipped, batch, names = [], [], [], []

    def flush():
        if not batch:
            return
        x = torch.from_numpy(np.stack(batch)).contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), inference_autocast(torch.device("cpu")):
            probs = model(x).float().softmax(1)
        k = min(top_k, probs.shape[1])
        top = probs.topk(k, dim=1)
        for name, p, i in zip(names, top.values.tolist(), top.indices.tolist()):
            rows.append({"file": str(name), "top": [(classes[j], pj) for j, pj in zip(i, p)]})
        batch.clear()
        names.clear()

    for f in files:
        try:
            batch.append(prepare(load_image(f), channels, size))
            names.append(f)
        except ImageError as e:
            skipped.append((str(f), str(e)))
        if len(batch) == batch_size:
            flush()
    flush()
    return rows, skipped


def format_rows(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        best = ", ".join(f"{c} {p:.1%}" for c, p in r["top"])
        lines.append(f"{r['file']}: {best}")
    return "\n".join(lines)


def write_csv(rows: list[dict], path) -> None:
    from cnnlab.files import atomic_write

    k = max((len(r["top"]) for r in rows), default=1)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file"] + [f"{x}{i + 1}" for i in range(k) for x in ("class", "prob")])
    for r in rows:
        w.writerow([r["file"]] + [v for c, p in r["top"] for v in (c, f"{p:.6f}")])
    atomic_write(path, buf.getvalue())


__all__ = ["predict_files", "expand_paths", "format_rows", "write_csv"]
