"""The run report: learning curves, a confusion matrix, misclassified test images, report.md and model_card.md."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from cnnlab.files import atomic_write
from cnnlab.plots import pyplot as _plt
from cnnlab.plots import save_figure
from cnnlab.training.metrics import classification_metrics, interval_text
from cnnlab.training.model_card import confusion_lines, metric_words, per_class_lines, write_model_card


def curves_figure(history: list[dict]):
    """Loss and accuracy per epoch (training and validation), side by side."""
    plt = _plt()
    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(ep, [h["train_loss"] for h in history], "o-", label="train (last batch, label-smoothed)")
    if "val_loss" in history[0]:
        a.plot(ep, [h["val_loss"] for h in history], "o-", label="validation")
        b.plot(ep, [100 * h["val_accuracy"] for h in history], "o-", color="C1", label="validation")
    a.set(title="Loss", xlabel="epoch", ylabel="cross-entropy")
    b.set(title="Accuracy", xlabel="epoch", ylabel="%")
    if "val_loss" not in history[0]:
        b.text(0.5, 0.5, "no validation split", ha="center", va="center", transform=b.transAxes, color="gray")
    for ax in (a, b):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # an empty legend is a warning, not a picture
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, k: int) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class.

    >>> import torch
    >>> confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2).tolist()
    [[1, 0], [1, 1]]
    """
    return torch.bincount(labels * k + predictions, minlength=k * k).reshape(k, k).numpy()


def confusion_figure(cm: np.ndarray, classes: list[str]):
    """The confusion matrix as a picture: rows shaded by the share of each true class."""
    plt = _plt()
    k = len(classes)
    size = max(4.5, 0.55 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    rates = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    if k <= 25:
        for i in range(k):
            for j in range(k):
                if cm[i, j]:
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if rates[i, j] > 0.5 else "black")
        ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), classes, fontsize=8)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (test set)")
    fig.tight_layout()
    return fig


def misclassified_figure(images: torch.Tensor, labels, predictions, probabilities, classes, n: int = 24):
    """The most confidently wrong test images, with true and predicted labels."""
    plt = _plt()
    wrong = torch.nonzero(predictions != labels).flatten()
    conf = probabilities[wrong, predictions[wrong]]
    wrong = wrong[conf.argsort(descending=True)][:n]
    cols = 8
    rows = max(1, (len(wrong) + cols - 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.5, rows * 2.2 + 0.5), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong.tolist()):
        img = images[i].permute(1, 2, 0).numpy()
        ax.imshow(img[:, :, 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true: {classes[labels[i]]}\npred: {classes[predictions[i]]}\n"
                     f"({probabilities[i, predictions[i]]:.0%})", fontsize=6.5, color="firebrick")
    fig.suptitle("Misclassified test images (most confident mistakes first)", fontsize=10)
    fig.tight_layout(h_pad=1.2)
    return fig


def skipped_files(meta: dict, test=None) -> list[tuple[str, str]]:
    """Every file the run could not read, with the reason, from model.json and the test split.

    ``meta["skipped_files"]`` may hold ``{"file", "reason"}`` dicts, ``[file, reason]`` pairs, or bare
    file names (runs written by cnnlab 0.1, whose reasons are then looked up in ``test.skipped``).

    >>> skipped_files({"skipped_files": [{"file": "a/x.jpg", "reason": "a/x.jpg: the file is empty (0 bytes)"}]})
    [('a/x.jpg', 'the file is empty (0 bytes)')]
    """
    known = {str(p): why for p, why in getattr(test, "skipped", None) or []}
    out: dict[str, str] = {}
    for entry in meta.get("skipped_files") or []:
        if isinstance(entry, dict):
            path, why = str(entry.get("file", "")), entry.get("reason")
        elif isinstance(entry, (list, tuple)):
            path, why = str(entry[0]), entry[1] if len(entry) > 1 else None
        else:
            path, why = str(entry), None
        out[path] = why or known.get(path) or "could not be read"
    for path, why in known.items():
        out.setdefault(path, why)
    # the reasons start with the file name ("x.jpg: cannot decode ..."); the table shows it once
    return [(p, why[len(p) + 2:] if why.startswith(f"{p}: ") else why) for p, why in out.items()]


def skipped_section(skipped: list[tuple[str, str]]) -> list[str]:
    """The report's "Files that could not be read" section (no lines when every file was read).

    >>> print("\\n".join(skipped_section([("a/x.jpg", "the file is empty (0 bytes)")])))
    ## Files that could not be read
    <BLANKLINE>
    1 file could not be read and was left out of training and testing:
    <BLANKLINE>
    | file | reason |
    |---|---|
    | `a/x.jpg` | the file is empty (0 bytes) |
    """
    if not skipped:
        return []
    n = len(skipped)
    lines = ["## Files that could not be read", "",
             f"{n} file{' could' if n == 1 else 's could'} not be read and {'was' if n == 1 else 'were'} "
             "left out of training and testing:", "", "| file | reason |", "|---|---|"]
    return lines + [f"| `{p}` | {' '.join(why.split()).replace('|', '/')} |" for p, why in skipped]


def write_report(run_dir, meta: dict, history: list[dict], test, result: dict, metrics: dict | None = None) -> Path:
    """Write the figures, report.md and model_card.md into the run folder.

    Args:
        run_dir: the run folder.
        meta: the run's ``model.json``.
        history: one dict per epoch (``train_loss``, ``val_loss``, ``val_accuracy``...).
        test: the test ImageSet.
        result: the test scores: ``predictions`` (N,) and ``probabilities`` (N, K).
        metrics: :func:`~cnnlab.training.metrics.classification_metrics` of the test split
            (computed from ``result`` when None).

    Returns:
        The path of report.md.
    """
    run_dir = Path(run_dir)
    classes = test.classes
    if metrics is None:
        metrics = classification_metrics(test.labels, result["predictions"], classes)
    cm = confusion_matrix(test.labels, result["predictions"], len(classes))
    if history:
        save_figure(curves_figure(history), run_dir / "curves.png")
    save_figure(confusion_figure(cm, classes), run_dir / "confusion.png")
    has_wrong = bool((result["predictions"] != test.labels).any())
    if has_wrong:
        save_figure(misclassified_figure(test.images, test.labels, result["predictions"],
                                         result["probabilities"], classes), run_dir / "misclassified.png")
    m = meta["metrics"]
    arch = meta["architecture"]
    ci = interval_text(metrics["accuracy_ci95"])
    lines = [
        f"# Test accuracy: {m['test_accuracy']:.2%} ({ci})",
        "",
        f"`{arch['name']}` trained on `{meta['data']}` for {m['epochs_run']} epoch(s) "
        f"in {m['train_seconds']:.0f} s ({meta['device']}, {meta['precision']}); "
        f"{meta['sizes']['train']:,} training, {meta['sizes']['val']:,} validation, "
        f"{meta['sizes']['test']:,} test images. What the model is for and where it fails: "
        "[model_card.md](model_card.md).",
        "",
        "| metric | value |", "|---|---|",
        f"| test accuracy | {m['test_accuracy']:.2%} ({metrics['correct']:,} of {metrics['images']:,} right; {ci}) |",
        f"| test loss | {m['test_loss']:.4f} |",
    ]
    if "val_accuracy" in m:
        lines.append(f"| validation accuracy | {m['val_accuracy']:.2%} |")
    lines += [f"| parameters | {meta['parameters']:,} |",
              f"| augmentation | `{meta['augment'] or 'none'}` |", ""]
    if history:
        lines += ["## Learning curves", "", "![learning curves](curves.png)", ""]
    lines += ["## Confusion matrix", "", "![confusion matrix](confusion.png)", "",
              "## Per class", "", *per_class_lines(metrics), "", *metric_words()]
    confused = confusion_lines(metrics)
    if confused:
        lines += ["", "## Most confused classes", "", *confused]
    if has_wrong:
        lines += ["", "## Misclassified test images", "", "![misclassified](misclassified.png)"]
    section = skipped_section(skipped_files(meta, test))
    if section:
        lines += [""] + section
    lines += ["", "## Use it", "", "```",
              f"cnnlab predict {run_dir} photo.png", f"cnnlab evaluate {run_dir}", "```", ""]
    atomic_write(run_dir / "report.md", "\n".join(lines))
    write_model_card(run_dir, meta, metrics)
    return run_dir / "report.md"
