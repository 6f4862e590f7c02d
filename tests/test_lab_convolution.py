"""The lecture pages "Convolution" and "Many channels": their numbers are cnnlab.ref's, on the server and the page."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings  # noqa: F401
from PIL import Image
from starlette.testclient import TestClient

from cnnlab.errors import ConfigError
from cnnlab.learn.lab.convolution import busy_corner, channel_results, check_fits, picture_of
from cnnlab.learn.lab.images import sample_image
from cnnlab.learn.ref import conv2d, conv2d_loops, trace, trace_conv
from cnnlab.learn.ref.conv import out_size
from cnnlab.studio.app import create_app
from cnnlab.studio.lab.common import gray_of

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}
SOBEL_X = [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
EDGES = [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]]


def client(tmp_path):
    return TestClient(create_app(tmp_path), base_url=BASE)


def png_of(data_url: str) -> np.ndarray:
    head, data = data_url.split(",", 1)
    assert head == "data:image/png;base64"
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))


def camera() -> np.ndarray:
    return gray_of(sample_image("camera"))


def rgb_planes(name: str = "cat") -> np.ndarray:
    return sample_image(name).astype(np.float64).transpose(2, 0, 1)[None]  # (1, 3, H, W)


# ------------------------------------------------------------------------------------------ the maths and the API

def test_the_maths_is_cnnlab_refs_and_refuses_a_kernel_that_does_not_fit():
    x = rgb_planes()
    w = np.random.default_rng(0).standard_normal((3, 3, 3))
    out = channel_results(sample_image("cat"), w, bias=1.5)
    assert np.allclose(out["sum"], out["channels"].sum(0) + 1.5)  # the three results, added, plus the bias
    small = x[:, :, :12, :12]
    assert np.allclose(conv2d(small, w[None], np.array([1.5]), padding=1)[0, 0],
                       conv2d_loops(small, w[None], np.array([1.5]), padding=1)[0, 0])
    assert check_fits(256, 170, 5, stride=3, padding=2) == (out_size(256, 5, 3, 2), out_size(170, 5, 3, 2))
    with pytest.raises(ConfigError, match="a kernel that fits in the patch"):
        check_fits(4, 4, 5, stride=1, padding=0, what="patch")
    assert picture_of(np.array([[0.0, 255.0]]))[0].tolist() == [[0, 255]]  # a picture stays a picture


def test_convolution_api_gives_every_step_and_the_whole_picture_as_ref_computes_them(tmp_path):
    c = client(tmp_path)
    gray = camera()
    r = c.post("/api/learn/convolution", json={"image": "sample-camera", "kernel": SOBEL_X, "stride": 2, "padding": 1,
                                               "top": 100, "left": 60}, headers=ORIGIN)
    assert r.status_code == 200, r.text
    got = r.json()
    patch = gray[100:108, 60:68]
    assert np.array_equal(got["patch"]["values"], patch)
    assert np.array_equal(got["patch"]["padded"], np.pad(patch, 1))
    steps = trace(patch, np.array(SOBEL_X, float), stride=2, padding=1)
    assert len(got["patch"]["steps"]) == len(steps) == got["patch"]["rows"] * got["patch"]["cols"] == 16
    for mine, ref in zip(got["patch"]["steps"], steps):
        assert (mine["row"], mine["col"], mine["value"]) == (ref.row, ref.col, ref.value)
        assert np.array_equal(mine["window"], ref.window) and np.array_equal(mine["products"], ref.products)
    whole = conv2d(gray[None, None], np.array(SOBEL_X, float)[None, None], stride=2, padding=1)[0, 0]
    res = got["result"]
    assert (res["height"], res["width"]) == whole.shape == (out_size(256, 3, 2, 1),) * 2 == (128, 128)
    assert (res["min"], res["max"]) == (whole.min(), whole.max()) and res["signed"]
    assert np.array_equal(png_of(res["png"]), picture_of(whole)[0])
    # the gray picture the page shows is the one computed on; no corner given: the busiest patch
    shown = np.asarray(Image.open(io.BytesIO(c.get("/api/learn/convolution/gray/sample-camera.png").content)))
    assert np.array_equal(shown, gray)
    auto = c.post("/api/learn/convolution", json={"image": "sample-camera", "kernel": SOBEL_X}, headers=ORIGIN).json()
    assert (auto["patch"]["top"], auto["patch"]["left"]) == busy_corner(gray)
    moved = c.post("/api/learn/convolution", json={"image": "sample-camera", "kernel": SOBEL_X, "top": 250, "left": 3,
                                                   "whole": False}, headers=ORIGIN).json()
    assert "result" not in moved and (moved["patch"]["top"], moved["patch"]["left"]) == (248, 3)  # kept inside


def test_convolution_api_refuses_bad_input_with_one_clear_sentence(tmp_path):
    c = client(tmp_path)
    def post(**kw):
        return c.post("/api/learn/convolution", json={"image": "sample-camera", "kernel": EDGES, **kw}, headers=ORIGIN)
    r = post(kernel=[[1, 2, 3], [4, 5, 6]])
    assert r.status_code == 400
    assert r.json()["error"] == ("kernel=[[1, 2, 3], [4, 5, 6]]: expected a square list of lists of numbers, "
                                 "3x3/5x5, each within ±10000")
    r = post(stride=7)
    assert r.status_code == 400 and r.json()["error"] == "stride=7: expected a whole number from 1 to 4"
    r = post(padding=-1)
    assert r.status_code == 400 and r.json()["error"] == "padding=-1: expected a whole number from 0 to 3"
    r = post(image="nope")
    assert r.status_code == 404 and "pick the picture again" in r.json()["error"]
    buf = io.BytesIO()
    Image.fromarray(np.full((4, 4), 200, np.uint8)).save(buf, "PNG")
    tiny = c.post("/api/learn/images", files={"file": ("t.png", buf.getvalue(), "image/png")}, headers=ORIGIN).json()
    r = post(image=tiny["id"], kernel=np.ones((5, 5)).tolist())
    assert r.status_code == 400
    assert r.json()["error"] == ("kernel='5x5': expected a kernel that fits in the patch (4x4 pixels with padding 0); "
                                 "use a smaller kernel or more padding")


def test_channels_api_adds_three_kernels_results_as_conv2d_does(tmp_path):
    c = client(tmp_path)
    rng = np.random.default_rng(1)
    kernels = np.rint(rng.standard_normal((3, 3, 3)) * 4) / 4  # quarters: exact in JSON
    r = c.post("/api/learn/channels", json={"image": "sample-cat", "kernels": kernels.tolist(), "bias": 2.5,
                                            "row": 40, "col": 0}, headers=ORIGIN)
    assert r.status_code == 200, r.text
    got = r.json()
    x = rgb_planes()
    total = conv2d(x, kernels[None], np.array([2.5]), padding=1)[0, 0]
    assert (got["height"], got["width"]) == total.shape == (170, 256)
    assert (got["sum"]["min"], got["sum"]["max"]) == (total.min(), total.max())
    assert np.array_equal(png_of(got["sum"]["png"]), picture_of(total)[0])
    for ch in range(3):
        alone = conv2d(x[:, ch:ch + 1], kernels[None, ch:ch + 1], padding=1)[0, 0]
        assert np.array_equal(png_of(got["channels"][ch]["png"]), picture_of(alone)[0])
    ex = got["example"]
    for ch, part in enumerate(ex["channels"]):
        ref = trace_conv(x[0, ch], kernels[ch], 40, 0, padding=1)
        assert part["value"] == ref.value and np.array_equal(part["window"], ref.window)
    assert ex["output"] == total[40, 0] and ex["total"] == pytest.approx(total[40, 0], abs=1e-9)
    only = c.post("/api/learn/channels", json={"image": "sample-cat", "kernels": kernels.tolist(), "pictures": False},
                  headers=ORIGIN).json()
    assert "sum" not in only and only["example"]["output"] == conv2d(x, kernels[None], padding=1)[0, 0, 0, 0]


def test_channels_api_refuses_a_gray_picture_and_bad_kernels(tmp_path):
    c = client(tmp_path)
    def post(**kw):
        return c.post("/api/learn/channels", json={"image": "sample-cat", "kernels": [EDGES] * 3, **kw}, headers=ORIGIN)
    r = post(image="sample-camera")
    assert r.status_code == 400
    assert r.json()["error"] == ("image='256x256 gray': expected a colour picture (3 channels: red, green, blue); "
                                 "this one is gray, with 1 channel; pick a colour one such as the cat")
    r = post(kernels=[EDGES, EDGES])
    assert r.status_code == 400 and "expected three kernels: red, green and blue" in r.json()["error"]
    r = post(kernels=[EDGES, EDGES, [[1, "x", 0], [0, 0, 0], [0, 0, 0]]])
    assert r.status_code == 400 and r.json()["error"].startswith("kernels[2]=")
    r = post(row=170)
    assert r.status_code == 400
    assert r.json()["error"] == "row, col=(170, 0): expected a position inside the 170x256 picture"


# ------------------------------------------------------------------------------------------ the pages

def wait_count(page, label: str, n: int) -> None:
    page.wait_for_function("([l, n]) => ((window.cnnlabLab.timings[l] || []).length >= n)", arg=[label, n])


def values(page, selector: str) -> list[float]:
    return page.eval_on_selector_all(selector, "els => els.map(e => Number(e.dataset.value))")


def attr(page, selector: str, key: str) -> float:
    return float(page.eval_on_selector(selector, "(e, k) => e.dataset[k]", key))


def test_convolution_page_steps_and_results_equal_ref_and_follow_kernel_stride_padding(chromium, lab_studio):  # noqa: F811
    base, _ = lab_studio
    tab = open_page(chromium, base, "convolution", image="sample-camera")
    page = tab.page
    wait_count(page, "picture", 1)
    page.wait_for_selector("[data-image='sample-camera']")  # the picker's samples, for the screenshot
    page.click("[data-preset=sobel-x]")
    wait_count(page, "kernel", 1)
    page.click("[data-padding='1']")
    wait_count(page, "padding", 1)
    page.click("[data-stride='2']")
    wait_count(page, "stride", 1)
    page.wait_for_selector(".conv-patch[data-stride='2'][data-padding='1']")
    page.click("[data-action=fill-all]")
    kernel = page.eval_on_selector_all(".kernel-box", "els => els.map(e => Number(e.value))")
    assert kernel == [v for row in SOBEL_X for v in row]
    gray = camera()
    top, left = int(attr(page, ".conv-patch", "top")), int(attr(page, ".conv-patch", "left"))
    assert (top, left) == busy_corner(gray)
    steps = trace(gray[top:top + 8, left:left + 8], np.array(SOBEL_X, float), stride=2, padding=1)
    assert values(page, ".conv-out td[data-value]") == [s.value for s in steps]  # every output cell of the patch
    assert attr(page, ".conv-sum-value", "value") == steps[-1].value
    assert values(page, ".conv-calc .conv-products td") == steps[-1].products.ravel().tolist()
    whole = conv2d(gray[None, None], np.array(SOBEL_X, float)[None, None], stride=2, padding=1)[0, 0]
    assert (attr(page, "[data-min]", "min"), attr(page, "[data-max]", "max")) == (whole.min(), whole.max())
    assert attr(page, "[data-result-width]", "resultWidth") == attr(page, "[data-formula-width]", "formulaWidth") \
        == whole.shape[1] == 128
    shot(page, "convolution")

    # typing a number changes the result; the page's numbers stay cnnlab.ref's
    before = attr(page, "[data-max]", "max")
    page.fill(".kernel-box[data-row='1'][data-col='1']", "1/9")
    wait_count(page, "kernel", 2)
    k2 = np.array(SOBEL_X, float)
    k2[1, 1] = 1 / 9
    whole = conv2d(gray[None, None], k2[None, None], stride=2, padding=1)[0, 0]
    assert attr(page, "[data-max]", "max") == whole.max() != before
    assert attr(page, ".conv-sum-value", "value") == pytest.approx(
        trace_conv(gray[top:top + 8, left:left + 8], k2, 3, 3, stride=2, padding=1).value, abs=1e-9)

    # stride back to 1 with a 5x5 kernel: the formula and the real size agree (256 + 2 - 5 + 1 = 254)
    page.click("[data-size='5']")
    wait_count(page, "kernel", 3)
    page.click("[data-stride='1']")
    wait_count(page, "stride", 2)
    page.wait_for_function("() => document.querySelectorAll('.conv-calc .conv-products td').length === 25")
    assert attr(page, "[data-result-height]", "resultHeight") == 254
    assert attr(page, "[data-formula-height]", "formulaHeight") == 254

    # a click on the picture moves the patch there
    page.click(".conv-pick img", position={"x": 30, "y": 200})
    wait_count(page, "patch", 1)
    assert (int(attr(page, ".conv-patch", "top")), int(attr(page, ".conv-patch", "left"))) == (196, 26)
    page.fill(".lab-answer input", "16")
    page.click(".lab-answer button")
    assert page.get_attribute(".lab-check", "data-answered") == "right"
    print("convolution page timings (ms):", {k: [round(v) for v in vs] for k, vs in timings(page).items()})
    tab.watch.check(base)
    tab.close()


def test_channels_page_offers_the_cat_for_a_gray_picture_and_takes_one_pixel_apart(chromium, lab_studio):  # noqa: F811
    base, _ = lab_studio
    tab = open_page(chromium, base, "channels", image="sample-camera")
    page = tab.page
    page.wait_for_selector(".chan-gray:not([hidden])")
    page.wait_for_selector("[data-image='sample-cat']")
    page.click("[data-action=use-cat]")
    wait_count(page, "picture", 1)
    assert page.is_hidden(".chan-gray") and page.is_visible(".chan-main")
    x = rgb_planes()

    def check(kernels: np.ndarray, bias: float):
        row, col = int(attr(page, ".chan-example", "row")), int(attr(page, ".chan-example", "col"))
        total = conv2d(x, kernels[None], np.array([bias]), padding=1)[0, 0]
        assert attr(page, "[data-output]", "output") == total[row, col]
        for ch, name in enumerate(("red", "green", "blue")):
            ref = trace_conv(x[0, ch], kernels[ch], row, col, padding=1)
            assert attr(page, f".chan-part[data-channel={name}] .chan-value", "value") == ref.value
        assert attr(page, ".chan-total [data-max]", "max") == total.max()
        return row, col

    assert check(np.array([EDGES] * 3, float), 0.0) == (85, 128)  # the middle of the 170x256 cat
    page.click("[data-trio=red-green]")
    wait_count(page, "kernel", 1)
    red_green = np.array([np.pad([[1.0]], 1), np.pad([[-1.0]], 1), np.zeros((3, 3))])
    check(red_green, 0.0)
    page.fill(".chan-bias", "10")
    wait_count(page, "bias", 1)
    check(red_green, 10.0)
    page.select_option(".kernel-select[data-name=blue]", "sobel-x")
    wait_count(page, "kernel", 2)
    mixed = red_green.copy()
    mixed[2] = SOBEL_X
    check(mixed, 10.0)
    page.click("img.chan-sum", position={"x": 20, "y": 30})
    wait_count(page, "position", 1)
    assert check(mixed, 10.0) == (30, 20)
    shot(page, "channels")
    page.fill(".lab-answer input", "112")
    page.click(".lab-answer button")
    assert page.get_attribute(".lab-check", "data-answered") == "right"
    print("channels page timings (ms):", {k: [round(v) for v in vs] for k, vs in timings(page).items()})
    tab.watch.check(base)
    tab.close()
