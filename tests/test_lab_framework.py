"""The lecture pages' frame: the menu of ideas, each page opening in the lecture's order, the picture picker."""

from __future__ import annotations

import io

import numpy as np
from browser import chromium_fixture, launch_chromium, make_y4m  # noqa: F401
from labkit import lab_studio, open_page, shot  # noqa: F401
from PIL import Image
from starlette.testclient import TestClient

from cnnlab.learn.lab.images import SAMPLES, sample_image
from cnnlab.studio.app import create_app
from cnnlab.studio.lab import TOPICS

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}


def client(tmp_path):
    return TestClient(create_app(tmp_path), base_url=BASE)


def test_samples_and_uploads_are_fitted_to_256_and_named_by_their_pixels(tmp_path):
    c = client(tmp_path)
    listed = c.get("/api/learn/samples").json()
    assert [s["name"] for s in listed] == list(SAMPLES)
    assert all(max(s["width"], s["height"]) <= 256 for s in listed)
    cat = c.post("/api/learn/images", json={"sample": "cat"}, headers=ORIGIN).json()
    png = np.asarray(Image.open(io.BytesIO(c.get(cat["url"]).content)))
    assert np.array_equal(png, sample_image("cat"))  # the page gets exactly the pixels the server computes on
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (600, 300, 3), dtype=np.uint8)).save(buf, "PNG")
    first = c.post("/api/learn/images", files={"file": ("a.png", buf.getvalue(), "image/png")}, headers=ORIGIN).json()
    again = c.post("/api/learn/images", files={"file": ("b.png", buf.getvalue(), "image/png")}, headers=ORIGIN).json()
    assert (first["height"], first["width"], first["channels"]) == (256, 128, 3)
    assert first["id"] == again["id"]
    assert c.get(first["url"]).status_code == 200


def test_bad_pictures_get_one_clear_sentence(tmp_path):
    c = client(tmp_path)
    r = c.post("/api/learn/images", files={"file": ("a.png", b"not a picture", "image/png")}, headers=ORIGIN)
    assert r.status_code == 400 and "image" in r.json()["error"]
    r = c.post("/api/learn/images", json={"sample": "zebra"}, headers=ORIGIN)
    assert r.status_code == 400 and "one of cat" in r.json()["error"]
    r = c.get("/api/learn/images/u0123456789abcdef.png")
    assert r.status_code == 404 and "pick the picture again" in r.json()["error"]
    r = c.post("/api/learn/images", json={"project": "nope", "class": "x", "image": "y"}, headers=ORIGIN)
    assert r.status_code == 404


def test_the_menu_lists_every_idea_in_the_lectures_order_and_each_page_opens(chromium, lab_studio):
    base, _ = lab_studio
    tab = open_page(chromium, base, "")
    page = tab.page
    page.wait_for_selector(".lab-card")
    assert page.eval_on_selector_all(".lab-card", "els => els.map(e => e.dataset.topic)") == [t for t, _ in TOPICS]
    shot(page, "menu")
    for i, (topic, title) in enumerate(TOPICS):
        page.click(f".lab-card[data-topic={topic}]") if i == 0 else page.click("a[rel=next]")
        page.wait_for_function("t => location.hash === '#/learn/' + t", arg=topic)
        page.wait_for_function("title => document.querySelector('h1')?.textContent.endsWith(title)", arg=title)
    assert page.locator("a[rel=next]").count() == 0
    tab.watch.check(base)
    tab.close()


def test_a_webcam_snapshot_becomes_the_pages_picture(playwright, lab_studio, tmp_path):
    """The picker's "Webcam snapshot": Chromium's fake camera plays a red frame; the page's picture is then red."""
    base, _ = lab_studio
    frame = np.zeros((240, 320, 3), np.uint8)
    frame[..., 0] = 220
    browser = launch_chromium(playwright, y4m=make_y4m([frame], tmp_path / "red.y4m", 1))
    try:
        tab = open_page(browser, base, "arrays")
        page = tab.page
        page.click("[data-action=webcam-snapshot]")
        page.wait_for_selector("[data-action=take-snapshot]:not([disabled])")
        page.click("[data-action=take-snapshot]")
        page.wait_for_function("() => document.querySelector('.lab-picker-head')?.textContent.includes('webcam.png')")
        image_id = page.evaluate("() => sessionStorage.getItem('cnnlab-lab-image')")
        assert image_id.startswith("u")
        png = page.evaluate("""async (url) => {
            const b = await (await fetch(url)).blob();
            const bmp = await createImageBitmap(b);
            const c = new OffscreenCanvas(bmp.width, bmp.height); const g = c.getContext('2d'); g.drawImage(bmp, 0, 0);
            const d = g.getImageData(bmp.width >> 1, bmp.height >> 1, 1, 1).data; return [bmp.width, bmp.height, ...d];
        }""", f"/api/learn/images/{image_id}.png")
        assert png[0] <= 256 and png[1] <= 256
        r, g, b = png[2:5]
        assert r > 150 and g < 90 and b < 90, png  # the camera's red frame (video compression moves it a little)
        tab.watch.check(base)
        tab.close()
    finally:
        browser.close()
