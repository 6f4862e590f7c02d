"""Data sources: a registry of named loaders, each giving one ImageSet per split.

A spec (the ``--data`` argument) is ``NAME`` or ``NAME:ARG``:

    fashion-mnist      Zalando's 70,000 28x28 gray clothing images (10 classes)
    digits             scikit-learn's 1,797 8x8 handwritten digits (always offline)
    folder:PATH        your photos, one subfolder per class (PATH/cat/*.jpg, PATH/dog/*.jpg)
    synthetic          generated shapes, for tests and demos

``cnnlab datasets``, the ``--data`` help and every "unknown data set" message read this registry,
so a source you register shows up everywhere:

>>> import numpy as np
>>> from cnnlab.data.imageset import ImageSet
>>> from cnnlab.data.sources import load_dataset, register_source, unregister_source
>>> @register_source("stripes", about="gray stripes, across or down", hold_out=True)
... def stripes(n=40):
...     labels = np.arange(n) % 2
...     images = np.zeros((n, 1, 8, 8), np.uint8)
...     images[labels == 0, :, ::2, :] = 255   # rows
...     images[labels == 1, :, :, ::2] = 255   # columns
...     return ImageSet(images, labels, ["across", "down"], source="stripes")
>>> load_dataset("stripes", "train").shape
(32, 1, 8, 8)
>>> unregister_source("stripes")
"""

from __future__ import annotations

import difflib
import importlib.util
import inspect
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from cnnlab.data.cache import cache_dir
from cnnlab.data.fashion_mnist import (
    FASHION_CLASSES,
    FASHION_FILES,
    fashion_mnist_present,
    fashion_mnist_where,
    fetch_fashion_mnist,
    find_fashion_mnist,
    load_fashion_mnist,
    read_idx,
)
from cnnlab.data.folder import folder_splits, load_folder
from cnnlab.data.imageset import SPLIT_SEED, TEST_FRACTION, ImageSet, hold_out
from cnnlab.data.smallsets import SYNTHETIC_CLASSES, load_digits, make_synthetic
from cnnlab.errors import ConfigError, DataError

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Source:
    """A registered data source (see :func:`register_source` for the fields)."""

    name: str
    loader: Callable[..., ImageSet]
    about: str = ""
    needs_arg: bool = False
    arg: str = "PATH"
    hold_out: bool = False
    present: Callable[[], bool] | None = None
    where: str | Callable[[], str] = ""
    splits: Callable[[str], list[str]] | None = None
    mirror_safe: bool = True  # a left-right mirrored image shows the same class (not true of digits or letters)

    @property
    def form(self) -> str:
        """How to write the spec: ``fashion-mnist`` or ``folder:PATH``."""
        return f"{self.name}:{self.arg}" if self.needs_arg else self.name

    def options(self) -> list[str]:
        """The keyword options ``load_dataset`` passes on to the loader (``["*"]`` if any)."""
        params = list(inspect.signature(self.loader).parameters.values())
        skip = int(self.needs_arg) + int(not self.hold_out)  # the ARG and the split come first
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return ["*"]
        return [p.name for p in params[skip:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


_SOURCES: dict[str, Source] = {}


def register_source(name: str, loader: Callable[..., ImageSet] | None = None, *, about: str = "",
                    needs_arg: bool = False, arg: str = "PATH", hold_out: bool = False,
                    present: Callable[[], bool] | None = None, where: str | Callable[[], str] = "",
                    splits: Callable[[str], list[str]] | None = None, mirror_safe: bool = True):
    """Register a data source under ``name``; use it as a function or as a decorator.

    Args:
        name: the spec name (no ``:`` or spaces). Registering a name again warns and replaces it.
        loader: builds an ImageSet. Called as ``loader(split, **options)``, or
            ``loader(ARG, split, **options)`` when ``needs_arg``; with ``hold_out=True`` the split is
            left out (``loader(**options)`` returns every image and cnnlab holds out a fixed 20%
            of each class as the test split).
        about: one line for ``cnnlab datasets`` and the ``--data`` help.
        needs_arg: the spec takes an argument after a colon (``folder:PATH``).
        arg: how the help writes that argument.
        hold_out: the loader returns the whole set; cnnlab splits train/test.
        present: returns False when the data is not on this machine (None: always present).
        where: where the data comes from (a string, or a function returning one).
        splits: returns the splits a given ARG offers (default: train and test).
        mirror_safe: a mirrored image keeps its class; False turns off the default flip augmentation (a mirrored
            digit is another shape).

    Returns:
        ``loader`` (so the decorator leaves the function as it is).

    Raises:
        ConfigError: a name with ``:`` or spaces.

    >>> register_source("blank", lambda split: None, about="nothing")  # doctest: +ELLIPSIS
    <function <lambda> at ...>
    >>> "blank" in [row["name"] for row in list_sources()]
    True
    >>> unregister_source("blank")
    """
    fields = (about, needs_arg, arg, hold_out, present, where, splits, mirror_safe)
    if loader is None:
        return lambda fn: _add(Source(name, fn, *fields), fn)
    return _add(Source(name, loader, *fields), loader)


def _add(source: Source, loader):
    if not source.name or any(c in source.name for c in ": \t"):
        raise ConfigError("name", source.name, "a data source name without ':' or spaces, e.g. 'my-photos'")
    if source.name in _SOURCES:
        warnings.warn(f"data source {source.name!r} is registered again; the new loader replaces the old one",
                      stacklevel=3)
    _SOURCES[source.name] = source
    return loader


def unregister_source(name: str) -> None:
    """Remove a registered source (for tests and experiments); unknown names are ignored."""
    _SOURCES.pop(name, None)


def get_source(spec: str) -> tuple[Source, str]:
    """The registered source of a spec and the argument after its colon.

    Raises:
        ConfigError (key ``data``): an unknown name, with "did you mean" and the known names;
            a missing or unexpected argument.

    >>> get_source("fashion-mnst")
    Traceback (most recent call last):
    ...
    cnnlab.errors.ConfigError: data='fashion-mnst': expected one of fashion-mnist, digits, folder:PATH, \
synthetic; did you mean 'fashion-mnist'?
    """
    name, colon, arg = str(spec).partition(":")
    source = _SOURCES.get(name)
    if source is None:
        close = difflib.get_close_matches(name, list(_SOURCES), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else ""
        if not close and Path(str(spec)).expanduser().is_dir():
            hint = f"for the photos in that folder write 'folder:{spec}'"
        raise ConfigError("data", spec, f"one of {', '.join(s.form for s in _SOURCES.values())}", hint=hint)
    if source.needs_arg and not arg:
        raise ConfigError("data", spec, f"{source.form}, with the {source.arg.lower()} after the colon",
                          hint=f"{source.form} is {source.about}")
    if colon and not source.needs_arg:
        raise ConfigError("data", spec, f"just '{source.name}', with nothing after a colon")
    return source, arg


def source_splits(spec: str) -> list[str]:
    """The splits ``load_dataset`` accepts for ``spec`` (a folder with val/ adds "val").

    >>> source_splits("digits")
    ['train', 'test']
    """
    source, arg = get_source(spec)
    return list(source.splits(arg)) if source.splits else ["train", "test"]


def load_dataset(spec: str, split: str = "train", **options) -> ImageSet:
    """Load one split of a data set given by its spec string.

    Args:
        spec: ``fashion-mnist``, ``digits``, ``folder:PATH``, ``synthetic`` or a registered name.
        split: "train", "test", or "val" where the source has one (:func:`source_splits`).
        **options: passed to the source: ``image_size``/``channels``/``fit``/``progress`` for
            folders, ``n``/``image_size``/``channels``/``num_classes``/``seed`` for synthetic.

    Returns:
        An ImageSet (with ``skipped`` files and ``notes`` for the user, where the source has any).

    Raises:
        ConfigError: an unknown spec (key ``data``), split (``split``) or option (its own name).
        DataError: the data is missing or unusable (the message says how to fix it).

    >>> train = load_dataset("digits", split="train")
    >>> train.shape
    (1438, 1, 8, 8)
    """
    source, arg = get_source(spec)
    if split not in SPLITS:
        raise ConfigError("split", split, "'train', 'val' or 'test'")
    accepted = source.options()
    for key, value in options.items():
        if "*" not in accepted and key not in accepted:
            raise ConfigError(key, value, f"an option that {source.form} accepts: {', '.join(accepted) or 'none'}")
    splits = source_splits(spec)
    if split not in splits:
        raise ConfigError("split", split, f"one of {', '.join(splits)} for {spec}",
                          hint="without a val split, training holds out part of train for validation")
    lead = (arg,) if source.needs_arg else ()
    if source.hold_out:
        data = hold_out(_checked(source, source.loader(*lead, **options)), split)
    else:
        data = _checked(source, source.loader(*lead, split, **options))
    return data


def _checked(source: Source, data) -> ImageSet:
    if not isinstance(data, ImageSet):
        raise DataError(f"the loader of data source {source.name!r} returned {type(data).__name__}, "
                        "not an ImageSet; make it return ImageSet(images, labels, classes)")
    return data


def list_sources() -> list[dict]:
    """Every registered source as a plain dict, for ``cnnlab datasets`` and the ``--data`` help.

    Returns:
        Dicts with ``name``, ``form`` (``folder:PATH``), ``about``, ``present`` (bool), ``where``
        and ``options`` (the keyword options ``load_dataset`` accepts for it).

    >>> [row["form"] for row in list_sources()][:4]
    ['fashion-mnist', 'digits', 'folder:PATH', 'synthetic']
    """
    rows = []
    for s in _SOURCES.values():
        try:
            present = s.present() if s.present else True
        except Exception:  # a broken presence check must not hide the other sources  # noqa: BLE001
            present = False
        rows.append({"name": s.name, "form": s.form, "about": s.about, "present": bool(present),
                     "where": s.where() if callable(s.where) else s.where, "options": s.options()})
    return rows


def data_help() -> str:
    """The ``--data`` help: one line per registered source.

    >>> print(data_help().splitlines()[0])  # doctest: +NORMALIZE_WHITESPACE
    fashion-mnist   70,000 28x28 gray clothing images, 10 classes (60,000 train / 10,000 test)
    """
    rows = list_sources()
    width = max(len(r["form"]) for r in rows) + 2
    return "\n".join(f"{r['form']:{width}s} {r['about']}" for r in rows)


def describe_datasets() -> list[dict]:
    """Older form of :func:`list_sources` (keys ``spec``, ``present``, ``source``, ``about``)."""
    return [{"spec": r["form"], "present": r["present"], "source": r["where"], "about": r["about"]}
            for r in list_sources()]


# ---------------------------------------------------------------- the built-in sources (in --data help order)

register_source("fashion-mnist", load_fashion_mnist, present=fashion_mnist_present, where=fashion_mnist_where,
                about="70,000 28x28 gray clothing images, 10 classes (60,000 train / 10,000 test)")
register_source("digits", load_digits, hold_out=True, where="scikit-learn (bundled)", mirror_safe=False,
                present=lambda: importlib.util.find_spec("sklearn") is not None,
                about="1,797 8x8 gray handwritten digits, 10 classes")
register_source("folder", load_folder, needs_arg=True, arg="PATH", splits=folder_splits,
                where=lambda: f"your photos; decoded once and cached in {cache_dir() / 'folders'}",
                about="your photos, one subfolder per class (or train/ val/ test/ with class subfolders inside)")
register_source("synthetic", make_synthetic, hold_out=True, where="generated",
                about="noisy shapes for tests and demos")

__all__ = ["FASHION_CLASSES", "FASHION_FILES", "SPLIT_SEED", "TEST_FRACTION", "DataError", "Source", "cache_dir",
           "data_help", "describe_datasets", "fetch_fashion_mnist", "find_fashion_mnist",
           "get_source", "list_sources", "load_dataset", "load_digits", "make_synthetic", "read_idx",
           "register_source", "source_splits", "SYNTHETIC_CLASSES", "unregister_source"]
