"""Lecture page 9, inside your model: kernels, feature maps and Grad-CAM equal cnnlab.learn.explain.trained's."""

from __future__ import annotations

import base64
import json
import os

import numpy as np
import pytest
import torch
from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings  # noqa: F401
from PIL import Image
from starlette.testclient import TestClient

from cnnlab.deploy.inputs import prepare_image
from cnnlab.deploy.pipeline import run_logits
from cnnlab.learn.explain.trained import first_conv, first_feature_maps, grad_cam
from cnnlab.learn.lab.images import sample_image
from cnnlab.learn.lab.inside import look_inside
from cnnlab.studio.app import create_app
from cnnlab.training.run import train
from cnnlab.training.rundir import load_model

BASE = "http://127.0.0.1:8321"
ORIGIN = {"Origin": BASE}
PROJECT, RUN = "shapes-1a2b3c", "20260101-120000-abcd"


def make_run(root):
    """A studio project with one finished run of a tiny lecture CNN (red squares vs blue squares, 32x32)."""
    project = root / PROJECT
    run = project / "runs" / RUN
    data = run / ".studio" / "data"
    g = np.random.default_rng(0)
    for name, colour in (("Red", (220, 40, 40)), ("Blue", (40, 60, 220))):
        (data / name).mkdir(parents=True)
        for i in range(12):
            img = g.integers(90, 160, (32, 32, 3)).astype(np.uint8)
            y, x = g.integers(4, 16, 2)
            img[y:y + 14, x:x + 14] = colour
            Image.fromarray(img).save(data / name / f"img-{i:03d}.png")
    (project / "project.json").write_text(json.dumps({"format": 1, "id": PROJECT, "name": "Shapes", "created": "",
                                                      "classes": []}))
    train(out=run, data=f"folder:{data.resolve()}", model="lecture_cnn", image_size=32, epochs=2, progress=False,
          model_args={"widths": [8, 16], "hidden": 16}, precision="fp32")
    (run / ".studio" / "run.json").write_text(json.dumps({"id": RUN, "mode": "scratch", "status": "finished",
                                                          "created": "2026-01-01T12:00:00"}))
    return run


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    old = os.environ.get("CNNLAB_HOME")
    os.environ["CNNLAB_HOME"] = str(tmp_path_factory.mktemp("cnnlab-home"))  # the run's caches stay in the test
    yield
    if old is None:
        os.environ.pop("CNNLAB_HOME")
    else:
        os.environ["CNNLAB_HOME"] = old


@pytest.fixture(scope="module")
def studio_with_run(tmp_path_factory, home):
    root = tmp_path_factory.mktemp("projects")
    run = make_run(root)
    return TestClient(create_app(root), base_url=BASE), run


def unpack(packed):
    b = np.frombuffer(base64.b64decode(packed["data"]), np.uint8).reshape(packed["shape"]).astype(float)
    return (b - 128) / 127.5 * packed["max"] if packed["signed"] else b / 255 * packed["max"]


def test_kernels_feature_maps_and_grad_cam_equal_explain_trained(studio_with_run):
    c, run = studio_with_run
    listed = c.get("/api/learn/inside/runs").json()
    assert [(r["project"], r["project_name"], r["run"], r["mode"]) for r in listed] == \
        [(PROJECT, "Shapes", RUN, "scratch")]
    got = c.post("/api/learn/inside/look", json={"project": PROJECT, "run": RUN, "image": "sample-cat"},
                 headers=ORIGIN).json()
    model, meta = load_model(run)
    chw, notes = prepare_image(sample_image("cat"), meta)
    x = torch.from_numpy(chw.copy())[None]
    assert got["input"]["shape"] == [3, 32, 32] and got["notes"] == notes
    assert np.array_equal(np.frombuffer(base64.b64decode(got["input"]["data"]), np.uint8).reshape(3, 32, 32), chw)
    assert np.allclose(got["kernels"], first_conv(model).weight.detach().numpy())
    maps, _ = first_feature_maps(model, x)  # (8, 32, 32): block 1 after its ReLU
    block1 = got["blocks"][0]
    assert block1["name"] == "block 1" and block1["shape"] == [8, 32, 32]
    assert np.allclose(unpack(block1["maps"]), maps[block1["channels"]].numpy(), atol=block1["maps"]["max"] / 255)
    assert [b["shape"] for b in got["blocks"]] == [[8, 32, 32], [16, 16, 16]]
    cam, target = grad_cam(model, x, got["pred"])
    assert got["target"] == target == got["pred"] and np.allclose(unpack(got["cam"]), cam, atol=1 / 255)
    probs = run_logits(model, x, meta).softmax(1)[0].numpy()  # the run's own prediction (with its flip TTA)
    assert np.allclose(got["probs"], probs, atol=1e-5) and got["pred"] == int(probs.argmax())
    # a chosen class: Grad-CAM for it; the exact numbers of the learn function equal explain.trained's
    other = 1 - got["pred"]
    chosen = c.post("/api/learn/inside/look", json={"project": PROJECT, "run": RUN, "image": "sample-cat",
                                                    "target": other}, headers=ORIGIN).json()
    assert chosen["target"] == other
    exact = look_inside(model, meta, sample_image("cat"), other)
    assert np.array_equal(exact["cam"], grad_cam(model, x, other)[0])
    assert np.array_equal(exact["blocks"][0]["maps"], maps[exact["blocks"][0]["channels"]].numpy())


def test_bad_inputs_get_one_clear_sentence(studio_with_run):
    c, _ = studio_with_run
    r = c.post("/api/learn/inside/look", json={"project": PROJECT, "run": RUN, "image": "sample-cat", "target": 5},
               headers=ORIGIN)
    assert r.status_code == 400 and r.json()["error"] == "target=5: expected a class number from 0 to 1"
    r = c.post("/api/learn/inside/look", json={"project": PROJECT, "image": "sample-cat"}, headers=ORIGIN)
    assert r.status_code == 400 and r.json()["error"].startswith('say which run to look at: "run" is missing')
    missing = {"project": PROJECT, "run": "20990101-000000-ffff", "image": "sample-cat"}
    r = c.post("/api/learn/inside/look", json=missing, headers=ORIGIN)
    assert r.status_code == 400 and "has no finished model" in r.json()["error"]
    r = c.post("/api/learn/inside/look", json={"project": "../etc", "run": RUN, "image": "sample-cat"}, headers=ORIGIN)
    assert r.status_code == 404


def test_page_empty_state_then_a_run_with_grad_cam_for_a_chosen_class(chromium, lab_studio, home):
    base, app = lab_studio
    tab = open_page(chromium, base, "inside", image="sample-cat")
    page = tab.page
    page.wait_for_selector("[data-state=empty]")
    assert page.get_attribute("[data-action=projects]", "href") == "#/"
    shot(page, "inside-empty")
    tab.close()
    make_run(app.state.projects_dir)
    tab = open_page(chromium, base, "inside", image="sample-cat")
    page = tab.page
    page.wait_for_selector(".in-block .in-map", timeout=60_000)
    c = TestClient(app, base_url=BASE)
    server = c.post("/api/learn/inside/look", json={"project": PROJECT, "run": RUN, "image": "sample-cat"},
                    headers=ORIGIN).json()
    shown = page.eval_on_selector_all(".in-prob", "els => els.map(e => +e.dataset.prob)")
    assert np.allclose(shown, server["probs"])
    assert page.locator(".in-kernel").count() == 8 and page.locator(".in-block").count() == 2
    assert page.text_content(".in-block .in-shape") == "8×32×32"
    other = 1 - server["pred"]
    page.click(f".in-prob[data-class='{other}']")
    page.wait_for_function("t => document.querySelector('.in-cam').dataset.target === t", arg=str(other))
    assert page.get_attribute(f".in-prob[data-class='{other}']", "aria-pressed") == "true"
    page.click(".lab-choices [data-choice='1']")
    assert "Right" in page.text_content(".lab-feedback")
    page.wait_for_selector(".lab-sample")  # the picker's samples, for the screenshot
    shot(page, "inside")
    measured = timings(page)
    assert len(measured["inside: look"]) >= 2
    print("inside timings (ms):", {k: [round(v) for v in vs] for k, vs in measured.items()})
    tab.watch.check(base)
    tab.close()
