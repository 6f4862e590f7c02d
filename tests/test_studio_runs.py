"""The studio's training routes: background jobs, live events, results, Grad-CAM and exports (runs_api.py)."""

import io
import json
import os
import time
import zipfile

import numpy as np
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cnnlab.studio import run_options
from cnnlab.studio.app import create_app
from cnnlab.studio.run_options import Eta, build_config, folder_names, plain_error
from cnnlab.studio.runs_api import routes

TINY = {"widths": [8, 16], "hidden": 16}  # a lecture CNN small enough for a test


def shape(kind: str, size: int, seed: int) -> np.ndarray:
    """A noisy background with a red disc, a blue bar or a green ring."""
    g = np.random.default_rng(seed)
    img = g.integers(90, 160, size=(size, size, 3)).astype(np.uint8)
    yy, xx = np.mgrid[0:size, 0:size]
    cy, cx, r = size * g.uniform(0.4, 0.6), size * g.uniform(0.4, 0.6), size * 0.28
    d = (yy - cy) ** 2 + (xx - cx) ** 2
    masks = {"disc": d < r * r, "bar": (abs(yy - cy) < r * 0.35) & (abs(xx - cx) < r * 1.5),
             "ring": (d < r * r) & (d > (0.6 * r) ** 2)}
    img[masks[kind]] = {"disc": (220, 40, 40), "bar": (40, 60, 220), "ring": (40, 200, 60)}[kind]
    return img


def make_project(root, pid="shapes-1a2b3c", kinds=("disc", "bar"), n=12, size=32, name="My shapes"):
    """A studio project on disk: project.json and one folder of PNGs per class (ids as the studio makes them)."""
    d = root / pid
    d.mkdir(parents=True)
    classes = [{"id": f"{k}-{i}", "name": k.title()} for i, k in enumerate(kinds)]
    meta = {"format": 1, "id": pid, "name": name, "created": "", "classes": classes}
    (d / "project.json").write_text(json.dumps(meta))
    for k, c in zip(kinds, classes, strict=True):
        (d / c["id"]).mkdir()
        for i in range(n):
            Image.fromarray(shape(k, size, seed=i + 1000 * len(k))).save(d / c["id"] / f"img-{i:03d}.png")
    return d


def client_for(root) -> TestClient:
    app = Starlette(routes=routes)
    app.state.projects_dir = root
    return TestClient(app)


def read_events(client, url, until=None):
    """The event dicts of an event stream (all of them, or up to the first one ``until`` accepts)."""
    out = []
    with client.stream("GET", url) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
                if until and until(out[-1]):
                    break
    return out


def wait_status(client, url, want, timeout=120):
    for _ in range(int(timeout * 10)):
        status = client.get(url).json()["status"]
        if status in want:
            return status
        time.sleep(0.1)
    raise AssertionError(f"still {status} after {timeout} s")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    old = os.environ.get("CNNLAB_HOME")
    os.environ["CNNLAB_HOME"] = str(tmp_path_factory.mktemp("cnnlab-home"))  # caches of the jobs (children inherit)
    yield
    if old is None:
        os.environ.pop("CNNLAB_HOME")
    else:
        os.environ["CNNLAB_HOME"] = old


@pytest.fixture(scope="module")
def trained(tmp_path_factory, home):
    """One finished scratch run of a 2-class, 30-image project: (client, project url, run url, events)."""
    root = tmp_path_factory.mktemp("projects")
    make_project(root, n=15)
    client = client_for(root)
    scratch = dict(run_options.SCRATCH)
    run_options.SCRATCH.update(model_args=TINY, image_size=32)
    try:
        r = client.post("/api/projects/shapes-1a2b3c/train", json={"mode": "scratch", "epochs": 12})
    finally:
        run_options.SCRATCH.clear()
        run_options.SCRATCH.update(scratch)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "running"
    run = f"/api/projects/shapes-1a2b3c/runs/{r.json()['run']}"
    events = read_events(client, run + "/events")
    return client, "/api/projects/shapes-1a2b3c", run, events, root


def test_events_stream_live_and_end_with_finished(trained):
    client, _, run, events, _ = trained
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "status" and events[-1]["status"] == "finished"
    assert "finished" in kinds and kinds.count("epoch_end") == 12
    batches = [e for e in events if e["event"] == "batch"]
    assert batches and all("steps" in e and "epochs" in e for e in batches)
    assert "Traceback" not in json.dumps(events)
    # a late subscriber gets the same story, ending with the status
    again = [e["event"] for e in read_events(client, run + "/events")]
    assert again.count("epoch_end") == 12 and again[-1] == "status"


def test_results_have_metrics_history_and_a_confusion_matrix(trained):
    client, project, run, _, _ = trained
    res = client.get(run).json()
    assert res["status"] == "finished" and res["mode"] == "scratch"
    test_size = res["meta"]["sizes"]["test"]
    assert test_size == 6  # 20% of 15 images per class, held out the same way every time
    cm = np.array(res["confusion"])
    assert cm.shape == (2, 2) and cm.sum() == test_size
    assert [c["name"] for c in res["classes"]] == ["Bar", "Disc"]  # display names, in the model's order
    assert [c["id"] for c in res["classes"]] == ["bar-1", "disc-0"]
    m = res["metrics"]
    assert m["accuracy"] == pytest.approx(np.trace(cm) / test_size)
    assert m["ci"][0] <= m["accuracy"] <= m["ci"][1]
    assert [row["support"] for row in m["per_class"]] == cm.sum(1).tolist()
    assert {"precision", "recall", "f1", "class", "id"} <= set(m["per_class"][0])
    assert len(res["history"]) == 12 and "train_loss" in res["history"][0]
    assert m["accuracy"] == pytest.approx(res["meta"]["metrics"]["test_accuracy"])  # same answers as the engine
    listed = client.get(project + "/runs").json()
    assert listed[0]["id"] == run.rsplit("/", 1)[1] and listed[0]["status"] == "finished"
    assert listed[0]["test_accuracy"] == pytest.approx(m["accuracy"])


def test_cells_list_the_images_behind_each_count(trained):
    client, _, run, _, _ = trained
    cm = client.get(run).json()["confusion"]
    for t in range(2):
        for p in range(2):
            rows = client.get(run + f"/cell?true={t}&pred={p}").json()
            assert len(rows) == cm[t][p]
            for row in rows:
                assert abs(sum(row["probs"]) - 1) < 1e-3 and row["confidence"] == max(row["probs"])
                img = client.get(row["image"]["url"])
                assert img.status_code == 200 and Image.open(io.BytesIO(img.content)).size == (32, 32)
                thumb = client.get(row["image"]["thumb"])
                assert thumb.headers["content-type"] == "image/png"
    mistakes = client.get(run + "/mistakes?limit=12").json()
    assert len(mistakes) == cm[0][1] + cm[1][0]
    assert all(m["true"] != m["pred"] for m in mistakes)
    assert client.get(run + "/cell?true=2&pred=0").status_code == 400
    assert client.get(run + "/mistakes?limit=x").status_code == 400


def test_gradcam_is_a_png_of_the_image(trained):
    client, _, run, _, _ = trained
    row = client.get(run + "/cell?true=0&pred=0").json()[0]
    r = client.get(run + f"/gradcam/{row['image']['c']}/{row['image']['i']}.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = Image.open(io.BytesIO(r.content))
    assert img.size == (256, 256) and img.mode == "RGB"
    assert client.get(run + "/gradcam/bar-1/nope-1.png").status_code == 404


def test_the_onnx_model_is_made_when_training_finishes_and_made_again_when_stale(trained):
    client, _, run, events, root = trained
    run_dir = root / "shapes-1a2b3c" / "runs" / run.rsplit("/", 1)[1]
    onnx, weights = run_dir / "model.onnx", run_dir / "model.safetensors"
    # made in the background right after the final status (the results do not wait for it), before any request
    for _ in range(600):  # the export takes seconds; wait for it, up to a minute (not a speed check)
        if onnx.is_file():
            break
        time.sleep(0.1)
    assert onnx.is_file() and onnx.stat().st_mtime_ns >= weights.stat().st_mtime_ns
    assert not any(e["event"] == "stage" and "Try it" in str(e.get("stage")) for e in events)
    fresh = onnx.read_bytes()
    old = weights.stat().st_mtime_ns - 10**9
    onnx.write_bytes(b"stale: older than the weights")
    os.utime(onnx, ns=(old, old))
    r = client.get(run + "/model.onnx")
    assert r.status_code == 200 and r.content == fresh == onnx.read_bytes()  # exported again, never the stale one
    assert onnx.stat().st_mtime_ns >= weights.stat().st_mtime_ns


def test_model_card_and_exports(trained):
    client, _, run, _, root = trained
    card = client.get(run + "/model_card.md")
    assert card.status_code == 200 and card.headers["content-type"].startswith("text/markdown")
    assert "Bar" in card.text and "Disc" in card.text
    z = client.get(run + "/export/run.zip")
    assert z.status_code == 200 and "attachment" in z.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert any(n.endswith("/model.json") for n in names) and any(n.endswith("/model.safetensors") for n in names)
    assert not any("/." in n for n in names)  # no .studio/ (the student's photos), no lock file
    onnx = client.get(run + "/model.onnx")
    assert onnx.status_code == 200 and len(onnx.content) > 1000
    run_dir = root / "shapes-1a2b3c" / "runs" / run.rsplit("/", 1)[1]
    made = (run_dir / "model.onnx").stat().st_mtime_ns
    assert client.get(run + "/export/model.onnx").content == onnx.content
    assert (run_dir / "model.onnx").stat().st_mtime_ns == made  # cached, not exported again
    assert client.get(run + "/export/model_card.md").text == card.text
    assert client.get(run + "/export/other.zip").status_code == 404


def test_onnx_export_predicts_what_the_results_show(trained):
    ort = pytest.importorskip("onnxruntime")
    client, _, run, _, _ = trained
    onnx = client.get(run + "/model.onnx").content
    session = ort.InferenceSession(onnx, providers=["CPUExecutionProvider"])
    row = client.get(run + "/cell?true=1&pred=1").json()[0]
    pixels = np.asarray(Image.open(io.BytesIO(client.get(row["image"]["url"]).content)).convert("RGB"))
    x = pixels.transpose(2, 0, 1)[None].astype(np.float32)  # (1, 3, 32, 32), as trained at 32 px
    probs = session.run(None, {session.get_inputs()[0].name: x})[0][0]
    assert np.allclose(probs, row["probs"], atol=1e-3)


def test_a_planted_link_or_folder_name_never_reads_outside_the_run(trained, tmp_path):
    client, _, run, _, root = trained
    run_dir = root / "shapes-1a2b3c" / "runs" / run.rsplit("/", 1)[1]
    secret = tmp_path / "secret.onnx"
    secret.write_bytes(b"not for the browser")
    (run_dir / "model.onnx").unlink(missing_ok=True)
    (run_dir / "model.onnx").symlink_to(secret)
    r = client.get(run + "/model.onnx")
    assert r.status_code == 200 and r.content != secret.read_bytes() and not (run_dir / "model.onnx").is_symlink()
    info_path = run_dir / ".studio" / "run.json"
    info = json.loads(info_path.read_text())
    Image.new("RGB", (4, 4)).save(tmp_path / "img-000.png")
    try:
        info_path.write_text(json.dumps(dict(info, folders={str(tmp_path): "bar-1", "..": "disc-0"})))
        assert client.get(run + "/images/bar-1/img-000").status_code == 404
        assert client.get(run + "/images/disc-0/img-000").status_code == 404
    finally:
        info_path.write_text(json.dumps(info))
    assert client.get(run + "/images/bar-1/img-000").status_code == 200


def test_the_studio_app_serves_these_routes(trained):  # the whole app: its guard, error handlers and these routes
    _, project, run, _, root = trained
    base = "http://127.0.0.1:8321"
    client = TestClient(create_app(root), base_url=base)
    assert client.get(project + "/runs").json()[0]["status"] == "finished"
    events = read_events(client, run + "/events")
    assert events[-1]["status"] == "finished" and [e["event"] for e in events].count("epoch_end") == 12
    assert client.post(run + "/cancel").status_code == 403  # no Origin: another web site cannot stop a run
    assert client.post(run + "/cancel", headers={"Origin": base}).status_code == 409  # not training
    assert client.get(project + "/runs/..%2f/model.onnx").status_code == 404


def test_web_demo_export(trained):
    client, _, run, _, _ = trained
    r = client.get(run + "/export/web.zip")
    assert r.status_code == 200, r.text
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert any(n.endswith("index.html") for n in names) and any(n.endswith(".onnx") for n in names)


def test_a_custom_run_with_fit_pad_records_it_and_its_onnx_model_says_so(tmp_path, home, monkeypatch):
    ort = pytest.importorskip("onnxruntime")
    d = make_project(tmp_path, n=6)
    for f in d.glob("*/img-*.png"):  # wide photos: pad keeps all of them, with black bars above and below
        Image.open(f).resize((48, 32)).save(f)
    monkeypatch.setitem(run_options.SCRATCH, "model_args", TINY)
    client = client_for(tmp_path)
    r = client.post("/api/projects/shapes-1a2b3c/train", json={
        "mode": "custom", "model": "lecture_cnn", "epochs": 1, "image_size": 32, "fit": "pad", "augment": "none"})
    assert r.status_code == 201, r.text
    run = f"/api/projects/shapes-1a2b3c/runs/{r.json()['run']}"
    assert read_events(client, run + "/events")[-1]["status"] == "finished"
    res = client.get(run).json()
    assert res["meta"]["input"]["fit"] == "pad" and res["meta"]["config"]["data"]["fit"] == "pad"
    assert np.array(res["confusion"]).sum() == res["meta"]["sizes"]["test"]  # per-image results made with pad
    session = ort.InferenceSession(client.get(run + "/model.onnx").content, providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["fit"] == "pad"  # what Try it and the web demo read


def test_cancel_then_resume_finishes_and_a_second_start_is_refused(tmp_path, home, monkeypatch):
    make_project(tmp_path, n=10)
    monkeypatch.setitem(run_options.SCRATCH, "model_args", TINY)
    client = client_for(tmp_path)
    project = "/api/projects/shapes-1a2b3c"
    r = client.post(project + "/train", json={"mode": "custom", "epochs": 16, "image_size": 16, "batch_size": 4})
    assert r.status_code == 201, r.text
    run = f"{project}/runs/{r.json()['run']}"
    # stopped at once, while the training process still starts: nothing to resume from, so resume starts it again
    assert client.post(run + "/cancel").json() == {"status": "interrupted"}
    assert client.post(run + "/resume").json() == {"status": "running"}
    seen = read_events(client, run + "/events", until=lambda e: e["event"] == "batch" and e["step"] >= 3)
    assert seen[-1]["event"] == "batch"
    second = client.post(project + "/train", json={"mode": "scratch"})
    assert second.status_code == 409 and "still training" in second.json()["error"]
    assert client.delete(run + "?confirm=1").status_code == 409  # not while it trains
    assert client.post(run + "/cancel").json() == {"status": "interrupted"}
    assert client.get(run).json()["status"] == "interrupted"
    assert client.post(run + "/cancel").status_code == 409
    assert client.post(run + "/resume").json() == {"status": "running"}
    assert client.post(run + "/resume").status_code == 409
    events = read_events(client, run + "/events")
    assert events[-1]["event"] == "status" and events[-1]["status"] == "finished" and "error" not in events[-1], \
        events[-6:]
    assert any(e["event"] == "started" and e.get("resume") for e in events)
    assert "interrupted" not in [e["event"] for e in events]  # the replay of a resumed run goes on, it does not end
    res = client.get(run).json()
    assert res["meta"]["metrics"]["epochs_run"] == 16 and np.array(res["confusion"]).sum() == 4

    # a new studio on the same folder (a restart) shows the run as it was, and its history
    again = client_for(tmp_path)
    assert again.get(project + "/runs").json()[0]["status"] == "finished"
    past = read_events(again, run + "/events")
    assert [e["event"] for e in past].count("epoch_end") == 16 and past[-1]["status"] == "finished"
    assert "Traceback" not in json.dumps(past)


def test_quick_mode_trains_a_frozen_pretrained_model(tmp_path, home):
    make_project(tmp_path, kinds=("disc", "bar", "ring"), n=10, size=48)
    client = client_for(tmp_path)
    r = client.post("/api/projects/shapes-1a2b3c/train", json={"mode": "quick", "epochs": 3})
    assert r.status_code == 201, r.text
    run = f"/api/projects/shapes-1a2b3c/runs/{r.json()['run']}"
    events = read_events(client, run + "/events")
    assert events[-1]["status"] == "finished", events[-3:]
    assert any(e["event"] == "stage" and e["stage"].startswith("features") for e in events)
    res = client.get(run).json()
    cfg = res["meta"]["config"]["model"]
    assert (cfg["name"], cfg["pretrained"], cfg["freeze"]) == ("efficientnet_lite0", True, True)
    assert np.array(res["confusion"]).sum() == res["meta"]["sizes"]["test"] == 6
    img = client.get(run + "/mistakes?limit=1").json() or client.get(run + "/cell?true=0&pred=0").json()
    cam = client.get(run + f"/gradcam/{img[0]['image']['c']}/{img[0]['image']['i']}.png")
    assert cam.status_code == 200 and Image.open(io.BytesIO(cam.content)).size == (256, 256)


def test_a_failed_run_says_why_in_plain_words(tmp_path, home):
    d = make_project(tmp_path, n=4)
    for f in (d / "bar-1").iterdir():
        f.write_bytes(b"\x89PNG\r\n\x1a\n broken")  # every Bar image is unreadable: the engine refuses the data
    client = client_for(tmp_path)
    r = client.post("/api/projects/shapes-1a2b3c/train", json={"mode": "scratch", "epochs": 1})
    run = f"/api/projects/shapes-1a2b3c/runs/{r.json()['run']}"
    final = read_events(client, run + "/events")[-1]
    assert final["event"] == "status" and final["status"] == "failed"
    assert "Bar" in final["error"] and "'My shapes'" in final["error"]
    assert ".studio" not in final["error"] and "Traceback" not in final["error"]
    listed = client.get("/api/projects/shapes-1a2b3c/runs").json()[0]
    assert listed["status"] == "failed" and listed["error"] == final["error"]
    assert client.get(run).json()["error"] == final["error"]
    assert client.get(run + "/model.onnx").status_code == 400
    assert client.delete(run).status_code == 400 and "confirm=1" in client.delete(run).json()["error"]
    assert client.delete(run + "?confirm=1").json() == {"deleted": r.json()["run"]}
    assert not (d / "runs" / r.json()["run"]).exists() and client.get(run).status_code == 404


def test_a_restarted_studio_reports_runs_it_lost(tmp_path):
    d = make_project(tmp_path, n=3)
    for rid, files in (("lost-1", {}), ("lost-2", {"resume.json": "{}"})):
        (d / "runs" / rid / ".studio").mkdir(parents=True)
        (d / "runs" / rid / ".studio" / "run.json").write_text(json.dumps({"id": rid, "mode": "quick",
                                                                           "status": "running"}))
        for name, text in files.items():
            (d / "runs" / rid / name).write_text(text)
    rows = {r["id"]: r for r in client_for(tmp_path).get("/api/projects/shapes-1a2b3c/runs").json()}
    assert rows["lost-1"]["status"] == "failed" and "train again" in rows["lost-1"]["error"]
    assert rows["lost-2"]["status"] == "interrupted"
    assert json.loads((d / "runs" / "lost-2" / ".studio" / "run.json").read_text())["status"] == "interrupted"


@pytest.mark.parametrize("body, field, words", [
    ({"mode": "custom", "batch_size": 1}, "batch_size", "at least 2"),
    ({"mode": "custom", "epochs": -1}, "epochs", "epochs=-1"),
    ({"mode": "custom", "lr": "fast"}, "lr", "lr="),
    ({"mode": "custom", "augment": "flip,spin=3"}, "augment", "'spin'; the steps are flip, vflip"),
    ({"mode": "custom", "model": "resnet"}, "model", "efficientnet_lite0"),
    ({"mode": "quick", "model": "lecture_cnn"}, "model", "Custom"),
    ({"mode": "fast"}, "mode", "'quick', 'scratch' or 'custom'"),
    ({"mode": "custom", "fit": "zoom"}, "fit", "'crop'"),
    ({"mode": "custom", "dropout": 0.5}, "dropout", "one of the training options"),
])
def test_bad_options_are_400_with_a_plain_message(tmp_path, body, field, words):
    make_project(tmp_path, n=3)
    r = client_for(tmp_path).post("/api/projects/shapes-1a2b3c/train", json=body)
    assert r.status_code == 400
    assert r.json()["field"] == field and words in r.json()["error"] and "Traceback" not in r.text
    assert "\n" not in r.json()["error"] and "--" not in r.json()["error"]  # one line, no command-line flags
    runs = tmp_path / "shapes-1a2b3c" / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # nothing was left behind


def test_a_project_without_two_classes_of_images_is_refused(tmp_path):
    d = make_project(tmp_path, n=3)
    for f in (d / "bar-1").iterdir():
        f.unlink()
    r = client_for(tmp_path).post("/api/projects/shapes-1a2b3c/train", json={"mode": "quick"})
    assert r.status_code == 400 and "'Bar' has no images" in r.json()["error"]
    r = client_for(tmp_path).post("/api/projects/shapes-1a2b3c/train", content=b"{not json")
    assert r.status_code == 400


@pytest.mark.parametrize("path", [
    "/api/projects/..%2f..%2fetc/runs", "/api/projects/NOPE/runs", "/api/projects/missing-1/runs",
    "/api/projects/shapes-1a2b3c/runs/..%2f..", "/api/projects/shapes-1a2b3c/runs/x%00y",
    "/api/projects/shapes-1a2b3c/runs/none-1", "/api/projects/shapes-1a2b3c/runs/none-1/events",
    "/api/projects/shapes-1a2b3c/runs/a:b/cell?true=0&pred=0", "/api/projects/linked-1/runs",
    "/api/projects/shapes-1a2b3c/runs/linked-run/model_card.md",
    "/api/projects/shapes-1a2b3c/runs/linked-run/images/bar-1/..%2f..%2fproject",
])
def test_bad_ids_are_404_and_touch_nothing(tmp_path, path):
    d = make_project(tmp_path, n=3)
    (tmp_path / "linked-1").symlink_to(d)
    (d / "runs").mkdir()
    (d / "runs" / "linked-run").symlink_to(tmp_path)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    client = client_for(tmp_path)
    r = client.get(path)
    assert r.status_code == 404, (path, r.text)
    if r.headers["content-type"] == "application/json":  # else the router's own 404: more parts than any route
        assert "error" in r.json()
    assert client.post(path.split("?")[0].rsplit("/", 1)[0] + "/cancel").status_code in (404, 405)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_config_presets():
    quick = build_config({"mode": "quick"}, images=60, data="folder:x")
    assert quick["model"] == {"name": "efficientnet_lite0", "args": {}, "pretrained": True, "freeze": True,
                              "fine_tune": None}
    scratch = build_config({"mode": "scratch"}, images=1000, data="folder:x")
    assert scratch["data"]["image_size"] == 64 and 8 <= scratch["training"]["epochs"] <= 60
    custom = build_config({"mode": "custom", "model": "efficientnet_lite0", "epochs": 2, "augment": "flip"}, 60, "x")
    assert custom["model"]["freeze"] and custom["training"]["augment"] == "flip"


def test_folder_names_use_display_names_only_when_safe():
    classes = [{"id": "a-1", "name": "Cat"}, {"id": "b-2", "name": "cat"}, {"id": "c-3", "name": "../x"},
               {"id": "d-4", "name": "Val"}, {"id": "e-5", "name": ".hidden"}, {"id": "f-6", "name": "Ankle boot"}]
    assert folder_names(classes) == {"Cat": "a-1", "b-2": "b-2", "c-3": "c-3", "d-4": "d-4", "e-5": "e-5",
                                     "Ankle boot": "f-6"}


def test_plain_error_never_shows_a_traceback():
    msg = plain_error("the training process ended unexpectedly (exit code 1) Traceback (most recent call "
                      "last):\n  File \"x.py\", line 1\n    boom()\nRuntimeError: boom")
    assert "Traceback" not in msg and "File" not in msg and msg.endswith("(RuntimeError: boom)")
    # the job API keeps only the end of a crashed process's output: a traceback cut in the middle
    cut = plain_error("the training process ended unexpectedly (exit code 1) rver_profiler import _p\n  File "
                      "\"/x/torch/autograd/__init__.py\", line 16,\n    from torch import _C\nKeyboardInterrupt")
    assert cut == "the training process ended unexpectedly (exit code 1) (KeyboardInterrupt)"
    assert plain_error("run 'a' is in use") == "run 'a' is in use"


def test_eta_counts_down_from_the_pace_so_far():
    eta, now = Eta(), [0.0]
    eta.clock = lambda: now[0]
    eta.add({"event": "epoch_begin", "epoch": 1, "epochs": 4, "batches": 5, "batch": 0})
    got = []
    for step in range(1, 6):
        now[0] = float(step)
        got.append(eta.add({"event": "batch", "epoch": 1, "batch": step, "batches": 5, "step": step}).get("eta_s"))
    assert got == [None, None, 17.0, 16.0, 15.0]  # one second a step, 20 steps in all
    stage = [eta.add({"event": "stage", "stage": "features", "done": d, "total": 40}) for d in (10, 20)]
    assert "eta_s" not in stage[0] and stage[1]["eta_s"] == 0.0  # no time passed between the two
