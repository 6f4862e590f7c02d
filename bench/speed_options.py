"""What each training speed option is worth: images/s of one training step of the lecture CNN, option by option.

Each row adds one option to the row above it, starting from the plain PyTorch way (fp32, contiguous
NCHW, the slide's block order). All rows run in the same process, interleaved over several rounds
(the median counts), because timings on shared machines drift by +-20% between runs. Accuracy is not
measured here: bench/train_speed.py measures time to accuracy, tests/test_speed_options.py checks that
every option computes the same thing.

    .venv/bin/python bench/speed_options.py              # ~3 min
    .venv/bin/python bench/speed_options.py --compile    # also torch.compile (adds compile time)
    .venv/bin/python bench/speed_options.py --accuracy   # also: 4-epoch Fashion-MNIST test accuracy of the
                                                         # default recipe in bf16 vs fp32, pool-first vs slide order
Also checks, with ONEDNN_VERBOSE, which oneDNN kernels the bf16 convolutions run on.

Writes bench/results/speed_options.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from cnnlab.device import autocast_dtype
from cnnlab.models import create_model


def make_step(channels_last: bool, bf16: bool, pool_first: bool, batch: int, compile_: bool = False):
    torch.manual_seed(0)
    model = create_model("lecture_cnn", num_classes=10, image_size=28, pool_first=pool_first)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    forward = torch.compile(model) if compile_ else model
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randint(0, 256, (batch, 1, 28, 28), dtype=torch.uint8).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,))
    dtype = torch.bfloat16 if bf16 else None

    def step():
        with torch.autocast("cpu", dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(forward(x).float(), y, label_smoothing=0.1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.detach()

    return step


def onednn_kernels() -> list[str]:
    """Run a bf16 training step in a child process with ONEDNN_VERBOSE=1; return the convolution kernels used."""
    code = ("import torch, torch.nn.functional as F\n"
            "from cnnlab.models import create_model\n"
            "m = create_model('lecture_cnn', image_size=28).to(memory_format=torch.channels_last)\n"
            "x = torch.randint(0, 256, (64, 1, 28, 28), dtype=torch.uint8)\n"
            "x = x.contiguous(memory_format=torch.channels_last)\n"
            "with torch.autocast('cpu', dtype=torch.bfloat16):\n"
            "    loss = F.cross_entropy(m(x).float(), torch.zeros(64, dtype=torch.long))\n"
            "loss.backward()\n")
    env = dict(os.environ, ONEDNN_VERBOSE="1")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300).stdout
    kernels = set()
    for line in out.splitlines():  # onednn_verbose,[timestamp,]primitive,exec,cpu,convolution,KERNEL,prop,...
        parts = line.split(",")
        if "exec" in parts and "convolution" in parts:
            i = parts.index("convolution")
            kernels.add(f"{parts[i + 1]} ({parts[i + 2]}) {parts[i + 3].split()[0] if len(parts) > i + 3 else ''}")
    return sorted(kernels)


def accuracy_check(epochs: int = 4) -> list[dict]:
    """Test accuracy after the default recipe at ``epochs``: bf16 vs fp32, pool-first vs the slide's order."""
    from cnnlab.data.sources import load_dataset
    from cnnlab.training.trainer import TrainConfig, Trainer, evaluate

    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    mean, std = train.mean_std()
    rows = []
    for precision, pool_first in [("bf16", True), ("fp32", True), ("bf16", False)]:
        torch.manual_seed(0)
        m = create_model("lecture_cnn", num_classes=10, image_size=28, mean=mean, std=std, pool_first=pool_first)
        t = Trainer(m, train, None, TrainConfig(epochs=epochs, augment="flip", tta=True, precision=precision))
        t0 = time.perf_counter()
        t.fit()
        seconds = time.perf_counter() - t0
        acc = evaluate(m, test, tta=True, amp_dtype=t.amp_dtype)["accuracy"]
        rows.append({"precision": precision, "pool_first": pool_first, "epochs": epochs,
                     "test_accuracy": round(acc, 4), "train_seconds": round(seconds, 1)})
        print(f"  {precision}, pool_first={pool_first}: test {acc:.2%} after {seconds:.0f} s", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--images", type=int, default=12800, help="images per measurement")
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--accuracy", action="store_true", help="also train 4 epochs per precision/order (~4 min)")
    ap.add_argument("--out", default="bench/results/speed_options.json")
    args = ap.parse_args()
    bf16 = autocast_dtype(torch.device("cpu"), "auto") == torch.bfloat16
    # (label, row it is compared with, channels_last, bf16, pool_first, batch[, compile])
    rows = [
        ("fp32, NCHW, slide order (conv-BN-ReLU-pool), batch 256", 0, False, False, False, 256),
        ("+ channels_last", 0, True, False, False, 256),
        ("+ bf16 autocast" + ("" if bf16 else " (no AVX512-BF16 here: fp32)"), 1, True, bf16, False, 256),
        ("+ pool_first (conv-pool-BN-ReLU): the default", 2, True, bf16, True, 256),
        ("  same, batch 128", 3, True, bf16, True, 128),
        ("  same, batch 512", 3, True, bf16, True, 512),
    ]
    if args.compile:
        rows.append(("  same, torch.compile", 3, True, bf16, True, 256, True))
    steps = [make_step(*r[2:]) for r in rows]
    for s in steps:  # warm-up (and compilation)
        for _ in range(3):
            s()
    speeds: list[list[float]] = [[] for _ in rows]
    for rnd in range(args.rounds):
        for i, (r, s) in enumerate(zip(rows, steps, strict=True)):
            n = max(1, args.images // r[5])
            t0 = time.perf_counter()
            for _ in range(n):
                s()
            speeds[i].append(n * r[5] / (time.perf_counter() - t0))
        print(f"round {rnd + 1}/{args.rounds} done", flush=True)
    med = [sorted(v)[len(v) // 2] for v in speeds]
    result = []
    print(f"\ntorch {torch.__version__}, {torch.get_num_threads()} threads; lecture CNN training step, "
          f"median of {args.rounds} rounds\n")
    print("| option | images/s | vs first row | vs the row it builds on |\n|---|---|---|---|")
    for i, r in enumerate(rows):
        print(f"| {r[0]} | {med[i]:,.0f} | {med[i] / med[0]:.2f}x | {med[i] / med[r[1]]:.2f}x |")
        result.append({"option": r[0].strip(), "images_per_second": round(med[i]), "all": [round(v) for v in speeds[i]],
                       "vs_first": round(med[i] / med[0], 3)})
    kernels = onednn_kernels() if bf16 else []
    print("\noneDNN convolution kernels of a bf16 training step (ONEDNN_VERBOSE):")
    for k in kernels or ["(none found: no AVX512-BF16 here, or oneDNN verbose output unavailable)"]:
        print("  " + k)
    accuracy = []
    if args.accuracy:
        print("\naccuracy: default recipe, 4 epochs, Fashion-MNIST test set")
        accuracy = accuracy_check()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                                          "rows": result, "onednn_bf16_conv_kernels": kernels,
                                          "accuracy": accuracy}, indent=2))


if __name__ == "__main__":
    main()
