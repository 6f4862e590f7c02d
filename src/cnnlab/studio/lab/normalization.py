"""Routes of the lecture page 6. Normalization: descent on the loss contours, raw vs normalized input.

    GET  /api/learn/normalization/landscape  both sides' loss maps (log10 of the loss on a grid), boxes, minima,
                                             starts and best learning rates; the data set in words
    POST /api/learn/normalization/descent    {"lr"} -> {"lr", "sides": [{"path": [[w, b, loss]...], "steps"}, ...]}
                                             (raw first, then normalized; steps null: it diverges)
    POST /api/learn/normalization/stats      {"image"} -> the picture's mean and std per channel (pixel units)
                                             and histograms before/after normalizing

The maths is :mod:`cnnlab.learn.lab.normalization` (built on :func:`cnnlab.ref.dense`, ``dense_backward``
and ``normalize``).
"""

from __future__ import annotations

import numpy as np
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.learn.lab.normalization import (
    LR_EXPONENTS,
    LR_RANGE,
    MAX_STEPS,
    SHOW_STEPS,
    TOLERANCE,
    brightness_data,
    channel_stats,
    side,
    walk,
)
from cnnlab.studio.lab.common import float_field, json_response, lab_image, read_json

BINS = 32
SPREAD = 4.0  # the "after" histogram covers -4 .. 4


def _landscape() -> dict:
    x, y = brightness_data()
    sides = []
    for normalized in (False, True):
        s = side(normalized)
        sides.append({"name": "normalized" if normalized else "raw", "box": s["box"],
                      "log_loss": np.round(np.log10(s["loss"]), 4), "minimum": s["minimum"], "start": s["start"],
                      "best_lr": s["best_lr"], "best_steps": s["best_steps"], "x_mean": s["x_mean"],
                      "x_std": s["x_std"]})
    return {"data": {"n": len(x), "x_mean": float(x.mean()), "x_std": float(x.std()), "y_mean": float(y.mean())},
            "lr_exponents": LR_EXPONENTS, "show_steps": SHOW_STEPS, "tolerance": TOLERANCE, "never": MAX_STEPS,
            "sides": sides}


async def landscape(request):
    """GET /api/learn/normalization/landscape: what does not change with the learning rate."""
    return json_response(await run_in_threadpool(_landscape))


async def descent(request):
    """POST /api/learn/normalization/descent: both sides' descent paths at one learning rate."""
    data = await read_json(request)
    lr = float_field(data, "lr", *LR_RANGE)

    def work():
        return {"lr": lr, "sides": [walk(normalized, lr) for normalized in (False, True)]}

    return json_response(await run_in_threadpool(work))


async def stats(request):
    """POST /api/learn/normalization/stats: the picture's per-channel statistics and histograms."""
    data = await read_json(request)
    pixels = lab_image(request, data.get("image"))

    def work():
        channels = channel_stats(pixels, BINS, SPREAD)
        names = ["gray"] if pixels.ndim == 2 else ["red", "green", "blue"]
        return {"channels": [{"name": n, **c} for n, c in zip(names, channels, strict=True)],
                "pixels": int(pixels.shape[0] * pixels.shape[1]), "bins": BINS, "spread": SPREAD}

    return json_response(await run_in_threadpool(work))


routes = [
    Route("/api/learn/normalization/landscape", landscape, methods=["GET"]),
    Route("/api/learn/normalization/descent", descent, methods=["POST"]),
    Route("/api/learn/normalization/stats", stats, methods=["POST"]),
]
