"""Per-class test metrics: accuracy with a confidence interval, precision, recall, F1, and the most confused pairs.

Everything comes back as plain dicts, lists, ints and floats (JSON-able), for ``report.md``,
``model_card.md`` and ``cnnlab evaluate --json``.

Undefined values are ``None``, never 0: a class the model never predicted has no precision (there is
nothing to be precise about), and a class with no test images has no recall and no F1 (nothing was
measured). Averages leave undefined values out.

>>> m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], ["cat", "dog"])
>>> m["accuracy"], m["per_class"][1]["precision"], m["confusions"][0]["share"]
(0.75, 0.6666666666666666, 0.5)
"""

from __future__ import annotations

import math

import numpy as np

from cnnlab.errors import DataError

Z95 = 1.959963984540054  # the normal quantile for a two-sided 95% interval
TOP_CONFUSIONS = 10


def wilson_interval(successes: int, n: int, z: float = Z95) -> list[float] | None:
    """The Wilson score interval of a proportion ``successes / n`` (95% by default).

    Unlike ``p ± z·sqrt(p(1-p)/n)`` it stays inside [0, 1] and is sensible for small ``n`` and for
    ``p`` near 0 or 1 (a perfect score on 20 images is not proof of 100%).

    Args:
        successes: number of right answers.
        n: number of tries.
        z: the normal quantile (1.96 for 95%).

    Returns:
        ``[low, high]``, or None when ``n`` is 0 (nothing was measured).

    >>> [round(v, 4) for v in wilson_interval(90, 100)]
    [0.8256, 0.9448]
    >>> [round(v, 3) for v in wilson_interval(20, 20)]
    [0.839, 1.0]
    """
    if n <= 0:
        return None
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # at 0 or n successes the bound is exactly 0 or 1; rounding would leave 0.9999999999999999
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return [low, high]


def count_matrix(labels, predictions, k: int) -> np.ndarray:
    """Confusion counts (K, K) as int64: row = true class, column = predicted class.

    >>> count_matrix([0, 1, 1], [0, 0, 1], 2).tolist()
    [[1, 0], [1, 1]]
    """
    y, p = _as_ints(labels), _as_ints(predictions)
    return np.bincount(y * k + p, minlength=k * k).reshape(k, k)


def _as_ints(values) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor, possibly on a GPU
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def _mean(values) -> float | None:
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None


def classification_metrics(labels, predictions, classes: list[str], top: int = TOP_CONFUSIONS) -> dict:
    """Accuracy (with its 95% Wilson interval), per-class precision/recall/F1/support, and the top confusions.

    Args:
        labels: the true class of each test image (N,): a list, numpy array or tensor.
        predictions: the predicted class of each test image (N,).
        classes: the class names; label ``i`` means ``classes[i]``.
        top: how many confused pairs to keep.

    Returns:
        A JSON-able dict:

        - ``images``, ``correct``, ``accuracy`` (None for no images) and ``accuracy_ci95`` ``[low, high]``;
        - ``per_class``: one dict per class, in class order, with ``class``, ``support`` (test images),
          ``predicted`` (how often the model said this class), ``precision`` (None: never predicted),
          ``recall`` (None: no test images) and ``f1`` (None: no test images; 0 when never predicted);
        - ``macro``: ``precision``, ``recall``, ``f1`` averaged over the classes where each is defined;
        - ``confusions``: up to ``top`` dicts ``{"true", "predicted", "count", "share"}``, most frequent
          first, where ``share`` is the part of the true class's test images taken for the other class.

    Raises:
        DataError: ``labels`` and ``predictions`` differ in length.

    >>> m = classification_metrics([0, 1, 2, 2], [0, 1, 1, 2], ["a", "b", "c"])
    >>> m["confusions"]
    [{'true': 'c', 'predicted': 'b', 'count': 1, 'share': 0.5}]
    >>> m["per_class"][1]["precision"], m["per_class"][1]["recall"]
    (0.5, 1.0)
    """
    y, p = _as_ints(labels), _as_ints(predictions)
    if len(y) != len(p):
        raise DataError(f"{len(y)} labels but {len(p)} predictions: give one prediction per test image")
    k = len(classes)
    cm = count_matrix(y, p, k)  # (K, K)
    correct = int(cm.trace())
    n = int(cm.sum())
    rows = []
    for c, name in enumerate(classes):
        tp, support, predicted = int(cm[c, c]), int(cm[c].sum()), int(cm[:, c].sum())
        # F1 = 2TP / (2TP + FP + FN) = 2TP / (support + predicted): the harmonic mean, and 0 when never predicted
        rows.append({"class": name, "support": support, "predicted": predicted,
                     "precision": _ratio(tp, predicted), "recall": _ratio(tp, support),
                     "f1": _ratio(2 * tp, support + predicted) if support else None})
    confusions = []
    for t, q in zip(*np.nonzero(cm)):
        if t != q:
            count = int(cm[t, q])
            confusions.append({"true": classes[t], "predicted": classes[q], "count": count,
                               "share": count / int(cm[t].sum())})
    order = {name: i for i, name in enumerate(classes)}
    confusions.sort(key=lambda d: (-d["count"], -d["share"], order[d["true"]], order[d["predicted"]]))
    return {"images": n, "correct": correct, "accuracy": _ratio(correct, n),
            "accuracy_ci95": wilson_interval(correct, n), "per_class": rows,
            "macro": {key: _mean(r[key] for r in rows) for key in ("precision", "recall", "f1")},
            "confusions": confusions[:top]}


def confusion_sentence(pair: dict, plural: str | None = None) -> str:
    """One confused pair in plain words.

    Args:
        pair: an entry of ``classification_metrics(...)["confusions"]``.
        plural: how to call the true class's images (default: ``"<class> images"``).

    Returns:
        A sentence such as ``"Shirt taken for T-shirt/top: 112 of 1000 Shirt images (11%)"``.

    >>> confusion_sentence({"true": "Shirt", "predicted": "T-shirt/top", "count": 112, "share": 0.112})
    'Shirt taken for T-shirt/top: 112 of 1,000 Shirt images (11%)'
    """
    total = round(pair["count"] / pair["share"]) if pair["share"] else 0
    what = plural or f"{pair['true']} images"
    return f"{pair['true']} taken for {pair['predicted']}: {pair['count']:,} of {total:,} {what} ({pair['share']:.0%})"


def percent(value: float | None, digits: int = 1, missing: str = "—") -> str:
    """A share as a percentage, or ``missing`` for an undefined one.

    >>> percent(0.8256), percent(None)
    ('82.6%', '—')
    """
    return missing if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}%}"


def interval_text(ci: list[float] | None) -> str:
    """``[low, high]`` as words for a report: ``95% CI 82.6%–94.5%``.

    >>> interval_text([0.8256, 0.9448]), interval_text(None)
    ('95% CI 82.6%–94.5%', 'no confidence interval: no test images')
    """
    if ci is None:
        return "no confidence interval: no test images"
    return f"95% CI {percent(ci[0])}–{percent(ci[1])}"


__all__ = ["classification_metrics", "confusion_sentence", "count_matrix", "interval_text", "percent",
           "wilson_interval"]
