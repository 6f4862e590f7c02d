"""The studio's Experiments page: a claim of the lecture run through the job API, its verdict and report.

One real experiment (dropout, 2 seeds, quick: about 20 s) is started from the page in Chromium; while it runs a
second one is refused; when it ends, the page shows the verdict and the numbers of results.json, which are the
recorded trials' own.
"""

from __future__ import annotations

import httpx
from browser import chromium_fixture  # noqa: F401
from labkit import VIEWPORT, lab_studio, shot  # noqa: F401
from starlette.testclient import TestClient

from cnnlab.studio.app import create_app

BASE = "http://127.0.0.1:8321"


def test_bad_requests_get_one_sentence_and_nothing_runs(tmp_path):
    c = TestClient(create_app(tmp_path), base_url=BASE, headers={"Origin": BASE})
    assert [x["name"] for x in c.get("/api/experiments").json()["claims"]][:2] == ["cnn-vs-mlp", "augmentation"]
    r = c.post("/api/experiments", json={"claim": "dropuot"})
    assert r.status_code == 400 and "dropout" in r.json()["error"]
    r = c.post("/api/experiments", json={"claim": "dropout", "seeds": 1})
    assert r.status_code == 400 and "two seeds" in r.json()["error"]
    r = c.post("/api/experiments", json={"claim": "dropout", "budget": "huge"})
    assert r.status_code == 400 and "quick or standard" in r.json()["error"]
    assert c.get("/api/experiments/quick/results").status_code == 404
    assert c.get("/api/experiments/../etc/results").status_code == 404
    assert c.get("/api/experiments/quick/report.exe").status_code == 404
    assert c.post("/api/experiments/cancel").status_code == 409
    assert c.get("/api/experiments").json()["job"] is None


def test_the_page_runs_a_claim_and_shows_its_computed_verdict(chromium, lab_studio):
    base, app = lab_studio
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/#/experiments")
    page.wait_for_selector(".claim-card[data-claim=dropout]")
    page.click(".claim-card[data-claim=dropout]")
    page.fill("#exp-seeds", "2")
    page.click("[data-action=run-claim]")
    page.wait_for_selector(".exp-progress[data-status=running]")
    with httpx.Client(base_url=base, headers={"Origin": base}) as http:
        busy = http.post("/api/experiments", json={"claim": "pooling"})
        assert busy.status_code == 409 and "one at a time" in busy.json()["error"]
        page.wait_for_selector(".exp-result", timeout=120_000)
        results = http.get("/api/experiments/quick/results").json()
        assert http.get("/api/experiments/quick/figures/dropout.png").content[:4] == b"\x89PNG"
        report = http.get("/api/experiments/quick/report.html")
        assert report.status_code == 200 and "Dropout curbs overfitting" in report.text
        assert http.get("/api/projects").json() == []  # the experiments' folder is not a project
    claim = results["claims"][0]
    gap = claim["comparisons"][0]
    assert len(gap["seeds"]) == 2 and claim["verdict"] == gap["summary"]["verdict"]
    shown = float(page.get_attribute(".exp-table tbody tr[data-metric=gap] td[data-mean]", "data-mean"))
    assert shown == gap["summary"]["mean"]
    assert page.get_attribute(".exp-verdict .verdict", "data-verdict") == claim["verdict"]
    assert page.get_attribute(".claim-card[data-claim=dropout] .verdict", "data-verdict") == claim["verdict"]
    shot(page, "experiments")
    assert not errors
    context.close()
