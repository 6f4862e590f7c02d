"""What is wrong with a data set before you train on it: ``cnnlab check DATA``.

For a photo folder every file is read once and checked for: files that cannot be read, exact
copies (equal decoded pixels) and near copies (a perceptual hash, see :mod:`cnnlab.data.phash`)
inside a class, across classes (the same image with two labels) and across the train, validation
and test splits (a test image the model has already seen). The splits are those a training run
uses: the folder's own ``train/``, ``val/``, ``test/`` folders, and otherwise the held-out 20% test
split and the validation split drawn with the run's seed. It also reports too few images and one
class much bigger than another, tiny images, black-and-white images mixed with colour ones, and
photos turned by an EXIF rotation tag. Built-in sets (``digits``, ``fashion-mnist``...) are arrays,
not files: they get the checks that make sense for arrays (exact copies, labels, leakage, class
sizes); see :func:`check_data`.

A finding is ``{"kind", "level": "error" | "warning" | "info", "message"}`` with, where files are
involved, ``files`` (at most ``MAX_LISTED``), ``count`` and ``groups`` (copies that belong together).
Errors are problems that make the test score wrong: an image in two classes, or in the test split
and in the training split.

>>> [f["kind"] for f in class_findings({"cat": 40, "dog": 3})]
['too_few', 'imbalance']
>>> class_findings({"cat": 40, "dog": 3})[0]["message"]
"'dog' has only 3 images: add at least 2 more (5 is the least that can work, 20 or more is better)"
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from cnnlab.data.phash import HASH_SIDE, NEAR_BITS, near_pairs
from cnnlab.data.scan import Item, array_items, folder_items
from cnnlab.data.sources import list_sources
from cnnlab.errors import ConfigError, DataError

MIN_IMAGES = 5  # fewer images in a class: too few to train and test on
GOOD_IMAGES = 20
MAX_RATIO = 3.0  # largest class / smallest class above this: strong imbalance
SHOW = 5  # at most this many file names in one message
MAX_LISTED = 20  # at most this many files (or groups) in a finding
TINY = 32  # a side shorter than this (and than half the usual one) makes an image "tiny"
LEVELS = ("error", "warning", "info")


def finding(kind: str, level: str, message: str, files=None, groups=None) -> dict:
    """One finding: what, how bad, in words; with the files involved when there are any."""
    out = {"kind": kind, "level": level, "message": message}
    if files is not None:
        out.update(count=len(files), files=list(files)[:MAX_LISTED])
    if groups is not None:
        out.update(group_count=len(groups), groups=[list(g)[:SHOW] for g in groups[:MAX_LISTED]])
    return out


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def class_findings(counts: dict[str, int]) -> list[dict]:
    """Findings about the number of images per class.

    Args:
        counts: class name -> number of images, in the data set's order.

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
            found.append(finding("too_few", "warning", f"'{name}' has only {_plural(n, 'image', 'images')}: add at "
                                 f"least {MIN_IMAGES - n} more ({MIN_IMAGES} is the least that can work, "
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
    """Findings about exact copies in one set of images (no splits): in a class, or in two classes.

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
        per_class = Counter(cls for cls, _ in keys)
        for cls, n in per_class.items():
            if n > 1:
                copies[cls] += n - 1
        if len(per_class) > 1:
            across.append(sorted(per_class))
    found = []
    total = sum(copies.values())
    if total:
        where = ", ".join(f"{n} in '{c}'" for c, n in copies.items())
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


def _names(group) -> list[str]:
    return [it.name for it in group]


def _where(counter: Counter) -> str:
    return ", ".join(f"{n} {where}" for where, n in counter.most_common(SHOW))


def _copy_groups(groups: list[list[Item]], classes: list[str], near: bool) -> list[dict]:
    """Findings for groups of copies (exact, or near: ``near=True``), each group put where it hurts most."""
    kinds = defaultdict(list)
    for g in groups:
        splits = {it.split for it in g} - {"unused"}
        kind = "conflicting_labels" if len({it.label for it in g}) > 1 else "leakage" if len(splits) > 1 \
            else "duplicates"
        kinds[kind].append(g)
    same = "look almost the same (perhaps one photo resized or saved again)" if near else "are exact copies"
    found = []
    if kinds["conflicting_labels"]:
        gs = kinds["conflicting_labels"]
        pairs = Counter("in " + " and ".join(f"'{classes[c]}'" for c in sorted({it.label for it in g})) for g in gs)
        found.append(finding("conflicting_labels", "warning" if near else "error",
                             f"{_plural(len(gs), 'image is', 'images are')} in two classes at once ({_where(pairs)})"
                             f"{': they ' + same if near else ''}; an image can have only one label: keep it in the "
                             "right class and delete the other copies", [n for g in gs for n in _names(g)],
                             [_names(g) for g in gs]))
    if kinds["leakage"]:
        gs = kinds["leakage"]
        pairs = Counter("in " + " and ".join(s for s in ("train", "val", "test") if s in {it.split for it in g})
                        for g in gs)
        found.append(finding("leakage", "warning" if near else "error",
                             f"{_plural(len(gs), 'image is', 'images are')} in more than one split "
                             f"({_where(pairs)}){': the copies ' + same if near else ''}; the model is then tested "
                             "on images it learnt from and the test score looks better than it is: delete one copy "
                             "of each", [n for g in gs for n in _names(g)], [_names(g) for g in gs]))
    if kinds["duplicates"]:
        gs = kinds["duplicates"]
        per_class = Counter(f"in '{classes[g[0].label]}'" for g in gs for _ in g[1:])
        extra = sum(len(g) - 1 for g in gs)
        what = (_plural(extra, "image looks", "images look") + " almost the same as another of its class (perhaps "
                "one photo resized or saved again)") if near else \
            _plural(extra, "image is an exact copy", "images are exact copies") + " of another of its class"
        found.append(finding("duplicates", "info" if near else "warning", f"{what} ({_where(per_class)}): "
                             + ("fine if they are different shots, else delete the copies" if near else
                                "each counts twice in training; delete the extra copies"),
                             [n for g in gs for n in _names(g)], [_names(g) for g in gs]))
    for f in found:
        f["match"] = "near" if near else "exact"
    return found


def copy_findings(items: list[Item], classes: list[str], max_bits: int = NEAR_BITS) -> list[dict]:
    """Exact copies (equal pixels) and near copies (pHashes at most ``max_bits`` apart) among readable ``items``.

    A group of copies in two classes is ``conflicting_labels``; in one class but in two splits, ``leakage``;
    otherwise ``duplicates``. Exact copies are errors (the labels or the test score are wrong), warnings
    inside a split; near copies one level lower (the hash can be fooled).
    """
    exact = defaultdict(list)
    for it in items:
        exact[it.pixels].append(it)
    found = _copy_groups([g for g in exact.values() if len(g) > 1], classes, near=False)
    reps = [g[0] for g in exact.values() if g[0].look is not None]  # one per exact group: copies pair only once
    parent = list(range(len(reps)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in near_pairs([r.look for r in reps], max_bits):
        parent[root(i)] = root(j)
    linked = defaultdict(list)
    for i, r in enumerate(reps):
        linked[root(i)].append(r)
    near = [[it for r in rs for it in exact[r.pixels]] for rs in linked.values() if len(rs) > 1]
    return found + _copy_groups(near, classes, near=True)


def image_findings(items: list[Item], classes: list[str]) -> list[dict]:
    """Tiny images, black-and-white images among colour ones (or the reverse), and EXIF-rotated photos."""
    found = []
    short = [min(it.size) for it in items]
    usual = float(np.median(short)) if short else 0
    tiny = [it for it in items if min(it.size) < TINY and min(it.size) < usual / 2]
    if tiny:
        w, h = tiny[0].size
        found.append(finding("tiny", "warning", f"{_plural(len(tiny), 'image is', 'images are')} tiny (e.g. "
                             f"{tiny[0].name} is {w}x{h} pixels, while the typical short side is {usual:.0f}): "
                             "enlarged to the training size they are mostly blur; replace them with bigger photos or "
                             "delete them", _names(tiny)))
    gray = [it for it in items if it.gray]
    if gray and len(gray) < len(items):
        few, what = (gray, "black and white") if 2 * len(gray) <= len(items) else \
            ([it for it in items if not it.gray], "in colour")
        where = Counter(f"in '{classes[it.label]}'" for it in few)
        found.append(finding("gray_and_colour", "warning", f"{_plural(len(few), 'image is', 'images are')} {what} "
                             f"while the other {len(items) - len(few)} are not ({_where(where)}): the model may learn "
                             "colour itself as a clue, which fails on new photos; make them alike (all in colour, "
                             "or all black and white)", _names(few)))
    turned = [it for it in items if it.rotated]
    if turned:
        found.append(finding("exif_rotated", "info", f"{_plural(len(turned), 'photo carries', 'photos carry')} an "
                             "EXIF rotation tag: cnnlab turns them upright as a photo viewer does, but programs that "
                             "ignore the tag see them turned; to be safe, save them upright", _names(turned)))
    return found


def folder_spec(data: str) -> str:
    """The data spec for ``data``: a bare path to a folder means ``folder:PATH`` (a registered name wins).

    >>> folder_spec("digits"), folder_spec("/")
    ('digits', 'folder:/')
    """
    data = str(data)
    names = {row["name"] for row in list_sources()}
    if data.partition(":")[0] not in names:
        if Path(data).expanduser().is_dir():
            return f"folder:{data}"
        if ":" not in data:  # neither a data set's name nor a folder that is there
            raise DataError(f"{data}: no such folder or data set; give a folder of photos (one subfolder per "
                            f"class) or one of: {', '.join(sorted(n for n in names if n != 'folder'))}")
    return data


def check_data(data: str, seed: int = 0, val_fraction: float = 0.1, per_class: int | None = None,
               progress: bool = True, cache: dict | None = None) -> dict:
    """Check a data set for the problems listed in the module docstring.

    Args:
        data: a data spec as ``cnnlab train --data`` takes it (``folder:PATH``, ``digits``...), or a path to a folder.
        seed, val_fraction, per_class: the training options that decide the splits (as ``cnnlab.train``).
        progress: show a progress bar while files are read (on a terminal only).
        cache: for a folder, the settings (``image_size``, ``channels``, ``fit``) it was decoded into the cache
            with: what the check needs is then read from that cache (filled by the same decoding) instead of
            decoding every photo again. A training run passes its own; without it, or without such a cache,
            every photo is decoded.

    Returns:
        ``{"data", "layout", "classes", "counts": {split: [images per class]}, "files", "findings",
        "errors", "warnings", "infos", "notes"}``; ``notes`` says what was not checked and why.

    Raises:
        ConfigError: an unknown spec. DataError: a folder a training run would refuse as well.

    >>> report = check_data("digits")
    >>> report["errors"], report["counts"]["test"][:3]
    (0, [36, 36, 35])
    """
    if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1):
        raise ConfigError("per_class", per_class, "a whole number of images per class, at least 1")
    if not 0 <= val_fraction < 1:
        raise ConfigError("val_fraction", val_fraction, "a share from 0 (no validation split) to below 1")
    spec = folder_spec(data)
    notes = []
    if spec.startswith("folder:"):
        items, classes, layout = folder_items(spec.split(":", 1)[1], seed, val_fraction, per_class, progress, cache)
        small = sum(1 for it in items if not it.error and it.look is None)
        if small:
            notes.append(f"{_plural(small, 'image is', 'images are')} smaller than {HASH_SIDE}x{HASH_SIDE} pixels and "
                         "not compared for near copies (only for exact ones)")
    else:
        items, classes, layout = array_items(spec, seed, val_fraction, per_class)
        notes.append(f"{spec} is a built-in set of arrays, not files: it is checked for exact copies, labels, "
                     "leakage between splits and class sizes. Near copies are looked for only among photos of at "
                     f"least {HASH_SIDE}x{HASH_SIDE} pixels (on Fashion-MNIST's 28x28 images the perceptual hash "
                     "matched 3,311 pairs of different classes among 10,000 images); file problems (unreadable, "
                     "EXIF) cannot occur")
    readable = [it for it in items if not it.error]
    counts = {s: [sum(1 for it in readable if it.split == s and it.label == c) for c in range(len(classes))]
              for s in ("train", "val", "test", "unused")}
    bad = [it for it in items if it.error]
    found = [dict(f, count=len(bad), files=[it.name for it in bad][:MAX_LISTED])
             for f in unreadable_findings([(it.name, it.error) for it in bad])]
    found += copy_findings(readable, classes)
    found += class_findings({c: sum(counts[s][i] for s in counts) for i, c in enumerate(classes)})
    found += image_findings(readable, classes)
    found.sort(key=lambda f: LEVELS.index(f["level"]))
    return {"data": spec, "layout": layout, "classes": classes, "files": len(items), "readable": len(readable),
            "counts": {s: n for s, n in counts.items() if sum(n) or s != "unused"}, "seed": seed,
            "findings": found, "notes": notes, **{f"{lv}s": sum(f["level"] == lv for f in found) for lv in LEVELS}}


def _tally(report: dict) -> str:
    parts = [_plural(report[f"{lv}s"], lv, lv + "s") for lv in LEVELS if report[f"{lv}s"]]
    return ", ".join(parts) if parts else "no problems found"


def format_report(report: dict) -> str:
    """The report in plain text, for people (``cnnlab check``)."""
    spec, classes = report["data"], report["classes"]
    lines = [f"{spec}: {report['files']:,} files, {len(classes)} classes ({report['layout']})",
             "  split as a training run with seed " + f"{report['seed']} splits it:"]
    for split, counts in report["counts"].items():
        per = ", ".join(f"{c} {n}" for c, n in zip(classes[:8], counts, strict=False)) + (", ..." if len(classes) > 8
                                                                                         else "")
        lines.append(f"    {split:6s} {sum(counts):6,} images ({per})")
    for f in report["findings"]:
        lines.append(f"{f['level']:8s}{f['kind']}: {f['message']}")
        shown = [" = ".join(g) for g in f["groups"]] if "groups" in f else \
            [x for x in f.get("files", []) if x not in f["message"]]
        lines += [f"          {x}" for x in shown[:SHOW]]
        total = f.get("group_count", f.get("count", 0))
        if total > SHOW and shown:
            lines.append(f"          ... and {total - SHOW} more (--json lists up to {MAX_LISTED})")
    lines += [f"note: {n}" for n in report["notes"]]
    lines.append(_tally(report))
    return "\n".join(lines)


def summary_notes(report: dict, limit: int = 3) -> list[str]:
    """A few lines for the start of a training run: the tally and the worst findings.

    >>> summary_notes({"data": "folder:p", "errors": 0, "warnings": 0, "infos": 0, "findings": []})
    ['data check of folder:p: no problems found (copies, leaks between splits, unreadable files, class sizes)']
    """
    if not report["errors"] and not report["warnings"]:
        return [f"data check of {report['data']}: no problems found (copies, leaks between splits, unreadable files, "
                "class sizes)"]
    worst = [f for f in report["findings"] if f["level"] != "info"]
    more = f"; {len(worst) - limit} more" if len(worst) > limit else ""
    return [f"data check of {report['data']}: {_tally(report)}{more} (details: cnnlab check {report['data']})",
            *(f"{f['level']}: {f['message']}" for f in worst[:limit])]
