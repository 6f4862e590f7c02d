"""Routes of the lecture page 8. Transfer learning: the backbone as blocks, frozen vs trained.

    GET /api/learn/transfer/model?classes=K   EfficientNet-Lite0 part by part for 224x224 input, and what
                                              trains with 0..7 stages fine-tuned
                                              (:func:`cnnlab.learn.lab.transfer.architecture`)
    GET /api/learn/transfer/kernels           {"kernels": (32, 3, 3, 3)} learned on ImageNet,
                                              or {"kernels": null, "why"}
    GET /api/learn/transfer/projects          [{"id", "name", "images", "classes", "quick": timings of its last
                                              finished Quick run or null}]: where the page's "Train" button leads
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.errors import CnnlabError, ConfigError, PretrainedError
from cnnlab.files import read_json
from cnnlab.learn.lab.transfer import architecture, stem_kernels
from cnnlab.studio.lab.common import json_response
from cnnlab.studio.runs_api import manager


def _classes(request) -> int:
    value = request.query_params.get("classes", "2")
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or not 2 <= number <= 1000:
        raise ConfigError("classes", value, "a whole number from 2 to 1000")
    return number


async def model(request):
    """GET /api/learn/transfer/model: the real model's parts, sizes and shapes (built once, then cached)."""
    classes = _classes(request)
    return json_response(await run_in_threadpool(architecture, classes))


async def kernels(request):
    """GET /api/learn/transfer/kernels: the pretrained first-layer kernels, when the weights are installed."""
    def work():
        try:
            return {"kernels": stem_kernels()}
        except PretrainedError as e:
            return {"kernels": None, "why": str(e)}

    return json_response(await run_in_threadpool(work))


def last_quick(app, project_dir) -> dict | None:
    """Timings of a project's newest finished Quick run (from its model.json), or None.

    Returns:
        ``{"run", "features_seconds": passing every photo through the frozen backbone, "head_seconds": training
        the new classifier on those features, "test_accuracy"}``.
    """
    for row in manager(app).list_runs(project_dir):
        if row["status"] == "finished" and row.get("mode") == "quick":
            try:
                meta = read_json(project_dir / "runs" / row["id"] / "model.json")
            except CnnlabError:
                continue
            t = meta.get("timings") or {}
            features, both = t.get("features_seconds"), t.get("head_seconds")  # head_seconds counts both steps
            head = round(both - features, 2) if features is not None and both is not None else None
            return {"run": row["id"], "features_seconds": features, "head_seconds": head,
                    "test_accuracy": row.get("test_accuracy")}
    return None


async def projects(request):
    """GET /api/learn/transfer/projects: the studio's projects, for the "Train your project with Quick" button."""
    store = request.app.state.store

    def work():
        return [{"id": s["id"], "name": s["name"], "images": s["images"], "classes": len(s["classes"]),
                 "quick": last_quick(request.app, store.project_dir(s["id"]))} for s in store.list_projects()]

    return json_response(await run_in_threadpool(work))


routes: list = [
    Route("/api/learn/transfer/model", model, methods=["GET"]),
    Route("/api/learn/transfer/kernels", kernels, methods=["GET"]),
    Route("/api/learn/transfer/projects", projects, methods=["GET"]),
]
