"""Lecture page 1, images are arrays: pixel values on hover and zoom, the channels, gray, flattening, layer sizes."""

from __future__ import annotations

import numpy as np
from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings  # noqa: F401
from starlette.testclient import TestClient

from cnnlab.learn.lab.arrays import dense_size, flatten_patch, grayscale
from cnnlab.learn.lab.images import sample_image
from cnnlab.learn.ref import flatten
from cnnlab.studio.app import create_app
from cnnlab.studio.lab.common import gray_of

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}


def numbers(c, **body):
    return c.post("/api/learn/arrays/numbers", json=body, headers=ORIGIN)


def test_the_numbers_are_the_pictures_pixels_flattened_by_the_reference(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    camera = sample_image("camera")  # (256, 256) gray
    out = numbers(c, image="sample-camera", row=100, col=30, size=4, neurons=100).json()
    assert (out["height"], out["width"], out["channels"]) == (256, 256, 1)
    assert out["pixel"] == [int(camera[100, 30])]
    patch = camera[100:104, 30:34]
    assert out["patch"]["patch"] == patch.tolist()
    assert out["patch"]["flat"] == flatten(patch[None].astype(float))[0].astype(int).tolist()
    assert out["dense"] == dense_size(256, 256, 1, 100) and out["dense"]["weights"] == 256 * 256 * 100
    assert out["big"]["inputs"] == 3_145_728

    cat = sample_image("cat")  # (170, 256, 3): a patch at the bottom-right corner is moved inside the picture
    out = numbers(c, image="sample-cat", row=169, col=255, size=3).json()
    assert out["pixel"] == cat[169, 255].tolist() and out["gray"] == int(gray_of(cat)[169, 255])
    p = out["patch"]
    assert (p["row"], p["col"], p["channels"]) == (167, 253, 3)
    assert p["flat"] == cat[167:, 253:].reshape(-1).tolist()  # NumPy C order: row by row, pixel by pixel, R G B
    assert p["where"][:4] == [[0, 0, 0], [0, 0, 1], [0, 0, 2], [0, 1, 0]]
    assert np.array_equal(grayscale(cat), gray_of(cat))  # the page's gray formula is Pillow's "L" exactly


def test_bad_inputs_get_one_clear_sentence(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    r = numbers(c, image="sample-cat", row=170, col=0)
    assert r.status_code == 400
    assert r.json()["error"] == "row=170: expected a row from 0 to 169 (the picture is 170 pixels high)"
    r = numbers(c, image="sample-cat", row=0, col=0, size=9)
    assert r.status_code == 400 and r.json()["error"] == "size=9: expected a whole number from 1 to 8"
    r = numbers(c, image="sample-cat", neurons="many")
    assert r.status_code == 400 and "neurons='many': expected a whole number" in r.json()["error"]
    r = numbers(c, image="u0000000000000000")
    assert r.status_code == 404 and "pick the picture again" in r.json()["error"]
    assert flatten_patch(sample_image("digit"), 0, 0, 8)["flat"][:8] == sample_image("digit")[0, :8].tolist()


def readout(page) -> tuple[int, int, list[int]]:
    d = page.eval_on_selector("[data-role=readout]", "e => ({...e.dataset})")
    return int(d["row"]), int(d["col"]), [int(v) for v in d["values"].split(",")]


def stage_numbers(page) -> list[int]:
    return page.eval_on_selector_all(".arr-num", "els => els.sort((a, b) => a.dataset.index - b.dataset.index)"
                                     ".map(e => Number(e.dataset.value))")


def test_hover_zoom_and_flatten_show_the_servers_numbers(chromium, lab_studio):  # noqa: F811
    base, _ = lab_studio
    camera, cat = sample_image("camera"), sample_image("cat")
    tab = open_page(chromium, base, "arrays", image="sample-camera")
    page = tab.page
    page.wait_for_function("() => document.querySelectorAll('.arr-num').length === 16")
    r, c, v = readout(page)
    assert (r, c) == (128, 128) and v == [int(camera[128, 128])]
    assert stage_numbers(page) == flatten(camera[128:132, 128:132][None].astype(float))[0].astype(int).tolist()
    assert page.inner_text("[data-role=shape]") == "(256, 256)"

    box = page.locator(".arr-viewer").bounding_box()
    page.mouse.move(box["x"] + 300, box["y"] + 120)  # hovering reads the pixel under the mouse
    page.wait_for_function("() => document.querySelector('[data-role=readout]').dataset.row !== '128'")
    r, c, v = readout(page)
    assert v == [int(camera[r, c])]

    page.click("[data-action=numbers]")  # zoom in on the chosen pixel until the numbers show
    page.wait_for_function("() => document.querySelector('.arr-viewer').dataset.numbers === 'true'")
    box = page.locator(".arr-viewer").bounding_box()  # (clicking may have scrolled the page)
    page.mouse.move(box["x"] + box["width"] / 2 + 30, box["y"] + box["height"] / 2 + 2)  # one pixel right of it
    page.wait_for_function("() => document.querySelector('[data-role=readout]').dataset.col === '129'")
    r, c, v = readout(page)
    assert (r, c, v) == (128, 129, [int(camera[128, 129])])
    shot(page, "arrays-zoom")

    page.select_option("[data-control=neurons]", "1000")
    page.wait_for_function("() => document.querySelector('[data-role=mine]').textContent.includes('65,536,000')")
    page.click("[data-action=flatten]")
    page.wait_for_function("() => document.querySelector('.arr-stage').dataset.flattened === 'true'")
    page.wait_for_timeout(1900)  # the rows slide out one after another
    page.locator(".arr-stage").scroll_into_view_if_needed()
    shot(page, "arrays-flatten")

    page.click("[data-image=sample-cat]")  # a colour picture: three channels and gray
    page.wait_for_function("() => document.querySelectorAll('.arr-num').length === 27")
    assert page.inner_text("[data-role=shape]") == "(170, 256, 3)"
    assert page.locator(".arr-figure").count() == 5  # the picture, red, green, blue, gray
    r, c, v = readout(page)
    assert (r, c) == (85, 128) and v == cat[85, 128].tolist()
    assert stage_numbers(page) == cat[85:88, 128:131].reshape(-1).tolist()
    assert page.inner_text("[data-role=worked] strong") == str(int(gray_of(cat)[85, 128]))
    assert page.locator("[data-role=big] strong").first.get_attribute("data-value") == "3145728"
    page.keyboard.press("Escape")
    page.focus(".arr-viewer")
    page.keyboard.press("ArrowDown")  # the chosen pixel moves; its numbers follow
    page.wait_for_function("() => document.querySelector('[data-role=readout]').dataset.row === '86'")
    page.mouse.move(0, 0)
    page.wait_for_function("() => document.querySelectorAll('.arr-num')[0].dataset.value === '%d'" % cat[86, 128, 0])
    assert readout(page)[2] == cat[86, 128].tolist()
    shot(page, "arrays")
    page.click("[data-action=numbers]")
    page.wait_for_function("() => document.querySelector('.arr-viewer').dataset.numbers === 'true'")
    shot(page, "arrays-colour-zoom")
    measured = timings(page)
    print({k: [round(x) for x in v] for k, v in measured.items()})
    assert measured["arrays: hover"] and measured["arrays: zoom"]
    tab.watch.check(base)
    tab.close()
