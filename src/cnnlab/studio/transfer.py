"""Projects in and out: import a zip or a folder of class folders, export a zip, duplicate a project.

An import is built in a hidden folder and renamed into place when complete, so a failed or killed
import leaves no half project. Every image is decoded and encoded again (see
:mod:`cnnlab.studio.uploads`); what cannot be read is listed in ``refused``. Of each file's path only
the name of the folder it sits in is kept: that folder is its class. Files under a ``runs/`` folder
and hidden or system files are skipped. A ``project.json`` in the zip (an exported project) gives the
project's and the classes' display names back.

A folder import reads a folder on the server's own disk, *read-only*: only files inside it are
opened, only to be decoded as images, links are never followed, and nothing there is changed or
shown back except as re-encoded images in the new project. A path that is not a folder is refused.

>>> import io, tempfile, zipfile
>>> import numpy as np
>>> from cnnlab.studio.store import Store
>>> from cnnlab.studio.uploads import encode
>>> buf = io.BytesIO()
>>> with zipfile.ZipFile(buf, "w") as z:
...     for cls in ("cat", "dog"):
...         z.writestr(f"pets/{cls}/1.png", encode(np.full((8, 8), 40 if cls == "cat" else 200, np.uint8), "png"))
>>> project = import_zip(Store(tempfile.mkdtemp()), buf, "pets.zip")
>>> project["name"], [(k["name"], k["count"]) for k in project["classes"]]
('pets', [('cat', 1), ('dog', 1)])
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cnnlab.data.layout import is_system
from cnnlab.errors import DataError, ImageError
from cnnlab.studio import gallery
from cnnlab.studio.meta import fsync_dir, names_from, write_durable, write_meta
from cnnlab.studio.safety import TooLarge, check_name, image_id, new_id
from cnnlab.studio.store import Store
from cnnlab.studio.uploads import decode_file, decode_upload, encode, zip_members

FOLDER_MAX_FILES = 50_000  # files in one folder import


class _Build:
    """A project being built in a hidden folder: class folders made as images arrive."""

    def __init__(self, store: Store):
        self.store, self.dir = store, store.new_folder()
        self.meta = {"format": 1, "id": "", "name": "", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                     "classes": []}
        self.folders: dict[str, str] = {}  # folder name as found -> class id
        self.added, self.refused = 0, []

    def add_class(self, folder: str) -> None:
        c = Store.class_id(self.meta, folder)
        self.meta["classes"].append({"id": c, "name": folder})
        self.folders[folder] = c
        (self.dir / c).mkdir()

    def add(self, folder: str, pixels: np.ndarray, ext: str) -> None:
        if folder not in self.folders:
            self.add_class(folder)
        write_durable(self.dir / self.folders[folder] / f"{image_id()}.{ext}", encode(pixels, ext))
        self.added += 1

    def finish(self, name: str, names: dict[str, str]) -> dict:
        """Name the classes (``names``: folder -> name, from an exported project.json, in its order) and publish."""
        if not self.added:
            raise DataError("found no images in class folders (" + (f"{len(self.refused)} file(s) refused: "
                            + self.refused[0]["reason"] if self.refused else "nothing inside")
                            + "); put each class's images in a folder named after the class")
        for folder in names:  # an exported project's empty classes come back too, in their order
            if folder not in self.folders and len(self.folders) < 1000:
                self.add_class(folder)
        rank = {folder: i for i, folder in enumerate(names)}
        self.meta["classes"].sort(key=lambda k: rank.get(k["name"], len(rank)))
        taken = set()
        for k in self.meta["classes"]:  # display names: from project.json when it names this folder
            label = _label(names.get(k["name"], k["name"]))
            n, base = 1, label
            while label.casefold() in taken:
                n += 1
                label = f"{base} ({n})"
            taken.add(label.casefold())
            k["name"] = label
        self.meta["name"] = name
        self.meta["id"] = new_id(name, "project")
        write_meta(self.dir, self.meta)
        project = self.store.publish(self.dir, self.meta["id"])
        found = gallery.findings(self.store, self.meta["id"], self.refused)
        return {**project, "refused": self.refused, "findings": found}

    def abort(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _label(text: str) -> str:
    text = "".join(ch for ch in str(text) if ch.isprintable()).strip()[:80]
    return text or "class"


def import_zip(store: Store, file: BinaryIO, shown: str, name: str | None = None) -> dict:
    """A new project from a zip of class folders (``cat/1.jpg``, ``pets/dog/2.png`` ...).

    Args:
        store: the projects.
        file: the zip (a seekable binary file).
        shown: the zip's file name as sent (messages and the default project name only).
        name: the project's name (default: the exported project's name, else the zip's name).

    Returns:
        The project's summary with ``refused`` and ``findings``.

    Raises:
        TooLarge: too many files or MB inside. ImageError: not a zip. DataError: no images in class folders.
    """
    if name is not None:
        name = check_name(name)
    build = _Build(store)
    try:
        found_name, names = None, {}
        for m in zip_members(file, store.limits, shown):
            if m.parts[-1] == "project.json" and m.data is not None:
                found_name, names = names_from(m.data)
                continue
            if "runs" in m.parts[:-1]:  # an exported project's run folders are not classes
                continue
            if m.folder is None:
                build.refused.append({"file": m.name, "reason": "not in a class folder; put it in a folder named "
                                      "after its class"})
                continue
            try:
                if m.reason is not None:
                    raise ImageError(m.reason)
                build.add(m.folder, *decode_upload(m.data, store.limits))
            except ImageError as e:
                build.refused.append({"file": m.name, "reason": str(e)})
        default = _label(found_name or Path(shown).stem or "imported project")
        return build.finish(name or default, names)
    except BaseException:
        build.abort()
        raise


def import_folder(store: Store, path, name: str | None = None) -> dict:
    """A new project from a folder of class folders on the server's disk (read-only; see the module docstring).

    Args:
        store: the projects.
        path: an absolute path to a folder (``photos/cat/*.jpg``, ``photos/train/dog/*.png`` ...).
        name: the project's name (default: the folder's name).

    Returns:
        The project's summary with ``refused`` and ``findings``.

    Raises:
        DataError: not an absolute path to a folder, or no images in class folders. TooLarge: too many files.
    """
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise DataError("give the folder as a full path, e.g. /home/me/photos (one subfolder per class)")
    root = Path(path.strip()).expanduser()
    if not root.is_absolute():
        raise DataError(f"{path!r} is not a full path; give it from the top, e.g. /home/me/photos")
    if not root.is_dir():
        what = "a file, not a folder" if root.exists() else "not a folder on this computer"
        raise DataError(f"{root} is {what}; give a folder with one subfolder per class")
    name = check_name(name) if name is not None else _label(root.name or "imported folder")
    files = []
    for here, dirs, names in os.walk(root):  # never follows links to folders
        dirs[:] = sorted(d for d in dirs if not is_system(d) and d != "runs")
        files += [Path(here) / f for f in sorted(names) if not is_system(f)]
        if len(files) > FOLDER_MAX_FILES:
            raise TooLarge(f"{root} holds more than {FOLDER_MAX_FILES:,} files; import a smaller folder")
    build = _Build(store)
    try:
        for f in files:
            shown = str(f.relative_to(root))
            if f.is_symlink() or not f.is_file():
                build.refused.append({"file": shown, "reason": "a link or special file, which the studio never opens"})
            elif f.parent == root:
                build.refused.append({"file": shown, "reason": "not in a class folder"})
            else:
                try:
                    build.add(f.parent.name, *decode_file(f, store.limits))
                except ImageError as e:
                    build.refused.append({"file": shown, "reason": str(e).replace(f"{f}: ", "")})
        return build.finish(name, {})
    except BaseException:
        build.abort()
        raise


def export_zip(store: Store, p: str, runs: bool = False) -> Path:
    """A zip of project ``p`` in a temporary file: ``<p>/project.json`` and ``<p>/<class>/<image>``.

    Args:
        store: the projects.
        p: the project id.
        runs: also the run folders (their visible files; links and hidden files are never included).

    Returns:
        The path of the zip; the caller deletes it.
    """
    folder = store.project_dir(p)
    fd, tmp = tempfile.mkstemp(prefix="cnnlab-export-", suffix=".zip")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(folder / "project.json", f"{p}/project.json")
            for k in store.meta(p)["classes"]:
                if (folder / k["id"]).is_symlink():
                    continue  # a link planted in the project: never followed, not even named
                z.writestr(f"{p}/{k['id']}/", b"")  # empty classes too
                for f in store.image_files(p, k["id"]):
                    z.write(f, f"{p}/{k['id']}/{f.name}", compress_type=zipfile.ZIP_STORED)
            run_root = folder / "runs"
            if runs and run_root.is_dir() and not run_root.is_symlink():
                for here, dirs, names in os.walk(run_root):
                    dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not (Path(here) / d).is_symlink())
                    for n in sorted(names):
                        f = Path(here) / n
                        if not n.startswith(".") and f.is_file() and not f.is_symlink():
                            z.write(f, f"{p}/{f.relative_to(folder)}")
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def duplicate_project(store: Store, p: str, name: str | None = None) -> dict:
    """A copy of project ``p`` (classes and images, not runs) under a new id; returns its summary."""
    meta = store.meta(p)
    name = check_name(name) if name is not None else _label(f"{meta['name']} (copy)"[-80:])
    build = store.new_folder()
    try:
        for k in meta["classes"]:
            (build / k["id"]).mkdir()
            for f in store.image_files(p, k["id"]):
                write_durable(build / k["id"] / f.name, f.read_bytes())
            fsync_dir(build / k["id"])
        copy = {**meta, "id": new_id(name, "project"), "name": name, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        write_meta(build, copy)
        return store.publish(build, copy["id"])
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
