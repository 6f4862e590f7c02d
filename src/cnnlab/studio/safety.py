"""Safe names and paths for the studio: every id a request names goes through :func:`safe_child`.

Ids are made by the server (``[a-z0-9-]{1,64}``). A request that names anything else — ``..``,
``%2e%2e%2f`` once decoded, an absolute path, a NUL byte, a backslash, a Windows alternate data
stream (``name:stream``), upper case — is answered "not found" before the disk is touched, and so is
an id whose folder or file (or a folder above it, inside the projects folder) is a symbolic link.

>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> (root / "cats-1a2b").mkdir()
>>> safe_child(root, "cats-1a2b").name
'cats-1a2b'
>>> try:
...     safe_child(root, "..")
... except NotFound as e:
...     print(e)
'..' is not a valid id; ids are made by the studio (a-z, 0-9 and -)
"""

from __future__ import annotations

import os
import re
import secrets
import time
import unicodedata
from pathlib import Path

from cnnlab.errors import CnnlabError, ConfigError

ID_PATTERN = re.compile(r"[a-z0-9-]{1,64}")
NAME_MAX = 80  # characters in a project or class name


class NotFound(CnnlabError):
    """A project, class, image or run that does not exist (or an id that cannot be one): HTTP 404."""

    status = 404


class Conflict(CnnlabError):
    """The request clashes with what is there (a class name taken, a run still going): HTTP 409."""

    status = 409


class TooLarge(CnnlabError):
    """An upload over the size or count limits: HTTP 413."""

    status = 413


class Forbidden(CnnlabError):
    """A request the studio never accepts in its settings (another web page, a folder import from afar): HTTP 403."""

    status = 403


def check_id(value, what: str = "id") -> str:
    """``value`` if it is a studio id (``[a-z0-9-]{1,64}``), else NotFound.

    Args:
        value: the id from the request.
        what: what it names ("project", "class", "image"), for the message.

    Returns:
        The id.

    Raises:
        NotFound: anything else (the message never repeats control characters).

    >>> check_id("cat-3")
    'cat-3'
    """
    if isinstance(value, str) and ID_PATTERN.fullmatch(value):
        return value
    shown = repr(value) if isinstance(value, str) and value.isprintable() and len(value) <= 80 else "that"
    raise NotFound(f"{shown} is not a valid {what}; ids are made by the studio (a-z, 0-9 and -)")


def safe_child(root: str | os.PathLike, *ids: str, what: str = "id") -> Path:
    """The path ``root/id1/id2/...``, checked: valid ids, no symbolic links, inside ``root``.

    The path need not exist; callers check that. Nothing on disk is changed.

    Args:
        root: the projects folder (itself trusted, it may be a link).
        *ids: one id per level (project, class, image...).
        what: what the last id names, for the message.

    Returns:
        The resolved path, inside ``root``.

    Raises:
        NotFound: an invalid id, a link on the way, or a path that leaves ``root``.

    >>> import tempfile
    >>> safe_child(tempfile.mkdtemp(), "a", "b").parts[-2:]
    ('a', 'b')
    """
    base = Path(root).resolve()
    path = base
    for part in ids:
        path = path / check_id(part, what)
        if path.is_symlink():
            raise NotFound(f"{part!r} is a link, which the studio never follows; {what} not found")
    if not path.resolve().is_relative_to(base):
        raise NotFound(f"{what} not found")
    return path


def check_name(value, what: str = "name") -> str:
    """A display name: text of 1 to 80 characters, no control characters, spaces trimmed.

    Raises:
        ConfigError: anything else.

    >>> check_name("  My cats ")
    'My cats'
    """
    if not isinstance(value, str):
        raise ConfigError(what, value, f"a {what} as text, 1 to {NAME_MAX} characters")
    name = value.strip()
    if not 1 <= len(name) <= NAME_MAX or any(unicodedata.category(ch).startswith("C") for ch in name):
        raise ConfigError(what, value[:100], f"1 to {NAME_MAX} characters, letters, digits, spaces or signs "
                          "(no line breaks or control characters)")
    return name


def slug(name: str, fallback: str, limit: int = 40) -> str:
    """A lower-case ``a-z0-9-`` form of ``name`` (accents dropped), or ``fallback`` when nothing is left.

    >>> slug("Ankle boot / Stiefel", "class"), slug("猫", "class")
    ('ankle-boot-stiefel', 'class')
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    s = re.sub(r"[^a-z0-9]+", "-", ascii_name).strip("-")[:limit].strip("-")
    return s or fallback


def new_id(name: str, fallback: str) -> str:
    """A fresh id: the slug of ``name`` and a random part, e.g. ``my-cats-5f3a9c``.

    >>> bool(ID_PATTERN.fullmatch(new_id("My cats!", "project")))
    True
    """
    return f"{slug(name, fallback)}-{secrets.token_hex(3)}"


def image_id() -> str:
    """A fresh image id that sorts by time: milliseconds in hex, then a random part.

    >>> len(image_id()) <= 64 and bool(ID_PATTERN.fullmatch(image_id()))
    True
    """
    return f"{int(time.time() * 1000):011x}-{secrets.token_hex(4)}"


def shown_filename(name) -> str:
    """A client's file name, for messages only (never used on disk): last path part, printable, short.

    >>> shown_filename("C:\\\\photos\\\\../cat\\x00.jpg")
    'cat.jpg'
    """
    text = str(name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = "".join(ch for ch in text if ch.isprintable())
    return (text[:97] + "...") if len(text) > 100 else (text or "(no name)")
