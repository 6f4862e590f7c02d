"""Figures of a trained model: first-layer kernels, feature maps, Grad-CAM saliency."""

from __future__ import annotations

import tempfile

import numpy as np
import torch
import torch.nn as nn

from cnnlab.learn.explain.common import off, plt


def trained_model(run: str | None = None):
    """A saved run's model, or a lecture CNN trained for a few seconds on Fashion-MNIST (digits if absent)."""
    from cnnlab.data.sources import DataError, find_fashion_mnist
    from cnnlab.training.rundir import load_model

    if run is None:
        from cnnlab.training.run import train_run

        try:
            find_fashion_mnist()
            data, per_class = "fashion-mnist", 300
        except DataError:
            data, per_class = "digits", None
        run = tempfile.mkdtemp(prefix="cnnlab-explain-")
        print(f"training a small lecture CNN on {data} for the 'trained' figure (a few seconds)...", flush=True)
        train_run(data, "lecture_cnn", epochs=4, out=run, per_class=per_class, progress=False, batch_size=64,
                  precision="fp32")
    model, meta = load_model(run)
    return model, meta


def _test_image(meta, index: int = 0):
    from cnnlab.data.sources import load_dataset

    spec = meta["data"]
    opts = {"image_size": meta["input"]["size"][0], "progress": False} if spec.startswith("folder:") else {}
    ds = load_dataset(spec, "test", **opts)
    return ds.images[index:index + 1], int(ds.labels[index])


def first_conv(model) -> nn.Conv2d:
    return next(m for m in model.modules() if isinstance(m, nn.Conv2d))


def last_conv_block(model) -> nn.Module:
    """Where Grad-CAM looks: the last feature maps before the final pooling, at the finest resolution there.

    In the slide's order (conv -> BN -> ReLU -> pool) that is the last ReLU. In pool-first blocks
    (conv -> pool -> BN -> ReLU) the last ReLU comes after the pooling, so Grad-CAM looks at the last
    convolution's output instead (the original paper's "last convolutional layer"), twice as fine.
    """
    layers = list(model.features)
    relus = [i for i, m in enumerate(layers) if isinstance(m, nn.ReLU)]
    pools = [i for i, m in enumerate(layers) if isinstance(m, nn.MaxPool2d)]
    if pools and relus and pools[-1] < relus[-1]:  # pool-first: the last pooling precedes the last ReLU
        return next(m for m in reversed(layers[:pools[-1]]) if isinstance(m, nn.Conv2d))
    return layers[relus[-1]]


def grad_cam(model, x: torch.Tensor, target: int | None = None) -> tuple[np.ndarray, int]:
    """Grad-CAM: weight the last conv activations by the mean gradient of the class score, keep the positive part."""
    layer = last_conv_block(model)
    store = {}
    def keep(module, inputs, out):
        store["act"] = out
        out.register_hook(lambda g: store.__setitem__("grad", g))  # the gradient flowing back into it

    handle = layer.register_forward_hook(keep)
    model.eval()
    try:
        logits = model(x.float())
        target = int(logits.argmax()) if target is None else target
        model.zero_grad()
        logits[0, target].backward()
    finally:
        handle.remove()
    act, grad = store["act"][0].detach(), store["grad"][0]  # (C, h, w)
    weights = grad.mean((1, 2))
    cam = torch.relu((weights[:, None, None] * act).sum(0))
    cam = torch.nn.functional.interpolate(cam[None, None], size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0]
    return (cam / cam.max().clamp_min(1e-12)).numpy(), target


def trained(image=None, run: str | None = None):
    p = plt()
    model, meta = trained_model(run)
    x, label = _test_image(meta, 0)
    if image is not None:
        from cnnlab.data.images import load_image
        from cnnlab.deploy.predict import prepare

        x = torch.from_numpy(prepare(load_image(image), meta["input"]["channels"], meta["input"]["size"]))[None]
        label = None
    conv = first_conv(model)
    k = conv.weight.detach()[:, 0] if conv.weight.shape[1] == 1 else conv.weight.detach().mean(1)
    n_k = min(16, len(k))
    with torch.no_grad():
        # block 1 up to its ReLU, at full resolution: conv -> BN -> ReLU (skipping a pool_first pooling,
        # which commutes with BN-with-positive-scale and ReLU, so the maps show what gets pooled)
        end = next(i for i, layer in enumerate(model.features) if isinstance(layer, torch.nn.ReLU)) + 1
        block1 = [layer for layer in model.features[:end] if not isinstance(layer, torch.nn.MaxPool2d)]
        maps = torch.nn.Sequential(*block1)(model.normalize(x))[0]
    cam, pred = grad_cam(model, x)
    img = x[0].permute(1, 2, 0).numpy()
    img = img[:, :, 0] if img.shape[2] == 1 else img
    fig = p.figure(figsize=(16, 8.5))
    gs = fig.add_gridspec(4, 12)
    for i in range(n_k):
        ax = fig.add_subplot(gs[i // 8, 4 + i % 8])
        lim = float(k[i].abs().max())
        ax.imshow(k[i], cmap="coolwarm", vmin=-lim, vmax=lim)
        off(ax)
        if i == 0:
            ax.set_title("first-layer kernels (3x3, learned)", loc="left", fontsize=9)
    for i in range(min(16, len(maps))):
        ax = fig.add_subplot(gs[2 + i // 8, 4 + i % 8])
        ax.imshow(maps[i], cmap="magma")
        off(ax)
        if i == 0:
            ax.set_title("feature maps of block 1 for this image (after ReLU)", loc="left", fontsize=9)
    a = fig.add_subplot(gs[0:2, 0:4])
    a.imshow(img, cmap="gray", vmin=0, vmax=255)
    classes = meta["classes"]
    truth = f"true: {classes[label]}, " if label is not None else ""
    a.set_title(f"input ({truth}predicted: {classes[pred]})")
    off(a)
    b = fig.add_subplot(gs[2:4, 0:4])
    b.imshow(img, cmap="gray", vmin=0, vmax=255)
    b.imshow(cam, cmap="jet", alpha=0.45)
    b.set_title(f"Grad-CAM: where the evidence for '{classes[pred]}' is")
    off(b)
    fig.suptitle(f"Inside a trained {meta['architecture']['name']} (test accuracy "
                 f"{meta['metrics']['test_accuracy']:.1%} on {meta['data']})", fontsize=12)
    return fig
