"""A Keras-style model summary: each layer's output shape, parameter count and FLOPs.

>>> from cnnlab.models import create_model, summary
>>> print(summary(create_model("lecture_cnn", widths=(8,), hidden=16, image_size=8), (1, 8, 8)))
Layer (type)                           Output shape     Params        FLOPs
===========================================================================
normalize (Normalize)                     (1, 8, 8)          0            0
features.0 (Conv2d)                       (8, 8, 8)         72        9,216
features.1 (MaxPool2d)                    (8, 4, 4)          0            0
features.2 (BatchNorm2d)                  (8, 4, 4)         16            0
features.3 (ReLU)                         (8, 4, 4)          0            0
head.0 (Flatten)                             (128,)          0            0
head.1 (Linear)                               (16,)      2,048        4,096
head.2 (BatchNorm1d)                          (16,)         32            0
head.3 (ReLU)                                 (16,)          0            0
head.4 (Dropout)                              (16,)          0            0
head.5 (Linear)                               (10,)        170          320
===========================================================================
Input shape: (1, 8, 8) (uint8)
Total params: 2,338  (trainable 2,338, frozen 0)
Total FLOPs per image (forward): 13,632
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def layer_table(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict]:
    """One row per leaf layer: name, type, output shape, parameters, forward FLOPs (for one image).

    Args:
        model: any model taking uint8 images.
        input_shape: one image's shape ``(C, H, W)``.

    Returns:
        A list of dicts with keys name, type, output (shape without the batch axis), params, flops.

    >>> from cnnlab.models import create_model
    >>> rows = layer_table(create_model("lecture_cnn", widths=(8,), hidden=16, image_size=8), (1, 8, 8))
    >>> rows[1]
    {'name': 'features.0', 'type': 'Conv2d', 'output': (8, 8, 8), 'params': 72, 'flops': 9216}
    """
    rows: list[dict] = []
    hooks = []
    counter = FlopCounterMode(display=False)

    def hook(name):
        def fn(module, inputs, output):
            rows.append({"name": name, "type": type(module).__name__,
                         "output": tuple(output.shape[1:]) if torch.is_tensor(output) else None,
                         "params": sum(p.numel() for p in module.parameters(recurse=False))})
        return fn

    for name, m in model.named_modules():
        if not list(m.children()) and name:
            hooks.append(m.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        x = torch.zeros((1, *input_shape), dtype=torch.uint8)
        with torch.no_grad(), counter:
            model(x)
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    flops = counter.get_flop_counts()
    for row in rows:
        row["flops"] = int(sum(flops.get(f"{type(model).__name__}.{row['name']}", {}).values()))
    return rows


def summary(model: nn.Module, input_shape: tuple[int, ...]) -> str:
    """A Keras-style printable table with totals (FLOPs counted as 2 per multiply-add, forward, one image).

    Args:
        model: any model taking uint8 images.
        input_shape: one image's shape ``(C, H, W)``.

    Returns:
        The table as text (see the module's example).

    >>> from cnnlab.models import create_model
    >>> summary(create_model("mlp", hidden=[8], image_size=4), (1, 4, 4)).splitlines()[-2]
    'Total params: 226  (trainable 226, frozen 0)'
    """
    rows = layer_table(model, input_shape)
    lines = [f"{'Layer (type)':34s} {'Output shape':>16s} {'Params':>10s} {'FLOPs':>12s}", "=" * 75]
    for r in rows:
        shape = str(r["output"]) if r["output"] is not None else "-"
        lines.append(f"{r['name'] + ' (' + r['type'] + ')':34s} {shape:>16s} {r['params']:>10,} {r['flops']:>12,}")
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    lines += ["=" * 75,
              f"Input shape: {tuple(input_shape)} (uint8)",
              f"Total params: {total:,}  (trainable {trainable:,}, frozen {total - trainable:,})",
              f"Total FLOPs per image (forward): {sum(r['flops'] for r in rows):,}"]
    return "\n".join(lines)
