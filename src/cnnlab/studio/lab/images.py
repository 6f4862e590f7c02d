"""The lecture pages' pictures: the built-in samples, an upload or webcam snapshot, or a project's photo.

    GET  /api/learn/samples              [{"id": "sample-cat", "name": "cat", "about", "width", "height", "channels"}]
    POST /api/learn/images               multipart ``file`` (an upload, a webcam snapshot) or JSON
                                         {"sample": "cat"} or {"project": P, "class": C, "image": I}
                                         -> {"id", "name", "width", "height", "channels", "url"}
    GET  /api/learn/images/{id}          that info again (404 once forgotten)
    GET  /api/learn/images/{id}.png      the pixels the pages compute on (at most 256 pixels a side)

An uploaded picture is decoded with the studio's checks (:func:`cnnlab.studio.uploads.decode_upload`:
size and pixel limits, real image formats only), shrunk to 256 pixels a side, and kept in memory
under an id made from its pixels (the same picture twice gets the same id), never written to disk.
"""

from __future__ import annotations

import hashlib

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.routing import Route

from cnnlab.errors import ConfigError
from cnnlab.learn.lab.images import SAMPLES, fit, sample_image
from cnnlab.studio.lab.common import (
    KEEP_IMAGES,
    BadRequest,
    images_of,
    json_response,
    lab_image,
    png_response,
    read_json,
)
from cnnlab.studio.uploads import decode_upload

ID_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


def describe(image_id: str, name: str, pixels: np.ndarray) -> dict:
    """The info the page gets about a picture."""
    return {"id": image_id, "name": name, "width": int(pixels.shape[1]), "height": int(pixels.shape[0]),
            "channels": 1 if pixels.ndim == 2 else int(pixels.shape[2]), "url": f"/api/learn/images/{image_id}.png"}


def keep(app, pixels: np.ndarray) -> str:
    """Keep a picture in memory; returns its id (``u`` + 16 hex digits of its pixels' SHA-256)."""
    pixels = np.ascontiguousarray(fit(pixels))
    pixels.setflags(write=False)
    digest = hashlib.sha256(repr(pixels.shape).encode() + pixels.tobytes()).hexdigest()[:16]
    image_id = "u" + digest
    kept = images_of(app)
    kept[image_id] = pixels
    kept.move_to_end(image_id)
    while len(kept) > KEEP_IMAGES:
        kept.popitem(last=False)
    return image_id


async def samples(request):
    """GET /api/learn/samples: the built-in pictures."""
    def work():
        out = []
        for name, (about, _) in SAMPLES.items():
            info = describe(f"sample-{name}", name, sample_image(name))
            info["about"] = about
            out.append(info)
        return out
    return json_response(await run_in_threadpool(work))


async def add_image(request):
    """POST /api/learn/images: pick a picture (see the module's docstring)."""
    store = request.app.state.store
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        try:
            form = await MultiPartParser(request.headers, request.stream(), max_files=1, max_fields=5).parse()
        except MultiPartException as e:
            raise BadRequest(f"the upload could not be read ({e.message}); send one picture") from None
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise BadRequest("send the picture as the form field 'file'")
        data = await file.read()
        name = (file.filename or "your picture")[:80]
        pixels, _ = await run_in_threadpool(decode_upload, data, store.limits)
        image_id = keep(request.app, pixels)
        return json_response(describe(image_id, name, lab_image(request, image_id)))
    data = await read_json(request)
    if "sample" in data:
        if data["sample"] not in SAMPLES:
            raise ConfigError("sample", data["sample"], "one of " + ", ".join(SAMPLES))
        pixels = await run_in_threadpool(sample_image, data["sample"])
        return json_response(describe(f"sample-{data['sample']}", data["sample"], pixels))
    if all(k in data for k in ("project", "class", "image")):
        path = store.image_path(str(data["project"]), str(data["class"]), str(data["image"]))
        pixels, _ = await run_in_threadpool(lambda: decode_upload(path.read_bytes(), store.limits))
        image_id = keep(request.app, pixels)
        return json_response(describe(image_id, path.name, lab_image(request, image_id)))
    raise BadRequest('send a picture as the form field "file", or JSON {"sample": "cat"} or '
                     '{"project": ..., "class": ..., "image": ...}')


def _id(request) -> str:
    image_id = request.path_params["image_id"]
    if not set(image_id) <= ID_CHARS:
        image_id = "?"
    return image_id


async def image_info(request):
    """GET /api/learn/images/{id}: the picture's info (404 once the studio has forgotten it)."""
    image_id = _id(request)
    pixels = await run_in_threadpool(lab_image, request, image_id)
    name = image_id[7:] if image_id.startswith("sample-") else "your picture"
    return json_response(describe(image_id, name, pixels))


async def image_png(request):
    """GET /api/learn/images/{id}.png: the pixels the pages compute on."""
    pixels = await run_in_threadpool(lab_image, request, _id(request))
    return png_response(pixels)


routes = [
    Route("/api/learn/samples", samples, methods=["GET"]),
    Route("/api/learn/images", add_image, methods=["POST"]),
    Route("/api/learn/images/{image_id}.png", image_png, methods=["GET"]),
    Route("/api/learn/images/{image_id}", image_info, methods=["GET"]),
]
