"""The web demo (issue 13, item 5): the page, in a real browser, answers what ``cnnlab predict`` answers.

A tiny lecture CNN is trained once (Fashion-MNIST, 2 short epochs, fp32 so that PyTorch and the
exported fp32 graph compute the same numbers), exported with ``format="web"`` and served on
127.0.0.1. Debian's Chromium opens it (tests/browser.py):

- a photo through the file input: the page's model input equals ``prepare_image`` pixel for pixel
  (PNG), its probabilities are within 1e-4 of ``cnnlab.predict`` and it names the same top-1;
- pixels.js against Pillow on random pictures of every size, fit, filter and channel count;
- a fake webcam playing a .y4m video made from two test pictures: the live answers follow the pictures.
  The video is yuv420p, so a picture comes back from it a level or two off; gray test pictures that the
  model is sure about are chosen, so the answer cannot flip on such a change;
- nothing the page loads comes from anywhere but the demo's own server.

And without a browser: exporting refuses a folder holding other files, and the server serves only the
folder, with the right types, on 127.0.0.1, without PyTorch.
"""

import ast
import base64
import inspect
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from browser import chromium_fixture, launch_chromium, make_y4m, served, watch  # noqa: F401  (the chromium fixture)
from PIL import Image
from skimage import data as skdata

import cnnlab
from cnnlab.data.images import convert_mode, resize, to_chw
from cnnlab.deploy.export import export
from cnnlab.deploy.pipeline import prepare_image
from cnnlab.deploy.serve import serve, start_server
from cnnlab.deploy.webdemo import MARKER, check_demo_folder, demo_info, write_web_demo
from cnnlab.errors import CnnlabError, ConfigError

TOL = 1e-4
SRC = Path(cnnlab.__file__).parent


@pytest.fixture(scope="module")
def fm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("webdemo") / "run"
    cnnlab.train(data="fashion-mnist", out=out, epochs=2, per_class=50, progress=False,
                 model_args={"widths": [8, 16]}, precision="fp32")
    return out


@pytest.fixture(scope="module")
def demo_url(fm_run):
    folder = export(fm_run, format="web")
    assert folder == fm_run / "web"
    with served(folder) as url:
        yield url


@pytest.fixture(scope="module")
def demo_page(chromium, demo_url):
    page = chromium.new_page(viewport={"width": 1366, "height": 768})
    seen = watch(page)
    page.goto(demo_url)
    page.evaluate("window.cnnlabDemo.ready")
    assert page.evaluate("window.cnnlabDemo.error") is None
    yield page, seen
    seen.check(demo_url)
    page.close()


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    test = cnnlab.load_dataset("fashion-mnist", split="test")
    Image.fromarray(test.images[0, 0].numpy()).save(folder / "fm.png")  # 28x28 gray: goes in as it is
    cat = skdata.chelsea()  # 451x300 colour: cropped, resized and made gray
    Image.fromarray(cat).save(folder / "cat.png")
    Image.fromarray(cat).resize((1353, 900)).save(folder / "cat.jpg", quality=92)  # decoded at 1/8 (draft)
    return folder


def probabilities(run, path) -> dict[str, float]:
    rows, skipped = cnnlab.predict(run, [path], top_k=10, precision="fp32")
    assert not skipped
    return dict(rows[0]["top"])


def give_photo(page, path) -> dict:
    count = page.evaluate("window.cnnlabDemo.count")
    page.set_input_files("#file", str(path))
    page.wait_for_function(f"window.cnnlabDemo.count > {count}")
    return page.evaluate("window.cnnlabDemo.last")


# ---------------------------------------------------------------- (a) a photo, as cnnlab predict sees it


@pytest.mark.parametrize("name", ["fm.png", "cat.png"])
def test_a_photo_gets_the_same_pixels_and_answer_as_predict(fm_run, demo_page, demo_url, photos, name):
    page, seen = demo_page
    last = give_photo(page, photos / name)
    meta = json.loads((fm_run / "model.json").read_text())
    chw, _ = prepare_image(photos / name, meta)  # uint8 (C, H, W), as predict and evaluate see it
    assert last["shape"] == [1, *chw.shape]
    np.testing.assert_array_equal(np.array(last["input"], np.uint8).reshape(chw.shape), chw)
    want = probabilities(fm_run, photos / name)
    got = dict(zip(meta["classes"], last["probabilities"], strict=True))
    assert max(abs(got[c] - want[c]) for c in want) <= TOL
    top1 = max(want, key=want.get)
    assert last["top1"] == top1 and last["source"] == "file"
    answer = page.locator("#answer")
    assert answer.get_attribute("data-top1") == top1
    assert answer.inner_text().startswith(f"The model thinks: {top1} (")
    bars = page.locator("#bars li")
    assert bars.count() == 10 and bars.first.locator(".name").inner_text() == top1
    if name == "cat.png":  # a colour photo into a gray model: the page warns, as predict does
        assert "colour picture" in page.locator("#warning").inner_text()
        if os.environ.get("CNNLAB_SHOTS"):  # a picture of the page, to look at
            page.screenshot(path=str(Path(os.environ["CNNLAB_SHOTS"]) / "webdemo.png"))
    seen.check(demo_url)


def test_opened_straight_from_the_file_the_page_says_to_serve_it(chromium, fm_run, demo_url):
    page = chromium.new_page()
    page.goto((fm_run / "web" / "index.html").as_uri())
    assert "cnnlab serve" in page.locator("#answer").inner_text()
    assert page.locator("body").get_attribute("data-state") == "error"
    page.close()


def test_a_big_jpeg_is_shrunk_while_decoding_as_in_python(fm_run, demo_page, photos):
    # Python decodes big JPEGs at 1/2, 1/4 or 1/8 size (Pillow's draft mode); the page decodes the whole
    # photo and averages 8x8 blocks instead. Same steps, so the pixels agree to a level or so.
    page, _ = demo_page
    last = give_photo(page, photos / "cat.jpg")
    meta = json.loads((fm_run / "model.json").read_text())
    chw, _ = prepare_image(photos / "cat.jpg", meta)
    diff = np.abs(np.array(last["input"]).reshape(chw.shape) - chw.astype(int))
    assert diff.max() <= 3 and diff.mean() < 0.5, (diff.max(), diff.mean())
    want = probabilities(fm_run, photos / "cat.jpg")
    first, second = sorted(want.values())[-2:][::-1]
    assert first - second > 0.05  # a clear answer, so a level of difference cannot flip it
    assert last["top1"] == max(want, key=want.get)


def test_pixels_js_fits_pictures_exactly_as_pillow(demo_page):
    # every fit and filter a run can record, gray and colour models, odd sizes, shrinking and enlarging
    page, _ = demo_page
    g = np.random.default_rng(0)
    cases, wants = [], []
    for i in range(48):
        w, h, th, tw = (int(v) for v in g.integers([1, 1, 4, 4], [240, 240, 64, 64]))
        fit, resample, channels = ("crop", "pad", "stretch")[i % 3], ("bilinear", "bicubic", "nearest")[i // 3 % 3], \
            (1, 3)[i // 9 % 2]
        img = g.integers(0, 256, (h, w, 3), dtype=np.uint8)
        out = resize(img, (th, tw), fit=fit, resample=resample) if (h, w) != (th, tw) else img
        wants.append(to_chw(convert_mode(out, "gray" if channels == 1 else "rgb")))
        cases.append({"w": w, "h": h, "rgb": base64.b64encode(img.tobytes()).decode(),
                      "spec": {"channels": channels, "size": [th, tw], "fit": fit, "resample": resample}})
    got = page.evaluate("""async (cases) => {
        const { toModelInput } = await import("./pixels.js");
        return cases.map((c) => {
            const data = Uint8Array.from(atob(c.rgb), (ch) => ch.charCodeAt(0));
            return Array.from(toModelInput({ w: c.w, h: c.h, c: 3, data }, c.spec).data);
        });
    }""", cases)
    for case, want, mine in zip(cases, wants, got, strict=True):
        np.testing.assert_array_equal(np.array(mine, np.uint8).reshape(want.shape), want, err_msg=str(case["spec"]))


# ---------------------------------------------------------------- (b) the webcam, live


def clear_pictures(run, tmp_path, n=2):
    """Test pictures (x4, 112x112 gray PNGs) the model is sure about, of n different classes."""
    test = cnnlab.load_dataset("fashion-mnist", split="test")
    big = [np.kron(test.images[i, 0].numpy(), np.ones((4, 4), np.uint8)) for i in range(60)]  # (112, 112)
    rows, _ = cnnlab.predict(run, big, top_k=2, precision="fp32")
    order = sorted(range(len(rows)), key=lambda i: rows[i]["top"][1][1] - rows[i]["top"][0][1])  # biggest margin
    chosen, classes = [], set()
    for i in order:
        if rows[i]["top"][0][0] not in classes:
            classes.add(rows[i]["top"][0][0])
            chosen.append(tmp_path / f"clear{len(chosen)}.png")
            Image.fromarray(big[i]).save(chosen[-1])
        if len(chosen) == n:
            return chosen
    raise AssertionError("the model is not sure about pictures of two classes")


def test_the_webcam_is_classified_live_as_predict_does(fm_run, demo_url, playwright, tmp_path):
    pictures = clear_pictures(fm_run, tmp_path)
    tops = []
    for path in pictures:
        want = probabilities(fm_run, path)
        first, second = sorted(want.values())[-2:][::-1]
        assert first - second > 0.2, "not a clear picture: a level of camera noise could flip its answer"
        tops.append(max(want, key=want.get))
    video = make_y4m(pictures, tmp_path / "camera.y4m", seconds=1.5)
    browser = launch_chromium(playwright, y4m=video)
    try:
        page = browser.new_page()
        seen = watch(page)
        page.goto(demo_url)
        page.evaluate("window.cnnlabDemo.ready")
        page.click("#camera")
        for top in tops:  # the video shows one picture, then the other, and loops
            page.wait_for_function(f"window.cnnlabDemo.last && window.cnnlabDemo.last.source === 'camera' && "
                                   f"window.cnnlabDemo.last.top1 === {json.dumps(top)}", timeout=20_000)
        assert page.locator("#camera").inner_text() == "Stop camera"
        page.click("#camera")
        assert page.locator("#camera").inner_text() == "Start camera"
        assert page.evaluate("document.getElementById('video').srcObject") is None
        seen.check(demo_url)
    finally:
        browser.close()


# ---------------------------------------------------------------- (c) never mixed into other files


def test_export_refuses_a_folder_holding_other_files(fm_run, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "essay.txt").write_text("my homework")
    with pytest.raises(ConfigError, match="essay.txt") as info:
        export(fm_run, format="web", out=tmp_path / "mine")
    assert info.value.key == "out"
    assert sorted(p.name for p in (tmp_path / "mine").iterdir()) == ["essay.txt"]
    assert (tmp_path / "mine" / "essay.txt").read_text() == "my homework"
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="not a file"):
        export(fm_run, format="web", out=tmp_path / "file")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / MARKER).write_text('{"kind": "something else"}')
    with pytest.raises(ConfigError):
        check_demo_folder(tmp_path / "fake")


def test_an_earlier_web_demo_may_be_written_again(tmp_path):
    info = demo_info({"classes": '["a", "b"]', "input_size": "[8, 8]", "channels": "1"}, "pixels", "probabilities")
    folder = write_web_demo(tmp_path / "web", info, lambda p: p.write_bytes(b"first"))
    (folder / "notes.txt").write_text("mine")  # a file the user added
    write_web_demo(folder, info, lambda p: p.write_bytes(b"second"))
    assert (folder / "model.onnx").read_bytes() == b"second"
    assert (folder / "notes.txt").read_text() == "mine"
    assert json.loads((folder / MARKER).read_text())["classes"] == ["a", "b"]
    assert {"index.html", "demo.js", "pixels.js", "style.css", "ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs",
            "ort-wasm-simd-threaded.wasm"} <= {p.name for p in folder.iterdir()}


# ---------------------------------------------------------------- (d) the server


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "site"
    (root / "sub").mkdir(parents=True)
    (root / "index.html").write_text("<p>demo</p>")
    (root / "sub" / "notes.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("SECRET outside the folder")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    for name in ("a.mjs", "a.js", "a.wasm", "a.onnx", "a.json", "a.css"):
        (root / name).write_bytes(b"x")
    server, url = start_server(root)
    yield root, server, url
    server.shutdown()
    server.server_close()


def raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (browsers and urllib would tidy up the ..)."""
    host, port = url.split("//")[1].rstrip("/").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return int(reply.split(b" ", 2)[1]), reply


def test_the_server_sends_the_right_types(site):
    _, server, url = site
    assert server.server_address[0] == "127.0.0.1"
    assert inspect.signature(start_server).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
    types = {"a.mjs": "text/javascript", "a.js": "text/javascript", "a.wasm": "application/wasm",
             "a.onnx": "application/octet-stream", "a.json": "application/json", "a.css": "text/css",
             "": "text/html"}
    for name, kind in types.items():
        with urllib.request.urlopen(url + name) as reply:
            assert reply.headers["Content-Type"].split(";")[0] == kind, name


@pytest.mark.parametrize("path", ["/../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd",
                                  "/sub/../../secret.txt", "/%2e%2e/secret.txt", "/link.txt", "/sub/",
                                  "/nothing-here.js"])
def test_the_server_serves_nothing_outside_the_folder_and_lists_no_folder(site, path):
    _, _, url = site
    status, reply = raw_get(url, path)
    assert status == 404
    assert b"SECRET" not in reply and b"root:" not in reply and b"notes.txt" not in reply


def test_the_server_serves_files_inside_the_folder(site):
    _, _, url = site
    assert raw_get(url, "/sub/notes.txt")[1].endswith(b"inside")
    assert raw_get(url, "/sub/../index.html")[0] == 404  # no .. at all, even when it stays inside


def test_the_server_refuses_what_it_cannot_serve(tmp_path):
    with pytest.raises(CnnlabError, match="no index.html"):
        start_server(tmp_path)
    (tmp_path / "index.html").write_text("x")
    for port in (-1, 70000, "80", True):
        with pytest.raises(ConfigError):
            start_server(tmp_path, port=port)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(CnnlabError, match="already in use"):
            start_server(tmp_path, port=taken.getsockname()[1])


def test_serve_imports_only_the_standard_library_and_cnnlab_errors():
    tree = ast.parse((SRC / "deploy" / "serve.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module != "__future__"}
    outside = {n for n in names if n.split(".")[0] not in sys.stdlib_module_names and n != "cnnlab.errors"}
    assert not outside, f"serve.py must stay torch-free: {outside}"


def test_serve_runs_without_torch_and_stops_on_ctrl_c(site):
    # cnnlab/__init__.py imports torch; a deploy-only install must still serve. The child blocks torch and
    # imports cnnlab's modules without that __init__.
    root, _, _ = site
    code = (f"import sys, types; sys.modules['torch'] = None; pkg = types.ModuleType('cnnlab'); "
            f"pkg.__path__ = [{str(SRC)!r}]; sys.modules['cnnlab'] = pkg; "
            f"from cnnlab.deploy.serve import serve; serve({str(root)!r}, port=0)")
    def as_from_a_shell():  # Ctrl-C as a terminal delivers it, even when this suite was started in the background
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])

    child = subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=as_from_a_shell)
    try:
        first = child.stdout.readline()
        assert first.startswith(f"Serving {root.resolve()} at http://127.0.0.1:"), first + child.stderr.read()
        url = first.split(" at ")[1].strip()
        with urllib.request.urlopen(url) as reply:
            assert reply.read() == b"<p>demo</p>"
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=20)
    finally:
        child.kill()
    assert child.returncode == 0, err
    assert "Stopped." in out and "Traceback" not in err
