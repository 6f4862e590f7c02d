"""Lecture page 4, max pooling: the stepper's windows and maxima, the pooled picture, and moving the picture."""

from __future__ import annotations

import numpy as np
from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings  # noqa: F401
from starlette.testclient import TestClient

from cnnlab.learn.lab.images import sample_image
from cnnlab.learn.lab.pooling import compare_shift, pool_picture, shift_right
from cnnlab.learn.ref import max_pool2d, trace_pool
from cnnlab.studio.app import create_app
from cnnlab.studio.lab.common import gray_of

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}


def post(c, what, **body):
    return c.post(f"/api/learn/pooling/{what}", json=body, headers=ORIGIN)


def test_steps_and_shifts_are_the_references_max_pooling(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    gray = gray_of(sample_image("camera"))  # (256, 256)
    out = post(c, "steps", image="sample-camera", row=100, col=60, size=3, stride=2).json()
    patch = gray[100:108, 60:68]
    assert out["patch"] == patch.astype(int).tolist()
    assert np.array_equal(out["output"], max_pool2d(patch[None, None], 3, 2)[0][0, 0])  # (3, 3)
    assert len(out["steps"]) == 9
    step, ref = out["steps"][4], trace_pool(patch, 1, 1, 3, 2)
    assert (step["value"], tuple(step["where"]), tuple(step["rows"])) == (ref.value, ref.where, ref.rows)

    out = post(c, "steps", image="sample-cat", row=169, col=255).json()  # moved inside the picture
    assert (out["row"], out["col"], out["size"], out["stride"]) == (162, 248, 2, 2)

    out = post(c, "shift", image="sample-camera", shift=4, size=2).json()
    assert np.array_equal(out["pooled"], max_pool2d(gray[None, None], 2)[0][0, 0])
    assert np.array_equal(out["shifted_pooled"], pool_picture(shift_right(gray, 4), 2))
    assert out["exact"] and out["cell_shift"] == 2 and out["changed"] == 0 and out["same"] == 128 * 126
    assert np.array_equal(np.asarray(out["shifted_pooled"])[:, 2:], np.asarray(out["pooled"])[:, :-2])
    odd = post(c, "shift", image="sample-camera", shift=1, size=2).json()
    assert not odd["exact"] and odd["changed"] > 0 and odd["same"] + odd["changed"] == odd["compared"] == 128 * 127
    assert odd["mean_change"] < 20 < odd["biggest_change"]  # most maxima change a little, a few a lot
    assert odd["changed"] > odd["changed_a_little"] > odd["changed"] / 2
    assert compare_shift(gray, 3, 3, 3)["changed"] == 0


def test_bad_inputs_get_one_clear_sentence(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    r = post(c, "shift", image="sample-camera", shift=7)
    assert r.status_code == 400 and r.json()["error"] == "shift=7: expected a whole number from 0 to 6"
    r = post(c, "steps", image="sample-camera", size=4)
    assert r.status_code == 400 and r.json()["error"] == "size=4: expected a whole number from 2 to 3"
    r = post(c, "steps", image="sample-camera", row=300)
    assert r.status_code == 400 and "a pixel inside the picture (rows 0 to 255" in r.json()["error"]
    r = c.post("/api/learn/pooling/steps", content=b"[1, 2]", headers=ORIGIN)
    assert r.status_code == 400 and r.json()["error"] == "the request must be a JSON object"


def output_values(page) -> list[list[int]]:
    return page.eval_on_selector_all("[data-role=output] tr",
                                     "rows => rows.map(r => [...r.cells].map(c => Number(c.dataset.value)))")


def test_the_stepper_and_the_shift_slider_show_the_references_numbers(chromium, lab_studio):  # noqa: F811
    base, _ = lab_studio
    gray = gray_of(sample_image("camera"))
    tab = open_page(chromium, base, "pooling", image="sample-camera")
    page = tab.page
    page.wait_for_selector("[data-role=output] td.hit")
    patch = gray[124:132, 124:132]
    pooled = max_pool2d(patch[None, None], 2)[0][0, 0]
    assert np.array_equal(output_values(page), pooled)
    assert page.get_attribute("[data-role=explain] strong", "data-value") == str(int(pooled[0, 0]))
    for _ in range(5):
        page.click("[data-action=step]")  # one window further: its maximum is marked in the patch
    page.wait_for_function("() => document.querySelector('.lab-step-pos').textContent.startsWith('Window 6 ')")
    hit = page.eval_on_selector("[data-role=patch] td.hit", "e => [Number(e.dataset.row), Number(e.dataset.col)]")
    ref = trace_pool(patch, 1, 1)
    assert tuple(hit) == ref.where and page.locator("[data-role=patch] td.window").count() == 4
    assert page.locator("[data-role=output] td.pool-empty").count() == 16 - 6

    shot(page, "pooling")
    page.locator(".pool-picture").click(position={"x": 2, "y": 2})  # choose another patch: the top-left corner
    page.wait_for_function("() => document.querySelector('.pool-grid-col h3').textContent.includes('row 0, column 0')")
    assert np.array_equal(output_values(page), max_pool2d(gray[None, None, :8, :8], 2)[0][0, 0])
    page.click("[data-size='3']")
    page.wait_for_function("() => document.querySelectorAll('[data-role=output] tr').length === 2")
    assert np.array_equal(output_values(page), max_pool2d(gray[None, None, :8, :8], 3)[0][0, 0])
    page.click("[data-size='2']")
    page.wait_for_function("() => document.querySelectorAll('[data-role=output] tr').length === 4")

    summary = "document.querySelector('[data-role=summary]')"
    page.wait_for_function(f"() => {summary}.dataset.changed === '0'")
    page.locator("[data-control=shift]").scroll_into_view_if_needed()
    for k, exact in ((4, True), (1, False)):
        page.fill("[data-control=shift]", str(k))
        expected = compare_shift(gray, k, 2)
        page.wait_for_function(f"() => {summary}.dataset.same === '{expected['same']}'")
        assert int(page.get_attribute("[data-role=summary]", "data-changed")) == expected["changed"]
        assert (expected["changed"] == 0) == exact
    shot(page, "pooling-shift")
    measured = timings(page)
    print({k: [round(x) for x in v] for k, v in measured.items()})
    assert measured["pooling: shift"] and measured["pooling: step"]
    tab.watch.check(base)
    tab.close()
