"""Lecture page 7, batch norm and dropout: the numbers equal cnnlab.ref's, and the page shows them."""

from __future__ import annotations

import numpy as np
from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings  # noqa: F401
from starlette.testclient import TestClient

from cnnlab.learn.lab.batchnorm import kernel_weights, neurons, patch_positions, patches
from cnnlab.learn.lab.images import sample_image
from cnnlab.learn.ref import batch_norm, conv2d, dropout
from cnnlab.studio.app import create_app
from cnnlab.studio.lab.common import gray_of

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}


def client(tmp_path):
    return TestClient(create_app(tmp_path), base_url=BASE)


def reference(name="camera", batch=8, scale=1.0, shift=0.0):
    """The conv layer's activations and batch norm's output, straight from cnnlab.ref (N, 4, h, w)."""
    gray = gray_of(sample_image(name))
    pos = patch_positions(*gray.shape, batch, 32)
    z = conv2d(patches(gray, pos, 32) * scale + shift, kernel_weights())
    out, _, _, _ = batch_norm(z, np.ones(4), np.zeros(4), np.zeros(4), np.ones(4), training=True)
    return z, out


def test_histograms_and_statistics_equal_ref_batch_norm(tmp_path):
    c = client(tmp_path)
    got = c.post("/api/learn/batchnorm/norm", json={"image": "sample-camera", "batch": 8, "scale": 2.0, "shift": -40},
                 headers=ORIGIN).json()
    z, out = reference(batch=8, scale=2.0, shift=-40.0)
    for k, ch in enumerate(got["channels"]):
        assert np.isclose(ch["before"]["mean"], z[:, k].mean()) and np.isclose(ch["before"]["std"], z[:, k].std())
        assert np.isclose(ch["after"]["mean"], out[:, k].mean(), atol=1e-9)
        assert np.isclose(ch["after"]["std"], out[:, k].std()) and abs(ch["after"]["std"] - 1) < 1e-3
        counts, _ = np.histogram(out[:, k], bins=len(ch["after"]["counts"]), range=(ch["after"]["edges"][0],
                                                                                   ch["after"]["edges"][-1]))
        assert ch["after"]["counts"] == counts.tolist() and sum(counts) == 8 * 30 * 30
    # the point of the page: a brighter input changes the activations, not batch norm's output
    plain = c.post("/api/learn/batchnorm/norm", json={"image": "sample-camera", "batch": 8}, headers=ORIGIN).json()
    for a, b in zip(plain["channels"], got["channels"], strict=True):
        assert not np.isclose(a["before"]["std"], b["before"]["std"])
        for key in ("mean", "std", "min", "max"):
            assert np.isclose(a["after"][key], b["after"][key], atol=1e-6)


def test_dropout_masks_equal_ref_dropout_with_the_step_as_seed(tmp_path):
    c = client(tmp_path)
    got = c.post("/api/learn/batchnorm/dropout", json={"image": "sample-cat", "p": 0.25, "training": True, "first": 5,
                                                       "count": 3}, headers=ORIGIN).json()
    values = neurons(gray_of(sample_image("cat")))
    assert np.allclose(got["values"], values) and len(values) == 32
    for s in got["steps"]:
        y, mask = dropout(values[None], 0.25, True, rng=np.random.default_rng(s["step"]))
        assert s["kept"] == mask[0].tolist() and np.allclose(s["out"], y[0])
    assert got["steps"][0]["kept"] != got["steps"][1]["kept"]  # a new mask every step
    ev = c.post("/api/learn/batchnorm/dropout", json={"image": "sample-cat", "p": 0.9, "training": False},
                headers=ORIGIN).json()
    assert all(ev["steps"][0]["kept"]) and np.allclose(ev["steps"][0]["out"], values)  # evaluation: unchanged


def test_bad_inputs_get_one_clear_sentence(tmp_path):
    c = client(tmp_path)
    r = c.post("/api/learn/batchnorm/norm", json={"image": "sample-camera", "batch": 1}, headers=ORIGIN)
    assert r.status_code == 400 and r.json()["error"] == "batch=1: expected a whole number from 2 to 64"
    r = c.post("/api/learn/batchnorm/dropout", json={"image": "sample-cat", "p": 1.0}, headers=ORIGIN)
    assert r.status_code == 400 and r.json()["error"] == "p=1.0: expected a number from 0 to 0.9"
    r = c.post("/api/learn/batchnorm/dropout", json={"image": "sample-cat", "training": "yes"}, headers=ORIGIN)
    assert r.status_code == 400 and "true (training mode) or false (evaluation mode)" in r.json()["error"]
    r = c.post("/api/learn/batchnorm/norm", json={"image": "nope"}, headers=ORIGIN)
    assert r.status_code == 404 and "pick the picture again" in r.json()["error"]


def test_page_histograms_follow_the_sliders_and_dropout_changes_every_step(chromium, lab_studio):
    base, _ = lab_studio
    tab = open_page(chromium, base, "batchnorm", image="sample-camera")
    page = tab.page
    page.wait_for_selector(".bn-hist.after")
    page.wait_for_selector(".bn-neuron")
    _, out = reference(batch=16)
    z, _ = reference(batch=16)
    shown = page.eval_on_selector_all(".bn-hist",
                                      "els => els.map(e => [e.dataset.kind, +e.dataset.mean, +e.dataset.std])")
    befores = [s for s in shown if s[0] == "before"]
    assert np.allclose([s[1] for s in befores], z.mean((0, 2, 3)))
    assert np.allclose([s[2] for s in befores], z.std((0, 2, 3)))
    first = page.text_content(".bn-hist.before .bn-stats")
    page.fill("input[name=scale]", "2.5")  # a brighter input
    page.wait_for_function("t => document.querySelector('.bn-hist.before .bn-stats').textContent !== t", arg=first)
    z2, out2 = reference(batch=16, scale=2.5)
    stats = page.eval_on_selector_all(".bn-hist.after", "els => els.map(e => +e.dataset.std)")
    assert np.allclose(stats, out2.std((0, 2, 3))) and np.allclose(stats, out.std((0, 2, 3)))
    assert page.text_content(".bn-hist.after .bn-stats") == "mean 0.00 · std 1.00"
    # dropout: the mask changes from step to step in training, and is gone in evaluation
    step = page.get_attribute(".bn-drop-info", "data-step")
    page.wait_for_function("s => document.querySelector('.bn-drop-info').dataset.step !== s", arg=step)
    step = int(page.get_attribute(".bn-drop-info", "data-step"))
    kept = page.eval_on_selector_all(".bn-neuron", "els => els.map(e => e.dataset.kept === 'true')")
    values = neurons(gray_of(sample_image("camera")))
    _, mask = dropout(values[None], 0.5, True, rng=np.random.default_rng(step))
    assert kept == mask[0].tolist() or int(page.get_attribute(".bn-drop-info", "data-step")) != step
    page.wait_for_selector(".lab-sample")  # the picker's samples, for the screenshot
    shot(page, "batchnorm")
    page.click("[data-mode=eval]")
    page.wait_for_function("() => document.querySelectorAll('.bn-neuron.off').length === 0")
    outs = page.eval_on_selector_all(".bn-neuron", "els => els.map(e => +e.dataset.value)")
    assert np.allclose(outs, values)
    page.click(".lab-choices [data-choice='1']")
    assert "Right" in page.text_content(".lab-feedback")
    measured = timings(page)
    assert measured["batchnorm: histograms"] and measured["batchnorm: dropout masks"]
    print("batchnorm timings (ms):", {k: [round(v) for v in vs] for k, vs in measured.items()})
    tab.watch.check(base)
    tab.close()
