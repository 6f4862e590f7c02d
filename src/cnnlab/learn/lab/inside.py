"""Inside a trained model, for one picture: its first-layer kernels, the feature maps at each block, the
prediction and Grad-CAM.

The picture is made exactly as the run's model takes it (:func:`cnnlab.deploy.inputs.prepare_image`: crop,
resize, gray or colour), the prediction is the run's own (:func:`cnnlab.deploy.pipeline.run_logits`), and the
kernels and Grad-CAM come from :mod:`cnnlab.learn.explain.trained` (``first_conv``, ``grad_cam``), the
functions behind ``cnnlab explain trained``, and block 1's feature maps equal its ``first_feature_maps``.

"Blocks" are where a model's feature maps can be looked at: for the lecture CNN, each block of its ``features``
up to its ReLU (conv -> batch norm -> ReLU, at the block's full resolution, before its pooling); for a
pretrained EfficientNet-Lite0, its stem, each of its 7 stages and its head convolution.

>>> import torch.nn as nn
>>> [name for name, _ in blocks_of(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.ReLU()))]
['block 1', 'block 2']
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from cnnlab.deploy.inputs import prepare_image
from cnnlab.deploy.pipeline import run_logits
from cnnlab.errors import ConfigError
from cnnlab.learn.explain.trained import ACTIVATIONS, first_conv, grad_cam, last_conv_block

MAX_KERNELS = 32
SHOWN_CHANNELS = 6  # feature maps shown per block: the most active ones


def blocks_of(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The layers whose outputs are the model's feature maps, block by block, as ``(name, module)``.

    Returns:
        The lecture CNN's ReLUs in ``features``; a pretrained backbone's stem, stages and head convolution;
        otherwise every activation that follows a convolution (empty for a model without convolutions).

    >>> [name for name, _ in blocks_of(nn.Sequential(nn.Flatten(), nn.Linear(4, 2)))]
    []
    """
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential) and any(isinstance(m, nn.ReLU) for m in features):
        relus = [m for m in features if isinstance(m, nn.ReLU)]
        return [(f"block {i + 1}", m) for i, m in enumerate(relus)]
    bb = getattr(model, "backbone", None)
    if bb is not None and hasattr(bb, "blocks") and hasattr(bb, "bn1") and hasattr(bb, "bn2"):
        stages = [(f"stage {i + 1}", s) for i, s in enumerate(bb.blocks)]
        return [("stem", bb.bn1), *stages, ("head convolution", bb.bn2)]
    mods = list(model.modules())
    out, seen_conv = [], False
    for m in mods:
        if isinstance(m, nn.Conv2d):
            seen_conv = True
        elif seen_conv and isinstance(m, ACTIVATIONS):
            out.append((f"block {len(out) + 1}", m))
            seen_conv = False
    return out


def feature_maps(model: nn.Module, x: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
    """Every block's feature maps for one prepared image ``x`` (1, C, H, W): ``[(name, (C, h, w))]``.

    For the lecture CNN, block k's maps are its layers up to its ReLU, without its pooling, applied to what the
    block before handed on: for block 1 the same definition as
    :func:`cnnlab.learn.explain.trained.first_feature_maps`, so the maps are at the block's full resolution
    whether it pools first or last. Other models: the outputs of :func:`blocks_of`.
    """
    features = getattr(model, "features", None)
    if isinstance(features, nn.Sequential) and any(isinstance(m, nn.ReLU) for m in features):
        out, block = [], []
        with torch.no_grad():
            h = model.eval().normalize(x.float())  # (1, C, H, W)
            for layer in features:
                block.append(layer)
                if isinstance(layer, nn.ReLU):
                    maps = nn.Sequential(*[m for m in block if not isinstance(m, nn.MaxPool2d)])(h)
                    out.append((f"block {len(out) + 1}", maps[0].float()))
                    h = nn.Sequential(*block)(h)  # what the next block gets (pooled)
                    block = []
        return out
    found: dict[str, torch.Tensor] = {}
    hooks = [m.register_forward_hook(lambda mod, i, out, name=name: found.__setitem__(name, out[0].detach().clone()))
             for name, m in blocks_of(model)]
    try:
        with torch.no_grad():
            model.eval()(x.float())
    finally:
        for h in hooks:
            h.remove()
    return [(name, found[name].float()) for name, _ in blocks_of(model) if name in found]


def strongest(maps: torch.Tensor, k: int = SHOWN_CHANNELS) -> list[int]:
    """The ``k`` channels with the largest mean activation, strongest first.

    >>> strongest(torch.tensor([[[1.0]], [[3.0]], [[2.0]]]), 2)
    [1, 2]
    """
    return torch.argsort(maps.mean((1, 2)), descending=True)[:k].tolist()


def see(model: nn.Module, meta: dict, pixels: np.ndarray) -> dict:
    """What a run's model sees and answers for one picture, and its kernels and feature maps (all but Grad-CAM).

    Args:
        model: the run's model (from :func:`cnnlab.training.rundir.load_model`).
        meta: its model.json.
        pixels: the picture, uint8 (H, W) or (H, W, 3).

    Returns:
        ``{"input": uint8 (C, H, W) as the model takes it, "x": that as a (1, C, H, W) tensor, "notes", "classes",
        "probs", "pred", "kernels": (K, C, kh, kw) float or None, "blocks": [{"name", "shape", "channels",
        "maps": (k, h, w)}]}`` (arrays as NumPy). Block 1's maps are those of
        :func:`cnnlab.learn.explain.trained.first_feature_maps`.
    """
    chw, notes = prepare_image(pixels, meta)  # uint8 (C, H, W), exactly as predict feeds the model
    x = torch.from_numpy(np.ascontiguousarray(chw).copy())[None]  # (1, C, H, W)
    probs = run_logits(model.eval(), x, meta).softmax(1)[0]  # (K,): the run's own answer (with its TTA, if any)
    conv = first_conv(model)
    blocks = []
    for name, maps in feature_maps(model, x):
        chosen = strongest(maps)
        blocks.append({"name": name, "shape": list(maps.shape), "channels": chosen, "maps": maps[chosen].numpy()})
    return {"input": chw, "x": x, "notes": notes, "classes": list(meta["classes"]), "probs": probs.numpy(),
            "pred": int(probs.argmax()),
            "kernels": conv.weight.detach().float()[:MAX_KERNELS].numpy() if conv is not None else None,
            "blocks": blocks}


def explain_class(model: nn.Module, seen: dict, target: int | None = None) -> dict:
    """Grad-CAM (:func:`grad_cam`) of a picture :func:`see` looked at, for ``target`` (None: the predicted class).

    Returns:
        ``{"target", "cam": (H, W) in 0..1 or None (no convolution), "cam_layer": the layer it looks at}``.

    Raises:
        ConfigError: ``target`` is not a class of the run.
    """
    classes = seen["classes"]
    if target is not None and (isinstance(target, bool) or not isinstance(target, int)
                               or not 0 <= target < len(classes)):
        raise ConfigError("target", target, f"a class number from 0 to {len(classes) - 1}")
    target = seen["pred"] if target is None else target
    if first_conv(model) is None:
        return {"target": target, "cam": None, "cam_layer": None}
    cam, target = grad_cam(model, seen["x"], target)
    layer = next((n for n, m in model.named_modules() if m is last_conv_block(model)), "")
    return {"target": target, "cam": cam, "cam_layer": layer}


def look_inside(model: nn.Module, meta: dict, pixels: np.ndarray, target: int | None = None) -> dict:
    """Everything the page "Inside your model" shows, for one picture and one run: :func:`see` and
    :func:`explain_class` together.

    Raises:
        ConfigError: ``target`` is not a class of the run.

    Example:

    >>> from cnnlab.models import create_model
    >>> net = create_model("lecture_cnn", num_classes=2, in_channels=1, image_size=16, widths=[4, 8]).eval()
    >>> meta = {"input": {"channels": 1, "size": [16, 16]}, "classes": ["a", "b"], "training": {"precision": "fp32"}}
    >>> out = look_inside(net, meta, np.zeros((20, 20), np.uint8))
    >>> out["input"].shape, [b["name"] for b in out["blocks"]], out["cam"].shape
    ((1, 16, 16), ['block 1', 'block 2'], (16, 16))
    """
    seen = see(model, meta, pixels)
    return {**seen, **explain_class(model, seen, target)}
