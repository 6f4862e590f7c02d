"""Projects on disk: a folder per project, a subfolder per class, one file per image.

    PROJECTS/<project id>/project.json      {"format": 1, "id", "name", "created", "classes": [{"id", "name"}]}
    PROJECTS/<project id>/<class id>/<image id>.png|.jpg
    PROJECTS/<project id>/runs/<run id>/    written by training

Every id comes from the server and every path from :func:`cnnlab.studio.safety.safe_child`. Every
write is atomic and on disk (fsync) before the call returns: an image the page was told about
survives the server being killed. New projects (created, imported, duplicated) are built in a hidden
folder and renamed into place; deleted ones are renamed away first, so a crash never leaves half a project.

>>> import tempfile
>>> store = Store(tempfile.mkdtemp())
>>> p = store.create_project("Pets")
>>> c = store.add_class(p["id"], "cat")
>>> store.summary(p["id"])["classes"]
[{'id': 'cat', 'name': 'cat', 'count': 0}]
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from cnnlab.errors import CnnlabError, DataError
from cnnlab.studio.meta import RESERVED, fsync_dir, read_meta, write_meta
from cnnlab.studio.safety import (
    ID_PATTERN,
    Conflict,
    NotFound,
    check_id,
    check_name,
    new_id,
    safe_child,
    slug,
)
from cnnlab.studio.uploads import Limits
from cnnlab.training.lock import LOCK_NAME, RunLock

log = logging.getLogger("cnnlab.studio")
EXTS = ("png", "jpg")


class Store:
    """The projects folder: every project, class and image operation of the studio.

    Args:
        root: the projects folder (created if missing).
        limits: upload limits (:class:`cnnlab.studio.uploads.Limits`).

    Raises:
        DataError: the folder cannot be made (no permission, a file of that name).

    Example:

    >>> import tempfile
    >>> store = Store(tempfile.mkdtemp())
    >>> store.list_projects()
    []
    """

    def __init__(self, root: str | os.PathLike, limits: Limits | None = None):
        try:
            Path(root).expanduser().mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(f"cannot use {root} as the projects folder ({e.strerror or e}); pick another "
                            "folder") from None
        self.root = Path(root).expanduser().resolve()
        self.limits = limits or Limits()
        self.lock = threading.RLock()  # project.json read-modify-write, creating and deleting folders
        for left in [*self.root.glob(".new-*"), *self.root.glob(".trash-*")]:
            if time.time() - left.stat().st_mtime > 3600:  # left by a killed server (not one building it now)
                shutil.rmtree(left, ignore_errors=True)

    # ---- paths: every route goes through these ----
    def project_dir(self, p: str) -> Path:
        """The folder of project ``p``. Raises NotFound."""
        path = safe_child(self.root, p, what="project")
        if not (path / "project.json").is_file() or (path / "project.json").is_symlink():
            raise NotFound(f"there is no project '{p}'; pick one from the list of projects")
        return path

    def meta(self, p: str) -> dict:
        """The project.json of ``p``."""
        return read_meta(self.project_dir(p))

    def class_dir(self, p: str, c: str) -> Path:
        """The folder of class ``c`` of project ``p``. Raises NotFound."""
        meta = self.meta(p)
        check_id(c, "class")
        if c not in [k["id"] for k in meta["classes"]]:
            raise NotFound(f"project '{meta['name']}' has no class '{c}'")
        return safe_child(self.root, p, c, what="class")

    def image_path(self, p: str, c: str, i: str) -> Path:
        """The file of image ``i`` in class ``c`` of project ``p``. Raises NotFound."""
        folder = self.class_dir(p, c)
        check_id(i, "image")
        for ext in EXTS:
            path = folder / f"{i}.{ext}"
            if path.is_file() and not path.is_symlink():
                return path
        raise NotFound(f"there is no image '{i}' in this class; it may have been deleted")

    def runs_dir(self, p: str) -> Path:
        """The runs/ folder of project ``p`` (created if missing; never a link)."""
        path = self.project_dir(p) / "runs"
        if path.is_symlink():
            raise NotFound("this project's runs/ folder is a link, which the studio never follows")
        path.mkdir(exist_ok=True)
        return path

    def running(self, p: str) -> list[str]:
        """Ids of the runs of ``p`` that a live process is writing right now."""
        runs = self.project_dir(p) / "runs"
        found = []
        for d in sorted(runs.iterdir()) if runs.is_dir() and not runs.is_symlink() else []:
            lock = RunLock(d)
            holder = lock.holder() if (d / LOCK_NAME).is_file() else None
            if holder is not None and not lock.stale(holder):
                found.append(d.name)
        return found

    # ---- projects ----
    def list_projects(self) -> list[dict]:
        """Every readable project, newest first (a damaged project.json is logged and skipped)."""
        out = []
        for d in self.root.iterdir():
            if d.name.startswith(".") or d.is_symlink() or not d.is_dir() or not (d / "project.json").is_file():
                continue
            try:
                out.append(self.summary(d.name))
            except Exception as e:  # noqa: BLE001 - one broken folder must not hide the others
                log.warning("skipping project folder %s: %s", d, e)
        return sorted(out, key=lambda s: s["created"], reverse=True)

    def summary(self, p: str) -> dict:
        """``{"id", "name", "created", "classes": [{"id", "name", "count"}], "images", "runs"}``."""
        meta = self.meta(p)
        classes = [{"id": k["id"], "name": k["name"], "count": len(self.image_files(p, k["id"]))}
                   for k in meta["classes"]]
        runs = self.project_dir(p) / "runs"
        n_runs = sum(1 for r in runs.iterdir() if r.is_dir()) if runs.is_dir() and not runs.is_symlink() else 0
        return {"id": meta["id"], "name": meta["name"], "created": meta["created"], "classes": classes,
                "images": sum(k["count"] for k in classes), "runs": n_runs}

    def create_project(self, name: str) -> dict:
        """A new, empty project named ``name``; returns its summary."""
        name = check_name(name)
        meta = {"format": 1, "id": new_id(name, "project"), "name": name,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "classes": []}
        build = self.new_folder()
        write_meta(build, meta)
        return self.publish(build, meta["id"])

    def new_folder(self) -> Path:
        """A hidden folder to build a new project in (see :meth:`publish`)."""
        return Path(tempfile.mkdtemp(prefix=".new-", dir=self.root))

    def publish(self, build: Path, p: str) -> dict:
        """Rename a folder built by :meth:`new_folder` into place as project ``p``; returns its summary."""
        with self.lock:
            os.rename(build, safe_child(self.root, p, what="project"))
        fsync_dir(self.root)
        return self.summary(p)

    def rename_project(self, p: str, name: str) -> dict:
        """Give project ``p`` a new display name (its id and folder stay)."""
        name = check_name(name)
        with self.lock:
            meta = self.meta(p)
            meta["name"] = name
            write_meta(self.project_dir(p), meta)
        return self.summary(p)

    def delete_project(self, p: str, confirm) -> str:
        """Delete project ``p`` and everything in it, if ``confirm`` is its exact name.

        Raises:
            CnnlabError: ``confirm`` is not the name. Conflict: a model is training in it.
        """
        with self.lock:
            meta = self.meta(p)
            if confirm != meta["name"]:
                raise _confirm_error(meta["name"], confirm)
            if self.running(p):
                raise Conflict(f"a model is training in '{meta['name']}' right now; stop it first, then delete")
            self._remove(self.project_dir(p))
        return p

    def _remove(self, path: Path) -> None:
        trash = self.root / f".trash-{path.name}-{os.getpid()}-{time.monotonic_ns()}"
        os.rename(path, trash)  # gone from view at once; a crash leaves only a hidden folder, removed at start
        fsync_dir(path.parent)
        shutil.rmtree(trash, ignore_errors=True)

    # ---- classes ----
    def add_class(self, p: str, name: str) -> dict:
        """A new, empty class ``name`` in project ``p``: ``{"id", "name", "count"}``."""
        name = check_name(name, "name")
        with self.lock:
            meta = self.meta(p)
            self._check_free(meta, name)
            c = self.class_id(meta, name)
            folder = safe_child(self.root, p, c, what="class")
            folder.mkdir(exist_ok=True)
            meta["classes"].append({"id": c, "name": name})
            write_meta(self.project_dir(p), meta)
        return {"id": c, "name": name, "count": len(self.image_files(p, c))}

    @staticmethod
    def class_id(meta: dict, name: str) -> str:
        """A class id for ``name`` in a project: its slug, numbered when taken or reserved."""
        taken = {k["id"] for k in meta["classes"]} | RESERVED
        base = slug(name, "class")
        c, n = base, 1
        while c in taken:
            n += 1
            c = f"{base}-{n}"
        return c

    @staticmethod
    def _check_free(meta: dict, name: str, but: str | None = None) -> None:
        for k in meta["classes"]:
            if k["id"] != but and k["name"].casefold() == name.casefold():
                raise Conflict(f"there is already a class called '{k['name']}'; pick another name")

    def rename_class(self, p: str, c: str, name: str) -> dict:
        """Give class ``c`` a new display name (its folder stays)."""
        name = check_name(name, "name")
        with self.lock:
            self.class_dir(p, c)
            meta = self.meta(p)
            self._check_free(meta, name, but=c)
            next(k for k in meta["classes"] if k["id"] == c)["name"] = name
            write_meta(self.project_dir(p), meta)
        return {"id": c, "name": name, "count": len(self.image_files(p, c))}

    def delete_class(self, p: str, c: str) -> str:
        """Delete class ``c`` and its images."""
        with self.lock:
            folder = self.class_dir(p, c)
            if self.running(p):
                raise Conflict("a model is training on this project right now; stop it first, then delete the class")
            meta = self.meta(p)
            meta["classes"] = [k for k in meta["classes"] if k["id"] != c]
            write_meta(self.project_dir(p), meta)
            self._remove(folder)
        return c

    # ---- images ----
    def image_files(self, p: str, c: str) -> list[Path]:
        """The image files of class ``c`` (named by the studio, no links), oldest first; none for a linked folder."""
        try:
            folder = safe_child(self.root, p, c, what="class")
        except NotFound:
            return []
        if not folder.is_dir():
            return []
        return sorted(f for f in folder.iterdir() if f.suffix[1:] in EXTS and ID_PATTERN.fullmatch(f.stem)
                      and f.is_file() and not f.is_symlink())

    def list_images(self, p: str, c: str) -> list[dict]:
        """``[{"id", "url", "thumb"}]`` of class ``c``, oldest first."""
        self.class_dir(p, c)
        return [image_dict(p, c, f.stem) for f in self.image_files(p, c)]


def image_dict(p: str, c: str, i: str) -> dict:
    """How the API shows an image: ``{"id", "url", "thumb"}``."""
    url = f"/api/projects/{p}/images/{c}/{i}"
    return {"id": i, "url": url, "thumb": url + "?thumb=1"}


def _confirm_error(name: str, confirm) -> CnnlabError:
    typed = f" (you typed {confirm!r})" if isinstance(confirm, str) and confirm.isprintable() and confirm else ""
    return CnnlabError(f"to delete '{name}' and all its images for good, type its exact name to confirm{typed}")
