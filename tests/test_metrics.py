"""Per-class metrics (against scikit-learn), the Wilson interval, report.md's tables, model_card.md, evaluate --json."""

import json
import math
import re
import shlex

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

import cnnlab
from cnnlab.cli import _parser, main, model_args_from_cli
from cnnlab.config import RunConfig, option_table
from cnnlab.data.imageset import ImageSet
from cnnlab.deploy.evaluate import evaluate
from cnnlab.errors import DataError
from cnnlab.files import read_json
from cnnlab.training.metrics import classification_metrics, count_matrix, interval_text, wilson_interval
from cnnlab.training.model_card import reproduce_command, write_model_card
from cnnlab.training.report import write_report


def _nan_to_none(values):
    return [None if math.isnan(v) else float(v) for v in values]


def _close(ours, theirs):
    return all((a is None and b is None) or (a is not None and b is not None and abs(a - b) < 1e-12)
               for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("seed", range(6))
def test_per_class_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    k, n = 6, int(rng.integers(5, 80))
    labels = rng.integers(0, k - 1, n)          # the last class never has test images
    predictions = rng.integers(1, k, n)         # the first class is never predicted
    right = rng.random(n) < 0.5
    predictions[right] = labels[right]
    predictions[predictions == 0] = 1           # keep class 0 never predicted
    classes = [f"c{i}" for i in range(k)]
    m = classification_metrics(torch.as_tensor(labels), predictions, classes)
    p, r, f, s = precision_recall_fscore_support(labels, predictions, labels=list(range(k)), zero_division=np.nan)
    rows = m["per_class"]
    assert [row["support"] for row in rows] == s.tolist()
    assert _close([row["precision"] for row in rows], _nan_to_none(p))
    assert _close([row["recall"] for row in rows], _nan_to_none(r))
    # F1 is defined wherever the class has test images (0 when never predicted), None where it has none
    assert _close([row["f1"] for row in rows if row["support"]], [float(v) for v, sup in zip(f, s) if sup])
    assert rows[0]["precision"] is None and rows[-1]["recall"] is None and rows[-1]["f1"] is None
    cm = confusion_matrix(labels, predictions, labels=list(range(k)))
    assert (count_matrix(labels, predictions, k) == cm).all()
    assert [row["predicted"] for row in rows] == cm.sum(0).tolist()
    # macro averages leave undefined values out
    assert m["macro"]["precision"] == pytest.approx(np.nanmean(p))
    assert m["macro"]["recall"] == pytest.approx(np.nanmean(r))
    assert m["macro"]["f1"] == pytest.approx(np.mean([v for v, sup in zip(f, s) if sup]))
    assert m["accuracy"] == pytest.approx((labels == predictions).mean())
    assert m["correct"] == int((labels == predictions).sum()) and m["images"] == n
    json.dumps(m)  # plain types only


def test_confused_pairs_are_sorted_with_their_share():
    cm = np.array([[5, 3, 0], [1, 6, 3], [0, 4, 2]])  # rows: true class, columns: predicted
    labels = np.repeat(np.arange(3).repeat(3), cm.flatten())
    predictions = np.repeat(np.tile(np.arange(3), 3), cm.flatten())
    m = classification_metrics(labels, predictions, ["a", "b", "c"])
    got = [(d["true"], d["predicted"], d["count"], round(d["share"], 4)) for d in m["confusions"]]
    # equal counts: the larger share of the true class first
    assert got == [("c", "b", 4, 0.6667), ("a", "b", 3, 0.375), ("b", "c", 3, 0.3), ("b", "a", 1, 0.1)]
    assert classification_metrics(labels, predictions, ["a", "b", "c"], top=2)["confusions"] == m["confusions"][:2]


def test_wilson_interval_known_values():
    assert [round(v, 4) for v in wilson_interval(90, 100)] == [0.8256, 0.9448]
    # the formula written out (as in statsmodels' proportion_confint(method="wilson"))
    x, n, z = 37, 52, 1.959963984540054
    p = x / n
    centre = (x + z * z / 2) / (n + z * z)
    half = z * math.sqrt(n) / (n + z * z) * math.sqrt(p * (1 - p) + z * z / (4 * n))
    assert wilson_interval(x, n) == pytest.approx([centre - half, centre + half], abs=1e-12)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 0) is None and interval_text(None).startswith("no confidence interval")


def test_no_images_gives_none_not_zero():
    m = classification_metrics([], [], ["a", "b"])
    assert m["accuracy"] is None and m["accuracy_ci95"] is None
    assert m["macro"] == {"precision": None, "recall": None, "f1": None}
    with pytest.raises(DataError, match="one prediction per test image"):
        classification_metrics([0, 1], [0], ["a", "b"])


def _meta(classes, **extra):
    meta = {"metrics": {"test_accuracy": 0.5, "test_loss": 0.7, "train_seconds": 1.0, "epochs_run": 1},
            "architecture": {"name": "mlp"}, "data": "folder:p", "device": "cpu", "precision": "float32",
            "sizes": {"train": 80, "val": 0, "test": 8}, "parameters": 10, "augment": None,
            "input": {"channels": 3, "size": [32, 32]}, "classes": classes}
    return dict(meta, **extra)


def test_report_and_card_for_untested_and_never_predicted_classes(tmp_path):
    classes = ["Shirt", "T-shirt/top", "rare"]
    labels = torch.tensor([0, 0, 0, 0, 1, 1, 1, 1])
    predictions = torch.tensor([1, 1, 1, 1, 1, 1, 1, 2])  # Shirt never predicted, rare has no test images
    test = ImageSet(torch.zeros(8, 3, 32, 32, dtype=torch.uint8), labels, classes)
    result = {"predictions": predictions, "probabilities": torch.full((8, 3), 1 / 3)}
    meta = _meta(classes, class_counts={"train": [40, 38, 2], "test": [4, 4, 0]})
    meta["metrics"]["test_accuracy"] = 0.375
    report = write_report(tmp_path, meta, [], test, result).read_text()
    assert "# Test accuracy: 37.50% (95% CI 13.7%–69.4%)" in report
    assert "| Shirt | 4 | 0.0% | — (never predicted) | 0.0% |" in report
    assert "| T-shirt/top | 4 | 75.0% | 42.9% | 54.5% |" in report
    assert "| rare | 0 | — (no test images" in report and "| rare | 0 | 0.0% |" not in report
    assert "- Shirt taken for T-shirt/top: 4 of 4 Shirt images (100%)" in report
    card = (tmp_path / "model_card.md").read_text()
    assert "| rare | 2 | 0 |" in card                               # class balance from the saved counts
    assert "rare: 2 train" in card and "rare had no test images" in card
    assert "It often misses Shirt: it recognised only 0% of its test images, and mostly took them for T-shirt/top" \
        in card
    assert "32x32 colour" in card and "never seen a colour photo" not in card
    assert "This run did not record its settings." in card


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("metrics") / "run"
    cnnlab.train(data="synthetic", out=out, epochs=1, progress=False, model_args={"widths": [8, 16]})
    return out


def test_every_run_has_a_model_card_that_matches_its_metrics(run):
    meta = read_json(run / "model.json")
    card = (run / "model_card.md").read_text()
    for section in ("## What it does", "## The data", "## How it was trained", "## Results on the test images",
                    "## Intended use", "## Limitations", "## How to train it again"):
        assert section in card
    r = evaluate(run, device="cpu")
    assert r["test_accuracy"] == pytest.approx(meta["metrics"]["test_accuracy"])
    assert f"**Accuracy: {meta['metrics']['test_accuracy']:.2%}**" in card
    assert f"{r['correct']:,} of {r['images']:,} test images right; {interval_text(r['test_accuracy_ci95'])}" in card
    for row in r["per_class"]:
        assert re.search(rf"\| {row['class']} \| {row['support']} \| {row['recall']:.1%} \| ", card)
    assert "16x16 grayscale" in card and "never seen a colour photo" in card and "noisy shapes" in card
    sizes = meta["sizes"]
    assert f"{sizes['train']:,} training, {sizes['val']:,} validation, {sizes['test']:,} test images" in card
    assert "cnnlab train --data synthetic --model-arg 'widths=[8, 16]' --epochs 1 --out NEW_DIR" in card
    report = (run / "report.md").read_text()
    assert "## Per class" in report
    assert "| class | test images | recall (its test accuracy) | precision | F1 |" in report
    assert f"({interval_text(r['test_accuracy_ci95'])})" in report.splitlines()[0]


def test_evaluate_json_has_per_class_metrics(run, capsys):
    assert main(["evaluate", str(run), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert [row["class"] for row in r["per_class"]] == read_json(run / "model.json")["classes"]
    assert {"precision", "recall", "f1", "support"} <= set(r["per_class"][0])
    assert sum(row["support"] for row in r["per_class"]) == r["images"]
    low, high = r["test_accuracy_ci95"]
    assert low <= r["test_accuracy"] <= high
    assert set(r["macro"]) == {"precision", "recall", "f1"} and isinstance(r["confusions"], list)


def test_reproduce_command_gives_back_the_same_config(tmp_path):
    cfg = RunConfig.build(data="digits", epochs=1.5, lr=0.003, augment="flip,rotate=15", tta=False, seed=3,
                          model_args={"widths": [8, 16], "dropout": 0.5}, per_class=20)
    line = reproduce_command({"config": cfg.to_dict()})
    args = _parser().parse_args(shlex.split(line)[1:])
    options = {k: v for k, v in vars(args).items() if k in option_table()}
    options["model_args"] = model_args_from_cli(options["model_args"])
    assert RunConfig.build(**options) == cfg and args.out == "NEW_DIR"
    # an option without a flag is named for Python
    assert reproduce_command({"config": RunConfig.build(channels_last=False).to_dict()}).endswith(
        "# and, from Python: channels_last=False")
    card = write_model_card(tmp_path, {"data": "digits"}, classification_metrics([0], [0], ["a"]))
    assert "This run did not record its settings." in card.read_text()
