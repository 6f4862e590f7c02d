"""Figures for 'Convolutional Neural Networks': sliding window, kernels, channels, max pooling.

Each function takes ``image`` (None for the default, a path, an array or a
:class:`~cnnlab.learn.explain.common.Photo`) and returns a matplotlib Figure.

>>> import numpy as np
>>> from cnnlab.learn.explain.convolution import max_pooling
>>> fig = max_pooling(np.full((16, 16), 50, np.uint8))
>>> "your image" in fig.axes[0].get_title()
True
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from cnnlab.files import atomic_write
from cnnlab.learn.explain.common import box, default_photo, gray, off, plt, resolve_image, show_numbers, small_gray
from cnnlab.learn.ref import conv2d, max_pool2d, trace

KERNELS = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], float),
    "edges (Laplacian)": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], float),
    "blur (box 5x5)": np.full((5, 5), 1 / 25),
    "sharpen": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], float),
    "Sobel x (vertical edges)": np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], float),
    "Sobel y (horizontal edges)": np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], float),
}
STEP_KERNEL = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]], float)  # responds to left-bright / right-dark edges


def _conv(img: np.ndarray, k: np.ndarray, padding: int = 0) -> np.ndarray:
    return conv2d(img[None, None].astype(float), k[None, None], padding=padding)[0, 0]


def _small_input(image=None) -> tuple[np.ndarray, str]:
    """7x7 input with values 0..25 (pixel values / 10, so every product stays readable), and its name."""
    img, name = small_gray(image, 7, 1, (6, 9))
    return img // 10, name


def convolution_steps(image=None, frames: int = 6):
    """A strip of frames: the 3x3 window slides over a 7x7 patch; each frame shows the products' sum.

    Args:
        image: the photo to shrink to 7x7 (None: a patch of a Fashion-MNIST image, or a digit offline).
        frames: how many window positions to show (an even number).

    Returns:
        A matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> fig = convolution_steps(np.full((30, 30), 100, np.uint8))
    >>> fig.axes[0].get_title().splitlines()[1]
    'sum of window x kernel = 0'
    """
    p = plt()
    x, name = _small_input(image)
    steps = trace(x, STEP_KERNEL)
    result = _conv(x, STEP_KERNEL)
    picks = np.linspace(0, len(steps) - 1, frames).round().astype(int)
    fig, axes = p.subplots(2, frames // 2 + 1, figsize=(3.2 * (frames // 2 + 1), 6.8))
    for ax, i in zip(axes[:, :-1].flat, picks):  # row by row, in the order the window moves
        s = steps[i]
        show_numbers(ax, x, vmax=25, fontsize=7)
        box(ax, s.rows[0], s.cols[0], 3, 3, "red", 2.5)
        ax.set_title(f"step {i + 1}: output[{s.row}, {s.col}]\nsum of window x kernel = {s.value:g}", fontsize=9)
    show_numbers(axes[0, -1], STEP_KERNEL, fmt="{:.0f}", cmap="coolwarm", vmin=-1.5, vmax=1.5, fontsize=11)
    axes[0, -1].set_title("kernel W (3x3)")
    lim = max(np.abs(result).max(), 1.0)
    show_numbers(axes[1, -1], result, fmt="{:.0f}", cmap="coolwarm", vmin=-lim, vmax=lim, fontsize=8)
    axes[1, -1].set_title(f"result Z = X (*) W\n{x.shape} input -> {result.shape} output")
    fig.suptitle(f"Convolution step by step on 7x7 pixels of {name} (pixel values / 10): "
                 "the window slides, multiplies element-wise, and adds up", y=1.0)
    fig.tight_layout(h_pad=2.5)
    return fig


def convolution_gif(path, image=None) -> None:
    """Write an animated GIF of the sliding window (one frame per output position) to ``path``.

    Args:
        path: where to write the GIF.
        image: the photo to shrink to 7x7 (None: a patch of a Fashion-MNIST image, or a digit offline).

    Example:

    >>> import tempfile
    >>> from PIL import Image
    >>> path = tempfile.mkdtemp() + "/conv.gif"
    >>> convolution_gif(path)
    >>> Image.open(path).n_frames
    25
    """
    p = plt()
    x, name = _small_input(image)
    result = np.full((x.shape[0] - 2, x.shape[1] - 2), np.nan)
    frames = []
    lim = max(np.abs(_conv(x, STEP_KERNEL)).max(), 1.0)
    for s in trace(x, STEP_KERNEL):
        result[s.row, s.col] = s.value
        fig, (a, b) = p.subplots(1, 2, figsize=(8, 4))
        show_numbers(a, x, vmax=25, fontsize=8)
        box(a, s.rows[0], s.cols[0], 3, 3, "red", 3)
        a.set_title(f"{name}: window at ({s.row}, {s.col})", fontsize=8)
        b.imshow(np.nan_to_num(result, nan=0.0), cmap="coolwarm", vmin=-lim, vmax=lim)
        for (i, j), v in np.ndenumerate(result):
            if not np.isnan(v):
                b.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=9)
        box(b, s.row, s.col, 1, 1, "red", 3)
        b.set_title(f"sum = {s.value:g}")
        off(b)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=70)
        p.close(fig)
        frames.append(Image.open(io.BytesIO(buf.getvalue())).convert("P"))
    out = io.BytesIO()
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=500, loop=0)
    atomic_write(path, out.getvalue())


def kernel_gallery(image=None):
    """The same photo convolved with classic kernels (edges, blur, sharpen, Sobel x/y).

    Args:
        image: the photo (None: scikit-image's cat).

    Returns:
        A matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> fig = kernel_gallery(np.full((20, 20), 10, np.uint8))
    >>> len(fig.axes)
    12
    """
    p = plt()
    photo = resolve_image(image) or default_photo()
    g = gray(photo).astype(float)
    fig, axes = p.subplots(2, len(KERNELS), figsize=(3.0 * len(KERNELS), 5.6),
                           gridspec_kw={"height_ratios": [1, 3]})
    for j, (name, k) in enumerate(KERNELS.items()):
        fmt = "{:.2f}" if name.startswith("blur") else "{:.0f}"
        lim = max(np.abs(k).max(), 1e-9)
        show_numbers(axes[0, j], k, fmt=fmt, cmap="coolwarm", vmin=-lim, vmax=lim, fontsize=7 if k.size > 9 else 9)
        axes[0, j].set_title(name)
        out = _conv(g, k, padding=k.shape[0] // 2)
        if name.startswith(("edges", "Sobel")):
            axes[1, j].imshow(np.abs(out), cmap="gray", vmin=0, vmax=np.percentile(np.abs(out), 99.5))
        else:
            axes[1, j].imshow(np.clip(out, 0, 255), cmap="gray", vmin=0, vmax=255)
        off(axes[1, j])
    fig.suptitle(f"Different kernels pick out different features of the same image ({photo.name}; "
                 "top: kernel, bottom: result)")
    fig.tight_layout()
    return fig


def multichannel(image=None):
    """Each color channel has its own kernel; the three results are summed into one output.

    Args:
        image: the photo (None: scikit-image's cat); a gray photo gets three equal channels.

    Returns:
        A matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> fig = multichannel(np.full((30, 30, 3), 60, np.uint8))
    >>> fig.axes[0].get_title()
    'Red channel of your image'
    """
    p = plt()
    photo = resolve_image(image) or default_photo()
    img = np.stack([photo.pixels] * 3, -1) if photo.pixels.ndim == 2 else photo.pixels
    img = img[::3, ::3].astype(float) if min(img.shape[:2]) >= 30 else img.astype(float)  # (H/3, W/3, 3): quicker
    kernels = [KERNELS["Sobel x (vertical edges)"], KERNELS["Sobel y (horizontal edges)"],
               KERNELS["edges (Laplacian)"] / 2]
    x = img.transpose(2, 0, 1)[None]  # (1, 3, H, W)
    w = np.stack(kernels)[None]  # (1 output channel, 3 input channels, 3, 3)
    per = [_conv(x[0, c], kernels[c], padding=1) for c in range(3)]
    total = conv2d(x, w, padding=1)[0, 0]
    assert np.allclose(sum(per), total)
    fig, axes = p.subplots(3, 4, figsize=(14, 9))
    names = ["Red", "Green", "Blue"]
    lim = max(np.percentile(np.abs(total), 99.5), 1e-9)
    for c in range(3):
        axes[c, 0].imshow(x[0, c], cmap=["Reds_r", "Greens_r", "Blues_r"][c], vmin=0, vmax=255)
        axes[c, 0].set_title(f"{names[c]} channel" + (f" of {photo.name}" if c == 0 else ""))
        show_numbers(axes[c, 1], kernels[c], fmt="{:g}", cmap="coolwarm", vmin=-4, vmax=4, fontsize=9)
        axes[c, 1].set_title(f"its own kernel W[0, {c}]")
        axes[c, 2].imshow(per[c], cmap="coolwarm", vmin=-lim, vmax=lim)
        axes[c, 2].set_title(f"{names[c]} (*) W[0, {c}]")
    for ax in axes[:, [0, 2]].flat:
        off(ax)
    for ax in axes[:, 3]:
        ax.axis("off")
    axes[1, 3].imshow(total, cmap="coolwarm", vmin=-lim, vmax=lim)
    axes[1, 3].axis("on")
    off(axes[1, 3])
    axes[1, 3].set_title("sum of the three = one output channel", color="darkred")
    axes[0, 3].text(0.5, 0.2, "+", fontsize=40, ha="center")
    axes[2, 3].text(0.5, 0.6, f"(3, {x.shape[2]}, {x.shape[3]}) in\n-> (1, {total.shape[0]}, {total.shape[1]}) out",
                    ha="center", fontsize=11)
    fig.suptitle("Convolution across channels: one kernel per input channel, results summed", fontsize=12)
    fig.tight_layout()
    return fig


def max_pooling(image=None):
    """2x2 max pooling of an 8x8 patch: the maximum of each window is kept (and marked).

    Args:
        image: the photo to shrink to 8x8 (None: a patch of a Fashion-MNIST image, or a digit offline).

    Returns:
        A matplotlib Figure.

    Example:

    >>> import numpy as np
    >>> fig = max_pooling(np.arange(64, dtype=np.uint8).reshape(8, 8))
    >>> [t.get_text() for t in fig.axes[1].texts][:4]
    ['9', '11', '13', '15']
    """
    p = plt()
    x, name = small_gray(image, 8, 0, (10, 8))
    out, where = max_pool2d(x[None, None].astype(float), 2)
    fig, (a, b) = p.subplots(1, 2, figsize=(12, 5.6), gridspec_kw={"width_ratios": [2, 1]})
    show_numbers(a, x, fontsize=8)
    colors = ["red", "orange", "lime", "cyan", "magenta", "yellow", "deepskyblue", "white"]
    for i in range(4):
        for j in range(4):
            col = colors[(i * 4 + j) % len(colors)]
            box(a, 2 * i, 2 * j, 2, 2, col, 2.0)
            r, c = where[0, 0, i, j]
            a.plot(c, r, "o", ms=22, mfc="none", mec=col, mew=2.5)
    a.set_title(f"8x8 pixels of {name} (2x2 windows; circle = the maximum of each)")
    show_numbers(b, out[0, 0], fontsize=11)
    for i in range(4):
        for j in range(4):
            box(b, i, j, 1, 1, colors[(i * 4 + j) % len(colors)], 2.5)
    b.set_title("after 2x2 max pooling: 4x4\n(a quarter of the numbers, the strongest kept)")
    fig.suptitle("Max pooling keeps the most prominent value of each region: "
                 "small shifts inside a window do not change it", fontsize=11)
    fig.tight_layout()
    return fig
