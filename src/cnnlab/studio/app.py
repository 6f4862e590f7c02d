"""The studio as an ASGI application: routes, the gate (:mod:`cnnlab.studio.guard`), JSON errors, the page.

Every error reaches the browser as ``{"error": "one plain sentence"}`` with a 4xx status: a
:class:`cnnlab.errors.CnnlabError` with its own message (404 for things that do not exist, 409 for
clashes, 413 for uploads over the limits, 400 for the rest), and 404/405 for addresses and methods
the studio does not have. A bug answers 500 with a sentence pointing at the terminal; its traceback
is logged there, never sent to the browser.

    /               the page (studio/static/index.html)
    /static/*       its scripts and styles; /static/pixels.js is the web demo's (cnnlab/deploy/web/pixels.js),
                    so the page and an exported demo fit pictures to the model with the very same code
    /vendor/ort/*   onnxruntime-web, shipped in cnnlab/assets (predictions run in the browser)
    /api/*          :mod:`cnnlab.studio.api` and the training routes of :mod:`cnnlab.studio.runs_api`
    /api/learn/*    the lecture pages' computations, :mod:`cnnlab.studio.lab`
    /api/experiments*  the claims of the lecture tested, :mod:`cnnlab.studio.experiments`

>>> import tempfile
>>> from starlette.testclient import TestClient
>>> client = TestClient(create_app(tempfile.mkdtemp()), base_url="http://127.0.0.1:8321")
>>> client.get("/api/projects").json()
[]
>>> client.post("/api/projects", json={"name": "Pets"}).status_code  # no Origin header: maybe another site
403
>>> client.post("/api/projects", json={"name": "Pets"}, headers={"Origin": "http://127.0.0.1:8321"}).status_code
201
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import os
import re
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.studio.api import routes as api_routes
from cnnlab.studio.experiments import routes as experiment_routes
from cnnlab.studio.experiments import shutdown as experiment_shutdown
from cnnlab.studio.guard import Guard
from cnnlab.studio.lab import routes as lab_routes
from cnnlab.studio.lab.builder import shutdown as builder_shutdown
from cnnlab.studio.runs_api import routes as run_routes
from cnnlab.studio.runs_api import shutdown as run_shutdown
from cnnlab.studio.store import Store
from cnnlab.studio.uploads import Limits

log = logging.getLogger("cnnlab.studio")
STATIC = Path(__file__).parent / "static"
ORT = Path(__file__).parent.parent / "assets" / "onnxruntime-web"
PIXELS = Path(__file__).parent.parent / "deploy" / "web" / "pixels.js"  # Pillow's crop/pad/resize, in JavaScript
CODE_PATTERN = re.compile(r"[A-Za-z0-9._~-]{8,128}")
PLACEHOLDER = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>cnnlab studio</title></head>"
               "<body><h1>cnnlab studio</h1><p>The page is not installed (studio/static/index.html is missing); "
               "the API answers at <a href=\"/api/info\">/api/info</a>.</p></body></html>")
mimetypes.add_type("text/javascript", ".mjs")  # module scripts are refused under a wrong type (nosniff)
mimetypes.add_type("application/wasm", ".wasm")  # streaming WebAssembly compilation needs this type


def create_app(projects_dir: str | os.PathLike, access_code: str | None = None, max_upload_mb: float = 200,
               max_files: int = 2000, max_file_mb: float = 25, allow_folder_import: bool = True) -> Starlette:
    """The studio application.

    Args:
        projects_dir: the folder that holds the projects (created if missing).
        access_code: a code every request must carry (8 to 128 letters, digits, ``._~-``), or None:
            then only requests to 127.0.0.1 / localhost are answered.
        max_upload_mb: the largest request (one upload of many files, or one zip), in MB.
        max_files: files in one upload, and files inside one zip.
        max_file_mb: the largest image file, in MB.
        allow_folder_import: whether ``POST /api/projects/import`` may read a folder of the
            server's disk (:func:`cnnlab.studio.server.run_studio` allows it only on 127.0.0.1).

    Returns:
        A Starlette app; ``app.state.store`` is its :class:`cnnlab.studio.store.Store`, and
        ``app.state.projects_dir`` the projects folder (resolved).

    Raises:
        ConfigError: an access code or limit that is not allowed.
    """
    if access_code is not None and not (isinstance(access_code, str) and CODE_PATTERN.fullmatch(access_code)):
        raise ConfigError("access_code", "***", "8 to 128 letters, digits or . _ ~ - (no spaces)",
                          hint="make one up, e.g. pick four words: blue-river-42-lamp")
    limits = Limits(max_upload_mb=max_upload_mb, max_file_mb=max_file_mb, max_files=max_files)
    routes = [*api_routes, *run_routes, *lab_routes, *experiment_routes,
              Route("/", index, methods=["GET"]),
              Route("/static/pixels.js", pixels_js, methods=["GET"]),  # before the mount, which would not find it
              Mount("/static", StaticFiles(directory=STATIC, check_dir=False), name="static"),
              Mount("/vendor/ort", StaticFiles(directory=ORT, check_dir=False), name="ort")]
    handlers = {CnnlabError: cnnlab_error, HTTPException: http_error, Exception: server_error}
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        run_shutdown(app)  # running training jobs stop resumably (checkpoint saved) when the studio stops
        builder_shutdown(app)  # and so do the network builder's
        experiment_shutdown(app)  # an experiment keeps the trials it finished

    app = Starlette(routes=routes, exception_handlers=handlers, lifespan=lifespan,
                    middleware=[Middleware(Guard, access_code=access_code, max_body=int(max_upload_mb * 2**20))])
    app.state.store = Store(projects_dir, limits)
    app.state.projects_dir = app.state.store.root  # resolved; the training routes resolve their ids under it
    app.state.allow_folder_import = allow_folder_import
    return app


async def index(request):
    """The studio's page, or a short placeholder when the page is not installed."""
    page = STATIC / "index.html"
    if page.is_file():
        return FileResponse(page, media_type="text/html", headers={"cache-control": "no-cache"})
    return HTMLResponse(PLACEHOLDER)


async def pixels_js(request):
    """The web demo's ``pixels.js``, which the page's Try it imports to prepare each picture."""
    return FileResponse(PIXELS, media_type="text/javascript")


async def cnnlab_error(request, exc: CnnlabError) -> JSONResponse:
    """A mistake the user can fix: its own message, status from the error (400 unless it says)."""
    return JSONResponse({"error": str(exc)}, status_code=getattr(exc, "status", 400))


async def http_error(request, exc: HTTPException) -> JSONResponse:
    """404 and 405 (and Starlette's other HTTP errors) as plain sentences."""
    if exc.status_code == 404:
        message = f"there is nothing at {request.url.path[:200]}; check the address"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed at {request.url.path[:200]}"
    else:
        message = str(exc.detail)
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


async def server_error(request, exc: Exception) -> JSONResponse:
    """A bug: logged with its traceback on the server, one sentence to the browser."""
    log.error("error in %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"error": "something went wrong inside the studio (a bug); the details are in the terminal "
                                  "where cnnlab studio runs"}, status_code=500)
