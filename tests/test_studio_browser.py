"""The studio in a real browser: Debian's Chromium driven by Playwright, a fake webcam playing a .y4m video.

One test walks the whole way a student goes (make a project, two classes, one from the webcam and one from
files, train Quick while the curve grows, click a confusion-matrix cell, predict live from the webcam in the
browser, download an export) and fails if any request leaves the studio's own address. Another does it by
keyboard alone. A third checks that the page's picture preprocessing (the web demo's pixels.js, which the studio
serves at /static/pixels.js) gives exactly the pixels cnnlab's Python pipeline (Pillow) gives, so the live
predictions see what training saw.

Screenshots of every screen at 1366x768 go to the folder in $CNNLAB_SHOTS when it is set
(``CNNLAB_SHOTS=/tmp/shots pytest tests/test_studio_browser.py``).
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import numpy as np
import pytest
from browser import launch_chromium, make_y4m, watch
from labkit import served_studio, until
from PIL import Image
from skimage import data as skdata

from cnnlab.deploy.inputs import prepare_image

VIEWPORT = {"width": 1366, "height": 768}


# ---------------------------------------------------------------- the studio, a browser, a fake webcam


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """The studio app served by uvicorn on a free port of 127.0.0.1, with an empty projects folder."""
    with served_studio(tmp_path_factory.mktemp("projects")) as (base, _):
        yield base


@pytest.fixture(scope="module")
def webcam_browser(playwright, tmp_path_factory):
    """Chromium whose webcam shows a cat (scikit-image's Chelsea) moving a little; camera allowed."""
    cat = Image.fromarray(skdata.chelsea())
    frames = [np.asarray(cat.resize((320, 240), box=(d, d, 451 - d, 300 - d))) for d in (0, 12, 24)]
    browser = launch_chromium(playwright, y4m=make_y4m(frames, tmp_path_factory.mktemp("webcam") / "cat.y4m", 1))
    yield browser
    browser.close()


class Tab:
    """A fresh browser tab on the studio, watched for requests leaving its origin and for script errors."""

    def __init__(self, browser, base: str, shots: Path | None):
        self.base, self.shots = base, shots
        self.context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        self.page = self.context.new_page()
        self.watch = watch(self.page)

    def shot(self, name: str) -> None:
        if self.shots is not None:
            self.page.screenshot(path=str(self.shots / f"studio-{name}.png"))

    def number(self, selector: str, attribute: str, index: int = 0) -> float:
        locator = self.page.locator(selector)
        if locator.count() <= index:
            return 0.0
        return float(locator.nth(index).get_attribute(attribute) or 0)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def tab(webcam_browser, studio):
    shots = Path(os.environ["CNNLAB_SHOTS"]) if os.environ.get("CNNLAB_SHOTS") else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    t = Tab(webcam_browser, studio, shots)
    yield t
    t.close()


def dropped(page, path: Path):
    """A drag-and-drop payload (a DataTransfer handle in the page) holding one file."""
    return page.evaluate_handle("""([b64, name]) => { const data = new DataTransfer();
        const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
        data.items.add(new File([bytes], name, {type: 'image/png'}));
        return data; }""", [base64.b64encode(path.read_bytes()).decode(), path.name])


def blue_boxes(folder: Path, n: int = 12) -> list[Path]:
    """n photos of a blue square on dark noise (the uploaded class), plus nothing else."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        a = (rng.random((240, 320, 3)) * 60).astype(np.uint8)
        a[60:180, 100:220] = (40 + 3 * i, 90 + 4 * i, 160)
        paths.append(folder / f"box{i:02d}.png")
        Image.fromarray(a).save(paths[-1])
    return paths


# ---------------------------------------------------------------- the whole way, by mouse


def test_student_makes_trains_tries_and_exports_a_classifier(tab, tmp_path):
    page = tab.page
    start = time.perf_counter()
    page.goto(tab.base + "/")
    page.wait_for_selector("#create-project")
    print(f"\npage load: {time.perf_counter() - start:.2f} s")
    assert "Start a project" in page.text_content("main")
    tab.shot("home-empty")

    page.fill("#new-project-name", "Shapes")
    page.click("#create-project")
    page.wait_for_selector(".guide-card")
    assert "Add at least 2 classes" in page.text_content(".guide-card")
    assert page.locator(".findings .finding").count() >= 1  # the project's checks, in words
    tab.shot("collect-empty")
    for name in ("cat", "blue box"):
        page.fill("#new-class-name", name)
        page.click("#add-class")
        page.wait_for_selector(f".class-card h2:text-is('{name}')")
    cards = page.locator(".class-card")

    # class 1 from the webcam: hold the record button for two seconds
    cards.nth(0).locator("[data-action=webcam]").click()
    record = page.locator("[data-action=hold-record]:not([disabled])")
    record.wait_for(timeout=20000)
    record.hover()
    page.mouse.down()
    time.sleep(2.0)
    tab.shot("webcam")
    page.mouse.up()
    until(lambda: tab.number(".count-badge", "data-count", 0) >= 5, 20, "webcam photos to be saved")

    # class 2 from files, with one file that is not a picture: the page says so
    files = blue_boxes(tmp_path / "boxes") + [tmp_path / "notes.txt"]
    files[-1].write_text("not a picture")
    cards.nth(1).locator("input[type=file]").set_input_files([str(p) for p in files])
    until(lambda: tab.number(".count-badge", "data-count", 1) >= 12, 30, "the uploaded photos to be saved")
    page.wait_for_selector(".class-card .upload-note:has-text('notes.txt')")
    until(lambda: cards.nth(1).locator(".thumb img").count() == 12, 20, "12 thumbnails")
    cards.nth(1).dispatch_event("drop", {"dataTransfer": dropped(page, files[0])})  # drag and drop works too
    until(lambda: tab.number(".count-badge", "data-count", 1) == 13, 20, "the dropped photo to be saved")
    assert "Ready to train" in page.text_content(".guide-card")
    tab.shot("collect")
    cards.nth(0).locator("[data-action=webcam]").click()  # close the camera

    # train Quick and watch the curve grow
    page.click("[data-step=train]")
    page.click("#start-training")
    until(lambda: tab.number("#live-loss", "data-points") >= 1, 120, "the first point of the loss curve")
    # Quick training can be over within a second, so the points may arrive in one burst: wait for a curve
    # (more than one point drawn on the live chart), not for a growth we happen to see between two polls
    until(lambda: tab.number("#live-loss", "data-points") >= 2, 120, "the loss curve to grow")
    tab.shot("training")
    page.wait_for_selector("#see-results", timeout=180_000)
    assert tab.number("#live-accuracy", "data-points") >= 1
    tab.shot("trained")

    # results: accuracy, and a confusion-matrix cell opens its photos with confidence and Grad-CAM
    page.click("#see-results")
    page.wait_for_selector("#test-accuracy")
    assert page.text_content("#test-accuracy").endswith("%")
    tab.shot("results")
    page.locator(".cell-right:not([disabled])").first.click()
    page.wait_for_selector("dialog .result-image")
    assert "sure" in page.text_content("dialog .confidence")
    cam = page.locator("dialog img.gradcam").first
    until(lambda: cam.evaluate("img => img.complete && img.naturalWidth > 0"), 60, "the Grad-CAM picture")
    tab.shot("cell")
    page.keyboard.press("Escape")

    # try it: live predictions from the webcam, in the browser
    page.click("[data-step=try]")
    page.wait_for_selector("#start-live:not([disabled])", timeout=120_000)
    page.click("#start-live")
    until(lambda: tab.number("#rate", "data-count") >= 20, 60, "20 live predictions")
    time.sleep(2.0)  # a steady rate over the last 2 seconds
    rate = tab.number("#rate", "data-rate")
    print(f"live predictions in the browser: {rate:.1f} per second")
    assert rate > 0
    assert page.locator("#bars .bar-row").count() == 2
    assert page.text_content("#answer") in ("cat", "blue box", "Not sure")
    page.fill("#threshold", "100")  # nothing is 100% sure: the page says "Not sure"
    until(lambda: page.text_content("#answer") == "Not sure", 10, "the answer to become 'Not sure'")
    tab.shot("tryit")
    page.click("#start-live")  # stop the webcam
    page.fill("#threshold", "50")
    page.locator(".drop-zone").dispatch_event("drop", {"dataTransfer": dropped(page, files[1])})
    page.wait_for_selector(".file-result figcaption")
    assert page.text_content(".file-result figcaption strong") == "blue box"
    tab.shot("tryit-files")

    # export: the ONNX model downloads (the web demo and the run zip are checked in test_studio_runs.py)
    page.click("[data-step=export]")
    page.wait_for_selector("[data-kind='web.zip']")
    tab.shot("export")
    with page.expect_download(timeout=120_000) as download:
        page.click("[data-kind='model.onnx']")
    assert download.value.suggested_filename.endswith(".onnx")
    saved = tmp_path / "model.onnx"
    download.value.save_as(saved)
    assert saved.stat().st_size > 100_000

    page.goto(tab.base + "/")
    page.wait_for_selector(".project-card")
    tab.shot("home")
    tab.watch.check(tab.base)


# ---------------------------------------------------------------- the keyboard alone


def focused(page) -> str:
    """The focused element as 'tag#id.data-action text' (enough to recognise the main buttons)."""
    return page.evaluate("""() => { const e = document.activeElement;
        const what = e.dataset.action || e.dataset.step || '';
        return `${e.tagName.toLowerCase()}#${e.id} ${what} ${e.textContent.trim()}`; }""")


def tab_to(page, wanted: str, limit: int = 40) -> list[str]:
    """Press Tab until the focused element's description contains ``wanted``; returns what was focused."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(focused(page))
        if wanted in seen[-1]:
            return seen
    raise AssertionError(f"Tab never reached {wanted!r}; it went through {seen}")


def test_keyboard_alone_makes_a_project_a_class_and_webcam_photos(tab):
    page = tab.page
    page.goto(tab.base + "/")
    page.wait_for_selector("#create-project")
    seen = tab_to(page, "#new-project-name")
    page.keyboard.type("By keyboard")
    seen += tab_to(page, "#create-project")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text-is('By keyboard')")

    tab_to(page, "#new-class-name")
    page.keyboard.type("cat")
    page.keyboard.press("Enter")
    page.wait_for_selector(".class-card h2:text-is('cat')")

    # the webcam by keyboard: Enter opens it, holding Space on the record button records
    seen += tab_to(page, " webcam ")
    page.keyboard.press("Enter")
    page.wait_for_selector("[data-action=hold-record]:not([disabled])", timeout=20000)
    seen += tab_to(page, " hold-record ")
    tab.shot("keyboard")
    page.keyboard.down(" ")
    time.sleep(1.5)
    page.keyboard.up(" ")
    until(lambda: tab.number(".count-badge", "data-count") >= 3, 20, "photos recorded by holding Space")

    # the steps are links: Tab reaches "Train", Enter opens it
    page.reload()  # back to the top of the page
    page.wait_for_selector(".class-card")
    seen += tab_to(page, " train ")
    page.keyboard.press("Enter")
    page.wait_for_selector(".empty-state:has-text('collect some photos')")
    assert any("Start a project" in s for s in seen)
    tab.watch.check(tab.base)


# ---------------------------------------------------------------- the page's pixels == Python's pixels


@pytest.mark.parametrize("size, fit, channels, shape", [
    ((224, 224), "crop", 3, (240, 320)),   # a webcam frame into EfficientNet-Lite0
    ((64, 64), "crop", 1, (240, 320)),     # into the lecture CNN, gray
    ((20, 20), "stretch", 1, (240, 320)),  # a big shrink: Pillow averages blocks first
    ((48, 32), "crop", 3, (100, 37)),      # tall photo, enlarged across
    ((64, 64), "pad", 3, (240, 320)),      # the whole photo with black bars
])
def test_page_preprocessing_gives_the_pixels_of_cnnlabs_python_pipeline(tab, size, fit, channels, shape):
    rng = np.random.default_rng(sum(size) + sum(shape))
    h, w = shape
    rgb = (rng.random((h, w, 3)) * 80 + np.linspace(0, 170, w)[None, :, None]).astype(np.uint8)
    meta = {"input": {"channels": channels, "size": list(size), "fit": fit}, "data": "folder:photos"}
    want, _ = prepare_image(rgb, meta)  # (C, H, W) uint8, by Pillow
    rgba = np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
    tab.page.goto(tab.base + "/")
    got = tab.page.evaluate("""async ([b64, w, h, input]) => {
        const {fromRGBA, toModelInput} = await import('/static/pixels.js');
        const {inputSpec} = await import('/static/tryit.js');  // the run's input as Try it passes it
        const rgba = Uint8ClampedArray.from(atob(b64), (c) => c.charCodeAt(0));
        const bytes = toModelInput(fromRGBA(rgba, w, h), inputSpec(input)).data;  // (C, H, W) uint8
        let text = '';
        for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode(...bytes.subarray(i, i + 8192));
        return btoa(text); }""",
                            [base64.b64encode(rgba.tobytes()).decode(), w, h, meta["input"]])
    np.testing.assert_array_equal(np.frombuffer(base64.b64decode(got), np.uint8).reshape(want.shape), want)
