"""Time-to-accuracy on Fashion-MNIST: cnnlab's recipe vs the usual PyTorch tutorial loop, side by side.

Both train on all 60,000 training images and are scored on the 10,000 test images after every
epoch (evaluation time is not counted as training time). In the same process, one after the other:

  baseline  the plain PyTorch tutorial loop: DataLoader over a float TensorDataset, shuffle, Adam 1e-3,
            batch 128, fp32, on the same lecture CNN: "same" = the very same model, pool-first blocks
            included (the strict comparison); "slide" = the slide's conv-BN-ReLU-pool order, as tutorial
            code writes it (--baselines same,slide runs both);
  cnnlab    the default recipe: uint8 data in memory, batched flip augmentation, AdamW + one-cycle (peak 8e-3),
            label smoothing, channels_last, bf16 autocast where the CPU has AVX512-BF16, pool-first blocks,
            flip TTA; run as a complete schedule at several epoch budgets (1.25, 1.5, 2, 4, 8).

Also measured: model FLOPs utilization (training FLOP/s counted with torch.utils.flop_counter,
over the CPU's peak), and inference latency/throughput of the lecture CNN and EfficientNet-Lite0.

    .venv/bin/python bench/train_speed.py --baselines same,slide   # the table in the README (~20 min)
    .venv/bin/python bench/train_speed.py --recipe medium --budgets 8 --skip-baseline   # the 5-minute recipe
    .venv/bin/python bench/train_speed.py --recipe large --budgets 28 --skip-baseline   # opt-in, ~25 min
    .venv/bin/python bench/train_speed.py --recipe fm-95 --budgets 21 --skip-baseline   # 95%: ~29 min
    .venv/bin/python bench/train_speed.py --quick              # 1 epoch each, to try the harness

Writes bench/results/train_speed.json and .csv.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from cnnlab.config import RECIPES as CONFIG_RECIPES
from cnnlab.data.sources import load_dataset
from cnnlab.device import inference_autocast
from cnnlab.models import create_model
from cnnlab.training.trainer import TrainConfig, Trainer, evaluate

TARGETS = [0.90, 0.91, 0.92, 0.93, 0.94, 0.95]
RECIPES = {
    # name: (model arguments, training settings); epochs: the longest budget, --budgets runs shorter ones too
    "default": ({}, {"epochs": 8, "augment": "flip", "tta": True}),  # the lecture CNN as `cnnlab train` runs it
    "medium": ({"widths": [64, 128, 256], "hidden": 256},  # the 5-minute recipe: run with --budgets 8
               {"epochs": 8, "augment": "flip", "tta": True}),
    "large": ({"widths": [64, 128, 256], "convs_per_block": [1, 2, 2], "hidden": 256},  # ~25 min: --budgets 28
              {"epochs": 28, "augment": "flip,crop=2,erase=0.25@0.5", "tta": True}),
}
# `cnnlab train --recipe NAME` recipes (cnnlab.config.RECIPES): their own model; run with --budgets EPOCHS
for _name, _recipe in CONFIG_RECIPES.items():
    _opts = dict(_recipe["options"])
    RECIPES[_name] = ({"model": _opts.pop("model", "lecture_cnn"), **_opts.pop("model_args", {})},
                      {"tta": True, **_opts})


def cpu_peak_gflops(bf16: bool) -> tuple[float, str]:
    """The CPU's peak: the larger of the nominal-clock figure and a measured large matrix multiply.

    Nominal: cores x FLOP/cycle x clock from /proc/cpuinfo (Zen 4: two 256-bit FMA pipes = 32 FP32
    FLOP/cycle; BF16 dot products x2). A virtual machine reports its nominal clock while the cores boost
    above it, so a 2048x2048 GEMM (the best case for oneDNN) can beat that figure: then the GEMM is the peak.
    """
    mhz = 0.0
    try:
        mhz = max(float(line.split(":")[1]) for line in open("/proc/cpuinfo") if line.startswith("cpu MHz"))
    except (OSError, ValueError):
        pass
    mhz = mhz or 2600.0
    cores = torch.get_num_threads()
    nominal = cores * 32 * mhz / 1000 * (2 if bf16 else 1)
    dtype = torch.bfloat16 if bf16 else torch.float32
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    gemm = 0.0
    for _ in range(6):
        t0 = time.perf_counter()
        for _ in range(8):
            a @ b
        gemm = max(gemm, 8 * 2 * 2048**3 / (time.perf_counter() - t0) / 1e9)
    how = (f"nominal {cores} cores x 32 FP32 FLOP/cycle x {mhz / 1000:.2f} GHz" + (" x 2 (BF16)" if bf16 else "")
           + f" = {nominal:.0f}; measured 2048x2048 {'bf16' if bf16 else 'fp32'} GEMM = {gemm:.0f}; peak = the larger")
    return max(nominal, gemm), how


def train_flops_per_image(model, shape) -> float:
    """Forward + backward FLOPs of one training step, per image (torch.utils.flop_counter)."""
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.zeros((32, *shape), dtype=torch.uint8)
    y = torch.zeros(32, dtype=torch.long)
    counter = FlopCounterMode(display=False)
    with counter:
        F.cross_entropy(model(x), y).backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 32


def time_to(history: list[dict]) -> dict:
    out = {}
    for t in TARGETS:
        hit = next((h for h in history if h["test_accuracy"] >= t), None)
        out[f"{t:.0%}"] = round(hit["train_seconds"], 1) if hit else None
    return out


def run_baseline(train, test, epochs: int, seconds: float, model_args: dict, slide_order: bool = False) -> list[dict]:
    """The usual tutorial code: float tensors, DataLoader, Adam, batch 128, fp32."""
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(0)
    mean, std = train.mean_std()
    model = create_model("lecture_cnn", num_classes=10, in_channels=1, image_size=28, mean=mean, std=std,
                         **dict(model_args, pool_first=not slide_order))
    x = train.images.float()  # the model normalizes inside, so both runs see the same inputs
    loader = DataLoader(TensorDataset(x, train.labels), batch_size=128, shuffle=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    history, total = [], 0.0
    for epoch in range(epochs):
        model.train()
        t0 = time.perf_counter()
        for xb, yb in loader:
            opt.zero_grad()
            F.cross_entropy(model(xb), yb).backward()
            opt.step()
        dt = time.perf_counter() - t0
        total += dt
        acc = evaluate(model, test)["accuracy"]
        history.append({"epoch": epoch + 1, "epoch_seconds": round(dt, 2), "train_seconds": round(total, 2),
                        "images_per_second": round(len(train) / dt), "test_accuracy": acc})
        print(f"  baseline epoch {epoch + 1}: {dt:.1f}s, test {acc:.2%}", flush=True)
        if total > seconds:
            break
    return history


def run_cnnlab(train, test, model_args: dict, train_args: dict, compile_: bool = False) -> tuple[list, object]:
    torch.manual_seed(0)
    mean, std = train.mean_std()
    model_args = dict(model_args)
    model = create_model(model_args.pop("model", "lecture_cnn"), num_classes=10, in_channels=1, image_size=28,
                         mean=mean, std=std, **model_args)
    cfg = TrainConfig(**train_args, compile=compile_)

    class Log:
        def __init__(self):
            self.total = 0.0

        def after_epoch(self, t):
            self.total += t.metrics["seconds"]
            t.metrics.update(train_seconds=round(self.total, 2), test_accuracy=t.metrics.pop("val_accuracy"),
                             epoch_seconds=t.metrics["seconds"])
            print(f"  cnnlab epoch {t.epoch}: {t.metrics['seconds']:.1f}s, test {t.metrics['test_accuracy']:.2%}",
                  flush=True)

    trainer = Trainer(model, train, test, cfg, callbacks=[Log()])
    history = trainer.fit().history
    if trainer.averaged_count:  # weight averaging: the model at the end is the average, not the last epoch's
        acc = evaluate(trainer.model, test, cfg.eval_batch_size or 1024, trainer.device, tta=trainer.config.tta,
                       amp_dtype=trainer.amp_dtype)["accuracy"]
        history[-1].update(test_accuracy_last_weights=history[-1]["test_accuracy"], test_accuracy=acc)
        print(f"  cnnlab averaged weights ({trainer.averaged_count} steps): test {acc:.2%}", flush=True)
    return history, trainer


def inference(test) -> list[dict]:
    rows = []
    for name, kwargs, shape in [("lecture_cnn", {"image_size": 28}, (1, 28, 28)),
                                ("efficientnet_lite0", {"pretrained": True}, (3, 224, 224))]:
        model = create_model(name, num_classes=10, in_channels=shape[0], **kwargs).eval()
        model = model.to(memory_format=torch.channels_last)  # as cnnlab.deploy.predict runs it
        one = torch.randint(0, 255, (1, *shape), dtype=torch.uint8).contiguous(memory_format=torch.channels_last)
        batch = torch.randint(0, 255, (256 if name == "lecture_cnn" else 32, *shape), dtype=torch.uint8)
        batch = batch.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode(), inference_autocast(torch.device("cpu")):
            for _ in range(3):
                model(one)
            lat = []
            for _ in range(30):
                t0 = time.perf_counter()
                model(one)
                lat.append(time.perf_counter() - t0)
            t0, n = time.perf_counter(), 0
            while time.perf_counter() - t0 < 3:
                model(batch)
                n += len(batch)
            rows.append({"model": name, "input": "x".join(map(str, shape)),
                         "latency_ms_median": round(sorted(lat)[len(lat) // 2] * 1000, 2),
                         "batch_images_per_second": round(n / (time.perf_counter() - t0), 1)})
        print(f"  inference {rows[-1]}", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", choices=list(RECIPES), default="default")
    ap.add_argument("--baseline-epochs", type=int, default=10)
    ap.add_argument("--baseline-seconds", type=float, default=420, help="stop the baseline after this much training")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--baselines", default="same", help="same (the identical model), slide (the slide's "
                    "conv-BN-ReLU-pool order), or both: same,slide")
    ap.add_argument("--compile", action="store_true", help="also torch.compile the cnnlab model")
    ap.add_argument("--quick", action="store_true", help="1 epoch each: check the harness")
    ap.add_argument("--budgets", default="1.25,1.5,2,4,8", help="epoch budgets (fractions allowed): the recipe is "
                    "a complete one-cycle run at each; time to X is the shortest training time at which any reached X")
    ap.add_argument("--out", default="bench/results/train_speed")
    args = ap.parse_args()

    train, test = load_dataset("fashion-mnist", "train"), load_dataset("fashion-mnist", "test")
    model_args, train_args = RECIPES[args.recipe]
    if not args.skip_baseline and model_args.get("model", "lecture_cnn") != "lecture_cnn":
        raise SystemExit(f"recipe {args.recipe}: the baselines run the lecture CNN; add --skip-baseline")
    train_args = dict(train_args)
    if args.quick:
        train_args["epochs"] = 1
        args.baseline_epochs = 1
    result = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "torch": torch.__version__, "cores": os.cpu_count()},
              "recipe": args.recipe, "model_args": model_args, "train_args": train_args}
    budgets = [1] if args.quick else sorted(float(b) for b in args.budgets.split(","))
    runs = {}
    for epochs in budgets:
        print(f"cnnlab recipe '{args.recipe}', {epochs:g} epochs: {model_args} {train_args}", flush=True)
        runs[epochs] = run_cnnlab(train, test, model_args, dict(train_args, epochs=epochs), args.compile)
    hist, trainer = runs[budgets[-1]]
    best_time = {}
    for h, _ in runs.values():
        for k, v in time_to(h).items():
            if v is not None and (best_time.get(k) is None or v < best_time[k]):
                best_time[k] = v
    time_to_best = {f"{t:.0%}": best_time.get(f"{t:.0%}") for t in TARGETS}
    margs = dict(model_args)
    flops = train_flops_per_image(create_model(margs.pop("model", "lecture_cnn"), num_classes=10, image_size=28,
                                               **margs), (1, 28, 28))
    bf16 = trainer.amp_dtype == torch.bfloat16
    peak, how = cpu_peak_gflops(bf16)
    ips = sum(h["images_per_second"] for h in hist[1:] or hist) / len(hist[1:] or hist)
    result["cnnlab"] = {"history": hist, "time_to": time_to_best, "final_test_accuracy": hist[-1]["test_accuracy"],
                        "best_test_accuracy": max(e["test_accuracy"] for hs, _ in runs.values() for e in hs),
                        "budgets": {f"{e:g}": {"final_test_accuracy": h[-1]["test_accuracy"],
                                        "train_seconds": h[-1]["train_seconds"]} for e, (h, _) in runs.items()},
                        "train_flops_per_image": flops, "images_per_second": round(ips),
                        "achieved_gflops": round(flops * ips / 1e9, 1), "peak_gflops": round(peak, 1),
                        "peak_derivation": how, "mfu": round(flops * ips / 1e9 / peak, 3),
                        "precision": str(trainer.amp_dtype or "float32")}
    result["baselines"] = {}
    for kind in [] if args.skip_baseline else [k.strip() for k in args.baselines.split(",")]:
        if kind not in ("same", "slide"):
            raise SystemExit(f"--baselines: unknown {kind!r}; use same, slide or same,slide")
        print(f"baseline ({kind}): plain PyTorch tutorial loop", flush=True)
        bh = run_baseline(train, test, args.baseline_epochs, args.baseline_seconds, model_args, kind == "slide")
        result["baselines"][kind] = {"history": bh, "time_to": time_to(bh),
                                     "final_test_accuracy": bh[-1]["test_accuracy"],
                                     "best_test_accuracy": max(h["test_accuracy"] for h in bh),
                                     "images_per_second": round(sum(h["images_per_second"] for h in bh) / len(bh))}
    result["inference"] = inference(test)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".json").write_text(json.dumps(result, indent=2, default=str))
    with open(args.out + ".csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "epoch", "epoch_seconds", "train_seconds", "images_per_second", "test_accuracy"])
        runs_out = {f"baseline_{k}": v for k, v in result["baselines"].items()} | {"cnnlab": result["cnnlab"]}
        for run, d in runs_out.items():
            for h in d["history"]:
                w.writerow([run, h["epoch"], h["epoch_seconds"], h["train_seconds"], h["images_per_second"],
                            round(h["test_accuracy"], 4)])
    print_table(result)


def print_table(r: dict) -> None:
    c, bs = r["cnnlab"], r.get("baselines", {})
    names = {"same": "plain PyTorch loop, same model", "slide": "plain PyTorch loop, slide's block order"}
    print(f"\nFashion-MNIST, {r['machine']['threads']} threads, torch {r['machine']['torch']}, recipe {r['recipe']}\n")
    print("| | " + " | ".join(f"time to {t:.0%}" for t in TARGETS) + " | best test acc | images/s |")
    print("|---|" + "---|" * (len(TARGETS) + 2))
    for name, d in [(names[k], v) for k, v in bs.items()] + [("cnnlab", c)]:
        if d:
            tt = d["time_to"]
            cells = [f"{tt[f'{t:.0%}']} s" if tt[f"{t:.0%}"] is not None else "—" for t in TARGETS]
            print(f"| {name} | " + " | ".join(cells)
                  + f" | {d['best_test_accuracy']:.2%} | {d['images_per_second']:,} |")
    for e, d in c["budgets"].items():
        print(f"cnnlab, {e}-epoch budget: {d['final_test_accuracy']:.2%} after {d['train_seconds']:.0f} s of training")
    for k, b in bs.items():
        if b["time_to"]["91%"] and c["time_to"]["91%"]:
            print(f"time to 91%: {b['time_to']['91%'] / c['time_to']['91%']:.1f}x shorter than the {names[k]}")
    print(f"\nMFU: {c['achieved_gflops']} GFLOP/s achieved / {c['peak_gflops']} peak ({c['peak_derivation']}) "
          f"= {c['mfu']:.0%}  [{c['train_flops_per_image'] / 1e6:.1f} MFLOP per training image, {c['precision']}]")
    print("\n| model | input | single-image latency (median) | batch throughput |\n|---|---|---|---|")
    for row in r["inference"]:
        print(f"| {row['model']} | {row['input']} | {row['latency_ms_median']} ms | "
              f"{row['batch_images_per_second']:,} img/s |")


if __name__ == "__main__":
    main()
