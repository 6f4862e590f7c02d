"""How a photo folder is laid out: class subfolders, and which splits (train/val/test) it gives.

Two layouts are recognised:

    photos/cat/*.jpg, photos/dog/*.jpg          one subfolder per class; cnnlab holds out the test split
    photos/train/cat/*.jpg, photos/val/cat/...  split folders first (Keras/Kaggle), classes inside

Split folders may be named train (training), val (valid, validation, dev) and test (testing), in
any case. Without a test/ folder a fixed 20% of train/ is held out as the test split. System
folders and files (``__MACOSX``, ``.DS_Store``, ``Thumbs.db``, hidden ones...) are never classes
and never images. All of this is decided from folder names alone, before any photo is decoded.

>>> import tempfile
>>> from pathlib import Path
>>> root = Path(tempfile.mkdtemp())
>>> for d in ("train/cat", "train/dog", "val/cat", "val/dog", "__MACOSX/train"):
...     (root / d).mkdir(parents=True)
>>> folder_splits(root)
['train', 'val', 'test']
>>> folder_layout(root).describe()
'train/ and val/ (test split: 20% of train/ held out)'
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cnnlab.data.imageset import TEST_FRACTION
from cnnlab.errors import DataError

SPLIT_ALIASES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                 "dev": "val", "test": "test", "testing": "test"}
SPLIT_ORDER = ("train", "val", "test")
# folders and files that operating systems, archivers and tools add; compared in lower case
SYSTEM_NAMES = {"__macosx", "$recycle.bin", "system volume information", "@eadir", "lost+found", "__pycache__",
                "thumbs.db", "ehthumbs.db", "desktop.ini", "icon\r", ".ds_store"}


def is_system(name: str) -> bool:
    """True for hidden and system files/folders (``.DS_Store``, ``__MACOSX``, ``Thumbs.db``, ``@eaDir``...).

    >>> [is_system(n) for n in ("__MACOSX", ".git", "Thumbs.db", "cat")]
    [True, True, True, False]
    """
    return name.startswith(".") or name.startswith("~$") or name.lower() in SYSTEM_NAMES


def visible_dirs(folder: Path) -> list[Path]:
    """The subfolders of ``folder`` that are not hidden or system folders, sorted by name.

    A studio project (a folder with ``project.json``) keeps its trained runs in ``runs/``: that is not a class.
    """
    project = (folder / "project.json").is_file()
    return sorted((p for p in folder.iterdir() if p.is_dir() and not is_system(p.name)
                   and not (project and p.name == "runs")), key=lambda p: p.name)


def image_files(folder: Path) -> list[Path]:
    """Every non-system file under ``folder`` (any depth), sorted; unreadable ones are skipped later."""
    found = []
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not is_system(d)]  # never descend into __MACOSX/, @eaDir/, .git/ ...
        found += [Path(here) / f for f in files if not is_system(f)]
    return sorted(found)


@dataclass(frozen=True)
class FolderLayout:
    """Where each split of a photo folder comes from.

    Args:
        root: the folder given by the user.
        folders: split name ("train", "val", "test") -> a folder with one subfolder per class.
            "train" is always there; without "test" the test split is held out of "train".
    """

    root: Path
    folders: dict

    @property
    def held_out(self) -> bool:
        """True when the test split is a fixed share of train (no test/ folder)."""
        return "test" not in self.folders

    @property
    def splits(self) -> list[str]:
        """The splits ``load_dataset`` accepts for this folder, in train/val/test order."""
        return [s for s in SPLIT_ORDER if s in self.folders or s == "test"]

    def describe(self) -> str:
        """The layout in plain words."""
        if self.folders["train"] == self.root:
            return f"one subfolder per class (test split: {TEST_FRACTION:.0%} held out)"
        given = " and ".join(f"{self.folders[s].name}/" for s in SPLIT_ORDER if s in self.folders)
        held = f" (test split: {TEST_FRACTION:.0%} of {self.folders['train'].name}/ held out)" if self.held_out else ""
        return given + held


def folder_layout(path: str | os.PathLike) -> FolderLayout:
    """Recognise the layout of a photo folder from its folder names (nothing is decoded).

    Args:
        path: the folder.

    Returns:
        A :class:`FolderLayout`.

    Raises:
        DataError: the folder is missing, or mixes split folders with class folders, or names a
            split twice (val/ and valid/), or has split folders without train/ or without classes.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise DataError(f"{root}: no such folder. Expected one subfolder per class, e.g. {root}/cat/*.jpg")
    dirs = visible_dirs(root)
    named = {d: SPLIT_ALIASES[d.name.lower()] for d in dirs if d.name.lower() in SPLIT_ALIASES}
    with_classes = [d for d in named if visible_dirs(d)]
    if not with_classes:
        if named and len(named) == len(dirs) and len(dirs) > 1:  # train/*.jpg + val/*.jpg: no classes
            names = ", ".join(f"{d.name}/" for d in dirs)
            raise DataError(f"{root} holds {names} with no class subfolders inside; put each class in its own "
                            f"subfolder, e.g. {root}/{dirs[0].name}/cat/*.jpg and {root}/{dirs[1].name}/cat/*.jpg")
        return FolderLayout(root, {"train": root})
    flat = [d for d in named if d not in with_classes]
    if flat:
        raise DataError(f"{flat[0]} holds no class subfolders while {with_classes[0].name}/ does; "
                        f"put its images in class subfolders, e.g. {flat[0]}/cat/*.jpg")
    others = [d for d in dirs if d not in named]
    if others:
        raise DataError(f"{root} mixes split folders ({', '.join(d.name + '/' for d in named)}) with other "
                        f"folders ({', '.join(d.name + '/' for d in others)}); move every class into the split "
                        f"folders (e.g. {root}/train/cat/), or move the other folders out")
    folders: dict[str, Path] = {}
    for d, split in named.items():
        if split in folders:
            raise DataError(f"{root} has two {split} folders, {folders[split].name}/ and {d.name}/; "
                            "keep one (merge their images)")
        folders[split] = d
    if "train" not in folders:
        raise DataError(f"{root} has {', '.join(d.name + '/' for d in named)} but no train/ folder; "
                        f"rename the folder of training images to {root}/train/")
    return FolderLayout(root, folders)


def folder_splits(path: str | os.PathLike) -> list[str]:
    """The splits a photo folder gives: always train and test, and val when it has a val folder.

    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> for d in ("cat", "dog"):
    ...     (root / d).mkdir()
    >>> folder_splits(root)
    ['train', 'test']
    """
    return folder_layout(path).splits


def check_classes(layout: FolderLayout) -> list[str]:
    """The class names shared by every split folder, or one DataError listing every difference.

    Raises:
        DataError: split folders with different class names or counts (checked before decoding).
    """
    names = {s: [d.name for d in visible_dirs(f)] for s, f in layout.folders.items()}
    train = names["train"]
    problems = []
    for split, got in names.items():
        if got == train:
            continue
        a, b = layout.folders["train"].name, layout.folders[split].name
        only_a = [n for n in train if n not in got]
        only_b = [n for n in got if n not in train]
        problems.append(f"{a}/ has {len(train)} classes and {b}/ has {len(got)}: "
                        f"only in {a}/: {', '.join(map(repr, only_a)) or 'none'}; "
                        f"only in {b}/: {', '.join(map(repr, only_b)) or 'none'}")
        if {n.lower().strip() for n in only_a} & {n.lower().strip() for n in only_b}:
            problems[-1] += " (some differ only in capital letters or spaces, which count)"
    if problems:
        raise DataError(f"the split folders of {layout.root} do not have the same classes: " + "; ".join(problems)
                        + ". Rename the class folders so every split has exactly the same names")
    return train


def list_files(root: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names and ``(file, label)`` pairs of a class-per-subfolder folder.

    Raises:
        DataError: fewer than two classes, or an empty class folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder. Expected one subfolder per class, e.g. {root}/cat/*.jpg")
    classes = visible_dirs(root)
    if len(classes) < 2:
        hint = ""
        if len(classes) == 1 and visible_dirs(classes[0]):
            hint = f"; did you mean the folder inside it, folder:{classes[0]}?"
        raise DataError(f"{root}: found {len(classes)} class folder(s); a classifier needs at least two, "
                        f"one subfolder per class (e.g. {root}/cat/, {root}/dog/){hint}")
    files = []
    for label, d in enumerate(classes):
        found = image_files(d)
        if not found:
            raise DataError(f"class folder {d} is empty; put images of '{d.name}' in it or remove it")
        files += [(p, label) for p in found]
    return [d.name for d in classes], files
