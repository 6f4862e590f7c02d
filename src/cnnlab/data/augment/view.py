"""See augmentation: a grid of originals beside their augmented variants (``cnnlab augment preview``).

>>> import torch
>>> from cnnlab.data.augment import parse_augment
>>> grid = preview_grid(torch.zeros(2, 1, 8, 8, dtype=torch.uint8), parse_augment("flip"), n=3)
>>> tuple(grid.shape)  # (rows, 1 original + 3 variants, C, H, W)
(2, 4, 1, 8, 8)
"""

from __future__ import annotations

from pathlib import Path

import torch

from cnnlab.data.augment.pipeline import Pipeline
from cnnlab.data.augment.spec import parse_augment
from cnnlab.data.sources import load_dataset
from cnnlab.errors import ConfigError
from cnnlab.plots import pyplot, save_figure


def preview_grid(images: torch.Tensor, pipeline: Pipeline, n: int = 6, seed: int = 0) -> torch.Tensor:
    """Each original followed by ``n`` augmented variants of it.

    Args:
        images: (R, C, H, W) originals.
        pipeline: the augmentation.
        n: variants per original.
        seed: seed of the random parameters.

    Returns:
        (R, n + 1, C, H, W): column 0 the originals, then the variants.

    Example:

    >>> x = torch.zeros(3, 1, 4, 4, dtype=torch.uint8)
    >>> torch.equal(preview_grid(x, parse_augment("flip"), n=2)[:, 0], x)
    True
    """
    r = len(images)
    batch = images.repeat_interleave(n, dim=0)  # (R*n, C, H, W)
    out = pipeline(batch, seed=seed).view(r, n, *images.shape[1:])
    return torch.cat([images[:, None], out], dim=1)


def preview(data: str, augment: str | Pipeline, out: str | Path, n: int = 6, rows: int = 6, seed: int = 0,
            title: str | None = None) -> Path:
    """Write a PNG grid: one training image per row (one of each class first), ``n`` augmented variants beside it.

    Args:
        data: a data set spec, e.g. "fashion-mnist", "digits" or "folder:photos".
        augment: a spec string ("flip,rotate=15") or a Pipeline.
        out: the PNG file to write.
        n: variants per image.
        rows: number of images.
        seed: seed of the image choice and of the augmentation.
        title: the figure title (default: the spec).

    Returns:
        The path written.

    Raises:
        ConfigError: no augmentation given, or ``n``/``rows`` below 1.
        AugmentSpecError: a bad spec string.

    Example:

    >>> import tempfile
    >>> preview("digits", "flip,rotate=20", tempfile.mkdtemp() + "/aug.png", n=2, rows=2).name
    'aug.png'
    """
    pipeline = parse_augment(augment) if isinstance(augment, str) or augment is None else augment
    if pipeline is None:
        raise ConfigError("augment", augment, "an augmentation spec to preview, e.g. flip,rotate=15")
    for key, value in (("n", n), ("rows", rows)):
        if value < 1:
            raise ConfigError(key, value, "a whole number of at least 1")
    opts = {"progress": False} if data.startswith("folder:") else {}
    ds = load_dataset(data, "train", **opts)
    g = torch.Generator().manual_seed(seed)
    # one image of each class first, so the grid shows variety
    picks = [int(torch.nonzero(ds.labels == c).flatten()[0]) for c in range(len(ds.classes))
             if (ds.labels == c).any()]
    picks = (picks + torch.randperm(len(ds), generator=g).tolist())[:rows]
    grid = preview_grid(ds.images[picks], pipeline, n=n, seed=seed)  # (R, n + 1, C, H, W)
    plt = pyplot()
    r, cols = grid.shape[:2]
    fig, axes = plt.subplots(r, cols, figsize=(1.35 * cols, 1.35 * r + 0.6), squeeze=False)
    for i in range(r):
        for j in range(cols):
            img = grid[i, j].permute(1, 2, 0).numpy()
            ax = axes[i, j]
            ax.imshow(img[:, :, 0] if img.shape[2] == 1 else img, cmap="gray", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
            if j == 0:
                ax.set_ylabel(ds.classes[ds.labels[picks[i]]], fontsize=8)
                for s in ax.spines.values():
                    s.set_edgecolor("royalblue")
                    s.set_linewidth(2.5)
            if i == 0:
                ax.set_title("original" if j == 0 else f"variant {j}", fontsize=8)
    fig.suptitle(title or f"augment: {pipeline.spec or pipeline!r}", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    save_figure(fig, out)
    return out
