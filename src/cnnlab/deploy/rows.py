"""The parts of prediction that need no model: which files, how many classes to show, and the answer as text or CSV.

Shared by :mod:`cnnlab.deploy.predict` (PyTorch) and :mod:`cnnlab.deploy.onnx_predict` (onnxruntime only), so
both print and save the same rows: ``{"file": name, "top": [(class, probability), ...], "notes": [...]}``.
"""

from __future__ import annotations

import csv
import glob
import io
import os
import sys
from pathlib import Path

import numpy as np

from cnnlab.errors import ConfigError, DataError
from cnnlab.files import atomic_write

DEFAULT_TOP_K = 3


def expand_paths(paths: list[str]) -> list[Path]:
    """Files, folders (searched recursively) and glob patterns -> sorted unique files.

    Args:
        paths: file names, folder names or glob patterns (``photos/*.jpg``, ``photos/**/*.png``).

    Returns:
        The files, each once, in the order given (folders and patterns sorted).

    Raises:
        DataError: a path does not exist or a pattern matches nothing.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "b.png").write_bytes(b""); (d / "a.png").write_bytes(b"")
    0
    0
    >>> [p.name for p in expand_paths([str(d)])]
    ['a.png', 'b.png']
    """
    out: list[Path] = []
    for p in paths:
        p = str(p)
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
    return list(dict.fromkeys(out))


def check_top_k(top_k: int | None, num_classes: int) -> int:
    """How many classes to show: ``top_k`` checked against the model's class count.

    Args:
        top_k: a whole number from 1 to ``num_classes``, or None for "3, or all classes when fewer".
        num_classes: how many classes the model knows.

    Returns:
        The number of classes to show.

    Raises:
        ConfigError: ``top_k`` is not a whole number from 1 to ``num_classes`` (key ``top_k``).

    >>> check_top_k(None, 2), check_top_k(5, 10)
    (2, 5)
    >>> check_top_k(0, 10)
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: top_k=0: expected a whole number from 1 to 10 (the model knows 10 classes)
    """
    if top_k is None:
        return min(DEFAULT_TOP_K, num_classes)
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or not 1 <= top_k <= num_classes:
        raise ConfigError("top_k", top_k, f"a whole number from 1 to {num_classes} "
                                          f"(the model knows {num_classes} classes)")
    return int(top_k)


def image_items(images) -> list[tuple[str, object]]:
    """(name, path or array) for each image: paths, folders and globs are expanded; arrays are named 'image i'.

    >>> [name for name, _ in image_items(np.zeros((2, 1, 8, 8), np.uint8))]
    ['image 0', 'image 1']
    """
    if isinstance(images, (str, os.PathLike)):
        return [(str(p), p) for p in expand_paths([images])]
    if hasattr(images, "ndim"):  # a numpy array or a tensor
        batch = images if images.ndim == 4 else images[None]  # one image (H, W), (H, W, C) or (C, H, W)
        return [(f"image {i}", batch[i]) for i in range(len(batch))]
    out = []
    for i, item in enumerate(images):
        if isinstance(item, (str, os.PathLike)):
            out += [(str(p), p) for p in expand_paths([item])]
        else:
            out.append((f"image {i}", item))
    return out


def format_rows(rows: list[dict]) -> str:
    """Rows as text: one line per image, then its notes and warnings (indented) when there are any.

    >>> print(format_rows([{"file": "a.png", "top": [("cat", 0.9), ("dog", 0.1)],
    ...                     "notes": ["resized from 64x64 to 32x32", "warning: never seen"]}]))
    a.png: cat 90.0%, dog 10.0%
      (resized from 64x64 to 32x32)
      warning: never seen
    """
    lines = []
    for r in rows:
        lines.append(f"{r['file']}: " + ", ".join(f"{c} {p:.1%}" for c, p in r["top"]))
        notes = [n for n in r.get("notes", []) if not n.startswith("warning:")]
        if notes:
            lines.append(f"  ({'; '.join(notes)})")
        lines += [f"  {n}" for n in r.get("notes", []) if n.startswith("warning:")]
    return "\n".join(lines)


def write_csv(rows: list[dict], path) -> Path:
    """Write rows to a CSV file (file, class1, prob1, class2, prob2, ...), atomically, next to ``path``.

    Args:
        rows: from :func:`predict`.
        path: the CSV file to write (its folder is created if needed).

    Returns:
        The path written.

    Raises:
        ConfigError: ``path`` is a folder (key ``csv``).

    >>> import tempfile
    >>> p = write_csv([{"file": "a.png", "top": [("cat", 0.75)]}], tempfile.mkdtemp() + "/out.csv")
    >>> p.read_text().splitlines()
    ['file,class1,prob1', 'a.png,cat,0.750000']
    """
    text = str(path)
    if not text or text.endswith(("/", os.sep)) or Path(path).is_dir():
        raise ConfigError("csv", text, "a file name such as predictions.csv, not a folder")
    path = Path(path)
    k = max((len(r["top"]) for r in rows), default=1)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["file"] + [f"{x}{i + 1}" for i in range(k) for x in ("class", "prob")])
    for r in rows:
        w.writerow([r["file"]] + [v for c, p in r["top"] for v in (c, f"{p:.6f}")])
    atomic_write(path, buf.getvalue())  # a temporary file in the same folder, then renamed over ``path``
    return path


def show_rows(rows: list[dict], skipped: list[tuple[str, str]], csv_path=None) -> int:
    """What ``cnnlab predict`` prints: the rows, the files it could not read (on stderr), the CSV it wrote.

    Args:
        rows: answer rows from a predictor.
        skipped: ``(file, reason)`` for unreadable files.
        csv_path: also write the rows to this CSV file (None: no file).

    Returns:
        The exit code: 0 when something was predicted, 1 when nothing could be.

    >>> show_rows([{"file": "a.png", "top": [("cat", 0.75)], "notes": []}], [])
    a.png: cat 75.0%
    0
    """
    if rows:
        print(format_rows(rows))
    if skipped:
        print(f"skipped {len(skipped)} file(s) that could not be read:", file=sys.stderr)
        for _, why in skipped:
            print(f"  {why}", file=sys.stderr)
    if csv_path:
        print(f"wrote {write_csv(rows, csv_path)}")
    return 0 if rows else 1


__all__ = ["DEFAULT_TOP_K", "check_top_k", "expand_paths", "format_rows", "image_items", "show_rows", "write_csv"]
