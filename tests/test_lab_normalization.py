"""Lecture page 6, normalization: the descent paths are plain gradient descent, the step counts are what stepping
gives, and a picture's statistics are numpy's and cnnlab.ref.normalize's."""

from __future__ import annotations

import numpy as np
import pytest
from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings  # noqa: F401
from starlette.testclient import TestClient

from cnnlab.learn.lab.images import sample_image
from cnnlab.learn.lab.normalization import (
    SHOW_STEPS,
    brightness_data,
    channel_stats,
    descent,
    features,
    landscape,
    minimum,
    side,
    steps_needed,
    walk,
)
from cnnlab.learn.ref import normalize
from cnnlab.studio.app import create_app

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}


def numpy_descent(x, y, lr, steps):
    """Gradient descent on mean((w x + b - y)^2), written out by hand."""
    w = b = 0.0
    out = [(w, b, np.mean((w * x + b - y) ** 2))]
    for _ in range(steps):
        err = w * x + b - y
        w, b = w - lr * 2 * np.mean(err * x), b - lr * 2 * np.mean(err)
        out.append((w, b, np.mean((w * x + b - y) ** 2)))
    return np.array(out)


@pytest.mark.parametrize("normalized,lr", [(False, 1e-4), (False, 1.6e-4), (True, 0.01), (True, 0.3), (True, 0.9)])
def test_descent_is_plain_gradient_descent(normalized, lr):
    x, y = brightness_data()
    xs = features(x, normalized)
    assert np.allclose(descent(xs, y, lr, 60), numpy_descent(xs, y, lr, 60), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("normalized,lr", [(True, 0.01), (True, 0.1), (True, 0.5), (True, 0.99), (False, 1e-4)])
def test_steps_needed_is_what_stepping_gives(normalized, lr):
    x, y = brightness_data()
    xs = features(x, normalized)
    best = minimum(xs, y)[2]
    need = steps_needed(xs, y, lr)
    if need > 3000:  # the raw side: stepping shows it is still far after thousands of steps
        assert numpy_descent(xs, y, lr, 3000)[-1, 2] > 1.01 * best
        return
    path = numpy_descent(xs, y, lr, need)
    assert path[-1, 2] <= 1.01 * best < path[-2, 2]


def test_raw_diverges_where_normalized_is_fast_and_the_landscape_is_the_loss():
    x, y = brightness_data()
    assert steps_needed(x, y, 0.1) is None and steps_needed(features(x, True), y, 0.1) == 26
    assert steps_needed(x, y, 1.6e-4) > 10**6  # the largest safe rate still needs a million steps
    raw = walk(False, 0.1)
    assert raw["steps"] is None and raw["path"][-1, 2] > 1e6 * raw["path"][0, 2]
    assert len(walk(False, 1e-4)["path"]) == SHOW_STEPS + 1
    s = side(False)
    grid = landscape(x, y, s["box"], n=5)
    w_lo, w_hi, b_lo, b_hi = s["box"]
    assert np.isclose(grid[0, 0], np.mean((w_lo * x + b_hi - y) ** 2))
    assert np.isclose(grid[4, 2], np.mean(((w_lo + w_hi) / 2 * x + b_lo - y) ** 2))
    assert np.allclose(minimum(x, y)[:2], np.polyfit(x, y, 1))


def test_channel_stats_are_numpys_and_refs_on_the_cat():
    cat = sample_image("cat")
    stats = channel_stats(cat)
    for c, s in enumerate(stats):
        v = cat[..., c].astype(np.float64)
        after, mean, std = normalize(v)
        assert np.isclose(s["mean"], v.mean()) and np.isclose(s["std"], v.std())
        assert np.isclose(s["mean"], mean) and np.isclose(s["std"], std)
        assert abs(s["after_mean"]) < 1e-9 and np.isclose(s["after_std"], 1)
        assert sum(s["before"]) == sum(s["after"]) == v.size
    flat = channel_stats(np.full((4, 4), 7, np.uint8))[0]
    assert (flat["mean"], flat["std"], flat["after_mean"]) == (7.0, 0.0, 0.0)


def test_api_matches_the_maths_and_bad_inputs_get_one_sentence(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    land = c.get("/api/learn/normalization/landscape").json()
    assert [s["name"] for s in land["sides"]] == ["raw", "normalized"]
    assert np.allclose(land["sides"][1]["log_loss"], np.log10(side(True)["loss"]), atol=1e-4)
    r = c.post("/api/learn/normalization/descent", headers=ORIGIN, json={"lr": 0.3}).json()
    x, y = brightness_data()
    normed = r["sides"][1]
    assert np.allclose(normed["path"], numpy_descent(features(x, True), y, 0.3, normed["steps"]))
    assert r["sides"][0]["steps"] is None
    stats = c.post("/api/learn/normalization/stats", headers=ORIGIN, json={"image": "sample-cat"}).json()
    cat = sample_image("cat")
    assert [ch["name"] for ch in stats["channels"]] == ["red", "green", "blue"]
    assert np.allclose([ch["mean"] for ch in stats["channels"]], cat.reshape(-1, 3).mean(0))
    assert np.allclose([ch["std"] for ch in stats["channels"]], cat.reshape(-1, 3).std(0))
    gray = c.post("/api/learn/normalization/stats", headers=ORIGIN, json={"image": "sample-camera"}).json()
    assert [ch["name"] for ch in gray["channels"]] == ["gray"]
    for body, words in [({"lr": 5}, "lr=5: expected a number from 1e-06 to 2"),
                        ({"lr": "fast"}, "lr='fast': expected a number"), ({}, "lr=None: expected a number")]:
        r = c.post("/api/learn/normalization/descent", headers=ORIGIN, json=body)
        assert r.status_code == 400 and words in r.json()["error"], r.text
    r = c.post("/api/learn/normalization/stats", headers=ORIGIN, json={"image": "u0000"})
    assert r.status_code == 404 and "pick the picture again" in r.json()["error"]


def test_page_the_learning_rate_changes_both_walks_and_the_numbers_are_the_servers(chromium, lab_studio):  # noqa: F811
    base, _ = lab_studio
    tab = open_page(chromium, base, "normalization", image="sample-cat")
    page = tab.page
    page.wait_for_selector("[data-verdict=raw][data-steps]")
    page.wait_for_selector("[data-stats] tr[data-channel=blue]")
    assert page.get_attribute("[data-verdict=raw]", "data-steps") == "diverges"  # lr 0.1
    assert page.get_attribute("[data-verdict=normalized]", "data-steps") == "26"
    shot(page, "normalization-start")
    # the slider to 10^-2 = 0.01
    page.eval_on_selector("[data-control=lr]", "el => { el.value = -200; el.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => document.querySelector('[data-lr]').dataset.lr === '0.01'")
    x, y = brightness_data()
    need = steps_needed(features(x, True), y, 0.01)
    page.wait_for_function(f"() => document.querySelector('[data-verdict=normalized]').dataset.steps === '{need}'")
    assert page.text_content("[data-lr]") == "0.01"
    assert "would need about" in page.text_content("[data-verdict=normalized]")
    # the raw side's fastest rate: it stops diverging and crawls
    page.click("[data-action=best-raw]")
    page.wait_for_function("() => document.querySelector('[data-verdict=raw]').dataset.steps !== 'diverges'")
    # the walk is drawn step by step: wait for its last step (a busy machine draws it slowly)
    page.wait_for_function(f"() => document.querySelector('[data-readout=raw]').dataset.step === '{SHOW_STEPS}'")
    readout = page.eval_on_selector("[data-readout=raw]", "el => [Number(el.dataset.step), Number(el.dataset.loss)]")
    lr = float(page.get_attribute("[data-lr]", "data-lr"))
    path = numpy_descent(x, y, lr, SHOW_STEPS)
    assert readout[0] == SHOW_STEPS and np.isclose(readout[1], path[-1, 2])
    cat = sample_image("cat")
    shown = page.eval_on_selector_all("[data-stats] td[data-mean]", "els => els.map(e => Number(e.dataset.mean))")
    assert np.allclose(shown, cat.reshape(-1, 3).mean(0))
    shot(page, "normalization")
    measured = timings(page)
    assert len(measured["normalization-lr"]) >= 2 and measured["normalization-image"]
    tab.watch.check(base)
    tab.close()
