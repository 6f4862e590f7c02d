"""The studio's security and data safety (issue 14, item 8): one test (or more) per promise.

- ids in every route: traversal (plain and encoded), absolute paths, NUL, backslashes, ADS, links -> 400/404,
  nothing touched
- access code (every request), loopback by default, no start on another host without a code
- Host check against DNS rebinding, Origin check on every state-changing request
- upload size/count limits with a clear 413, per-file limit, zip bombs, decompression bombs
- file names made by the server, content decoded and encoded again (never the client's bytes)
- no endpoint reads an arbitrary path (folder import: folders only, links never followed, off for remote hosts)
- atomic writes, and an acknowledged image survives kill -9 of the server
"""

import io
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import zipfile
import zlib
from urllib.parse import unquote

import anyio
import httpx
import numpy as np
import pytest
from PIL import Image
from starlette.routing import Route
from starlette.testclient import TestClient

from cnnlab.data.images import load_image
from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.studio import gallery
from cnnlab.studio.app import create_app
from cnnlab.studio.server import run_studio

BASE = "http://127.0.0.1:8321"
CODE = "blue-river-42"


def png(color=(200, 30, 30), size=(40, 30), fmt="PNG", **save):
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, fmt, **save)
    return buf.getvalue()


def tree(root):
    """Every path under root with its size and modification time (links not followed)."""
    out = {}
    for here, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(here, n)
            st = os.lstat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


def call(app, method, raw_path, body=b"", headers=None, chunks=None):
    """One request straight into the ASGI app, with the path exactly as a server would pass it (no normalizing)."""
    path, _, query = raw_path.partition("?")
    hdrs = {"host": "127.0.0.1:8321", "origin": BASE, "content-type": "application/json", **(headers or {})}
    if chunks is None:
        chunks = [body]
        hdrs.setdefault("content-length", str(len(body)))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": unquote(path), "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(k.encode(), v.encode()) for k, v in hdrs.items()], "client": ("127.0.0.1", 50000),
             "server": ("127.0.0.1", 8321)}
    pending = list(chunks)
    sent = []

    async def receive():
        if pending:
            data = pending.pop(0)
            return {"type": "http.request", "body": data, "more_body": bool(pending)}
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    try:
        # a portal runs its own event loop in a thread: this works even when the calling thread already runs
        # one (pytest-playwright's session-wide browser keeps an event loop in the main thread)
        with anyio.from_thread.start_blocking_portal() as portal:
            portal.call(app, scope, receive, send)
    except Exception:  # noqa: BLE001 - after a 500 Starlette re-raises for the server's log
        pass
    status = sent[0]["status"]
    return status, b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture
def app(tmp_path):
    return create_app(tmp_path / "projects")


@pytest.fixture
def client(app):
    return TestClient(app, base_url=BASE, headers={"Origin": BASE})


@pytest.fixture
def world(app, client, tmp_path):
    """A project with a class and an image, links planted inside it pointing outside, and a victim folder outside."""
    root = app.state.projects_dir
    victim = tmp_path / "outside" / "victim"
    (victim / "cat").mkdir(parents=True)
    (victim / "project.json").write_text(json.dumps({"format": 1, "id": "victim", "name": "Victim", "created": "",
                                                      "classes": [{"id": "cat", "name": "cat"}]}))
    (victim / "cat" / "1a2b-3c4d.png").write_bytes(png())
    p = client.post("/api/projects", json={"name": "Pets"}).json()["id"]
    client.post(f"/api/projects/{p}/classes", json={"name": "cat"})
    i = client.post(f"/api/projects/{p}/classes/cat/images",
                    files={"files": ("a.png", png(), "image/png")}).json()["added"][0]["id"]
    (root / p / "runs" / "r1").mkdir(parents=True)
    (root / p / "runs" / "r1" / "report.md").write_text("# report")
    os.symlink(victim, root / "link-1")  # a project that is a link
    os.symlink(victim / "cat", root / p / "evilc")  # a class folder that is a link ...
    meta = json.loads((root / p / "project.json").read_text())
    meta["classes"].append({"id": "evilc", "name": "evil"})  # ... listed in project.json
    (root / p / "project.json").write_text(json.dumps(meta))
    os.symlink(victim / "cat" / "1a2b-3c4d.png", root / p / "cat" / "0000-link.png")  # an image that is a link
    # links that stay inside the projects folder: only the "never follow a link" rule refuses these
    os.symlink(root / p, root / "link-in")
    os.symlink(root / p / "cat", root / p / "innerc")
    meta["classes"].append({"id": "innerc", "name": "inner"})
    (root / p / "project.json").write_text(json.dumps(meta))
    os.symlink(root / p / "cat" / f"{i}.png", root / p / "cat" / "0000-inner.png")
    return {"p": p, "c": "cat", "i": i, "r": "r1", "kind": "run.zip", "tmp": tmp_path}


BAD_IDS = ["..", "%2e%2e", "%2E%2E%2F%2E%2E%2Fetc", "..%2f..%2foutside%2fvictim", "%2Fetc%2Fpasswd", "%00",
           "cat%00", "cat%00.png", "..%5c..%5coutside", "C:%5CWindows", "cat:stream", "cat::$DATA", "CAT",
           "a" * 65, ".", "%20cat", "cat%0A", "~root", "project.json"]
LINKS = {"p": ["link-1", "link-in"], "c": ["evilc", "innerc"], "i": ["0000-link", "0000-inner"]}


def id_routes():
    """(path, method, id parameter) for every route that takes an id, backend-B's training routes included."""
    routes = create_app(tempfile.mkdtemp()).routes
    return [(r.path, m, name) for r in routes if isinstance(r, Route) for m in sorted(r.methods - {"HEAD"})
            for name in r.param_convertors]


@pytest.mark.parametrize("path,method,param", id_routes())
def test_every_id_in_every_route_refuses_traversal_and_links_and_touches_nothing(app, world, path, method, param):
    before = tree(world["tmp"])
    body = b'{"name": "x", "source": "digits", "mode": "quick"}'
    failures = []
    for bad in BAD_IDS + LINKS.get(param, []):
        url = path
        for name in [n for n in ("p", "r", "c", "i", "kind") if f"{{{n}}}" in path] + [param]:
            url = url.replace(f"{{{name}}}", bad if name == param else world.get(name, "x"))
        status, content = call(app, method, url + ("?confirm=Pets" if method == "DELETE" else ""), body)
        if status not in (400, 404) or b"Traceback" in content:
            failures.append(f"{method} {url} -> {status} {content[:120]!r}")
    assert failures == []
    assert tree(world["tmp"]) == before


def test_links_inside_the_project_are_never_listed_exported_or_followed(client, world):
    p = world["p"]
    assert [x["id"] for x in client.get("/api/projects").json()] == [p]
    listed = client.get(f"/api/projects/{p}/classes/cat/images").json()
    assert [x["id"] for x in listed] == [world["i"]]
    os.symlink(world["tmp"] / "outside" / "victim" / "project.json", world["tmp"] / "projects" / p / "runs" / "r1" /
               "secret.md")
    z = zipfile.ZipFile(io.BytesIO(client.get(f"/api/projects/{p}/export.zip?runs=1").content))
    assert not [n for n in z.namelist() if "link" in n or "secret" in n or "evilc" in n or "inner" in n]
    assert b"Victim" not in b"".join(z.read(n) for n in z.namelist())


@pytest.mark.parametrize("bad", ["..", "../outside/victim", "/etc", "link-1", "a\x00b", 5])
def test_the_preview_refuses_bad_project_ids_in_the_body(client, world, bad):
    r = client.post("/api/augment/preview", json={"spec": "flip", "project": bad})
    assert r.status_code == 404


def test_an_access_code_guards_every_request(tmp_path):
    app = create_app(tmp_path / "projects", access_code=CODE)
    client = TestClient(app, base_url=BASE, headers={"Origin": BASE})
    for path in ("/api/projects", "/api/info", "/static/app.js", "/vendor/ort/ort.wasm.min.mjs"):
        assert client.get(path).status_code == 401, path
    assert "access code" in client.get("/api/projects").json()["error"]
    page = client.get("/")
    assert page.status_code == 401 and 'name="code"' in page.text  # a form to type the code
    assert client.get("/?code=wrong-code-1").status_code == 401
    assert client.post("/api/projects", json={"name": "x"}).status_code == 401
    r = client.get(f"/?code={CODE}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"  # the code leaves the address bar
    cookie = r.headers["set-cookie"]
    assert f"cnnlab_code={CODE}" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert client.get("/api/projects").status_code == 200  # the cookie now
    fresh = TestClient(app, base_url="http://192.168.1.20:8321")  # a classroom computer, with the code header
    assert fresh.get("/api/projects", headers={"X-Access-Code": CODE}).status_code == 200
    assert fresh.get(f"/api/info?code={CODE}").status_code == 200
    assert fresh.get("/api/info", headers={"X-Access-Code": CODE + "x"}).status_code == 401


@pytest.mark.parametrize("code", ["", "short", "has space 123", "x" * 129, "ünïcode-code", 12345678])
def test_weak_or_unsafe_access_codes_are_refused(tmp_path, code):
    with pytest.raises(ConfigError, match="access_code"):
        create_app(tmp_path, access_code=code)


def test_another_host_without_an_access_code_does_not_start(tmp_path):
    with pytest.raises(ConfigError, match="--access-code") as e:
        run_studio("0.0.0.0", 0, tmp_path / "projects")
    assert "host='0.0.0.0'" in str(e.value)
    assert not (tmp_path / "projects").exists()  # refused before anything was made


def test_a_port_in_use_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        with pytest.raises(CnnlabError, match="already in use"):
            run_studio("127.0.0.1", s.getsockname()[1], tmp_path / "projects")


def test_without_a_code_only_loopback_host_names_are_answered(app):
    assert TestClient(app, base_url="http://localhost:8321").get("/api/projects").status_code == 200
    assert TestClient(app, base_url="http://[::1]:8321").get("/api/projects").status_code == 200
    rebound = TestClient(app, base_url="http://attacker.example:8321").get("/api/projects")
    assert rebound.status_code == 403 and "answers only at http://127.0.0.1" in rebound.json()["error"]


@pytest.mark.parametrize("origin", [None, "http://evil.example", "null", "http://127.0.0.1:9999",
                                    "https://127.0.0.1:8321", "http://127.0.0.1:8321.evil.example"])
def test_state_changing_requests_need_the_studios_own_origin(app, origin):
    client = TestClient(app, base_url=BASE, headers={"Origin": origin} if origin else {})
    friend = TestClient(app, base_url=BASE, headers={"Origin": BASE})
    p = friend.post("/api/projects", json={"name": "Pets"}).json()["id"]
    before = tree(app.state.projects_dir)
    for method, url, kw in [("POST", "/api/projects", {"json": {"name": "x"}}),
                            ("PATCH", f"/api/projects/{p}", {"json": {"name": "y"}}),
                            ("DELETE", f"/api/projects/{p}?confirm=Pets", {}),
                            ("POST", f"/api/projects/{p}/classes", {"json": {"name": "c"}})]:
        r = client.request(method, url, **kw)
        assert r.status_code == 403 and "own page" in r.json()["error"], (method, url)
    assert tree(app.state.projects_dir) == before
    assert client.get(f"/api/projects/{p}").status_code == 200  # reading needs no Origin


@pytest.fixture
def small(tmp_path):
    """A studio with small limits: 1 MB per upload, 0.5 MB per file, 3 files; a project with class cat."""
    app = create_app(tmp_path / "projects", max_upload_mb=1, max_file_mb=0.5, max_files=3)
    client = TestClient(app, base_url=BASE, headers={"Origin": BASE})
    p = client.post("/api/projects", json={"name": "P"}).json()["id"]
    client.post(f"/api/projects/{p}/classes", json={"name": "cat"})
    return app, client, f"/api/projects/{p}/classes/cat/images", app.state.projects_dir / p / "cat"


def test_uploads_over_the_size_or_count_limit_answer_413_and_store_nothing(small):
    app, client, url, folder = small
    big = [("files", (f"{i}.png", bytes(400_000), "image/png")) for i in range(3)]  # 1.2 MB in all
    r = client.post(url, files=big)
    assert r.status_code == 413 and "limit of 1 MB per upload" in r.json()["error"]
    many = [("files", (f"{i}.png", png(), "image/png")) for i in range(4)]
    r = client.post(url, files=many)
    assert r.status_code == 413 and "at most 3 files per upload" in r.json()["error"]
    boundary = "b0undary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    chunks = [head] + [b"x" * 300_000] * 4  # no Content-Length: counted while it is read
    status, content = call(app, "POST", url, headers={"content-type": f"multipart/form-data; boundary={boundary}",
                                                      "transfer-encoding": "chunked"}, chunks=chunks)
    assert status == 413 and b"limit of 1 MB" in content
    assert list(folder.iterdir()) == []


def test_one_file_over_the_file_limit_is_refused_with_the_reason(small):
    _, client, url, folder = small
    noisy = np.random.default_rng(0).integers(0, 255, (450, 450, 3), dtype=np.uint8)  # ~600 KB as PNG
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "PNG")
    out = client.post(url, files=[("files", ("big.png", buf.getvalue(), "image/png")),
                                  ("files", ("ok.png", png(), "image/png"))]).json()
    assert len(out["added"]) == 1 and "more than the limit of 0.5 MB per file" in out["refused"][0]["reason"]


def png_claiming(w, h):
    """A tiny PNG whose header claims w x h pixels (its data is a few bytes): refused from the header alone."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    head = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(bytes(64))) + chunk(b"IEND", b"")


def test_bombs_and_non_images_are_refused_before_anything_is_stored(client, world):
    bomb = io.BytesIO()
    Image.new("1", (7500, 7500)).save(bomb, "PNG")  # 56 million pixels in a few KB
    assert len(bomb.getvalue()) < 100_000
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as z:
        for n in range(2001):
            z.writestr(f"cat/{n}.png", b"")
    files = {"bomb.png": bomb.getvalue(), "claims.png": png_claiming(100_000, 100_000),
             "page.png": b"<html><script>alert(1)</script></html>",
             "drawing.png": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
             "many.zip": many.getvalue(), "empty.jpg": b""}
    url = f"/api/projects/{world['p']}/classes/cat/images"
    before = tree(world["tmp"])
    out = client.post(url, files=[("files", (n, b, "image/png")) for n, b in files.items()]).json()
    reasons = {r["file"]: r["reason"] for r in out["refused"]}
    assert out["added"] == [] and sorted(reasons) == sorted(files)
    assert "more than the limit of 50,000,000" in reasons["bomb.png"]
    assert "too many pixels" in reasons["claims.png"]  # Pillow's own check: the header claims 10 billion
    assert "2,001 files, more than the limit of 2,000" in reasons["many.zip"]
    assert "not an image" in reasons["page.png"] and "not an image" in reasons["drawing.png"]
    assert tree(world["tmp"]) == before


def test_names_on_disk_come_from_the_server_and_bytes_are_encoded_again(client, world):
    exif = Image.Exif()
    exif[0x8825] = {2: (1.0, 2.0, 3.0)}  # GPS position: must not be kept
    jpeg = png(fmt="JPEG", exif=exif.tobytes())
    hostile = ["../../../outside/evil.png", "/etc/cron.d/evil.png", "C:\\evil.png", "cat:evil.png", "evil.svg.png"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("../../../../outside/zipevil.png", png())
    files = [("files", (n, jpeg, "image/jpeg")) for n in hostile] + [("files", ("x.zip", zipped.getvalue(), "a/b"))]
    before = {p for p in tree(world["tmp"]) if "/projects/" not in p}
    out = client.post(f"/api/projects/{world['p']}/classes/cat/images", files=files).json()
    assert len(out["added"]) == 6 and out["refused"] == []
    assert {p for p in tree(world["tmp"]) if "/projects/" not in p} == before  # nothing new outside
    folder = world["tmp"] / "projects" / world["p"] / "cat"
    for image in out["added"]:
        stored = folder / f"{image['id']}.jpg" if (folder / f"{image['id']}.jpg").exists() else folder / \
            f"{image['id']}.png"
        assert "evil" not in stored.name and stored.read_bytes() != jpeg
        assert 0x8825 not in Image.open(stored).getexif()


def test_folder_import_reads_folders_only_and_is_off_for_other_hosts(client, tmp_path):
    r = client.post("/api/projects/import", json={"path": "/etc/passwd"})
    assert r.status_code == 400 and "not a folder" in r.json()["error"] and "root:" not in r.text
    remote = create_app(tmp_path / "p2", allow_folder_import=False)
    (tmp_path / "src" / "cat").mkdir(parents=True)
    (tmp_path / "src" / "cat" / "1.png").write_bytes(png())
    web = TestClient(remote, base_url=BASE, headers={"Origin": BASE})
    assert web.get("/api/info").json()["folder_import"] is False  # the page can hide the folder field
    r = web.post("/api/projects/import", json={"path": str(tmp_path / "src")})
    assert r.status_code == 403 and "upload a zip" in r.json()["error"]
    assert list((tmp_path / "p2").iterdir()) == []


def test_a_failed_write_leaves_no_file_behind(app, world, monkeypatch):
    folder = world["tmp"] / "projects" / world["p"] / "cat"
    before = sorted(folder.iterdir())

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("cnnlab.studio.meta.os.fsync", disk_full)
    with pytest.raises(OSError):
        gallery.add_pixels(app.state.store, world["p"], "cat", np.zeros((8, 8), np.uint8))
    assert sorted(folder.iterdir()) == before  # neither the image nor its temporary file


def test_security_headers_are_on_every_answer(client):
    for path in ("/", "/api/info", "/api/nope"):
        h = client.get(path).headers
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert "default-src 'self'" in h["content-security-policy"] and "frame-ancestors 'none'" in \
            h["content-security-policy"]
    assert client.get("/api/info").headers["cache-control"] == "no-store"


def raw_get(port, target):
    """Send a request line exactly as written (no client normalizes it) and return the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode())
        return int(s.recv(100).split()[1])


def test_an_acknowledged_image_survives_kill_9_of_the_server(tmp_path):
    projects = tmp_path / "projects"
    code = f"from cnnlab.studio.server import run_studio; run_studio('127.0.0.1', 0, {str(projects)!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("cnnlab studio: open http://127.0.0.1:"), line + proc.stderr.read()
        base = line.split("open ")[1].strip().rstrip("/")
        port = int(base.rsplit(":", 1)[1])
        with httpx.Client(base_url=base, headers={"Origin": base}, timeout=30) as web:
            p = web.post("/api/projects", json={"name": "Kill"}).json()["id"]
            web.post(f"/api/projects/{p}/classes", json={"name": "cat"})
            pixels = np.random.default_rng(1).integers(0, 255, (64, 48, 3), dtype=np.uint8)
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, "PNG")
            r = web.post(f"/api/projects/{p}/classes/cat/images", files={"files": ("x.png", buf.getvalue())})
            assert r.status_code == 200
            i = r.json()["added"][0]["id"]
            proc.send_signal(signal.SIGKILL)  # no clean shutdown, no chance to flush anything
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert np.array_equal(load_image(projects / p / "cat" / f"{i}.png"), pixels)
    assert json.loads((projects / p / "project.json").read_text())["classes"] == [{"id": "cat", "name": "cat"}]
    assert port > 0


def test_the_real_server_refuses_raw_traversal(tmp_path):
    code = f"from cnnlab.studio.server import run_studio; run_studio('127.0.0.1', 0, {str(tmp_path / 'p')!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline().split("open ")[1].strip().rstrip("/").rsplit(":", 1)[1])
        for target in ("/api/projects/../../../etc/passwd", "/api/projects/..%2f..%2fetc/export.zip",
                       "/static/../../../../etc/passwd", "/static/%2e%2e/%2e%2e/app.py", "/vendor/ort/../../errors.py"):
            assert raw_get(port, target) in (400, 404), target
        assert raw_get(port, "/api/info") == 200
    finally:
        proc.kill()
        proc.wait()
