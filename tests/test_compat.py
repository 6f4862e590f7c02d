"""A run written by cnnlab 0.1.0 (before the engine-seams refactor) still loads, predicts and evaluates.

tests/fixtures/run-v0.1/ holds the run and expected.json: the fp32 logits of the first 32 digits test
images, the rows the old ``cnnlab predict`` printed for digit0..2.png, and the old ``cnnlab evaluate`` output.

The old predict scored WITHOUT the run's flip test-time augmentation while the old evaluate scored
with it (the run was trained on mirrored images, so its test accuracy was measured with TTA). Predict
now uses the run's recorded pipeline, TTA included, so its probabilities are compared with the old
*evaluate* semantics: softmax of the mean log-softmax of the model on the image and its mirror,
computed here in fp32. The old predict rows are still checked against the model without TTA, which
proves the PNGs reach the model exactly as before.
"""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.data.sources import load_dataset
from cnnlab.deploy.evaluate import evaluate
from cnnlab.deploy.pipeline import prepare_images, run_logits
from cnnlab.deploy.predict import predict
from cnnlab.training.rundir import load_model

RUN = Path(__file__).parent / "fixtures" / "run-v0.1"
EXPECTED = json.loads((RUN / "expected.json").read_text())
DIGITS = [RUN / f"digit{i}.png" for i in range(3)]


@pytest.fixture(scope="module")
def loaded():
    return load_model(RUN)


def test_old_run_loads_and_its_fp32_logits_match(loaded):
    model, meta = loaded
    assert meta["classes"] == [str(i) for i in range(10)] and meta["training"]["tta"] is True
    x = load_dataset("digits", "test").images[:32]  # uint8 (32, 1, 8, 8)
    with torch.inference_mode():
        logits = model(x).float()
    torch.testing.assert_close(logits, torch.tensor(EXPECTED["logits_first32_fp32"]), atol=1e-5, rtol=0)
    # the shared pipeline without TTA, in fp32, gives the same logits
    torch.testing.assert_close(run_logits(model, x, meta, precision="fp32", tta=False), logits, atol=1e-6, rtol=0)


def _tta_probabilities(model, x):
    """The old evaluate's scoring, in fp32: softmax of the mean log-softmax of the image and its mirror."""
    with torch.inference_mode():
        a, b = model(x).float().log_softmax(1), model(x.flip(-1)).float().log_softmax(1)
    return ((a + b) / 2).softmax(1)


def test_old_run_predicts_with_the_evaluate_semantics(loaded):
    model, meta = loaded
    x = torch.from_numpy(np.stack([np.asarray(Image.open(p))[None] for p in DIGITS]))  # (3, 1, 8, 8)
    expected = _tta_probabilities(model, x)  # (3, 10)
    for precision, tol in (("fp32", 1e-5), (None, 1e-3)):  # None: the run's own setting (bf16 where it pays)
        rows, skipped = predict(RUN, [str(p) for p in DIGITS], top_k=10, precision=precision)
        assert skipped == [] and [r["file"] for r in rows] == [str(p) for p in DIGITS]
        for row, probs in zip(rows, expected, strict=True):
            assert row["notes"] == []  # 8x8 gray PNGs into an 8x8 gray model: nothing converted
            got = dict(row["top"])
            for j, name in enumerate(meta["classes"]):
                assert abs(got[name] - probs[j].item()) <= tol, (row["file"], name, precision)
            assert row["top"][0][0] == meta["classes"][int(probs.argmax())]


def test_fixture_pngs_reach_the_model_as_before(loaded):
    # the old predict rows were made without TTA: the same pipeline with TTA off reproduces them
    model, meta = loaded
    x, notes = prepare_images([str(p) for p in DIGITS], meta)
    assert notes == [[], [], []]
    probs = run_logits(model, x, meta, precision="fp32", tta=False).softmax(1)
    for row, p in zip(EXPECTED["predict_rows"], probs, strict=True):
        top = p.topk(3)
        assert [meta["classes"][i] for i in top.indices.tolist()] == [c for c, _ in row["top"]]
        np.testing.assert_allclose(top.values.numpy(), [q for _, q in row["top"]], atol=1e-3)


def test_old_run_evaluates_to_the_same_accuracy():
    r = evaluate(RUN, device="cpu")
    old = EXPECTED["evaluate"]
    assert r["images"] == old["images"] and r["data"] == old["data"]
    assert r["test_accuracy"] == old["test_accuracy"]  # same images, same TTA: exactly the same count
    assert abs(r["test_loss"] - old["test_loss"]) <= 1e-3
