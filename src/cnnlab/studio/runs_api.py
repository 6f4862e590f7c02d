"""The studio's HTTP routes for training, live events, results and exports (``routes``, included by the app).

Every handler resolves ids with :func:`cnnlab.studio.safety.safe_child` under ``app.state.projects_dir``;
an id that is not a studio id, or names a link or nothing, is answered 404 before anything is touched.
Errors are ``{"error": "one plain sentence"}`` (400 for a bad option, with ``"field"`` naming the form's
field; 404 not found; 409 a run in the wrong state); never a traceback.

    POST   /api/projects/{p}/train                  {"mode", ...} -> 201 {"run", "status": "running"}
    GET    /api/projects/{p}/runs                   [{"id", "status", "mode", "created", "test_accuracy"}]
    GET    /api/projects/{p}/runs/{r}               results (see :func:`cnnlab.studio.results.results`)
    DELETE /api/projects/{p}/runs/{r}?confirm=1     {"deleted": r}
    GET    /api/projects/{p}/runs/{r}/events        text/event-stream of event dicts, last {"event": "status"}
    POST   /api/projects/{p}/runs/{r}/cancel|resume {"status"}
    GET    /api/projects/{p}/runs/{r}/cell?true=i&pred=j, /mistakes?limit=12, /gradcam/{c}/{i}.png
    GET    /api/projects/{p}/runs/{r}/images/{c}/{i}[?thumb=1]   an image the run was tested on
    GET    /api/projects/{p}/runs/{r}/model_card.md, /model.onnx, /export/{run.zip|model.onnx|web.zip|model_card.md}

>>> sorted({m for r in routes for m in r.methods})
['DELETE', 'GET', 'HEAD', 'POST']
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from pathlib import Path

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.studio.exports import KINDS, onnx_file, run_zip, web_zip
from cnnlab.studio.meta import read_meta
from cnnlab.studio.results import STUDIO, gradcam_png, image_rows, read_history, results, thumbnail_png
from cnnlab.studio.run_options import PAGE_NAMES, page_message, plain_error
from cnnlab.studio.run_records import past_events, run_info
from cnnlab.studio.runs import RunManager
from cnnlab.studio.safety import NotFound, check_id, safe_child, slug

log = logging.getLogger("cnnlab.studio")
KEEP_ALIVE = 15.0  # seconds between comment lines on a quiet event stream (proxies close silent ones)
POLL = 0.1  # seconds between looks at a live run's new events
_managers = threading.Lock()


def manager(app) -> RunManager:
    """The app's run manager (made on first use; one per app).

    >>> from starlette.applications import Starlette
    >>> app = Starlette()
    >>> manager(app) is manager(app)
    True
    """
    with _managers:
        mgr = getattr(app.state, "run_manager", None)
        if mgr is None:
            mgr = app.state.run_manager = RunManager()
    return mgr


def shutdown(app) -> None:
    """Stop the app's running jobs resumably; call it when the studio stops (e.g. from the app's lifespan)."""
    mgr = getattr(app.state, "run_manager", None)
    if mgr is not None:
        mgr.shutdown()


def _project(request: Request) -> tuple[Path, dict]:
    path = safe_child(request.app.state.projects_dir, request.path_params["p"], what="project")
    if not (path / "project.json").is_file() or (path / "project.json").is_symlink():
        raise NotFound(f"there is no project '{path.name}'; pick one from the list of projects")
    return path, read_meta(path)


def _run(request: Request) -> tuple[Path, Path]:
    project_dir, _ = _project(request)
    run_dir = safe_child(request.app.state.projects_dir, project_dir.name, "runs", request.path_params["r"],
                         what="run")
    if not run_dir.is_dir():
        raise NotFound(f"this project has no run '{run_dir.name}'; it may have been deleted")
    return project_dir, run_dir


def _folders(run_dir: Path) -> dict[str, str]:
    return run_info(run_dir).get("folders", {})


def _int(request: Request, key: str, low: int, high: int, default: int | None = None) -> int:
    value = request.query_params.get(key)
    try:
        number = int(value) if value is not None else default
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        raise ConfigError(key, value, f"a whole number from {low} to {high}")
    return number


def api(method: str, path: str, body: bool = False):
    """Register ``fn(request, body)`` as a route: runs it off the event loop, turns errors into JSON."""

    def wrap(fn):
        async def endpoint(request: Request):
            try:
                data = None
                if body:
                    try:
                        data = await request.json()
                    except (json.JSONDecodeError, UnicodeDecodeError):
                        raise ConfigError("body", "...", "JSON such as {\"mode\": \"quick\"}") from None
                return await run_in_threadpool(fn, request, data)
            except ConfigError as e:
                return JSONResponse({"error": page_message(e), "field": PAGE_NAMES.get(e.key, e.key)}, 400)
            except CnnlabError as e:
                return JSONResponse({"error": plain_error(str(e))}, getattr(e, "status", 400))
            except Exception:  # a bug: the details go to the studio's terminal, the page gets one sentence
                log.exception("%s %s", method, request.url.path)
                return JSONResponse({"error": "something went wrong inside cnnlab; the window running the studio "
                                              "shows the details (please report it)"}, 500)

        routes.append(Route(path, endpoint, methods=[method], name=fn.__name__))
        return fn

    return wrap


routes: list[Route] = []
RUN = "/api/projects/{p}/runs/{r}"


@api("POST", "/api/projects/{p}/train", body=True)
def train(request: Request, body):
    project_dir, meta = _project(request)
    return JSONResponse(manager(request.app).start(project_dir, meta, body), 201)


@api("GET", "/api/projects/{p}/runs")
def list_runs(request: Request, _):
    project_dir, _ = _project(request)
    return JSONResponse(manager(request.app).list_runs(project_dir))


@api("GET", RUN)
def run_results(request: Request, _):
    _, run_dir = _run(request)
    status, error = manager(request.app).status(run_dir)
    head = {"id": run_dir.name, "status": status, "mode": run_info(run_dir).get("mode"),
            **({"error": error} if error else {})}
    if status != "finished":
        classes = run_info(run_dir).get("classes", [])
        return JSONResponse({**head, "meta": None, "metrics": None, "history": read_history(run_dir),
                             "classes": classes, "confusion": None})
    return JSONResponse({**head, **results(run_dir, _folders(run_dir))})


@api("DELETE", RUN)
def delete_run(request: Request, _):
    _, run_dir = _run(request)
    if request.query_params.get("confirm") != "1":
        raise ConfigError("confirm", request.query_params.get("confirm"), "1",
                          hint="add ?confirm=1 to say that the run may be deleted for good")
    return JSONResponse(manager(request.app).delete(run_dir))


@api("POST", RUN + "/cancel")
def cancel(request: Request, _):
    _, run_dir = _run(request)
    return JSONResponse(manager(request.app).cancel(run_dir))


@api("POST", RUN + "/resume")
def resume(request: Request, _):
    project_dir, run_dir = _run(request)
    return JSONResponse(manager(request.app).resume(project_dir, run_dir))


def _sse(event: dict) -> str:
    return f"data: {json.dumps(event, default=str)}\n\n"


async def _stream(mgr: RunManager, run_dir: Path):
    """Every event of the run so far, then new ones as they come, ending with ``{"event": "status"}``."""
    quiet = time.monotonic()
    live = mgr.live(run_dir)
    if live is not None:
        last = -1
        while True:
            for seq, event in live.since(last):
                last = seq  # the next look starts after the last event sent
                yield _sse(event)
                quiet = time.monotonic()
                if event.get("event") == "status" and live.done:
                    return
            if time.monotonic() - quiet > KEEP_ALIVE:
                yield ": still training\n\n"
                quiet = time.monotonic()
            await asyncio.sleep(POLL)
    for event in past_events(run_dir):
        if event.get("event") != "status":
            yield _sse(event)
    while (status := mgr.status(run_dir))[0] == "running":  # a job started before the studio restarted
        await asyncio.sleep(1.0)
        if time.monotonic() - quiet > KEEP_ALIVE:
            yield ": still training\n\n"
            quiet = time.monotonic()
    yield _sse({"event": "status", "status": status[0], **({"error": status[1]} if status[1] else {})})


@api("GET", RUN + "/events")
def events(request: Request, _):
    _, run_dir = _run(request)
    return StreamingResponse(_stream(manager(request.app), run_dir), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@api("GET", RUN + "/cell")
def cell(request: Request, _):
    _, run_dir = _run(request)
    k = len(run_info(run_dir).get("classes", [])) or 1000
    true, pred = _int(request, "true", 0, k - 1), _int(request, "pred", 0, k - 1)
    return JSONResponse(image_rows(run_dir, _folders(run_dir), request.url.path.rsplit("/", 1)[0], true, pred))


@api("GET", RUN + "/mistakes")
def mistakes(request: Request, _):
    _, run_dir = _run(request)
    limit = _int(request, "limit", 1, 500, default=12)
    return JSONResponse(image_rows(run_dir, _folders(run_dir), request.url.path.rsplit("/", 1)[0], mistakes=True,
                                   limit=limit))


def _image(request: Request) -> tuple[Path, Path]:
    """The run folder and the file of image ``{c}/{i}`` among the photos the run trained and was tested on."""
    _, run_dir = _run(request)
    c, i = check_id(request.path_params["c"], "class"), check_id(request.path_params["i"], "image")
    folder = next((f for f, cid in _folders(run_dir).items() if cid == c), None)
    data = run_dir / STUDIO / "data"
    if folder is not None and Path(folder).name == folder and not folder.startswith("."):  # one plain name
        for ext in (".png", ".jpg"):
            path = data / folder / f"{i}{ext}"
            if path.is_file() and not any(q.is_symlink() for q in (path, path.parent, data, data.parent)):
                return run_dir, path
    raise NotFound(f"run {run_dir.name} has no image '{i}' in class '{c}'")


@api("GET", RUN + "/gradcam/{c}/{i}.png")
def gradcam(request: Request, _):
    run_dir, path = _image(request)
    return Response(gradcam_png(run_dir, path), media_type="image/png", headers={"Cache-Control": "max-age=3600"})


@api("GET", RUN + "/images/{c}/{i}")
def image(request: Request, _):
    _, path = _image(request)
    if request.query_params.get("thumb"):
        return Response(thumbnail_png(path), media_type="image/png", headers={"Cache-Control": "max-age=3600"})
    kind = "image/png" if path.suffix == ".png" else "image/jpeg"
    return Response(path.read_bytes(), media_type=kind, headers={"Cache-Control": "max-age=3600"})


def _card(run_dir: Path) -> Path:
    path = run_dir / "model_card.md"
    if not path.is_file() or path.is_symlink():
        raise NotFound(f"run {run_dir.name} has no model card yet: it is written when training finishes")
    return path


@api("GET", RUN + "/model_card.md")
def model_card(request: Request, _):
    _, run_dir = _run(request)
    return Response(_card(run_dir).read_text(encoding="utf-8"), media_type="text/markdown; charset=utf-8")


@api("GET", RUN + "/model.onnx")
def model_onnx(request: Request, _):
    _, run_dir = _run(request)
    return FileResponse(onnx_file(run_dir), media_type="application/octet-stream")


@api("GET", RUN + "/export/{kind}")
def export_kind(request: Request, _):
    project_dir, run_dir = _run(request)
    kind = request.path_params["kind"]
    if kind not in KINDS:
        raise NotFound(f"there is no export '{kind}'; choose one of {', '.join(KINDS)}")
    name = f"{slug(read_meta(project_dir)['name'], 'project')}-{run_dir.name}"
    if kind == "model_card.md":
        return FileResponse(_card(run_dir), media_type="text/markdown; charset=utf-8", filename=f"{name}-model_card.md")
    if kind == "model.onnx":
        return FileResponse(onnx_file(run_dir), media_type="application/octet-stream", filename=f"{name}.onnx")
    path = run_zip(run_dir, name) if kind == "run.zip" else web_zip(run_dir, f"{name}-web")
    return FileResponse(path, media_type="application/zip", filename=f"{name}{'' if kind == 'run.zip' else '-web'}.zip",
                        background=BackgroundTask(os.unlink, path))
