"""The studio's HTTP routes for projects, classes, images, samples and the augmentation preview.

Each handler reads the ids from the path, passes them to the store (which resolves every id through
:func:`cnnlab.studio.safety.safe_child`) and runs disk work in a worker thread, so training events
keep flowing while photos are decoded. Errors are raised as :class:`cnnlab.errors.CnnlabError` and
turned into ``{"error": ...}`` by :mod:`cnnlab.studio.app`. The list is in ``routes``.

>>> sorted({m for r in routes for m in r.methods} - {"HEAD"})
['DELETE', 'GET', 'PATCH', 'POST']
"""

from __future__ import annotations

import json
import os

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from cnnlab._version import __version__
from cnnlab.errors import CnnlabError
from cnnlab.studio import gallery, samples, transfer
from cnnlab.studio.preview import preview_png
from cnnlab.studio.safety import Forbidden, TooLarge, shown_filename, slug
from cnnlab.studio.store import Store

MAX_JSON = 1_000_000  # bytes of a JSON request body


class BadRequest(CnnlabError):
    """A request the studio cannot read (not JSON, a missing field): HTTP 400."""

    status = 400


def _store(request) -> Store:
    return request.app.state.store


async def read_json_body(request) -> dict:
    """The request's JSON object ({} for an empty body); 413 over MAX_JSON bytes, 400 when it is not an object."""
    body = await request.body()
    if len(body) > MAX_JSON:
        raise TooLarge(f"the request is {len(body):,} bytes; at most {MAX_JSON:,} are expected here")
    if not body:
        return {}
    try:
        data = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("the request is not valid JSON; send a JSON object") from None
    if not isinstance(data, dict):
        raise BadRequest("the request must be a JSON object")
    return data


async def _form(request, max_files: int):
    """The multipart form of an upload, with the studio's count limit (413) and readable errors (400)."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("send the files as multipart/form-data (the way a browser form uploads files)")
    try:
        parser = MultiPartParser(request.headers, request.stream(), max_files=max_files, max_fields=20,
                                 max_part_size=100_000)
        return await parser.parse()
    except MultiPartException as e:
        if "Too many files" in e.message:
            raise TooLarge(f"at most {max_files:,} files per upload; add them in smaller batches") from None
        raise BadRequest(f"the upload could not be read ({e.message})") from None


def _created(data) -> JSONResponse:
    return JSONResponse(data, status_code=201)


async def info(request):
    """GET /api/info: the version, the samples, the upload limits, and whether folder imports are allowed."""
    return JSONResponse({"version": __version__, "samples": samples.list_samples(),
                         "limits": _store(request).limits.as_dict(),
                         "folder_import": request.app.state.allow_folder_import})


async def projects(request):
    """GET /api/projects: every project; POST {"name"}: a new one (201)."""
    store = _store(request)
    if request.method == "GET":
        return JSONResponse(await run_in_threadpool(store.list_projects))
    body = await read_json_body(request)
    return _created(await run_in_threadpool(store.create_project, body.get("name")))


async def project(request):
    """GET: a project with its findings; PATCH {"name"}: rename; DELETE ?confirm=<exact name>."""
    store, p = _store(request), request.path_params["p"]
    if request.method == "PATCH":
        body = await read_json_body(request)
        return JSONResponse(await run_in_threadpool(store.rename_project, p, body.get("name")))
    if request.method == "DELETE":
        return JSONResponse({"deleted": await run_in_threadpool(store.delete_project, p,
                                                                request.query_params.get("confirm"))})
    return JSONResponse(await run_in_threadpool(_full, store, p))


def _full(store: Store, p: str) -> dict:
    return {**store.summary(p), "findings": gallery.findings(store, p)}


async def duplicate(request):
    """POST /api/projects/{p}/duplicate {"name"?}: a copy of the classes and images (201)."""
    store, p = _store(request), request.path_params["p"]
    body = await read_json_body(request)
    return _created(await run_in_threadpool(transfer.duplicate_project, store, p, body.get("name")))


async def import_project(request):
    """A zip upload (multipart field "file", optional "name"), or JSON ``{"path": folder, "name"?}``."""
    store = _store(request)
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await _form(request, max_files=1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise BadRequest("send the zip in the form field \"file\"")
        name = form.get("name") if isinstance(form.get("name"), str) and form.get("name").strip() else None
        try:
            return _created(await run_in_threadpool(transfer.import_zip, store, upload.file,
                                                    shown_filename(upload.filename), name))
        finally:
            await form.close()
    body = await read_json_body(request)
    if "path" not in body:
        raise BadRequest("send a zip as the form field \"file\", or JSON {\"path\": \"/folder/of/class/folders\"}")
    if not request.app.state.allow_folder_import:
        raise Forbidden("importing a folder of the server's disk works only on the computer the studio runs on; "
                        "upload a zip of the folder instead")
    return _created(await run_in_threadpool(transfer.import_folder, store, body["path"], body.get("name")))


async def export(request):
    """GET /api/projects/{p}/export.zip[?runs=1]: the project as a zip (an attachment)."""
    store, p = _store(request), request.path_params["p"]
    runs = request.query_params.get("runs") in ("1", "true", "yes")
    path = await run_in_threadpool(transfer.export_zip, store, p, runs)
    name = slug(store.meta(p)["name"], "project") + ".zip"
    return FileResponse(path, media_type="application/zip", filename=name, background=BackgroundTask(os.unlink, path))


async def classes(request):
    """POST /api/projects/{p}/classes {"name"}: a new class (201)."""
    store, p = _store(request), request.path_params["p"]
    body = await read_json_body(request)
    return _created(await run_in_threadpool(store.add_class, p, body.get("name")))


async def one_class(request):
    """PATCH {"name"}: rename a class; DELETE: delete it and its images."""
    store, p, c = _store(request), request.path_params["p"], request.path_params["c"]
    if request.method == "PATCH":
        body = await read_json_body(request)
        return JSONResponse(await run_in_threadpool(store.rename_class, p, c, body.get("name")))
    return JSONResponse({"deleted": await run_in_threadpool(store.delete_class, p, c)})


async def images(request):
    """GET: the images of a class; POST multipart "files" (images or zips): add them."""
    store, p, c = _store(request), request.path_params["p"], request.path_params["c"]
    if request.method == "GET":
        return JSONResponse(await run_in_threadpool(store.list_images, p, c))
    await run_in_threadpool(store.class_dir, p, c)  # 404 before reading a large upload
    form = await _form(request, max_files=store.limits.max_files)
    try:
        files = [(shown_filename(v.filename), v.file) for k, v in form.multi_items()
                 if k == "files" and not isinstance(v, str)]
        if not files:
            raise BadRequest("send the images in the form field \"files\"")
        return JSONResponse(await run_in_threadpool(gallery.add_files, store, p, c, files))
    finally:
        await form.close()


async def image(request):
    """GET: the image (?thumb=1: at most 128 px, PNG); DELETE: delete it."""
    store = _store(request)
    p, c, i = (request.path_params[k] for k in ("p", "c", "i"))
    if request.method == "DELETE":
        return JSONResponse({"deleted": await run_in_threadpool(gallery.delete_image, store, p, c, i)})
    cache = {"cache-control": "private, max-age=86400"}  # an image id never gets other pixels
    if request.query_params.get("thumb") in ("1", "true"):
        return Response(await run_in_threadpool(gallery.thumbnail, store, p, c, i), media_type="image/png",
                        headers=cache)
    path = await run_in_threadpool(store.image_path, p, c, i)
    kind = "image/jpeg" if path.suffix == ".jpg" else "image/png"
    return FileResponse(path, media_type=kind, headers=cache, content_disposition_type="inline", filename=path.name)


async def add_samples(request):
    """POST /api/projects/{p}/samples {"source", "classes"?, "per_class"?}: built-in images (201)."""
    store, p = _store(request), request.path_params["p"]
    body = await read_json_body(request)
    source, names, per_class = samples.check_request(body.get("source"), body.get("classes"),
                                                     body.get("per_class", 20))
    return _created(await run_in_threadpool(_samples, store, p, source, names, per_class))


def _samples(store: Store, p: str, source: str, names: list[str], per_class: int) -> dict:
    """Add ``per_class`` sample images to a class of each name (made when missing)."""
    for name in names:
        found = [k for k in store.meta(p)["classes"] if k["name"].casefold() == name.casefold()]
        c = found[0]["id"] if found else store.add_class(p, name)["id"]
        start = len(store.image_files(p, c))
        for pixels in samples.sample_images(source, name, start, per_class):
            gallery.add_pixels(store, p, c, pixels, "png")
    return _full(store, p)


async def augment_preview(request):
    """POST /api/augment/preview {"spec", "project"?, "count"?}: a PNG grid, or 400 with the spec's mistake."""
    body = await read_json_body(request)
    png = await run_in_threadpool(preview_png, _store(request), body.get("spec"), body.get("project"),
                                  body.get("count", 8))
    return Response(png, media_type="image/png")


P = "/api/projects/{p}"
routes = [
    Route("/api/info", info, methods=["GET"]),
    Route("/api/projects", projects, methods=["GET", "POST"]),
    Route("/api/projects/import", import_project, methods=["POST"]),
    Route(P, project, methods=["GET", "PATCH", "DELETE"]),
    Route(P + "/duplicate", duplicate, methods=["POST"]),
    Route(P + "/export.zip", export, methods=["GET"]),
    Route(P + "/classes", classes, methods=["POST"]),
    Route(P + "/classes/{c}", one_class, methods=["PATCH", "DELETE"]),
    Route(P + "/classes/{c}/images", images, methods=["GET", "POST"]),
    Route(P + "/images/{c}/{i}", image, methods=["GET", "DELETE"]),
    Route(P + "/samples", add_samples, methods=["POST"]),
    Route("/api/augment/preview", augment_preview, methods=["POST"]),
]
