"""project.json (a project's name and its classes, read with checks) and durable writes.

    {"format": 1, "id": "pets-3f2a1c", "name": "Pets", "created": "2026-01-31T12:00:00+0000",
     "classes": [{"id": "cat", "name": "Cat"}, {"id": "dog", "name": "Dog"}]}

The folder is the truth: the id is the folder's name, and a class folder added by hand (a valid id,
not ``runs``) is shown as a class named like its folder, after the listed ones.

>>> import tempfile
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp()) / "pets-3f2a1c"
>>> d.mkdir()
>>> write_meta(d, {"format": 1, "id": "pets-3f2a1c", "name": "Pets", "created": "", "classes": []})
>>> (d / "dog").mkdir()
>>> read_meta(d)["classes"]
[{'id': 'dog', 'name': 'dog'}]
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from cnnlab.data.layout import SPLIT_ALIASES
from cnnlab.errors import DataError
from cnnlab.files import atomic_write
from cnnlab.studio.safety import ID_PATTERN

FORMAT = 1
MAX_BYTES = 1_000_000  # a project.json is a few KB; anything huge is not one
RESERVED = {"runs", "project", *SPLIT_ALIASES}  # never class ids: runs/ and split folder names mean other things


def read_meta(folder: Path) -> dict:
    """The checked project.json of a project folder.

    Returns:
        ``{"format", "id", "name", "created", "classes": [{"id", "name"}]}``.

    Raises:
        DataError: the file is damaged (not JSON, wrong shape, too big).
    """
    path = Path(folder) / "project.json"
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{path.stat().st_size:,} bytes is too big")
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("classes", []), list):
            raise ValueError("expected an object with a list of classes")
        classes = []
        for k in raw.get("classes", []):
            if not (isinstance(k, dict) and isinstance(k.get("id"), str) and ID_PATTERN.fullmatch(k["id"])
                    and k["id"] not in RESERVED and isinstance(k.get("name"), str) and k["name"].strip()):
                raise ValueError(f"a class entry is broken: {str(k)[:80]}")
            if k["id"] not in [c["id"] for c in classes]:
                classes.append({"id": k["id"], "name": k["name"].strip()[:80]})
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        raise DataError(f"the project file {path} is damaged ({e}); fix it, or move the folder out of the "
                        "projects folder") from None
    listed = {c["id"] for c in classes}
    for d in sorted(Path(folder).iterdir()):
        if (d.name not in listed and ID_PATTERN.fullmatch(d.name) and d.name not in RESERVED and d.is_dir()
                and not d.is_symlink()):
            classes.append({"id": d.name, "name": d.name})
    name = raw.get("name") if isinstance(raw.get("name"), str) and raw["name"].strip() else Path(folder).name
    created = raw.get("created") if isinstance(raw.get("created"), str) else ""
    return {"format": FORMAT, "id": Path(folder).name, "name": name.strip()[:80], "created": created,
            "classes": classes}


def write_meta(folder: Path, meta: dict) -> None:
    """Write project.json atomically (a crash leaves the old file or the new one, never half)."""
    keep = {k: meta[k] for k in ("format", "id", "name", "created", "classes")}
    atomic_write(Path(folder) / "project.json", json.dumps(keep, indent=2, ensure_ascii=False) + "\n")


def names_from(text: bytes) -> tuple[str | None, dict[str, str]]:
    """The project name and ``class id -> name`` from a project.json found in an import (bad input: nothing).

    >>> names_from(b'{"name": "Pets", "classes": [{"id": "cat", "name": "Cat"}]}')
    ('Pets', {'cat': 'Cat'})
    """
    try:
        raw = json.loads(text[:MAX_BYTES].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None, {}
    if not isinstance(raw, dict):
        return None, {}
    name = raw["name"] if isinstance(raw.get("name"), str) else None
    classes = raw.get("classes") if isinstance(raw.get("classes"), list) else []
    names = {k["id"]: k["name"] for k in classes
             if isinstance(k, dict) and isinstance(k.get("id"), str) and isinstance(k.get("name"), str)}
    return name, names


def write_durable(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file ``path`` atomically and fsync it (and its folder); the folder must exist."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")  # FileNotFoundError: folder gone
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    dfd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
