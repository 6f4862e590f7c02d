"""What the studio tells you about your images: unreadable files, exact copies, too few images, imbalance.

Each check is one function of plain numbers (counts per class, a hash per image), so the page,
the tests and any other caller get the same findings. A finding is a dict
``{"kind", "level": "info" | "warning" | "error", "message"}``.

>>> [f["kind"] for f in class_findings({"cat": 40, "dog": 3})]
['too_few', 'imbalance']
>>> class_findings({"cat": 40, "dog": 3})[0]["message"]
"'dog' has only 3 images: add at least 2 more (5 is the least that can work, 20 or more is better)"
"""

from __future__ import annotations

from collections import defaultdict

MIN_IMAGES = 5  # fewer images in a class: too few to train and test on
GOOD_IMAGES = 20
MAX_RATIO = 3.0  # largest class / smallest class above this: strong imbalance
SHOW = 5  # at most this many file names in one message


def finding(kind: str, level: str, message: str) -> dict:
    """One finding as the page shows it."""
    return {"kind": kind, "level": level, "message": message}


def class_findings(counts: dict[str, int]) -> list[dict]:
    """Findings about the number of images per class.

    Args:
        counts: class name -> number of images, in the project's order.

    Returns:
        ``too_few`` (a class under ``MIN_IMAGES``), ``imbalance`` (largest over smallest above
        ``MAX_RATIO``) and ``classes`` (fewer than two classes) findings.

    >>> class_findings({"cat": 20, "dog": 20})
    []
    """
    found = []
    if len(counts) < 2:
        found.append(finding("classes", "info", "a model tells classes apart: add at least two classes"
                             + (" (you have one)" if counts else "")))
    for name, n in counts.items():
        if n == 0:
            found.append(finding("too_few", "warning", f"'{name}' has no images yet: add at least {MIN_IMAGES} "
                                 f"({GOOD_IMAGES} or more is better)"))
        elif n < MIN_IMAGES:
            found.append(finding("too_few", "warning", f"'{name}' has only {n} image{'s' * (n != 1)}: add at least "
                                 f"{MIN_IMAGES - n} more ({MIN_IMAGES} is the least that can work, "
                                 f"{GOOD_IMAGES} or more is better)"))
    filled = {k: v for k, v in counts.items() if v > 0}
    if len(filled) >= 2:
        big = max(filled, key=filled.get)
        small = min(filled, key=filled.get)
        ratio = filled[big] / filled[small]
        if ratio > MAX_RATIO:
            found.append(finding("imbalance", "warning", f"'{big}' has {filled[big]} images but '{small}' only "
                                 f"{filled[small]} ({ratio:.1f} times fewer): the model will lean towards '{big}'; "
                                 f"add images of '{small}' (or remove some of '{big}')"))
    return found


def duplicate_findings(hashes: dict[tuple[str, str], str]) -> list[dict]:
    """Findings about exact copies: images whose decoded pixels are the same.

    Args:
        hashes: ``(class name, image id) -> hash of the decoded pixels``.

    Returns:
        One ``duplicates`` warning for copies inside a class, one ``duplicates`` error for the
        same image in two classes (then the labels contradict each other); nothing if all differ.

    >>> [f["level"] for f in duplicate_findings({("cat", "a"): "h1", ("cat", "b"): "h1", ("dog", "c"): "h1"})]
    ['warning', 'error']
    """
    groups = defaultdict(list)
    for key, h in hashes.items():
        groups[h].append(key)
    copies = defaultdict(int)  # class -> images that repeat an earlier one in the same class
    across = []
    for keys in groups.values():
        if len(keys) < 2:
            continue
        per_class = defaultdict(int)
        for cls, _ in keys:
            per_class[cls] += 1
        for cls, n in per_class.items():
            copies[cls] += n - 1
        if len(per_class) > 1:
            across.append(sorted(per_class))
    found = []
    if copies:
        total = sum(copies.values())
        where = ", ".join(f"{n} in '{c}'" for c, n in copies.items() if n)
        if total:
            found.append(finding("duplicates", "warning", f"{total} image{'s are' if total != 1 else ' is an'} exact "
                                 f"cop{'ies' if total != 1 else 'y'} of another ({where}): copies make the test score "
                                 "look better than it is; delete them"))
    if across:
        pairs = "; ".join(" and ".join(f"'{c}'" for c in names) for names in across[:SHOW])
        found.append(finding("duplicates", "error", f"{len(across)} image{'s are' if len(across) != 1 else ' is'} in "
                             f"two classes at once ({pairs}): an image can have only one label; delete the wrong copy"))
    return found


def unreadable_findings(files: list[tuple[str, str]]) -> list[dict]:
    """A finding about files that could not be read as images (left out of training).

    Args:
        files: ``(file name, reason)`` pairs.

    >>> unreadable_findings([("notes.txt", "not an image")])[0]["message"]
    '1 file could not be read as an image and is left out: notes.txt (not an image)'
    """
    if not files:
        return []
    n = len(files)
    shown = "; ".join(f"{name} ({reason})" for name, reason in files[:SHOW]) + ("; ..." if n > SHOW else "")
    return [finding("unreadable", "warning", f"{n} file{'s' * (n != 1)} could not be read as "
                    f"{'images and are' if n != 1 else 'an image and is'} left out: {shown}")]
