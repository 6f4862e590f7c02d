"""Lecture page 5, data augmentation: the page's variants are the engine's Pipeline's, and its spec is the engine's."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
import torch
from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings  # noqa: F401
from PIL import Image
from starlette.testclient import TestClient

from cnnlab.data.augment import augment_names, get_augment, parse_augment, preview_grid
from cnnlab.data.images import to_chw, to_hwc
from cnnlab.learn.lab.augmentation import TECHNIQUES, augment_variants, controls, working_picture
from cnnlab.learn.lab.images import sample_image
from cnnlab.studio.app import create_app

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}
SPEC = "flip,rotate=15,translate=0.1,crop=4,color=0.2,erase=0.25"


def pixels_of(url: str) -> np.ndarray:
    assert url.startswith("data:image/png;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))


def engine_variants(picture: np.ndarray, spec: str, count: int, seed: int) -> np.ndarray:
    """What ``cnnlab augment preview`` makes: the engine's preview_grid, the variants of one picture."""
    grid = preview_grid(torch.tensor(to_chw(picture))[None], parse_augment(spec), n=count, seed=seed)
    return np.stack([to_hwc(v) for v in grid[0, 1:].numpy()])


@pytest.mark.parametrize("spec", [SPEC, "flip@0.5,rotate=30", "erase=0.5", "color=0.6"])
def test_variants_are_the_engines_own_with_the_same_seed(spec):
    picture = working_picture(sample_image("cat"), 64)
    out, about, canonical = augment_variants(picture, spec, count=8, seed=7)
    assert np.array_equal(out, engine_variants(picture, spec, 8, 7))
    assert canonical == parse_augment(spec).spec and len(about) == 8
    gray = working_picture(sample_image("camera"), 64)
    assert np.array_equal(augment_variants(gray, spec, 3, 1)[0], engine_variants(gray, spec, 3, 1))


def test_the_words_say_what_was_drawn():
    picture = working_picture(sample_image("cat"), 64)
    out, about, _ = augment_variants(picture, "flip", count=8, seed=3)
    for v, words in zip(out, about, strict=True):
        assert ("mirrored" in words) == np.array_equal(v, picture[:, ::-1]) != np.array_equal(v, picture)
    _, about, _ = augment_variants(picture, "crop=4", count=8, seed=3)
    assert all(w[0].startswith("cropped ") for w in about if w)


def test_controls_are_the_registrys_techniques_and_ranges():
    rows = controls()
    assert [r["name"] for r in rows] == [t[0] for t in TECHNIQUES]
    assert set(r["name"] for r in rows) <= set(augment_names())
    for r in rows:
        e = get_augment(r["name"])
        assert (r["low"], r["high"], r["default"]) == (e.low, e.high, e.default)


def test_api_variants_equal_the_engine_and_bad_inputs_get_one_sentence(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    assert [r["name"] for r in c.get("/api/learn/augmentation/controls").json()["controls"]][:2] == ["flip", "rotate"]
    r = c.post("/api/learn/augmentation/variants", headers=ORIGIN,
               json={"image": "sample-cat", "spec": SPEC, "count": 5, "seed": 11, "size": 128})
    assert r.status_code == 200, r.text
    body = r.json()
    picture = working_picture(sample_image("cat"), 128)
    assert np.array_equal(pixels_of(body["original"]), picture)
    shown = np.stack([pixels_of(t["png"]) for t in body["tiles"]])
    assert np.array_equal(shown, engine_variants(picture, SPEC, 5, 11))
    assert body["spec"] == SPEC
    none = c.post("/api/learn/augmentation/variants", headers=ORIGIN, json={"image": "sample-cat", "spec": "none",
                                                                              "count": 2}).json()
    assert none["spec"] == "none" and all(t["about"] == [] for t in none["tiles"])
    bad = [({"spec": "rotat=10"}, "unknown augmentation 'rotat'; did you mean 'rotate'?; the steps are flip"),
           ({"spec": "rotate=500"}, "between 0 and 180"),
           ({"spec": SPEC, "count": 0}, "count=0: expected a whole number from 1 to 12"),
           ({"spec": SPEC, "size": 100}, "size=100: expected one of 64, 128"),
           ({"spec": SPEC, "seed": -1}, "seed=-1: expected a whole number")]
    for extra, words in bad:
        r = c.post("/api/learn/augmentation/variants", headers=ORIGIN, json={"image": "sample-cat", **extra})
        assert r.status_code == 400 and words in r.json()["error"], (extra, r.text)
        assert "\n" not in r.json()["error"]
    r = c.post("/api/learn/augmentation/variants", headers=ORIGIN, json={"image": "nope", "spec": "flip"})
    assert r.status_code == 404 and "pick the picture again" in r.json()["error"]


def add_project(base: str) -> None:
    """A project "Pets" with one class holding the cat picture."""
    buf = io.BytesIO()
    Image.fromarray(sample_image("cat")).save(buf, "PNG")
    with httpx.Client(base_url=base, headers={"Origin": base}) as c:
        p = c.post("/api/projects", json={"name": "Pets"}).json()["id"]
        c.post(f"/api/projects/{p}/classes", json={"name": "cat"})
        r = c.post(f"/api/projects/{p}/classes/cat/images", files=[("files", ("cat.png", buf.getvalue(), "image/png"))])
        assert r.status_code == 200, r.text


def test_page_sliders_change_the_pictures_and_show_the_engines_spec(chromium, lab_studio):  # noqa: F811
    base, _ = lab_studio
    add_project(base)
    tab = open_page(chromium, base, "augmentation", image="sample-cat")
    page = tab.page
    page.wait_for_selector("[data-together] .aug-big[data-variant='7'] img")
    page.wait_for_selector("[data-examples=color] .aug-tile:nth-child(4)")
    spec = page.text_content("[data-spec]")
    assert spec == "flip,rotate=15,translate=0.1,crop=4,color=0.2" == parse_augment(spec).spec
    first = page.get_attribute("[data-together] .aug-big[data-variant='0'] img", "src")
    # the rotate slider to 90 degrees: its examples, the grid and the spec follow
    page.eval_on_selector("[data-control=rotate]", "el => { el.value = 90; el.dispatchEvent(new Event('input')); }")
    page.wait_for_function("() => document.querySelector('[data-spec]').textContent.includes('rotate=90')")
    page.wait_for_function("() => document.querySelector('[data-examples=rotate]').dataset.rowSpec === 'rotate=90'")
    assert page.get_attribute("[data-together] .aug-big[data-variant='0'] img", "src") != first
    # the pictures shown are the engine's for the page's seed
    picture = working_picture(sample_image("cat"), 64)
    shown = np.stack([pixels_of(page.get_attribute(f"[data-examples=rotate] .aug-tile:nth-child({i + 1}) img", "src"))
                      for i in range(4)])
    assert np.array_equal(shown, engine_variants(picture, "rotate=90", 4, 1))
    # erase on (it starts off), mirror off
    page.eval_on_selector("[data-control=erase]", "el => { el.value = 0.3; el.dispatchEvent(new Event('input')); }")
    page.click("[data-control=flip]")
    page.wait_for_function("() => document.querySelector('[data-spec]').textContent === "
                           "'rotate=90,translate=0.1,crop=4,color=0.2,erase=0.3'")
    page.wait_for_selector("[data-examples=flip] .aug-off")
    page.wait_for_selector(".lab-picker-row .lab-sample img")
    shot(page, "augmentation")
    page.click(".aug-projects summary")  # the studio's preview of the same spec on a project's photos
    page.wait_for_selector(".aug-projects img.augment-preview:not([hidden])")
    page.wait_for_function("() => document.querySelector('.aug-projects img').naturalWidth > 0")
    shot(page, "augmentation-project")
    page.click("[data-action=new-draws]")
    page.wait_for_function("() => (window.cnnlabLab.timings['augment-seed'] || []).length > 0")
    measured = timings(page)
    assert measured["augment-slider"] and measured["augment-image"]
    tab.watch.check(base)
    tab.close()
