"""Routes of the lecture page 7. Batch norm and dropout: activation histograms, dropout masks.

    POST /api/learn/batchnorm/norm     {"image", "batch": 2..64, "scale": 0.1..4, "shift": -255..255, "seed"?}
                                       -> the conv layer's activations per channel before and after batch norm
                                          (:func:`cnnlab.learn.lab.batchnorm.batch_norm_view`)
    POST /api/learn/batchnorm/dropout  {"image", "p": 0..0.9, "training": bool, "first": step, "count": 1..60}
                                       -> {"values": the 32 neurons, "steps": [{"step", "kept", "out", ...}]}
"""

from __future__ import annotations

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.errors import ConfigError
from cnnlab.learn.lab.batchnorm import batch_norm_view, dropout_steps, neurons
from cnnlab.studio.lab.common import float_field, gray_of, int_field, json_response, lab_image, read_json

PATCH = 32  # the side of each patch of the batch


async def norm(request):
    """POST /api/learn/batchnorm/norm: histograms and statistics before and after batch norm."""
    data = await read_json(request)
    batch = int_field(data, "batch", 2, 64, default=16)
    scale = float_field(data, "scale", 0.1, 4.0, default=1.0)
    shift = float_field(data, "shift", -255.0, 255.0, default=0.0)
    seed = int_field(data, "seed", 0, 10_000, default=0)
    pixels = lab_image(request, data.get("image"))

    def work():
        gray = gray_of(pixels)
        side = min(PATCH, min(gray.shape) // 2)  # patches of half the picture at most, so they differ
        if side < 8:
            raise ConfigError("image", f"{gray.shape[1]}x{gray.shape[0]}", "a picture of at least 16x16 pixels")
        out = batch_norm_view(gray, batch, side, scale, shift, seed)
        out.update(width=gray.shape[1], height=gray.shape[0], batch=batch, scale=scale, shift=shift)
        return out

    return json_response(await run_in_threadpool(work))


async def drop(request):
    """POST /api/learn/batchnorm/dropout: the 32 neurons and their dropout masks at some training steps."""
    data = await read_json(request)
    p = float_field(data, "p", 0.0, 0.9, default=0.5)
    training = data.get("training", True)
    if not isinstance(training, bool):
        raise ConfigError("training", training, "true (training mode) or false (evaluation mode)")
    first = int_field(data, "first", 0, 1_000_000, default=0)
    count = int_field(data, "count", 1, 60, default=1)
    pixels = lab_image(request, data.get("image"))

    def work():
        values = neurons(gray_of(pixels))
        return {"values": values, "p": p, "training": training,
                "steps": dropout_steps(np.asarray(values), p, training, first, count)}

    return json_response(await run_in_threadpool(work))


routes: list = [
    Route("/api/learn/batchnorm/norm", norm, methods=["POST"]),
    Route("/api/learn/batchnorm/dropout", drop, methods=["POST"]),
]
