"""A live preview of an augmentation spec: a PNG grid of originals and their augmented variants.

The images are one per class of the project (up to four), or the built-in photos when there is no
project or it has no images yet. The engine's own augmentation does the work
(:func:`cnnlab.data.augment.view.preview_grid`), so the page shows exactly what training will do.

>>> png = preview_png(None, "flip,rotate=15", count=2)
>>> png[:4]
b'\\x89PNG'
"""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.data.augment.spec import parse_augment
from cnnlab.data.augment.view import preview_grid
from cnnlab.data.images import convert_mode, load_image, resize, to_chw, to_hwc
from cnnlab.errors import ConfigError, ImageError
from cnnlab.studio.samples import sample_images
from cnnlab.studio.store import Store
from cnnlab.studio.uploads import encode

SIZE = 96  # pixels per tile
GAP = 4
ROWS = 4
MAX_COUNT = 12
MAX_SPEC = 300  # characters


def preview_png(store: Store | None, spec, project: str | None = None, count=8) -> bytes:
    """The preview grid as PNG bytes: one row per image, the original first, then ``count`` variants.

    Args:
        store: the projects (None: built-in photos only).
        spec: an augmentation spec, e.g. "flip,rotate=15".
        project: a project id whose images to use, or None.
        count: variants per image, 1..12.

    Returns:
        PNG bytes.

    Raises:
        AugmentSpecError: a bad spec (the message says what is allowed). ConfigError: a bad count.
        NotFound: no such project.
    """
    if not isinstance(spec, str) or not spec.strip() or len(spec) > MAX_SPEC:
        raise ConfigError("spec", spec if isinstance(spec, str) else type(spec).__name__,
                          "an augmentation spec of up to 300 characters, e.g. flip,rotate=15")
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_COUNT:
        raise ConfigError("count", count, f"a whole number of variants from 1 to {MAX_COUNT}")
    pipeline = parse_augment(spec)
    if pipeline is None:
        raise ConfigError("spec", spec, "an augmentation to preview, e.g. flip,rotate=15")
    tiles = _project_tiles(store, project) if project is not None else []
    if not tiles:
        tiles = [sample_images("photos", cls, 0, 1)[0] for cls in ("cat", "coffee", "rocket")]
    batch = torch.from_numpy(np.stack([to_chw(t) for t in tiles]))  # (R, 3, SIZE, SIZE)
    grid = preview_grid(batch, pipeline, n=count, seed=0).numpy()  # (R, count + 1, 3, SIZE, SIZE)
    r, cols = grid.shape[:2]
    step = SIZE + GAP
    canvas = np.full((r * step - GAP, cols * step - GAP, 3), 255, np.uint8)
    for i in range(r):
        for j in range(cols):
            canvas[i * step:i * step + SIZE, j * step:j * step + SIZE] = to_hwc(grid[i, j])
    return encode(canvas, "png")


def _project_tiles(store: Store, p: str) -> list[np.ndarray]:
    """The first readable image of each class (up to ``ROWS``), RGB, SIZE x SIZE."""
    tiles = []
    for k in store.meta(p)["classes"]:
        for f in store.image_files(p, k["id"])[:3]:
            try:
                tiles.append(resize(convert_mode(load_image(f), "rgb"), SIZE, fit="crop"))
                break
            except ImageError:
                continue
        if len(tiles) == ROWS:
            break
    return tiles
