"""Figures of a trained model: first-layer kernels, feature maps, Grad-CAM saliency.

Works for the lecture CNN (its ``features`` stack) and for any other network, such as a
pretrained EfficientNet-Lite0 backbone: there the kernels are the stem convolution's, the feature
maps are the stem's output after its activation, and Grad-CAM looks at the last convolution. What a
model does not have (an MLP has no convolution) is said in the figure instead of drawn.

>>> import tempfile
>>> from cnnlab.learn.explain.trained import trained
>>> run = tempfile.mkdtemp() + "/digits"
>>> _ = train(out=run, data="digits", epochs=1, model_args={"widths": [8, 16]}, progress=False)
>>> fig = trained(run=run)
>>> fig._suptitle.get_text().startswith("Inside a trained lecture_cnn")
True
"""

from __future__ import annotations

import tempfile

import numpy as np
import torch
import torch.nn as nn

from cnnlab.data.sources import find_fashion_mnist
from cnnlab.deploy.evaluate import load_test_split
from cnnlab.deploy.pipeline import match_channels, prepare_image
from cnnlab.errors import DataError, ModelError
from cnnlab.learn.explain.common import off, plt, resolve_image, with_article
from cnnlab.training.run import train
from cnnlab.training.rundir import load_model

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Hardswish, nn.LeakyReLU, nn.ELU, nn.Mish)


def trained_model(run: str | None = None):
    """A saved run's model, or a lecture CNN trained for a few seconds on Fashion-MNIST (digits if absent).

    Args:
        run: a run folder, or None to train a small model in a temporary folder.

    Returns:
        ``(model, meta)``: the model in evaluation mode and its model.json.

    Raises:
        RunError: ``run`` holds no finished model.

    Example:

    >>> import tempfile
    >>> run = tempfile.mkdtemp() + "/digits"
    >>> _ = train(out=run, data="digits", epochs=1, model_args={"widths": [8, 16]}, progress=False)
    >>> model, meta = trained_model(run)
    >>> meta["classes"][:3], model.training
    (['0', '1', '2'], False)
    """
    if run is None:
        try:
            find_fashion_mnist()
            data, per_class = "fashion-mnist", 300
        except DataError:
            data, per_class = "digits", None
        run = tempfile.mkdtemp(prefix="cnnlab-explain-")
        print(f"training a small lecture CNN on {data} for the 'trained' figure (a few seconds)...", flush=True)
        train(out=run, data=data, model="lecture_cnn", epochs=4, per_class=per_class, batch_size=64,
              precision="fp32", progress=False, overwrite=True)
    return load_model(run)


def _test_image(meta: dict, index: int = 0) -> tuple[torch.Tensor, int]:
    """Image ``index`` of the run's test split as the run was tested on it, uint8 (1, C, H, W), and its label."""
    try:
        ds = load_test_split(meta)
    except DataError as e:
        raise DataError(f"the run's test images ({meta['data']}) cannot be loaded ({e}); pass an image of "
                        "your own instead (image=... in Python, --image on the command line)") from None
    return match_channels(ds.images[index:index + 1], meta["input"]["channels"]), int(ds.labels[index])


def first_conv(model: nn.Module) -> nn.Conv2d | None:
    """The model's first convolution (None for a model without one, such as the MLP).

    Example:

    >>> first_conv(nn.Sequential(nn.Flatten(), nn.Conv2d(1, 4, 3))).out_channels
    4
    >>> first_conv(nn.Linear(2, 2)) is None
    True
    """
    return next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)


def _after(model: nn.Module, layer: nn.Module) -> nn.Module:
    """The first activation that comes after ``layer`` in the model's module order, else ``layer`` itself."""
    mods = list(model.modules())
    return next((m for m in mods[mods.index(layer) + 1:] if isinstance(m, ACTIVATIONS)), layer)


def _module_name(model: nn.Module, layer: nn.Module) -> str:
    return next((name for name, m in model.named_modules() if m is layer), type(layer).__name__)


def last_conv_block(model: nn.Module) -> nn.Module:
    """Where Grad-CAM looks: the last feature maps before the final pooling, at the finest resolution there.

    For the lecture CNN in the slide's order (conv -> BN -> ReLU -> pool) that is the last ReLU. In
    pool-first blocks (conv -> pool -> BN -> ReLU) the last ReLU comes after the pooling, so Grad-CAM
    looks at the last convolution's output instead (the original paper's "last convolutional layer"),
    twice as fine. For other models (pretrained backbones) it is the activation after the last
    convolution (the convolution itself if no activation follows).

    Raises:
        ModelError: the model has no convolution (an MLP).

    Example:

    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 3), nn.ReLU6())
    >>> last_conv_block(net)
    ReLU6()
    """
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential) and any(isinstance(m, nn.Conv2d) for m in features):
        layers = list(features)
        relus = [i for i, m in enumerate(layers) if isinstance(m, nn.ReLU)]
        pools = [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)]
        if pools and relus and pools[-1] < relus[-1]:  # pool-first: the last pooling precedes the last ReLU
            return next(m for m in reversed(layers[:pools[-1]]) if isinstance(m, nn.Conv2d))
        if relus:
            return layers[relus[-1]]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise ModelError("this model has no convolution layer, so Grad-CAM has no feature maps to look at")
    return _after(model, convs[-1])


def grad_cam(model: nn.Module, x: torch.Tensor, target: int | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM: weight the last conv activations by the mean gradient of the class score, keep the positive part.

    Args:
        model: a classifier taking uint8 (N, C, H, W) images.
        x: one image, (1, C, H, W).
        target: the class to explain (None: the predicted class).

    Returns:
        ``(cam, target)``: a (H, W) map in 0..1 at the input's resolution, and the class explained.

    Example:

    >>> torch.manual_seed(0) and None
    >>> net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
    ...                     nn.Linear(4, 2))
    >>> cam, cls = grad_cam(net, torch.rand(1, 1, 8, 8) * 255)
    >>> cam.shape, bool(0.0 <= cam.min() <= cam.max() <= 1.0)
    ((8, 8), True)
    """
    layer = last_conv_block(model)
    store = {}

    def keep(module, inputs, out):
        store["act"] = out
        out.register_hook(lambda g: store.__setitem__("grad", g))  # the gradient flowing back into it

    handle = layer.register_forward_hook(keep)
    model.eval()
    try:
        with torch.enable_grad():  # a frozen backbone has no trainable weights: the input carries the graph
            logits = model(x.float().requires_grad_(True))
            target = int(logits.argmax()) if target is None else target
            model.zero_grad()
            logits[0, target].backward()
    finally:
        handle.remove()
    act, grad = store["act"][0].detach(), store["grad"][0]  # (C, h, w)
    weights = grad.mean((1, 2))
    cam = torch.relu((weights[:, None, None] * act).sum(0)).float()
    cam = torch.nn.functional.interpolate(cam[None, None], size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0]
    return (cam / cam.max().clamp_min(1e-12)).numpy(), target


def first_feature_maps(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor | None, str]:
    """The first layer's feature maps for image ``x``, and a title saying which ones they are.

    For the lecture CNN: block 1 up to its ReLU at full resolution (conv -> BN -> ReLU, skipping a
    pool_first pooling, which commutes with BN-with-positive-scale and ReLU, so the maps show what gets
    pooled). For other models: the output of the first activation after the first convolution.

    Returns:
        ``(maps, title)``: maps (C, h, w), or None for a model without convolutions.

    Example:

    >>> net = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten())
    >>> maps, title = first_feature_maps(net, torch.zeros(1, 1, 6, 6))
    >>> tuple(maps.shape)
    (3, 4, 4)
    """
    conv = first_conv(model)
    if conv is None:
        return None, "no feature maps: this model has no convolution layer (it flattens the image first)"
    features = getattr(model, "features", None)
    with torch.no_grad():
        if isinstance(features, nn.Sequential) and any(isinstance(m, nn.ReLU) for m in features):
            end = next(i for i, layer in enumerate(features) if isinstance(layer, nn.ReLU)) + 1
            block1 = [layer for layer in features[:end] if not isinstance(layer, nn.MaxPool2d)]
            return nn.Sequential(*block1)(model.normalize(x.float()))[0], \
                "feature maps of block 1 for this image (after ReLU)"
        layer = _after(model, conv)
        store = {}
        handle = layer.register_forward_hook(lambda m, i, out: store.__setitem__("maps", out.detach().clone()))
        try:
            model.eval()(x.float())
        finally:
            handle.remove()
    what = f"after {type(layer).__name__}" if layer is not conv else "before any activation"
    return store["maps"][0], f"feature maps of the first layer ({_module_name(model, conv)}, {what})"


def _kernel_images(conv: nn.Conv2d) -> list[tuple[np.ndarray, dict]]:
    """Each kernel as something imshow draws: gray kernels in a diverging map, 3-channel kernels as RGB."""
    w = conv.weight.detach().float()  # (K, C, kh, kw)
    out = []
    for k in w[:16]:
        if k.shape[0] == 3:  # color kernels: scale to 0..1 and show as a tiny RGB image
            k = (k - k.min()) / (k.max() - k.min()).clamp_min(1e-12)
            out.append((k.permute(1, 2, 0).numpy(), {}))
        else:
            k = k[0] if k.shape[0] == 1 else k.mean(0)
            lim = float(k.abs().max()) or 1.0
            out.append((k.numpy(), {"cmap": "coolwarm", "vmin": -lim, "vmax": lim}))
    return out


def _say(ax, text: str) -> None:
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=9, wrap=True, transform=ax.transAxes)


def trained(image=None, run: str | None = None):
    """A trained model from the inside: first-layer kernels, feature maps and Grad-CAM for one image.

    Args:
        image: the image to look at (None: the first test image of the run's data).
        run: a run folder (None: train a small lecture CNN for a few seconds).

    Returns:
        A matplotlib Figure.

    Raises:
        RunError: ``run`` holds no finished model.
        ImageError: ``image`` cannot be read.
        DataError: no ``image`` was given and the run's test data cannot be loaded.

    Example:

    >>> import tempfile, numpy as np
    >>> run = tempfile.mkdtemp() + "/digits"
    >>> _ = train(out=run, data="digits", epochs=1, model_args={"widths": [8, 16]}, progress=False)
    >>> fig = trained(image=np.zeros((16, 16), np.uint8), run=run)
    >>> fig.axes[-2].get_title().startswith("input (your image, predicted: ")
    True
    """
    p = plt()
    photo = resolve_image(image)
    model, meta = trained_model(run)
    notes: list[str] = []
    if photo is not None:  # exactly as predict feeds the run's model (decode, crop, resize, channels)
        chw, notes = prepare_image(photo.path or photo.pixels, meta)
        x, label = torch.tensor(chw)[None], None  # uint8 (1, C, H, W)
    else:
        x, label = _test_image(meta, 0)
    conv = first_conv(model)
    maps, maps_title = first_feature_maps(model, x)
    pretrained = meta.get("pretrained_cfg") is not None
    fig = p.figure(figsize=(16, 8.5))
    gs = fig.add_gridspec(4, 12, hspace=0.55)  # room for the two-line Grad-CAM title
    if conv is None:
        _say(fig.add_subplot(gs[0:2, 4:12]), "no kernels to show: this model has no convolution layer")
    else:
        kh, kw = conv.kernel_size
        where = (f"the pretrained stem ({_module_name(model, conv)}), learned on ImageNet"
                 + (" and kept frozen in this run" if _frozen(meta) else "")) \
            if pretrained else "learned"
        for i, (k, style) in enumerate(_kernel_images(conv)):
            ax = fig.add_subplot(gs[i // 8, 4 + i % 8])
            ax.imshow(k, **style)
            off(ax)
            if i == 0:
                ax.set_title(f"first-layer kernels ({kh}x{kw}x{conv.in_channels}, {where})", loc="left", fontsize=9)
    if maps is None:
        _say(fig.add_subplot(gs[2:4, 4:12]), maps_title)
    else:
        for i in range(min(16, len(maps))):
            ax = fig.add_subplot(gs[2 + i // 8, 4 + i % 8])
            ax.imshow(maps[i].float().numpy(), cmap="magma")
            off(ax)
            if i == 0:
                ax.set_title(maps_title, loc="left", fontsize=9)
    img = x[0].permute(1, 2, 0).numpy()  # uint8 (H, W, C)
    img, cmap = (img[:, :, 0], "gray") if img.shape[2] == 1 else (img, None)
    classes = meta["classes"]
    with torch.no_grad():
        pred = int(model.eval()(x.float()).argmax())
    a = fig.add_subplot(gs[0:2, 0:4])
    a.imshow(img, cmap=cmap, vmin=0, vmax=255)
    shown = f"{photo.name}, " if photo is not None else f"true: {classes[label]}, "
    # what was changed to fit the model, and a warning if it never saw such images
    a.set_title(f"input ({shown}predicted: {classes[pred]})" + "".join(f"\n{n}" for n in notes), fontsize=9)
    off(a)
    b = fig.add_subplot(gs[2:4, 0:4])
    if conv is None:
        _say(b, "no Grad-CAM: it needs the feature maps of a convolution layer, and this model has none")
    else:
        cam, pred = grad_cam(model, x, pred)
        layer = last_conv_block(model)
        b.imshow(img, cmap=cmap, vmin=0, vmax=255)
        b.imshow(cam, cmap="jet", alpha=0.45)
        b.set_title(f"Grad-CAM: where the evidence for {with_article(classes[pred])!s} is\n"
                    f"(from {_module_name(model, layer)}, a {_grid(model, layer, x)} grid)", fontsize=9)
        off(b)
    fig.suptitle(f"Inside a trained {meta['architecture']['name']} (test accuracy "
                 f"{meta['metrics']['test_accuracy']:.1%} on {meta['data']})", fontsize=12)
    return fig


def _frozen(meta: dict) -> bool:
    """Whether the run kept its pretrained backbone frozen (model.json of cnnlab 0.2, or 0.1's flat params)."""
    return bool(meta.get("config", {}).get("model", {}).get("freeze") or meta.get("params", {}).get("freeze"))


def _grid(model: nn.Module, layer: nn.Module, x: torch.Tensor) -> str:
    """The spatial size of ``layer``'s output for ``x`` ("7x7"): how coarse Grad-CAM's map is."""
    store = {}
    handle = layer.register_forward_hook(lambda m, i, out: store.__setitem__("shape", tuple(out.shape[2:])))
    try:
        with torch.no_grad():
            model.eval()(x.float())
    finally:
        handle.remove()
    h, w = store["shape"]
    return f"{h}x{w}"
