"""Lecture page 10, the network builder: its API (the table equals cnnlab.summary's numbers, impossible stacks are
refused with a sentence naming the layer, projects as data, builder runs hidden from the projects) and the page
(adding, moving and editing blocks, the sentence at the block it names, training on digits, the leaderboard)."""

from __future__ import annotations

import json

import numpy as np
from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings, until  # noqa: F401
from PIL import Image
from starlette.testclient import TestClient

from cnnlab.models import create_model, layer_table, summary
from cnnlab.models.stack import SLIDE, module_names
from cnnlab.studio.app import create_app

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}


def measured(spec: str, shape=(1, 28, 28), classes=10) -> list[dict]:
    """cnnlab.models.layer_table of the stack model, without the Normalize row."""
    model = create_model("stack", num_classes=classes, in_channels=shape[0], image_size=shape[1], layers=spec)
    names = module_names(spec)  # one row per layer of the stack (not the Normalize input layer)
    return [r for r in layer_table(model, shape) if r["name"] in names]


def test_summary_rows_equal_layer_table_and_bad_stacks_get_one_sentence(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    for data, shape in (("fashion-mnist", (1, 28, 28)), ("digits", (1, 8, 8))):
        spec = "conv 16 3 same, batchnorm, relu, maxpool 2, dropout 0.25, flatten, dense 32, relu, dense"
        out = c.post("/api/learn/builder/summary", json={"layers": spec, "data": data}, headers=ORIGIN).json()
        want = measured(spec, shape)
        assert [(r["name"], r["type"], tuple(r["output"]), r["params"], r["flops"]) for r in out["rows"]] == \
            [(r["name"], r["type"], r["output"], r["params"], r["flops"]) for r in want]
        model = create_model("stack", num_classes=10, in_channels=1, image_size=shape[1], layers=spec)
        assert f"Total params: {out['totals']['params']:,} " in summary(model, shape)
        assert out["input"] == list(shape) and out["layers"] == spec
        assert f'layers = "{spec}"' in out["code"]["cnnlab"] and "keras.Sequential([" in out["code"]["keras"]
    slide = c.post("/api/learn/builder/summary", json={"layers": SLIDE, "data": "fashion-mnist"}, headers=ORIGIN).json()
    # 2 batch-norm layers: Keras also counts their moving mean and variance
    assert slide["totals"]["keras_params"] == slide["totals"]["params"] + 2 * 64 + 2 * 64

    r = c.post("/api/learn/builder/summary", json={"layers": "conv 8 3, flatten, maxpool 2, dense", "data": "digits"},
               headers=ORIGIN)
    assert r.status_code == 400
    assert r.json() == {"error": "layer 3 (MaxPooling2D 2x2) comes after Flatten (layer 2), but max pooling needs a "
                                 "2-D map with channels: move it before Flatten", "layer": 3}
    r = c.post("/api/learn/builder/summary", json={"layers": "conv 8 3, dense 32, dense", "data": "digits"},
               headers=ORIGIN)
    assert r.status_code == 400 and r.json()["layer"] == 2 and "add Flatten before it" in r.json()["error"]
    r = c.post("/api/learn/builder/summary", json={"layers": "flatten, dense", "data": "mnist"}, headers=ORIGIN)
    assert r.status_code == 400 and "expected one of fashion-mnist, digits, project:ID" in r.json()["error"]
    r = c.post("/api/learn/builder/train", json={"layers": "flatten, dense 3", "data": "digits", "epochs": 1},
               headers=ORIGIN)
    assert r.status_code == 400 and "there are 10 classes" in r.json()["error"]
    r = c.post("/api/learn/builder/train", json={"layers": "flatten, dense", "data": "digits", "epochs": 50},
               headers=ORIGIN)
    assert r.status_code == 400 and "epochs=50: expected a whole number from 1 to 5" in r.json()["error"]
    assert c.get("/api/learn/builder/runs/nope").status_code == 404


def test_a_project_is_builder_data_with_colour_photos_at_32_pixels(tmp_path):
    app = create_app(tmp_path)
    c = TestClient(app, base_url=BASE)
    store = app.state.store
    p = store.create_project("Shapes")
    r = c.post("/api/learn/builder/summary", json={"layers": "flatten, dense", "data": f"project:{p['id']}"},
               headers=ORIGIN)
    assert r.status_code == 400 and "fewer than two classes" in r.json()["error"]
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        k = store.add_class(p["id"], name)
        for i in range(3):
            Image.fromarray(np.full((40, 40, 3), colour, np.uint8)).save(tmp_path / p["id"] / k["id"] / f"im{i}.png")
    out = c.post("/api/learn/builder/summary",
                 json={"layers": "conv 4 3, relu, flatten, dense", "data": f"project:{p['id']}"},
                 headers=ORIGIN).json()
    assert out["input"] == [3, 32, 32] and out["rows"][-1]["output"] == [2]
    assert [r["params"] for r in out["rows"]] == [r["params"] for r in measured("conv 4 3, relu, flatten, dense",
                                                                                (3, 32, 32), 2)]
    assert 'data="folder:' in out["code"]["cnnlab"] and "image_dataset_from_directory" in out["code"]["keras"]
    assert c.post("/api/learn/builder/summary", json={"layers": "flatten, dense", "data": "project:nope"},
                  headers=ORIGIN).status_code == 404


def rows_on_page(page) -> list[tuple]:
    return page.eval_on_selector_all(".bd-block", """rows => rows.map(r => [
        JSON.parse(r.querySelector('.bd-out').dataset.output || 'null'),
        Number(r.querySelector('.bd-params').dataset.params), Number(r.querySelector('.bd-flops').dataset.flops),
        r.querySelector('.bd-out').textContent, r.querySelector('.bd-params').textContent])""")


def assert_page_equals_summary(page, spec: str, shape=(1, 28, 28)) -> None:
    want = measured(spec, shape)
    got = rows_on_page(page)
    assert [(tuple(o), p, f) for o, p, f, _, _ in got] == [(r["output"], r["params"], r["flops"]) for r in want]
    # the text shown is what cnnlab.summary prints: shapes as tuples, parameters with thousands separators
    assert [(t, p) for _, _, _, t, p in got] == [(str(r["output"]), f"{r['params']:,}") for r in want]
    total = page.text_content("[data-total=params]")
    model = create_model("stack", num_classes=10, in_channels=shape[0], image_size=shape[1], layers=spec)
    assert f"Total params: {total} " in summary(model, shape)


def wait_for_table(page, n_blocks: int) -> None:
    page.wait_for_function("n => document.querySelectorAll('.bd-block').length === n && "
                           "[...document.querySelectorAll('.bd-block .bd-params')].every(td => td.dataset.params)",
                           arg=n_blocks)


def test_the_page_builds_explains_trains_and_ranks_networks(chromium, lab_studio):
    base, app = lab_studio
    tab = open_page(chromium, base, "builder")
    page = tab.page
    wait_for_table(page, 8)
    assert_page_equals_summary(page, SLIDE)
    assert page.text_content(".bd-code").startswith("import cnnlab")
    shot(page, "builder")

    # + MaxPooling2D goes in before the last Dense: after Flatten, where it cannot work; the sentence shows there
    page.click("[data-add=maxpool]")
    page.wait_for_selector(".bd-block.bd-bad[data-index='7'] + .bd-why")
    assert page.text_content(".bd-why").strip() == ("⚠ layer 8 (MaxPooling2D 2x2) comes after Flatten (layer 4), but "
                                                    "max pooling needs a 2-D map with channels: move it before Flatten")
    assert page.is_disabled("[data-action=train]")
    shot(page, "builder-impossible")
    for i in (7, 6, 5, 4):  # move it up, above Flatten
        page.click(f"[aria-label='Move layer {i + 1} up']")
    wait_for_table(page, 9)
    spec = "conv 64 3, batchnorm, relu, maxpool 2, flatten, dense 64, batchnorm, relu, dense"
    assert_page_equals_summary(page, spec)
    assert page.locator(".bd-why").count() == 0

    # edit a number: the first Conv2D's filters; the box keeps its focus while the numbers change
    page.fill("[aria-label='Filters of layer 1']", "8")
    page.wait_for_function("() => document.querySelector('.bd-block .bd-out').dataset.output === '[8,26,26]'")
    spec = spec.replace("conv 64", "conv 8")
    wait_for_table(page, 9)
    assert_page_equals_summary(page, spec)
    assert page.evaluate("() => document.activeElement.getAttribute('aria-label')") == "Filters of layer 1"

    page.click("[data-tab=keras]")
    assert "layers.Conv2D(8, 3)," in page.text_content(".bd-code")
    shot(page, "builder-keras")

    page.fill(".lab-answer input", "640")
    page.click(".lab-answer button")
    page.wait_for_selector(".lab-check[data-answered=right]")

    # train on digits (8x8): a few seconds; the leaderboard shows the run
    page.select_option(".bd-data", "digits")
    page.wait_for_function("() => document.querySelector('.bd-input .bd-out').dataset.output === '[1,8,8]'")
    wait_for_table(page, 9)
    assert_page_equals_summary(page, spec, (1, 8, 8))
    page.select_option("[name=epochs]", "1")
    page.click("[data-action=train]")
    page.wait_for_selector(".bd-board tr.bd-new[data-status=finished]", timeout=90_000)
    row = page.locator(".bd-board tr.bd-new")
    accuracy = float(row.locator("[data-accuracy]").get_attribute("data-accuracy"))
    assert accuracy > 0.5 and "Done:" in page.text_content(".bd-status")
    assert spec in row.text_content()
    shot(page, "builder-trained")

    # the run is an ordinary run folder under a hidden folder: never a project, never overwritten
    projects_dir = app.state.projects_dir
    record = json.loads(next((projects_dir / ".builder").glob("*/.studio/builder.json")).read_text())
    assert record["status"] == "finished" and record["layers"] == spec and record["data"] == "digits"
    assert app.state.store.list_projects() == []
    measured_ms = timings(page)["builder: table"]
    print("builder: table ms", [round(t) for t in measured_ms])
    tab.watch.check(base)
    tab.close()


def test_a_project_of_gray_photos_is_shown_with_the_one_channel_training_will_read(tmp_path):
    """The table's input is what training reads: a folder whose photos are all gray trains on 1 channel, so the
    page must count the first layer's weights for 1 channel, not 3 (it showed 3 before)."""
    from cnnlab.data.splits import load_splits

    app = create_app(tmp_path)
    c = TestClient(app, base_url=BASE)
    store = app.state.store
    p = store.create_project("Gray shapes")
    for name, value in (("dark", 40), ("light", 210)):
        k = store.add_class(p["id"], name)
        for i in range(3):
            Image.fromarray(np.full((40, 40), value + i, np.uint8)).save(tmp_path / p["id"] / k["id"] / f"im{i}.png")
    out = c.post("/api/learn/builder/summary", json={"layers": "conv 4 3, relu, flatten, dense",
                                                       "data": f"project:{p['id']}"}, headers=ORIGIN).json()
    train, _, _ = load_splits(f"folder:{tmp_path / p['id']}", val_fraction=0.0, image_size=32)
    assert out["input"] == [train.channels, 32, 32] == [1, 32, 32]
    assert out["rows"][0]["params"] == 4 * (3 * 3 * 1) + 4
    first = store.list_images(p["id"], store.meta(p["id"])["classes"][0]["id"])[0]  # now one colour photo
    Image.fromarray(np.full((40, 40, 3), (200, 10, 10), np.uint8)).save(
        tmp_path / p["id"] / store.meta(p["id"])["classes"][0]["id"] / f"{first['id']}.png")
    out = c.post("/api/learn/builder/summary", json={"layers": "conv 4 3, relu, flatten, dense",
                                                       "data": f"project:{p['id']}"}, headers=ORIGIN).json()
    assert out["input"] == [3, 32, 32]
