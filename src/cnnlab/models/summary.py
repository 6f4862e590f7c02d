"""A Keras-style model summary: each layer's output shape, parameter count and FLOPs.

>>> from cnnlab.models import create_model, summary
>>> print(summary(create_model("lecture_cnn"), (1, 28, 28)))  # doctest: +SKIP
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode


def layer_table(model: nn.Module, input_shape: tuple[int, ...]) -> list[dict]:
    """One row per leaf layer: name, type, output shape, parameters, forward FLOPs (for one image)."""
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
    """Printable table with totals (FLOPs counted as 2 per multiply-add, forward, one image)."""
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
