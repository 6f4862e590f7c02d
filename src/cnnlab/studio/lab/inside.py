"""Routes of the lecture page 9. Inside your model: first-layer kernels, feature maps, Grad-CAM.

    GET  /api/learn/inside/runs   every finished run of every studio project, newest first:
                                  [{"project", "project_name", "run", "created", "mode", "test_accuracy"}]
    POST /api/learn/inside/look   {"project", "run", "image", "target"?: class number}
                                  -> :func:`cnnlab.learn.lab.inside.look_inside`, with pictures packed as
                                     {"shape", "max", "data": base64 uint8} (value = byte / 255 * max)

A run's model is loaded from model.safetensors (never a pickle) once and kept for the next requests
(the last two runs), and so are the last pictures it looked at and their Grad-CAMs; one request works on a
model at a time (Grad-CAM puts hooks on it).
"""

from __future__ import annotations

import base64
import threading
from collections import OrderedDict

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.errors import ConfigError, RunError
from cnnlab.learn.lab.inside import explain_class, see
from cnnlab.studio.lab.common import BadRequest, json_response, lab_image
from cnnlab.studio.lab.common import read_json as read_body
from cnnlab.studio.runs_api import manager
from cnnlab.studio.safety import safe_child
from cnnlab.training.rundir import load_model

KEEP_MODELS = 2
KEEP_LOOKS = 16  # pictures seen (and Grad-CAMs made) kept: choosing another class or going back is instant
_models: OrderedDict = OrderedDict()  # (run folder, weights mtime) -> (model, meta)
_seen: OrderedDict = OrderedDict()  # (model key, image id) -> see()'s answer
_cams: OrderedDict = OrderedDict()  # (model key, image id, target) -> explain_class()'s answer
_lock = threading.Lock()


def _kept(cache: OrderedDict, key, make):
    """``cache[key]``, made by ``make()`` when missing; the oldest of more than ``KEEP_LOOKS`` is forgotten."""
    if key not in cache:
        cache[key] = make()
        while len(cache) > KEEP_LOOKS:
            cache.popitem(last=False)
    cache.move_to_end(key)
    return cache[key]


def finished_runs(app) -> list[dict]:
    """Every finished run of every project of the studio, newest first."""
    store = app.state.store
    rows = []
    for s in store.list_projects():
        for r in manager(app).list_runs(store.project_dir(s["id"])):
            if r["status"] == "finished":
                rows.append({"project": s["id"], "project_name": s["name"], "run": r["id"], "created": r["created"],
                             "mode": r["mode"], "test_accuracy": r["test_accuracy"]})
    return sorted(rows, key=lambda r: r["run"], reverse=True)


def run_model(app, project: str, run: str):
    """``(model, meta, key)`` of a finished run, loaded once (kept for the last ``KEEP_MODELS`` runs).

    Raises:
        NotFound: no such project or run. RunError: the run has no finished model.
    """
    run_dir = safe_child(app.state.projects_dir, project, "runs", run, what="run")
    weights = run_dir / "model.safetensors"
    if not (run_dir / "model.json").is_file() or not weights.is_file():
        raise RunError(f"run {run!r} has no finished model; pick a finished run, or train one on the Projects page")
    key = (str(run_dir), weights.stat().st_mtime_ns)
    model, meta = _kept(_models, key, lambda: load_model(run_dir))  # from model.safetensors: never a pickle
    while len(_models) > KEEP_MODELS:
        _models.popitem(last=False)
    return model, meta, key


def pack(values, top: float | None = None) -> dict:
    """Numbers as a picture for the page: ``{"shape", "max", "signed", "data": base64 of uint8}``.

    Non-negative numbers: byte = value / max * 255. With negative numbers (signed): byte = 128 + 127.5 * value /
    max, where max is the largest magnitude (as :func:`cnnlab.studio.lab.common.to_gray_png` draws them).

    >>> pack(np.array([[0.0, 2.0]]))["data"], pack(np.array([[-2.0, 2.0]]))["signed"]
    ('AP8=', True)
    """
    v = np.asarray(values, dtype=np.float64)
    signed = bool(v.size and v.min() < 0)
    top = float(np.abs(v).max()) if top is None else float(top)
    if signed:
        scaled = np.clip(np.rint(128 + 127.5 * v / (top or 1.0)), 0, 255).astype(np.uint8)
    else:
        scaled = np.clip(np.rint(v / (top or 1.0) * 255), 0, 255).astype(np.uint8)
    return {"shape": list(v.shape), "max": top, "signed": signed, "data": base64.b64encode(scaled.tobytes()).decode()}


async def runs(request):
    """GET /api/learn/inside/runs: the finished runs to pick from."""
    return json_response(await run_in_threadpool(finished_runs, request.app))


async def look(request):
    """POST /api/learn/inside/look: the run's model from the inside, for the page's picture."""
    data = await read_body(request)
    for key in ("project", "run"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise BadRequest(f'say which run to look at: "{key}" is missing (pick a run from the list)')
    target = data.get("target")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int)):
        raise ConfigError("target", target, "a class number (0 for the first class), or null for the predicted class")
    pixels = lab_image(request, data.get("image"))

    def work():
        image_id = str(data.get("image"))
        with _lock:
            model, meta, key = run_model(request.app, data["project"], data["run"])
            seen = _kept(_seen, (key, image_id), lambda: see(model, meta, pixels))
            out = {**seen, **_kept(_cams, (key, image_id, target), lambda: explain_class(model, seen, target))}
        accuracy = meta.get("metrics", {}).get("test_accuracy")
        pretrained = meta.get("pretrained_cfg") is not None
        return {
            "input": {"shape": list(out["input"].shape), "data": base64.b64encode(out["input"].tobytes()).decode()},
            "notes": out["notes"], "classes": out["classes"], "probs": out["probs"], "pred": out["pred"],
            "target": out["target"], "kernels": out["kernels"],
            "blocks": [dict(b, maps=pack(b["maps"])) for b in out["blocks"]],
            "cam": pack(out["cam"], 1.0) if out["cam"] is not None else None, "cam_layer": out["cam_layer"],
            "architecture": meta["architecture"]["name"], "pretrained": pretrained, "test_accuracy": accuracy,
        }

    return json_response(await run_in_threadpool(work))


routes: list = [
    Route("/api/learn/inside/runs", runs, methods=["GET"]),
    Route("/api/learn/inside/look", look, methods=["POST"]),
]
