"""The web demo: a folder with a web page that classifies photos and the webcam with a run's model.

    cnnlab export runs/fm --format web --out fm-web     # writes the folder (cnnlab.export(..., format="web"))
    cnnlab serve fm-web                                 # open the address it prints

The folder holds everything the page needs, nothing is fetched from elsewhere:

    index.html, demo.js, pixels.js, style.css   the page (no build step: plain HTML, CSS and ES modules)
    model.onnx                                  the run's model: float pixels 0..255 in, probabilities out
    ort.wasm.min.mjs, ort-wasm-simd-threaded.*  onnxruntime-web, shipped with cnnlab (no CDN)
    cnnlab-web-demo.json                        class names, input size, how photos are fitted; it also
                                                marks the folder as a web demo, so exporting again may
                                                replace these files (and only these)

``pixels.js`` fits a picture to the model exactly as cnnlab does in Python (centre crop, Pillow's
bilinear resize, gray = 0.299 R + 0.587 G + 0.114 B), so the page gives the same answer as
``cnnlab predict`` for the same PNG file.

This module needs no PyTorch: :func:`cnnlab.deploy.export.export` writes the model and calls
:func:`write_web_demo`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from cnnlab.errors import ConfigError, RunError
from cnnlab.files import atomic_write

WEB = Path(__file__).parent / "web"
ORT = Path(__file__).parent.parent / "assets" / "onnxruntime-web"
PAGE_FILES = ("index.html", "demo.js", "pixels.js", "style.css")
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm")
MODEL_FILE = "model.onnx"
MARKER = "cnnlab-web-demo.json"
KIND = "cnnlab web demo"


def check_demo_folder(out) -> Path:
    """``out`` as a Path if a web demo may be written there: new, empty, or an earlier web demo.

    A folder holding anything else is refused, so exporting never mixes the demo into (or overwrites)
    files that are not the demo's.

    Args:
        out: the folder for the demo.

    Returns:
        The folder (it is not created here).

    Raises:
        ConfigError: ``out`` is a file, or a folder with other files in it (key ``out``).

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> check_demo_folder(folder / "web").name
    'web'
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> check_demo_folder(folder)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: out='...': expected a new or empty folder, or one made by an earlier web export; \
it holds other files (notes.txt), which are left alone: pick a new folder, e.g. RUN/web
    """
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ConfigError("out", str(path), "a folder for the web demo, not a file",
                          hint="pick a new folder, e.g. RUN/web")
    if not path.is_dir() or not any(path.iterdir()):
        return path
    marker = path / MARKER
    if marker.is_file() and _is_marker(marker):
        return path
    others = sorted(p.name for p in path.iterdir())
    shown = ", ".join(others[:3]) + (f" and {len(others) - 3} more" if len(others) > 3 else "")
    raise ConfigError("out", str(path), "a new or empty folder, or one made by an earlier web export",
                      hint=f"it holds other files ({shown}), which are left alone: pick a new folder, e.g. RUN/web")


def _is_marker(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("kind") == KIND
    except (OSError, ValueError, AttributeError):
        return False


def demo_info(metadata: dict[str, str], input_name: str, output_name: str,
              test_accuracy: float | None = None) -> dict:
    """What the page reads from ``cnnlab-web-demo.json``, made from the ONNX metadata strings.

    Args:
        metadata: :func:`cnnlab.deploy.export.export_metadata` of the run (all values are strings).
        input_name: the ONNX input (float pixels 0..255, (N, C, H, W)).
        output_name: the ONNX output (probabilities, (N, K)).
        test_accuracy: the run's test accuracy, shown on the page; None to leave it out.

    Returns:
        A JSON-ready dict: ``classes``, ``input_size`` [H, W], ``channels``, ``fit``, ``resample``, ``data``,
        ``tta``, the input and output names, ``model``, ``cnnlab_version``, ``test_accuracy`` and ``kind``.

    >>> info = demo_info({"classes": '["cat", "dog"]', "input_size": "[32, 32]", "channels": "3",
    ...                   "fit": "crop", "resample": "bilinear", "tta": "true"}, "pixels", "probabilities")
    >>> info["classes"], info["input_size"], info["channels"], info["tta"]
    (['cat', 'dog'], [32, 32], 3, True)
    """
    return {
        "kind": KIND,
        "model": MODEL_FILE,
        "classes": list(json.loads(metadata["classes"])),
        "input_size": [int(v) for v in json.loads(metadata["input_size"])],
        "channels": int(metadata["channels"]),
        "fit": metadata.get("fit", "crop"),
        "resample": metadata.get("resample", "bilinear"),
        "data": metadata.get("data", ""),
        "tta": metadata.get("tta") == "true",
        "input_name": input_name,
        "output_name": output_name,
        "cnnlab_version": metadata.get("cnnlab_version", ""),
        "test_accuracy": None if test_accuracy is None else float(test_accuracy),
    }


def write_web_demo(out, info: dict, write_model: Callable[[Path], None]) -> Path:
    """Write the web demo folder: the page, onnxruntime-web, ``cnnlab-web-demo.json`` and the model.

    Most callers want ``cnnlab.export(run, format="web", out=DIR)``, which calls this.

    Args:
        out: the folder (new, empty, or an earlier web demo; see :func:`check_demo_folder`).
        info: the page's settings, from :func:`demo_info`.
        write_model: called with the path of ``model.onnx`` to write the model there.

    Returns:
        The folder.

    Raises:
        ConfigError: ``out`` holds other files, or is a file.
        RunError: the page's files are missing from the cnnlab installation.

    >>> import tempfile
    >>> info = demo_info({"classes": '["a", "b"]', "input_size": "[8, 8]", "channels": "1"}, "pixels", "probabilities")
    >>> folder = write_web_demo(Path(tempfile.mkdtemp()) / "web", info, lambda p: p.write_bytes(b"onnx"))
    >>> sorted(p.name for p in folder.iterdir())[:4]
    ['cnnlab-web-demo.json', 'demo.js', 'index.html', 'model.onnx']
    """
    folder = check_demo_folder(out)
    sources = [WEB / name for name in PAGE_FILES] + [ORT / name for name in ORT_FILES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise RunError(f"the web demo's files are missing from this cnnlab installation ({', '.join(missing)}); "
                       "reinstall cnnlab")
    folder.mkdir(parents=True, exist_ok=True)
    # the mark first: if anything below fails, exporting again to the same folder is allowed
    atomic_write(folder / MARKER, json.dumps(info, indent=2) + "\n")
    write_model(folder / MODEL_FILE)
    for src in sources:
        atomic_write(folder / src.name, src.read_bytes())
    return folder


__all__ = ["MARKER", "check_demo_folder", "demo_info", "write_web_demo"]
