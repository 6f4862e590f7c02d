"""Routes of the lecture page 5. Augmentation: one slider per technique, live previews, the --augment spec.

    GET  /api/learn/augmentation/controls   {"controls": [{name, label, form, about, default, low, high, ...}],
                                             "sizes": [64, 128]}: the registry's techniques and ranges
    POST /api/learn/augmentation/variants   {"image", "spec", "count"?, "seed"?, "size"?}
                                            -> {"spec", "size", "original": PNG data URL,
                                                "tiles": [{"png": data URL, "about": [phrases]}]}

The variants are made by the engine's own Pipeline (:func:`cnnlab.learn.lab.augmentation.augment_variants`),
so the page shows exactly what ``cnnlab train --augment SPEC`` does to the picture.
"""

from __future__ import annotations

import base64

from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.errors import AugmentSpecError, ConfigError
from cnnlab.learn.lab.augmentation import MAX_COUNT, SIZES, augment_variants, controls, working_picture
from cnnlab.studio.lab.common import BadRequest, int_field, json_response, lab_image, png_bytes, read_json
from cnnlab.studio.run_options import page_message

MAX_SPEC = 300  # characters
MAX_SEED = 2**31 - 1


def data_url(pixels) -> str:
    """uint8 pixels as a ``data:image/png;base64,...`` address for an <img>."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")


async def list_controls(request):
    """GET /api/learn/augmentation/controls: the techniques the page offers, with the registry's ranges."""
    return json_response({"controls": controls(), "sizes": list(SIZES)})


async def variants(request):
    """POST /api/learn/augmentation/variants: the picture at the training size and ``count`` augmented copies."""
    data = await read_json(request)
    spec = data.get("spec", "none")
    if not isinstance(spec, str) or len(spec) > MAX_SPEC:
        raise ConfigError("spec", spec if isinstance(spec, str) else type(spec).__name__,
                          f"an augmentation spec of up to {MAX_SPEC} characters, e.g. flip,rotate=15")
    count = int_field(data, "count", 1, MAX_COUNT, default=8)
    seed = int_field(data, "seed", 0, MAX_SEED, default=0)
    size = data.get("size", SIZES[0])
    if size not in SIZES or isinstance(size, bool):
        raise ConfigError("size", size, "one of " + ", ".join(map(str, SIZES)))
    pixels = lab_image(request, data.get("image"))

    def work():
        picture = working_picture(pixels, size)
        try:
            out, about, canonical = augment_variants(picture, spec, count, seed)
        except AugmentSpecError as e:
            raise BadRequest(page_message(e)) from None
        return {"spec": canonical, "size": size, "seed": seed, "original": data_url(picture),
                "tiles": [{"png": data_url(v), "about": a} for v, a in zip(out, about, strict=True)]}

    return json_response(await run_in_threadpool(work))


routes = [
    Route("/api/learn/augmentation/controls", list_controls, methods=["GET"]),
    Route("/api/learn/augmentation/variants", variants, methods=["POST"]),
]
