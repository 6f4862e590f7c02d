"""``model_card.md``: what a trained model does, what it learned from, how well it works, where it fails.

Every sentence is derived from the run's ``model.json`` and its test metrics
(:func:`cnnlab.training.metrics.classification_metrics`), in plain words: the image size and
colours it has seen, the data source, small classes, classes it often misses, and the exact
``cnnlab train`` line that trains it again.
"""

from __future__ import annotations

import json
import shlex
import statistics
from pathlib import Path

from cnnlab.config import RunConfig, flag_of, option_table
from cnnlab.data.sources import get_source
from cnnlab.errors import CnnlabError
from cnnlab.files import atomic_write
from cnnlab.training.metrics import confusion_sentence, interval_text, percent

NO_TEST_IMAGES = "— (no test images: too few images of this class)"
LOW_RECALL_GAP = 0.10  # a class "often missed": its recall is this far below the overall accuracy
SHOWN_CONFUSIONS = 5


# ---------------------------------------------------------------- pieces shared with report.md


def per_class_lines(metrics: dict) -> list[str]:
    """The per-class table (markdown lines): test images, recall, precision, F1, then the class average.

    >>> from cnnlab.training.metrics import classification_metrics
    >>> print("\\n".join(per_class_lines(classification_metrics([0, 0, 1], [0, 0, 0], ["a", "b", "c"]))))
    | class | test images | recall (its test accuracy) | precision | F1 |
    |---|---|---|---|---|
    | a | 2 | 100.0% | 66.7% | 80.0% |
    | b | 1 | 0.0% | — (never predicted) | 0.0% |
    | c | 0 | — (no test images: too few images of this class) | — (never predicted) | — |
    | *average over classes* | 3 | 50.0% | 66.7% | 40.0% |
    """
    lines = ["| class | test images | recall (its test accuracy) | precision | F1 |", "|---|---|---|---|---|"]
    for row in metrics["per_class"]:
        recall = percent(row["recall"]) if row["support"] else NO_TEST_IMAGES
        precision = percent(row["precision"], missing="— (never predicted)")
        lines.append(f"| {row['class']} | {row['support']:,} | {recall} | {precision} | {percent(row['f1'])} |")
    macro = metrics["macro"]
    lines.append(f"| *average over classes* | {metrics['images']:,} | {percent(macro['recall'])} | "
                 f"{percent(macro['precision'])} | {percent(macro['f1'])} |")
    return lines


def metric_words() -> list[str]:
    """Two lines saying what recall, precision and F1 mean."""
    return ["Recall: of the test images of a class, the share the model got right. Precision: of the images "
            "the model called this class, the share that really were. F1 combines the two (their harmonic mean). "
            "A dash means there was nothing to measure, not zero."]


def confusion_lines(metrics: dict, n: int = SHOWN_CONFUSIONS) -> list[str]:
    """The most confused pairs as bullet points (no lines when the model made no mistakes).

    >>> from cnnlab.training.metrics import classification_metrics
    >>> confusion_lines(classification_metrics([0, 0, 1], [0, 1, 1], ["cat", "dog"]))
    ['- cat taken for dog: 1 of 2 cat images (50%)']
    """
    return [f"- {confusion_sentence(pair)}" for pair in metrics["confusions"][:n]]


# ---------------------------------------------------------------- reading the metadata


def image_words(meta: dict) -> str:
    """``28x28 grayscale`` or ``224x224 colour`` from ``meta["input"]``.

    >>> image_words({"input": {"channels": 1, "size": [28, 28]}})
    '28x28 grayscale'
    """
    inp = meta.get("input") or {}
    size = inp.get("size") or ["?", "?"]
    kind = {1: "grayscale", 3: "colour"}.get(inp.get("channels"), f"{inp.get('channels', '?')}-channel")
    return f"{size[0]}x{size[1]} {kind}"


def data_words(spec: str) -> tuple[str, str]:
    """What a data source holds and where it comes from, from the source registry.

    >>> data_words("digits")
    ('1,797 8x8 gray handwritten digits, 10 classes', 'scikit-learn (bundled)')
    """
    try:
        source, arg = get_source(spec)
    except CnnlabError:
        return "", ""
    where = source.where() if callable(source.where) else source.where
    if source.needs_arg:
        return f"{source.about} (from {arg})", where
    return source.about, where


def class_counts(meta: dict, metrics: dict) -> dict[str, list[int]]:
    """Images per class in each split: ``meta["class_counts"]`` when saved, else the test counts."""
    saved = meta.get("class_counts") or {}
    counts = {split: list(saved[split]) for split in ("train", "val", "test") if saved.get(split)}
    counts.setdefault("test", [row["support"] for row in metrics["per_class"]])
    return counts


def small_classes(names: list[str], counts: list[int]) -> list[tuple[str, int]]:
    """Classes with fewer than half the median number of images.

    >>> small_classes(["a", "b", "c"], [100, 90, 20])
    [('c', 20)]
    """
    if not counts:
        return []
    median = statistics.median(counts)
    return [(c, n) for c, n in zip(names, counts) if n < median / 2]


def reproduce_command(meta: dict, out: str = "NEW_DIR") -> str | None:
    """The ``cnnlab train`` line that trains the run again: one flag per option that differs from the default.

    Returns None when the run did not record its configuration. Options without a flag (set from
    Python only) are written as a trailing comment.

    >>> cfg = RunConfig.build(data="digits", epochs=3, model_args={"widths": [8, 16]}).to_dict()
    >>> reproduce_command({"config": cfg})
    "cnnlab train --data digits --model-arg 'widths=[8, 16]' --epochs 3 --out NEW_DIR"
    """
    try:
        cfg = RunConfig.from_dict(meta["config"])
    except (KeyError, TypeError, CnnlabError):
        return None
    table = option_table()
    words, python_only = ["cnnlab", "train"], []
    for key, (new, _default) in cfg.differences(RunConfig()).items():
        field = table[key][1]
        if not field.metadata.get("cli", True):
            python_only.append(f"{key}={new!r}")
        elif isinstance(new, dict):
            for k, v in new.items():
                words += [flag_of(key), shlex.quote(f"{k}={json.dumps(v)}")]
        elif isinstance(new, bool):
            words.append(flag_of(key) if new else "--no-" + flag_of(key)[2:])
        elif new is None:  # an "auto" value left as it was: nothing to write
            continue
        else:
            words += [flag_of(key), shlex.quote(str(new))]
    line = " ".join(words + ["--out", out])
    return line + (f"  # and, from Python: {', '.join(python_only)}" if python_only else "")


# ---------------------------------------------------------------- the card


def write_model_card(run_dir, meta: dict, metrics: dict) -> Path:
    """Write ``model_card.md`` into the run folder.

    Args:
        run_dir: the run folder.
        meta: the run's ``model.json`` (missing fields are left out of the card).
        metrics: :func:`~cnnlab.training.metrics.classification_metrics` on the test split.

    Returns:
        The path of ``model_card.md``.

    >>> import tempfile
    >>> from cnnlab.training.metrics import classification_metrics
    >>> m = classification_metrics([0, 1, 1], [0, 1, 0], ["cat", "dog"])
    >>> meta = {"data": "synthetic", "input": {"channels": 1, "size": [16, 16]}}
    >>> card = write_model_card(tempfile.mkdtemp(), meta, m)
    >>> "## Limitations" in card.read_text()
    True
    """
    run_dir = Path(run_dir)
    lines = (_about(meta, metrics) + _data(meta, metrics) + _recipe(meta) + _results(meta, metrics)
             + _use(meta) + _limitations(meta, metrics) + _reproduce(meta))
    atomic_write(run_dir / "model_card.md", "\n".join(lines) + "\n")
    return run_dir / "model_card.md"


def _about(meta: dict, metrics: dict) -> list[str]:
    arch = (meta.get("architecture") or {}).get("name", "model")
    names = [row["class"] for row in metrics["per_class"]]
    shown = ", ".join(names[:12]) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    return [f"# Model card: `{arch}` on `{meta.get('data', '?')}`", "", "## What it does", "",
            f"It looks at one {image_words(meta)} image and says which of {len(names)} classes it shows: {shown}. "
            "It gives a probability for every class; the most likely one is its answer. It always picks one of "
            "these classes, even for an image that shows none of them.", ""]


def _data(meta: dict, metrics: dict) -> list[str]:
    about, where = data_words(str(meta.get("data", "")))
    sizes = meta.get("sizes") or {}
    channels = (meta.get("input") or {}).get("channels", "?")
    lines = ["## The data", "", f"- Source: `{meta.get('data', '?')}`" + (f": {about}" if about else ""),
             *([f"- Where it comes from: {where}"] if where else []),
             f"- Images: {image_words(meta)}, {channels} channel{'' if channels == 1 else 's'}"]
    if sizes:
        lines.append(f"- Split: {sizes.get('train', 0):,} training, {sizes.get('val', 0):,} validation, "
                     f"{sizes.get('test', 0):,} test images")
    counts = class_counts(meta, metrics)
    names = [row["class"] for row in metrics["per_class"]]
    splits = [s for s in ("train", "val", "test") if s in counts]
    lines += ["", "Images per class:", "", "| class | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    lines += [f"| {c} | " + " | ".join(f"{counts[s][i]:,}" for s in splits) + " |" for i, c in enumerate(names)]
    main = counts[splits[0]]
    if main and min(main) > 0:
        ratio = max(main) / min(main)
        lines += ["", "The classes are balanced." if ratio <= 1.5 else
                  f"The classes are unbalanced: the largest has {ratio:.1f} times as many {splits[0]} images as "
                  "the smallest, and the model sees the big classes more often."]
    return lines + [""]


def _recipe(meta: dict) -> list[str]:
    t = meta.get("training") or {}
    model = (meta.get("config") or {}).get("model") or {}
    m = meta.get("metrics") or {}
    rows = [("model", f"`{(meta.get('architecture') or {}).get('name', '?')}`"
             + (f" with {json.dumps(model['args'])}" if model.get("args") else "")),
            ("parameters", f"{meta['parameters']:,}" if "parameters" in meta else None),
            ("starting weights", "pretrained (ImageNet)" + (", feature extractor kept fixed" if model.get("freeze")
                                                           else "") if model.get("pretrained") else "random"),
            ("epochs", m.get("epochs_run")), ("batch size", t.get("batch_size")), ("learning rate", t.get("lr")),
            ("weight decay", t.get("weight_decay")), ("label smoothing", t.get("label_smoothing")),
            ("augmentation", f"`{meta.get('augment') or 'none'}`"),
            ("test-time augmentation", {True: "image and its mirror", False: "none"}.get(t.get("tta"))),
            ("precision", meta.get("precision")), ("device", meta.get("device")), ("seed", t.get("seed")),
            ("training time", f"{m['train_seconds']:.0f} s" if "train_seconds" in m else None),
            ("cnnlab", (meta.get("versions") or {}).get("cnnlab"))]
    return ["## How it was trained", "", "| setting | value |", "|---|---|",
            *[f"| {k} | {v} |" for k, v in rows if v is not None], ""]


def _results(meta: dict, metrics: dict) -> list[str]:
    lines = ["## Results on the test images", ""]
    if metrics["accuracy"] is None:
        return lines + ["There were no test images, so nothing was measured.", ""]
    lo_hi = interval_text(metrics["accuracy_ci95"])
    lines += [f"**Accuracy: {percent(metrics['accuracy'], 2)}** ({metrics['correct']:,} of {metrics['images']:,} "
              f"test images right; {lo_hi}).", "",
              "The 95% confidence interval is the range the accuracy would very likely fall in if the model were "
              "tested on many more images of the same kind: the fewer test images, the wider it is.", ""]
    lines += per_class_lines(metrics) + [""] + metric_words() + [""]
    confused = confusion_lines(metrics)
    if confused:
        lines += ["Most common mistakes:", "", *confused, ""]
    return lines


def _use(meta: dict) -> list[str]:
    about, _ = data_words(str(meta.get("data", "")))
    like = f"images like its training data ({about})" if about else "images like its training data"
    return ["## Intended use", "",
            f"Learning how image classifiers work, and sorting {like}, where a mistake does no harm.",
            "It is not meant for decisions about people, health, money or safety.", ""]


def _limitations(meta: dict, metrics: dict) -> list[str]:
    inp = meta.get("input") or {}
    size = (inp.get("size") or ["?", "?"])
    about, _ = data_words(str(meta.get("data", "")))
    spec = str(meta.get("data", ""))
    points = [f"It was trained only on {about or f'the images of `{spec}`'}, at {image_words(meta)}. "
              "It has never seen any other kind of picture: photos from other cameras, with other backgrounds "
              "or lighting, or of other things can fool it, and it will still answer with one of its classes."]
    if inp.get("channels") == 1:
        points.append("It has only ever seen grayscale images: it has never seen a colour photo. Colour photos are "
                      "turned gray first, so colour cannot help it tell classes apart.")
    points.append(f"It sees every image at {size[0]}x{size[1]} pixels. Bigger photos are shrunk to that size "
                  "first, so small details are lost.")
    if spec.startswith("folder:"):
        points.append("It learned from one folder of photos: whatever those photos have in common (the same room, "
                      "camera or background) it may have learned too, instead of the objects themselves.")
    names = [row["class"] for row in metrics["per_class"]]
    counts = class_counts(meta, metrics)
    split = "train" if "train" in counts else "test"
    small = small_classes(names, counts[split])
    if small:
        points.append("Some classes had few images (" + ", ".join(f"{c}: {n:,} {split}" for c, n in small)
                      + "), so the model knows them less well and their numbers below are rough.")
    untested = [row["class"] for row in metrics["per_class"] if not row["support"]]
    if untested:
        points.append(f"{', '.join(untested)} had no test images: nobody knows how well the model recognises them.")
    acc = metrics["accuracy"]
    for row in metrics["per_class"]:
        if acc is not None and row["recall"] is not None and row["recall"] < acc - LOW_RECALL_GAP:
            worst = next((p for p in metrics["confusions"] if p["true"] == row["class"]), None)
            points.append(f"It often misses {row['class']}: it recognised only {percent(row['recall'], 0)} of its "
                          f"test images" + (f", and mostly took them for {worst['predicted']}." if worst else "."))
    ci = metrics["accuracy_ci95"]
    if ci and ci[1] - ci[0] > 0.1:
        points.append(f"The test set is small ({metrics['images']:,} images), so the accuracy is only known "
                      f"roughly: somewhere between {percent(ci[0])} and {percent(ci[1])}.")
    points.append("The test images come from the same source as the training images. On your own images, "
                  "accuracy is likely lower.")
    return ["## Limitations", "", *[f"- {p}" for p in points], ""]


def _reproduce(meta: dict) -> list[str]:
    line = reproduce_command(meta)
    lines = ["## How to train it again", ""]
    if line is None:
        return lines + ["This run did not record its settings.", ""]
    versions = meta.get("versions") or {}
    used = ", ".join(f"{k} {v}" for k, v in versions.items())
    return lines + ["```", line, "```", "",
                    "Every setting not on this line was the default. The same seed gives the same starting weights "
                    "and order of images" + (f" (this run used {used})." if used else "."),
                    "The full settings are also saved as `config` in this folder's `model.json`.", ""]


__all__ = ["confusion_lines", "per_class_lines", "reproduce_command", "write_model_card"]
