"""Figures for augmentation, normalization, batch normalization, dropout and transfer learning.

Only :func:`augmentation` shows a photo; the others draw from a data set (normalization, batch
normalization) or draw a network (dropout, transfer), and take ``image`` only to share one signature.

>>> from cnnlab.learn.explain.training import dropout
>>> fig = dropout()
>>> len(fig.axes)
4
"""

from __future__ import annotations

import numpy as np
import torch

from cnnlab.data.augment import ColorShift, Erase, Flip, PadCrop, Pipeline, RandomResizedCrop, Rotate, Translate
from cnnlab.data.images import convert_mode, resize, to_chw
from cnnlab.learn.explain.common import data_name, default_photo, lecture_images, off, plt, resolve_image
from cnnlab.models import create_model


def augmentation(image=None, n: int = 4):
    """Each augmentation technique of the lecture on one photo, several random draws each.

    Args:
        image: the photo (None: scikit-image's cat).
        n: random draws per technique.

    Returns:
        A matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> fig = augmentation(np.full((50, 80, 3), 128, np.uint8), n=2)
    >>> fig.axes[0].get_title()
    'your image'
    """
    p = plt()
    photo = resolve_image(image) or default_photo()
    img = resize(convert_mode(photo.pixels, "rgb"), 160)
    x = torch.from_numpy(to_chw(img))[None]  # (1, 3, 160, 160)
    rows = [("mirroring", Flip(vertical=False), "left-right flip"),
            ("rotation", Rotate(25), "up to +-25 degrees"),
            ("translation", Translate(0.15), "up to 15% of the size"),
            ("random crop", PadCrop(24), "pad 24 px, cut back to size"),
            ("random resized crop", RandomResizedCrop((0.25, 0.6)), "25-60% of the area, stretched"),
            ("color shift", ColorShift(0.35, 0.35, 0.5, 0.08, 0.08), "brightness, contrast, saturation, hue"),
            ("random erasing", Erase((0.05, 0.2)), "a box of noise: learn from parts")]
    fig, axes = p.subplots(len(rows), n + 1, figsize=(2.1 * (n + 1), 2.15 * len(rows)))
    for r, (name, t, about) in enumerate(rows):
        batch = x.repeat(n, 1, 1, 1)
        if name == "mirroring":  # show both outcomes clearly: every other draw mirrored
            out = torch.stack([b.flip(-1) if j % 2 else b for j, b in enumerate(batch)])
        else:
            out = Pipeline([t])(batch, seed=r)
        axes[r, 0].imshow(img)
        axes[r, 0].set_ylabel(f"{name}\n({about})", fontsize=8)
        for j in range(n):
            axes[r, j + 1].imshow(out[j].permute(1, 2, 0).numpy())
        for ax in axes[r]:
            off(ax)
    axes[0, 0].set_title(photo.name if photo.name == "your image" else f"original: {photo.name}")
    for j in range(n):
        axes[0, j + 1].set_title(f"random draw {j + 1}")
    fig.suptitle("Data augmentation: new images similar enough to keep the subject, different enough to teach",
                 fontsize=11)
    fig.tight_layout()
    return fig


def _brightness_area():
    """A real regression problem: predict an image's ink area from its mean brightness (0..255)."""
    data = lecture_images()
    imgs = data.images[:2000, 0].float().numpy()  # (N, H, W)
    x = imgs.mean((1, 2))  # mean brightness, 0..255
    y = (imgs > 30).mean((1, 2)) * 100  # % of pixels with ink
    return x, y, data_name(data)


def _descent(x, y, w0, b0, lr, steps):
    path = [(w0, b0)]
    w, b = w0, b0
    for _ in range(steps):
        err = w * x + b - y
        w, b = w - lr * 2 * (err * x).mean(), b - lr * 2 * err.mean()
        path.append((w, b))
    return np.array(path)


def normalization(image=None):
    """Gradient descent on the loss surface of y = w*x + b, for raw and for normalized x (lecture fig. 11).

    Args:
        image: not used (the figure fits a line to a whole data set).

    Returns:
        A matplotlib Figure.

    Example:

    >>> fig = normalization()
    >>> "normalized" in fig.axes[1].get_title()
    True
    """
    p = plt()
    x, y, name = _brightness_area()
    fig, axes = p.subplots(1, 2, figsize=(13, 5.4))
    for ax, norm in zip(axes, [False, True]):
        xs = (x - x.mean()) / x.std() if norm else x
        A = np.stack([xs, np.ones_like(xs)], 1)
        w_opt, b_opt = np.linalg.lstsq(A, y, rcond=None)[0]
        # the largest stable step for this loss is 1 / largest eigenvalue of the Hessian 2 A^T A / n
        lam = np.linalg.eigvalsh(2 * A.T @ A / len(xs)).max()
        start = (w_opt - (25 if norm else 0.4), b_opt - 40)
        path = _descent(xs, y, *start, lr=0.9 / lam, steps=40)
        span_w = max(abs(path[:, 0] - w_opt).max(), 1e-3) * 1.3
        span_b = max(abs(path[:, 1] - b_opt).max(), 1.0) * 1.3
        if norm:  # same scale on both axes: the contours are (nearly) circles
            span_w = span_b = max(span_w, span_b)
        W, B = np.meshgrid(np.linspace(w_opt - span_w, w_opt + span_w, 200),
                           np.linspace(b_opt - span_b, b_opt + span_b, 200))
        loss = ((W[..., None] * xs[::10] + B[..., None] - y[::10]) ** 2).mean(-1)
        ax.contour(W, B, loss, levels=np.quantile(loss, np.linspace(0.002, 0.9, 18)), cmap="viridis")
        ax.plot(path[:, 0], path[:, 1], "o-", color="crimson", ms=3, lw=1.2, label="gradient descent, 40 steps")
        ax.plot(w_opt, b_opt, "k*", ms=14, label="minimum")
        final = ((path[-1, 0] * xs + path[-1, 1] - y) ** 2).mean()
        best = ((w_opt * xs + b_opt - y) ** 2).mean()
        what = "normalized x' = (x - mean) / std" if norm else "raw x (mean brightness, 0..255)"
        ax.set_title(f"{what}\nloss after 40 steps: {final:.1f} (best possible {best:.1f})")
        ax.set(xlabel="weight w", ylabel="bias b")
        if norm:
            ax.set_aspect("equal")
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(f"{name}: predict the ink area (%) from the mean brightness with y = w*x + b. "
                 "Same step-size rule, very different descent", fontsize=11)
    fig.tight_layout()
    return fig


def batch_normalization(image=None):
    """Activations of a conv layer on real images, before and after batch normalization.

    Args:
        image: not used (batch norm works on a batch of 256 images of a data set).

    Returns:
        A matplotlib Figure.

    Example:

    >>> fig = batch_normalization()
    >>> len(fig.axes)
    8
    """
    p = plt()
    torch.manual_seed(0)
    data = lecture_images()
    x = data.images[:256].float() / 255  # (256, 1, H, W)
    conv = torch.nn.Conv2d(1, 4, 3, padding=1)
    with torch.no_grad():
        conv.weight.mul_(torch.tensor([3.0, 0.5, 1.5, 0.2]).view(4, 1, 1, 1))  # channels of different scale
        conv.bias.copy_(torch.tensor([1.0, -0.5, 0.0, 2.0]))
        pre = conv(x)
        post = torch.nn.functional.batch_norm(pre, None, None, training=True)
    fig, axes = p.subplots(2, 4, figsize=(15, 6), sharey="row", sharex="row")  # same scale: compare channels
    for c in range(4):
        for r, (a, label) in enumerate([(pre, "before"), (post, "after")]):
            v = a[:, c].flatten().numpy()
            axes[r, c].hist(v, bins=60, color="C0" if r == 0 else "C2")
            axes[r, c].axvline(0, color="k", lw=0.8)
            axes[r, c].set_title(f"channel {c}, {label} BN\nmean {v.mean():+.2f}, std {v.std():.2f}")
    fig.suptitle(f"Batch normalization: each channel's activations over a mini-batch of {len(x)} images of "
                 f"{data_name(data)} are shifted and scaled to mean 0, std 1", fontsize=11)
    fig.tight_layout()
    return fig


def dropout(image=None, p_drop: float = 0.5):
    """A small dense network in training (three random dropout masks) and in evaluation (all units).

    Args:
        image: not used (the figure draws a network).
        p_drop: the drop probability.

    Returns:
        A matplotlib Figure.

    Example:

    >>> fig = dropout(p_drop=0.25)
    >>> "1/(1-p) = 1.33333" in fig._suptitle.get_text()
    True
    """
    p = plt()
    sizes = [6, 8, 8, 3]
    rng = np.random.default_rng(3)
    masks = [[np.ones(s, bool) for s in sizes]]  # evaluation: every unit on
    for _ in range(3):  # three training steps, each with its own random mask on the hidden layers
        masks.append([np.ones(sizes[0], bool)] + [rng.random(s) >= p_drop for s in sizes[1:-1]]
                     + [np.ones(sizes[-1], bool)])
    titles = ["evaluation: every unit on"] + [f"training step {i}: random mask" for i in (1, 2, 3)]
    order = [1, 2, 3, 0]
    fig, axes = p.subplots(1, 4, figsize=(16, 4.8))
    for ax, k in zip(axes, order):
        m = masks[k]
        pos = [np.linspace(0, 1, s) for s in sizes]
        for l in range(len(sizes) - 1):
            for i, yi in enumerate(pos[l]):
                for j, yj in enumerate(pos[l + 1]):
                    if m[l][i] and m[l + 1][j]:
                        ax.plot([l, l + 1], [yi, yj], color="gray", lw=0.5, alpha=0.6)
        for l, ys in enumerate(pos):
            on = m[l]
            ax.scatter(np.full(on.sum(), l), ys[on], s=220, color="C0", zorder=3, edgecolor="k")
            ax.scatter(np.full((~on).sum(), l), ys[~on], s=220, color="white", zorder=3, edgecolor="lightgray")
            ax.scatter(np.full((~on).sum(), l), ys[~on], s=120, marker="x", color="crimson", zorder=4)
        kept = sum(v.sum() for v in m[1:-1])
        ax.set_title(f"{titles[k]}\n{kept} of {sum(sizes[1:-1])} hidden units active")
        ax.set_xticks(range(len(sizes)), ["input", "hidden 1", "hidden 2", "output"])
        ax.set_yticks([])
        for s in ax.spines.values():
            s.set_visible(False)
    fig.suptitle(f"Dropout (p = {p_drop}): each training step uses a random thinner network; survivors are scaled "
                 f"by 1/(1-p) = {1 / (1 - p_drop):g} so evaluation can use all units unchanged", fontsize=11)
    fig.tight_layout()
    return fig


def transfer(image=None, fine_tune_blocks: int = 2):
    """EfficientNet-Lite0's stages: frozen feature extractor vs the new, trained head (and fine-tuning).

    Args:
        image: not used (the figure draws a network).
        fine_tune_blocks: how many stages the fine-tuning row unfreezes.

    Returns:
        A matplotlib Figure.

    Example:

    >>> fig = transfer()
    >>> "train only a new head" in fig.axes[0].get_title()
    True
    """
    # deferred: matplotlib is imported only when a figure is drawn (see cnnlab.plots)
    from matplotlib.patches import FancyBboxPatch

    p = plt()
    m = create_model("efficientnet_lite0", num_classes=5, pretrained=False)
    bb = m.backbone
    stages = [("stem", bb.conv_stem, bb.bn1)] + [(f"block {i}", b) for i, b in enumerate(bb.blocks)] + \
             [("head conv", bb.conv_head, bb.bn2), ("new head\n(dropout + dense)", m.head)]
    counts = [sum(q.numel() for mod in s[1:] for q in mod.parameters()) for s in stages]
    fig, axes = p.subplots(2, 1, figsize=(15, 6.5))
    for ax, tuned in zip(axes, [0, fine_tune_blocks]):
        n = len(stages)
        for i, ((name, *_), c) in enumerate(zip(stages, counts)):
            is_head = i == n - 1
            unfrozen = i >= n - 2 - tuned and not is_head and tuned > 0 and i > 0
            color = "darkorange" if is_head else ("gold" if unfrozen else "steelblue")
            ax.add_patch(FancyBboxPatch((i, 0.2), 0.85, 0.6, boxstyle="round,pad=0.02", color=color))
            ax.text(i + 0.42, 0.55, name, ha="center", va="center", fontsize=8, color="white" if color ==
                    "steelblue" else "black", weight="bold")
            ax.text(i + 0.42, 0.32, f"{c / 1e3:,.0f}k", ha="center", va="center", fontsize=8,
                    color="white" if color == "steelblue" else "black")
            ax.text(i + 0.42, 0.05, "trained" if (is_head or unfrozen) else "frozen", ha="center", fontsize=8)
        ax.set_xlim(-0.2, len(stages))
        ax.set_ylim(0, 1)
        ax.axis("off")
        total = sum(counts)
        trained = counts[-1] + (sum(counts[-2 - tuned:-1]) if tuned else 0)
        title = ("Transfer learning: freeze the ImageNet feature extractor, train only a new head" if not tuned else
                 f"Fine-tuning: later, also unfreeze the last {tuned} stages (lower learning rate)")
        ax.set_title(f"{title} — trained {trained:,} of {total:,} parameters ({trained / total:.1%})")
    fig.tight_layout()
    return fig
