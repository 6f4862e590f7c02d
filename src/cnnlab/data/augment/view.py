"""See augmentation: a grid of originals and augmented variants, and a per-step summary."""

from __future__ import annotations

from pathlib import Path

import torch

from cnnlab.data.augment.spec import parse_augment
from cnnlab.data.augment.transforms import Pipeline
from cnnlab.errors import ConfigError


def describe_steps(pipeline: Pipeline, image: torch.Tensor, seed: int = 0) -> str:
    """Run one (C, H, W) sample through each step (p=1) and report what changed."""
    x = image[None]
    lines = [f"input {tuple(image.shape)} {image.dtype}, mean {image.float().mean():.1f}"]
    g = torch.Generator().manual_seed(seed)
    for i, step in enumerate(pipeline.steps):
        params = step.make_params(tuple(x.shape), g)
        y = step.apply(x, params)
        changed = (y != x).float().mean().item()
        detail = ", ".join(f"{k}={_fmt(v)}" for k, v in params.items() if k != "matrix") or _fmt(params.get("matrix"))
        lines.append(f"{i + 1}. {step!r} (p={pipeline.p[i]:g}): {detail}; "
                     f"{changed:.0%} of values changed, mean {x.float().mean():.1f} -> {y.float().mean():.1f}")
        x = y
    return "\n".join(lines)


def _fmt(v) -> str:
    if v is None:
        return ""
    if torch.is_tensor(v):
        v = v.flatten()
        return "[" + ", ".join(f"{t:.2f}" if v.is_floating_point() else str(int(t)) for t in v[:6].tolist()) + \
               (", ...]" if v.numel() > 6 else "]")
    return str(v)


def preview_grid(images: torch.Tensor, pipeline: Pipeline, n: int = 6, seed: int = 0) -> torch.Tensor:
    """(R, C, H, W) originals -> (R, n + 1, C, H, W): each original followed by n augmented variants."""
    r = len(images)
    batch = images.repeat_interleave(n, dim=0)  # (R*n, C, H, W)
    out = pipeline(batch, seed=seed).view(r, n, *images.shape[1:])
    return torch.cat([images[:, None], out], dim=1)


def preview(data: str, augment: str | Pipeline, out: str | Path, n: int = 6, rows: int = 6, seed: int = 0,
            title: str | None = None) -> Path:
    """Write a PNG grid: originals in the first column, ``n`` augmented variants beside each."""
    from cnnlab.data.sources import load_dataset
    from cnnlab.plots import pyplot as _plt
    from cnnlab.plots import save_figure

    pipeline = parse_augment(augment) if isinstance(augment, str) else augment
    if pipeline is None:
        raise ConfigError("augment", augment, "an augmentation spec to preview, e.g. flip,rotate=15")
    opts = {"progress": False} if data.startswith("folder:") else {}
    ds = load_dataset(data, "train", **opts)
    g = torch.Generator().manual_seed(seed)
    # one image of each class first, so the grid shows variety
    picks = [int(torch.nonzero(ds.labels == c).flatten()[0]) for c in range(len(ds.classes))
             if (ds.labels == c).any()]
    picks = (picks + torch.randperm(len(ds), generator=g).tolist())[:rows]
    grid = preview_grid(ds.images[picks], pipeline, n=n, seed=seed)
    plt = _plt()
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
