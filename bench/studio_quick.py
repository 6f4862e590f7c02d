"""The studio's Quick training, from the click to the results: a 3-class, 60-photo webcam-like project.

    CNNLAB_HOME=$(mktemp -d) .venv/bin/python bench/studio_quick.py [-v]   (an empty cache: a project's first run)

It times POST /train -> the event stream's final status -> GET the run's results, through the studio's real
app, twice: the first run (cold: photos decoded, features computed) and a second run of the same project
(features cached). -v prints every event with its time. Results: docs/benchmarks.md ("Studio").
"""
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("CNNLAB_HOME", tempfile.mkdtemp())  # never the user's own cache

import numpy as np
from PIL import Image
from starlette.testclient import TestClient

from cnnlab.studio.app import create_app

BASE = "http://127.0.0.1:8321"
root = Path(tempfile.mkdtemp())
app = create_app(root)
c = TestClient(app, base_url=BASE, headers={"Origin": BASE})
p = c.post("/api/projects", json={"name": "Webcam bench"}).json()["id"]
g = np.random.default_rng(0)
for k, name in enumerate(("rock", "paper", "scissors")):
    cid = c.post(f"/api/projects/{p}/classes", json={"name": name}).json()["id"]
    files = []
    for i in range(20):  # 640x480 webcam frames as JPEG: a coloured shape that moves, on a noisy room
        img = g.integers(60, 200, size=(480, 640, 3)).astype(np.uint8)
        y, x = 120 + 10 * i, 160 + 12 * i
        img[y:y + 200, x:x + 200] = [(200, 50, 50), (50, 200, 50), (50, 50, 200)][k]
        buf = tempfile.SpooledTemporaryFile()
        Image.fromarray(img).save(buf, format="JPEG", quality=85)
        buf.seek(0)
        files.append(("files", (f"frame{i}.jpg", buf.read(), "image/jpeg")))
    r = c.post(f"/api/projects/{p}/classes/{cid}/images", files=files)
    assert r.status_code in (200, 201), r.text
for label in ("first run (cold)", "second run (warm)"):
    t0 = time.perf_counter()
    r = c.post(f"/api/projects/{p}/train", json={"mode": "quick"})
    assert r.status_code == 201, r.text
    run = f"/api/projects/{p}/runs/{r.json()['run']}"
    t_first = None
    with c.stream("GET", run + "/events") as s:
        for line in s.iter_lines():
            if line.startswith("data: "):
                e = json.loads(line[6:])
                if e["event"] == "started" and t_first is None:
                    t_first = time.perf_counter() - t0
                if "-v" in sys.argv and e["event"] != "batch":
                    print(f"   {time.perf_counter() - t0:6.2f} {e['event']} {e.get('stage', '')} {e.get('done', '')} "
                          f"{e.get('epoch', '')} {str(e.get('text', ''))[:60]}")
                if e["event"] == "status":
                    break
    res = c.get(run).json()
    t = time.perf_counter() - t0
    print(f"{label}: {t:.1f} s from click to results (engine started after {t_first:.1f} s); "
          f"status {res['status']}, test accuracy {res['metrics']['accuracy']:.0%} "
          f"on {sum(map(sum, res['confusion']))} test images, "
          f"train_seconds {res['meta']['metrics']['train_seconds']}", flush=True)
    onnx = root / p / "runs" / run.rsplit("/", 1)[1] / "model.onnx"  # exported in the background for Try it
    while not onnx.is_file():
        time.sleep(0.1)
    print(f"  model.onnx for Try it ready {time.perf_counter() - t0:.1f} s after the click", flush=True)
sys.exit(0)
