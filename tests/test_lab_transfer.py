"""Lecture page 8, transfer learning: the parts and counts are the real EfficientNet-Lite0's; the page shows them."""

from __future__ import annotations

import json

from browser import chromium_fixture  # noqa: F401
from labkit import lab_studio, open_page, shot, timings  # noqa: F401
from starlette.testclient import TestClient

from cnnlab.models import create_model
from cnnlab.studio.app import create_app
from cnnlab.training.transfer import freeze_backbone, unfreeze_last

BASE = "http://127.0.0.1:8321"


def test_parameter_counts_and_trainable_counts_are_the_real_models(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    arch = c.get("/api/learn/transfer/model?classes=3").json()
    model = create_model("efficientnet_lite0", num_classes=3, pretrained=False)
    assert arch["total"] == sum(p.numel() for p in model.parameters())
    assert sum(p["params"] for p in arch["parts"]) == arch["total"]
    bb = model.backbone
    parts = {p["name"]: p for p in arch["parts"]}
    assert parts["stem"]["params"] == sum(p.numel() for p in [*bb.conv_stem.parameters(), *bb.bn1.parameters()])
    assert [parts[f"stage {i + 1}"]["blocks"] for i in range(7)] == [len(s) for s in bb.blocks]
    assert parts["new classifier"]["params"] == 1280 * 3 + 3 and parts["stem"]["shape"] == [32, 112, 112]
    assert parts["head convolution"]["shape"] == [1280, 7, 7] and parts["new classifier"]["shape"] == [3]
    for n, t in enumerate(arch["trainable"]):
        freeze_backbone(model)
        if n:
            unfreeze_last(model, n)
        assert t["params"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
        for p in model.parameters():
            p.requires_grad_(True)
    assert arch["trainable"][0]["trained"] == ["new classifier"]
    kernels = c.get("/api/learn/transfer/kernels").json()["kernels"]
    assert len(kernels) == 32 and len(kernels[0]) == 3  # the weights package is installed with cnnlab[all]
    assert c.get("/api/learn/transfer/projects").json() == []


def test_bad_inputs_get_one_clear_sentence(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE)
    r = c.get("/api/learn/transfer/model?classes=1")
    assert r.status_code == 400 and r.json()["error"] == "classes='1': expected a whole number from 2 to 1000"
    r = c.get("/api/learn/transfer/model?classes=many")
    assert r.status_code == 400 and "a whole number from 2 to 1000" in r.json()["error"]


def test_page_draws_the_backbone_and_the_slider_unfreezes_stages(chromium, lab_studio):
    base, app = lab_studio
    project = app.state.projects_dir / "pets-1a2b3c"
    project.mkdir(exist_ok=True)
    (project / "project.json").write_text(json.dumps({"format": 1, "id": "pets-1a2b3c", "name": "Pets", "created": "",
                                                      "classes": [{"id": "cat-1", "name": "Cat"},
                                                                  {"id": "dog-2", "name": "Dog"}]}))
    tab = open_page(chromium, base, "transfer")
    page = tab.page
    page.wait_for_selector(".tl-block[data-part='new classifier']", timeout=60_000)
    page.wait_for_selector(".tl-kernel")
    arch = TestClient(app, base_url=BASE).get("/api/learn/transfer/model?classes=2").json()
    shown = page.eval_on_selector_all(".tl-block[data-part]",
                                      "els => els.map(e => [e.dataset.part, +e.dataset.params])")
    assert shown == [[p["name"], p["params"]] for p in arch["parts"]]
    assert page.get_attribute(".tl-total", "data-trainable") == str(arch["trainable"][0]["params"]) == "2562"
    assert page.locator(".tl-block.trained").count() == 1  # Quick: only the new classifier
    page.fill("input[name=stages]", "2")
    page.wait_for_function("() => document.querySelector('.tl-total').dataset.trainable !== '2562'")
    assert page.get_attribute(".tl-total", "data-trainable") == str(arch["trainable"][2]["params"])
    trained = page.eval_on_selector_all(".tl-block.trained", "els => els.map(e => e.dataset.part)")
    assert trained == ["stage 6", "stage 7", "head convolution", "new classifier"]
    assert "fine_tune" in page.text_content(".tl-total")
    assert page.get_attribute("[data-action=train-quick]", "href") == "#/p/pets-1a2b3c/train"
    page.fill(".lab-answer input", "3843")
    page.click(".lab-answer button")
    assert "Right" in page.text_content(".lab-feedback")
    shot(page, "transfer")
    measured = timings(page)
    assert measured["transfer: fine-tune slider"]
    print("transfer timings (ms):", {k: [round(v) for v in vs] for k, vs in measured.items()})
    tab.watch.check(base)
    tab.close()
