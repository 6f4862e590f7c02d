"""What the page's train form becomes: the engine configuration, class folder names, readable errors, time left.

>>> build_config({"mode": "scratch"}, images=60, data="folder:photos")["training"]["epochs"]
60
>>> build_config({"mode": "custom", "fit": "pad"}, images=60, data="folder:photos")["data"]["fit"]
'pad'
>>> build_config({"mode": "custom", "batch_size": 1}, images=60, data="folder:photos")
Traceback (most recent call last):
  ...
cnnlab.errors.ConfigError: batch_size=1: expected a whole number of at least 2 (batch norm needs two images per batch)
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path

from cnnlab.config import RunConfig, auto_batch_size
from cnnlab.data.augment import augment_names
from cnnlab.data.layout import SPLIT_ALIASES, is_system
from cnnlab.errors import ConfigError

MODES = ("quick", "scratch", "custom")
MODELS = ("lecture_cnn", "efficientnet_lite0")
FITS = ("crop", "pad", "stretch")  # how photos that are not square are made square (the engine's data.fit)
OPTIONS = ("epochs", "lr", "batch_size", "image_size", "fit", "augment", "model")  # what the page may send
QUICK = {"model": "efficientnet_lite0", "pretrained": True, "freeze": True, "epochs": 10}
SCRATCH = {"model": "lecture_cnn", "image_size": 64}  # 64 px: the lecture CNN's size for photos
SCRATCH_STEPS = 300  # scratch runs get enough epochs for about this many optimizer steps (from 8 to 60 epochs)
PAGE_NAMES = {"model_args": "model", "pretrained": "model", "freeze": "model"}  # engine option -> the page's field


def page_message(e: ConfigError) -> str:
    """A ConfigError as the page shows it: named by the form's field, not the engine's option.

    Long help (the augmentation spec's list of steps) becomes one line naming the steps.

    >>> page_message(ConfigError("model_args", {}, "no arguments"))
    'model={}: expected no arguments'
    >>> from cnnlab.errors import AugmentSpecError
    >>> page_message(AugmentSpecError("unknown augmentation 'spin'\\nvalid items: ..."))[:56]
    "augment: unknown augmentation 'spin'; the steps are flip"
    """
    text = e.format(PAGE_NAMES.get(e.key, e.key))
    if "\n" in text:
        text = text.splitlines()[0].rstrip(";:,. ")
        if e.key == "augment":
            text += f"; the steps are {', '.join(augment_names())}, e.g. flip,rotate=15,color=0.2"
    return text


def build_config(body: dict, images: int, data: str) -> dict:
    """The engine configuration (nested dict) for a train request of the page.

    Args:
        body: ``{"mode": "quick"|"scratch"|"custom", "epochs"?, "lr"?, "batch_size"?, "image_size"?, "fit"?,
            "augment"?, "model"?}``. Quick is a frozen pretrained EfficientNet-Lite0 trained from cached
            features; scratch is the lecture CNN at 64 px with enough epochs for ~300 steps; custom starts from
            the preset of its ``model`` (lecture_cnn by default). Values given override the preset. ``fit``
            ("crop", "pad" or "stretch") says how photos that are not square are made square.
        images: how many images the project has (scratch runs choose their epochs from it).
        data: the data spec (``folder:PATH``).

    Returns:
        A validated configuration, as ``RunConfig.to_dict()``.

    Raises:
        ConfigError: an unknown mode or option, or a value the engine refuses (its own message).

    >>> build_config({"mode": "quick"}, images=60, data="folder:x")["model"]["freeze"]
    True
    """
    if not isinstance(body, dict):
        raise ConfigError("options", body, "a JSON object such as {\"mode\": \"quick\"}")
    mode = body.get("mode", "quick")
    if mode not in MODES:
        raise ConfigError("mode", mode, "'quick', 'scratch' or 'custom'")
    unknown = sorted(set(body) - {"mode", *OPTIONS})
    if unknown:
        raise ConfigError(unknown[0], body[unknown[0]], f"one of the training options: {', '.join(OPTIONS)}")
    given = {k: body[k] for k in OPTIONS if body.get(k) is not None}
    model = given.pop("model", {"quick": QUICK["model"], "scratch": SCRATCH["model"]}.get(mode, "lecture_cnn"))
    if model not in MODELS or (mode != "custom" and model != (QUICK if mode == "quick" else SCRATCH)["model"]):
        allowed = "lecture_cnn (from scratch) or efficientnet_lite0 (pretrained)" if mode == "custom" else \
            f"{(QUICK if mode == 'quick' else SCRATCH)['model']} in {mode} mode"
        raise ConfigError("model", model, allowed, hint="choose Custom to pick the model yourself")
    fit = given.pop("fit", "crop")  # recorded in model.json input.fit; predict, export and Try it use it too
    if fit not in FITS:
        raise ConfigError("fit", fit, "'crop' (the centre of the photo), 'pad' (the whole photo with black bars) "
                                      "or 'stretch' (the whole photo, squeezed)")
    options = dict(QUICK if model == QUICK["model"] else SCRATCH, data=data, fit=fit)
    if model != QUICK["model"] and "epochs" not in given:
        n_train = max(2, int(images * 0.8 * 0.9))  # minus the test (20%) and validation (10%) shares
        per_epoch = max(1, n_train // auto_batch_size(256, n_train))
        options["epochs"] = min(60, max(8, math.ceil(SCRATCH_STEPS / per_epoch)))
    options.update(given)
    return RunConfig.build(None, **options).validate().to_dict()


def folder_names(classes: list[dict]) -> dict[str, str]:
    """The folder name of each class in a run's data: its display name where that is a safe name, else its id.

    Names the folder source would misread (``test``, ``val``, hidden or system names), names with path
    characters and names equal to another's apart from capitals (a clash on macOS and Windows) fall back
    to the class id.

    Args:
        classes: ``[{"id", "name"}]`` from project.json.

    Returns:
        ``{folder name: class id}``.

    >>> folder_names([{"id": "cat-1", "name": "Cat"}, {"id": "test-2", "name": "test"}, {"id": "a-3", "name": "a/b"}])
    {'Cat': 'cat-1', 'test-2': 'test-2', 'a-3': 'a-3'}
    """
    out, seen = {}, set()
    for c in classes:
        name = str(c.get("name", "")).strip()
        bad = (not name or len(name) > 80 or name in (".", "..") or is_system(name) or name.lower() in SPLIT_ALIASES
               or any(ch in name for ch in '/\\:*?"<>|') or any(ord(ch) < 32 for ch in name)
               or name.rstrip(".") != name or name.casefold() in seen
               or name.upper().split(".")[0] in ("CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)),
                                                  *(f"LPT{i}" for i in range(10))))
        folder = c["id"] if bad else name
        seen.add(folder.casefold())
        out[folder] = c["id"]
    return out


def plain_error(message: str | None, data_dir: Path | None = None, name: str = "") -> str:
    """An engine message as the page shows it: one sentence, never a traceback, no private folder names.

    A message that carries a traceback (or the end of one, as the job API keeps the last part of a crashed
    process's output) keeps its first words and the error's last line.

    >>> plain_error("the training process ended unexpectedly (exit code 1) Traceback (most recent call last):\\n"
    ...             "  File x\\nMemoryError: out of memory")
    'the training process ended unexpectedly (exit code 1) (MemoryError: out of memory)'
    >>> plain_error("the training process ended unexpectedly (exit code -9) ssor.py\\", line 3, in f\\n    g()")
    'the training process ended unexpectedly (exit code -9): the system stopped it, often because memory ran \
out; try a smaller image size or fewer images'
    """
    text = str(message or "training stopped for an unknown reason")
    lines = text.splitlines()
    if len(lines) > 1 or "Traceback (most recent call last)" in text:
        head = lines[0].partition("Traceback (most recent call last)")[0]
        crash = re.match(r"(the training process ended unexpectedly \(exit code -?\d+\))", head)
        head = crash.group(1) if crash else head.strip().rstrip(":")
        last = lines[-1].strip()
        text = head + (f" ({last})" if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b", last) else "")
    if re.search(r"\(exit code -9\)$", text):
        text += ": the system stopped it, often because memory ran out; try a smaller image size or fewer images"
    if data_dir is not None:
        text = text.replace(str(data_dir.resolve()), f"project {name!r}").replace(str(data_dir), f"project {name!r}")
    return " ".join(text.split())[:600]


class Eta:
    """Adds ``epochs``, ``steps`` and ``eta_s`` (seconds left) to batch and stage events, from the pace so far.

    >>> eta, t = Eta(), [0.0]
    >>> eta.clock = lambda: t[0]
    >>> _ = eta.add({"event": "epoch_begin", "epoch": 1, "epochs": 2, "batches": 10, "batch": 0})
    >>> for step in (1, 2, 3):
    ...     t[0] = step * 0.5
    ...     e = eta.add({"event": "batch", "epoch": 1, "batch": step, "batches": 10, "step": step})
    >>> e["steps"], e["eta_s"]
    (20, 8.5)
    """

    def __init__(self):
        self.clock = time.monotonic
        self.epochs = None
        self.first = None  # (time, step) of the first batch this session saw
        self.stage = None  # (stage, total, time, done) of the stage's first event

    def add(self, event: dict) -> dict:
        """A copy of ``event`` with the counts and the time left where they can be known."""
        e, now = dict(event), self.clock()
        kind = e.get("event")
        if kind == "epoch_begin":
            self.epochs = e.get("epochs")
        elif kind == "batch" and self.epochs and isinstance(e.get("step"), int):
            total = max(e["step"], round(self.epochs * e["batches"]))
            e.update(epochs=self.epochs, steps=total)
            if self.first is None:
                self.first = (now, e["step"])
            elif e["step"] - self.first[1] >= 2:
                pace = (now - self.first[0]) / (e["step"] - self.first[1])
                e["eta_s"] = round(pace * (total - e["step"]), 1)
        elif kind == "stage" and isinstance(e.get("done"), int) and e.get("total"):
            key = (e.get("stage"), e["total"])
            if self.stage is None or self.stage[:2] != key:
                self.stage = (*key, now, e["done"])
            elif e["done"] > self.stage[3]:
                pace = (now - self.stage[2]) / (e["done"] - self.stage[3])
                e["eta_s"] = round(pace * (e["total"] - e["done"]), 1)
        return e
