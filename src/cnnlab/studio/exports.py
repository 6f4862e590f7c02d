"""A finished run's downloads: the run folder as a zip, the ONNX model, the web demo, the model card.

The ONNX file is made on the first request and kept in the run folder (``model.onnx``, a file the
engine knows as part of a run); the zips are built in temporary files the response deletes after sending.
The run zip leaves out the studio's hidden files (``.studio/`` holds the student's photos, which a shared
model should not carry without asking) and the lock file.

>>> import tempfile
>>> onnx_file(Path(tempfile.mkdtemp()))
Traceback (most recent call last):
  ...
cnnlab.errors.RunError: this run has no finished model yet, so there is nothing to export
"""

from __future__ import annotations

import os
import tempfile
import threading
import zipfile
from pathlib import Path

from cnnlab.deploy.export import export
from cnnlab.errors import RunError

KINDS = ("run.zip", "model.onnx", "web.zip", "model_card.md")
_lock = threading.Lock()  # one export at a time: two requests never write the same model.onnx


def _finished(run_dir: Path) -> None:
    if not (run_dir / "model.json").is_file():
        raise RunError("this run has no finished model yet, so there is nothing to export")


def zip_folder(folder: Path, prefix: str, skip_hidden: bool = True) -> Path:
    """A temporary zip of ``folder``'s files under ``prefix/`` (hidden ones left out); the caller deletes it.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> _ = (d / "a.txt").write_text("hi"); _ = (d / ".lock").write_text("")
    >>> path = zip_folder(d, "run")
    >>> zipfile.ZipFile(path).namelist()
    ['run/a.txt']
    >>> path.unlink()
    """
    fd, name = tempfile.mkstemp(prefix="cnnlab-export-", suffix=".zip")
    os.close(fd)
    try:
        with zipfile.ZipFile(name, "w", zipfile.ZIP_DEFLATED) as z:
            for here, dirs, files in os.walk(folder):  # never follows links to folders
                dirs[:] = sorted(d for d in dirs if not (skip_hidden and d.startswith(".")))
                for f in sorted(files):
                    p = Path(here) / f
                    if (skip_hidden and f.startswith(".")) or p.is_symlink() or not p.is_file():
                        continue
                    z.write(p, f"{prefix}/{p.relative_to(folder).as_posix()}")
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def onnx_file(run_dir: Path) -> Path:
    """The run's ``model.onnx``, exported on first use (and again if the weights are newer).

    Raises:
        RunError: no finished model. CnnlabError: the export failed (e.g. the onnx packages are missing).
    """
    _finished(run_dir)
    path = run_dir / "model.onnx"
    with _lock:
        weights = run_dir / "model.safetensors"
        if path.is_symlink():  # never serve what a link points to: export again in its place
            path.unlink()
        if not path.is_file() or path.stat().st_mtime_ns < weights.stat().st_mtime_ns:
            export(run_dir, format="onnx")
    return path


def web_zip(run_dir: Path, prefix: str) -> Path:
    """The run's web demo (``export(run, format="web")``) as a temporary zip; the caller deletes it.

    Raises:
        RunError: no finished model. ConfigError: this cnnlab has no web export.
    """
    _finished(run_dir)
    with tempfile.TemporaryDirectory(prefix="cnnlab-web-") as tmp, _lock:
        made = Path(export(run_dir, format="web", out=Path(tmp) / prefix))
        folder = made if made.is_dir() else made.parent
        return zip_folder(folder, prefix, skip_hidden=False)


def run_zip(run_dir: Path, prefix: str) -> Path:
    """The run folder as a temporary zip (without ``.studio/`` and the lock); the caller deletes it.

    Raises:
        RunError: no finished model.
    """
    _finished(run_dir)
    return zip_folder(run_dir, prefix)
