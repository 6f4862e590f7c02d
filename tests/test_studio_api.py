"""The studio's HTTP API for projects, classes, images, samples and the augmentation preview (TestClient)."""

import io
import logging
import zipfile
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

import cnnlab.deploy
import cnnlab.studio
from cnnlab._version import __version__
from cnnlab.studio.app import create_app

BASE = "http://127.0.0.1:8321"


def image_bytes(fmt="PNG", size=(40, 30), color=(200, 30, 30)):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt)
    return buf.getvalue()


@pytest.fixture
def app(tmp_path):
    return create_app(tmp_path / "projects")


@pytest.fixture
def client(app):
    return TestClient(app, base_url=BASE, headers={"Origin": BASE})


@pytest.fixture
def project(client):
    """A project with classes cat (2 images) and dog (no images)."""
    p = client.post("/api/projects", json={"name": "Pets"}).json()["id"]
    client.post(f"/api/projects/{p}/classes", json={"name": "cat"})
    client.post(f"/api/projects/{p}/classes", json={"name": "dog"})
    files = [("files", (f"{i}.png", image_bytes(color=(i * 60, 0, 0)), "image/png")) for i in range(2)]
    client.post(f"/api/projects/{p}/classes/cat/images", files=files)
    return p


def error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert list(body) == ["error"] and "Traceback" not in body["error"]
    return body["error"]


def test_info_names_the_version_samples_and_limits(client):
    info = client.get("/api/info").json()
    assert info["version"] == __version__
    assert [s["id"] for s in info["samples"]] == ["fashion-mnist", "digits", "photos"]
    assert info["limits"] == {"max_upload_mb": 200, "max_file_mb": 25, "max_files": 2000, "max_pixels": 50_000_000}
    assert info["folder_import"] is True


def test_projects_create_list_open_rename(client):
    created = client.post("/api/projects", json={"name": "Birds"})
    assert created.status_code == 201
    p = created.json()
    assert client.get("/api/projects").json() == [p]
    opened = client.get(f"/api/projects/{p['id']}").json()
    assert opened["name"] == "Birds" and opened["findings"][0]["kind"] == "classes"
    renamed = client.patch(f"/api/projects/{p['id']}", json={"name": "Sea birds"})
    assert renamed.json()["name"] == "Sea birds"


@pytest.mark.parametrize("body", [{"name": ""}, {"name": "x" * 81}, {"name": 5}, {}, {"name": "a\u0000b"}])
def test_bad_project_names_answer_400(client, body):
    assert "name" in error(client.post("/api/projects", json=body), 400)
    assert client.get("/api/projects").json() == []


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_answers_400(client, content):
    msg = error(client.post("/api/projects", content=content, headers={"content-type": "application/json"}), 400)
    assert "JSON" in msg


def test_delete_asks_for_the_exact_name(client, project, app):
    assert "type its exact name" in error(client.delete(f"/api/projects/{project}"), 400)
    assert "you typed 'pets'" in error(client.delete(f"/api/projects/{project}?confirm=pets"), 400)
    assert (app.state.projects_dir / project).is_dir()
    assert client.delete(f"/api/projects/{project}?confirm=Pets").json() == {"deleted": project}
    assert not (app.state.projects_dir / project).exists()
    error(client.get(f"/api/projects/{project}"), 404)


def test_duplicate(client, project):
    copy = client.post(f"/api/projects/{project}/duplicate", json={})
    assert copy.status_code == 201 and copy.json()["name"] == "Pets (copy)" and copy.json()["images"] == 2
    named = client.post(f"/api/projects/{project}/duplicate", json={"name": "Pets 2"}).json()
    assert named["name"] == "Pets 2"


def test_export_then_import_the_zip(client, project):
    r = client.get(f"/api/projects/{project}/export.zip")
    assert r.headers["content-type"] == "application/zip"
    assert r.headers["content-disposition"] == 'attachment; filename="pets.zip"'
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert f"{project}/project.json" in names and f"{project}/dog/" in names and len(names) == 5
    assert client.get(f"/api/projects/{project}/export.zip?runs=1").status_code == 200
    back = client.post("/api/projects/import", files={"file": ("pets.zip", r.content, "application/zip")},
                       data={"name": "Imported"})
    assert back.status_code == 201
    assert back.json()["name"] == "Imported" and back.json()["images"] == 2
    assert [k["name"] for k in back.json()["classes"]] == ["cat", "dog"]
    assert {f["kind"] for f in back.json()["findings"]} == {"too_few"}


def test_import_a_folder_by_path(client, tmp_path):
    for cls in ("a", "b"):
        (tmp_path / "src" / cls).mkdir(parents=True)
        (tmp_path / "src" / cls / "1.png").write_bytes(image_bytes(color=(9, 9, len(cls) * 70)))
    r = client.post("/api/projects/import", json={"path": str(tmp_path / "src"), "name": "From disk"})
    assert r.status_code == 201 and r.json()["images"] == 2 and r.json()["refused"] == []


@pytest.mark.parametrize("kwargs,words", [
    ({"json": {}}, "send a zip"), ({"json": {"path": "relative"}}, "not a full path"),
    ({"files": {"other": ("x.zip", b"PK\x05\x06" + bytes(18), "application/zip")}}, 'form field "file"'),
    ({"files": {"file": ("x.zip", b"not a zip", "application/zip")}}, "not a readable zip"),
    ({"content": b"x", "headers": {"content-type": "text/plain"}}, "JSON")])
def test_bad_imports_answer_400(client, kwargs, words):
    assert words in error(client.post("/api/projects/import", **kwargs), 400)
    assert client.get("/api/projects").json() == []


def test_classes_add_rename_delete(client, project):
    added = client.post(f"/api/projects/{project}/classes", json={"name": "Bird"})
    assert added.status_code == 201 and added.json() == {"id": "bird", "name": "Bird", "count": 0}
    assert "already a class called 'cat'" in error(client.post(f"/api/projects/{project}/classes",
                                                                json={"name": "Cat"}), 409)
    assert client.patch(f"/api/projects/{project}/classes/bird", json={"name": "Birds"}).json()["name"] == "Birds"
    error(client.patch(f"/api/projects/{project}/classes/bird", json={"name": ""}), 400)
    assert client.delete(f"/api/projects/{project}/classes/bird").json() == {"deleted": "bird"}
    error(client.delete(f"/api/projects/{project}/classes/bird"), 404)
    error(client.post("/api/projects/nope-123/classes", json={"name": "x"}), 404)


def test_images_upload_list_get_thumb_delete(client, project):
    r = client.post(f"/api/projects/{project}/classes/dog/images", files=[
        ("files", ("big.jpg", image_bytes("JPEG", size=(400, 300)), "image/jpeg")),
        ("files", ("bad.png", b"<html>", "image/png"))])
    out = r.json()
    assert len(out["added"]) == 1 and out["refused"][0]["file"] == "bad.png"
    assert {f["kind"] for f in out["findings"]} == {"too_few", "unreadable"}
    assert "bad.png (not an image" in out["findings"][0]["message"]
    listed = client.get(f"/api/projects/{project}/classes/dog/images").json()
    assert listed == out["added"]
    full = client.get(listed[0]["url"])
    assert full.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(full.content)).size == (400, 300)
    thumb = client.get(listed[0]["thumb"])
    assert thumb.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(thumb.content)).size == (128, 96)
    assert client.delete(listed[0]["url"]).json() == {"deleted": listed[0]["id"]}
    error(client.get(listed[0]["url"]), 404)
    assert client.get(f"/api/projects/{project}/classes/dog/images").json() == []


@pytest.mark.parametrize("kwargs,status", [
    ({"files": {"other": ("a.png", b"x", "image/png")}}, 400), ({"json": {"files": []}}, 400)])
def test_bad_uploads_answer_400(client, project, kwargs, status):
    error(client.post(f"/api/projects/{project}/classes/cat/images", **kwargs), status)


def test_samples_add_classes_with_images(client, project):
    r = client.post(f"/api/projects/{project}/samples", json={"source": "photos", "classes": ["cat", "rocket"],
                                                              "per_class": 5})
    assert r.status_code == 201
    counts = {k["name"]: k["count"] for k in r.json()["classes"]}
    assert counts == {"cat": 7, "dog": 0, "rocket": 5}  # 'cat' existed: the samples join it
    assert "findings" in r.json()


@pytest.mark.parametrize("body,key", [({"source": "cats"}, "source"), ({"source": "digits", "classes": ["x"]},
                                      "classes"), ({"source": "digits", "per_class": 1000}, "per_class")])
def test_bad_sample_requests_answer_400(client, project, body, key):
    assert key in error(client.post(f"/api/projects/{project}/samples", json=body), 400)


def test_augment_preview_is_a_png_grid(client, project):
    r = client.post("/api/augment/preview", json={"spec": "flip,rotate=15", "project": project, "count": 3})
    assert r.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(r.content)).size == (4 * 96 + 3 * 4, 96)  # 1 class with images: 1 row
    plain = client.post("/api/augment/preview", json={"spec": "flip", "count": 1})
    assert Image.open(io.BytesIO(plain.content)).size == (2 * 96 + 4, 3 * 96 + 2 * 4)


@pytest.mark.parametrize("body,words", [({"spec": "flip,twist=3"}, "twist"), ({"spec": ""}, "spec"),
                                        ({"spec": "flip", "count": 0}, "count"), ({}, "spec")])
def test_bad_augment_specs_answer_400_with_the_reason(client, body, words):
    assert words in error(client.post("/api/augment/preview", json=body), 400)


def test_unknown_addresses_and_methods_answer_json(client):
    assert "nothing at /api/nope" in error(client.get("/api/nope"), 404)
    assert "PUT is not allowed" in error(client.put("/api/projects"), 405)


def test_a_bug_answers_500_without_a_traceback_and_logs_it(app, caplog, monkeypatch):
    def boom():
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.state.store, "list_projects", boom)
    client = TestClient(app, base_url=BASE, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="cnnlab.studio"):
        r = client.get("/api/projects")
    assert r.status_code == 500 and "secret" not in r.text and "a bug" in r.json()["error"]
    assert "secret internals" in caplog.text


def test_the_page_and_its_files_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert client.get("/vendor/ort/ort.wasm.min.mjs").headers["content-type"].startswith("text/javascript")
    assert client.get("/vendor/ort/ort-wasm-simd-threaded.wasm").headers["content-type"] == "application/wasm"
    error(client.get("/static/no-such-file.js"), 404)


def test_the_page_prepares_pictures_with_the_web_demos_pixels_js(client):
    """One copy of Pillow's crop/pad/resize in JavaScript: the studio serves the web demo's file."""
    shared = Path(cnnlab.deploy.__file__).parent / "web" / "pixels.js"
    r = client.get("/static/pixels.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.content == shared.read_bytes() and "content-security-policy" in r.headers  # behind the guard
    assert not (Path(cnnlab.studio.__file__).parent / "static" / "preprocess.js").exists()  # no second copy
