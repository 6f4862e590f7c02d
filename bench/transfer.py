"""Transfer learning benchmarks, all offline, on the CPU.

1. Few labels: Fashion-MNIST with 10, 50 and 100 labels per class — the lecture CNN from scratch vs a
   frozen pretrained EfficientNet-Lite0 with a new head vs the same, fine-tuned. Test accuracy and
   wall time (training + feature extraction; scored on a fixed 2,000-image test subset).
2. Head training from the feature cache vs recomputing the frozen extractor every epoch.
3. A Teachable-Machine-sized job: ~500 photos in 5 classes in a folder, end to end through
   ``cnnlab train`` (decode, features, head, test, report), timed as a user would time it.

    .venv/bin/python bench/transfer.py                 # writes bench/results/transfer.json
    .venv/bin/python bench/transfer.py --only folder   # just the Teachable-Machine job

Where the Teachable-Machine job's time goes, phase by phase: bench/transfer_phases.py.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cnnlab.config import RunConfig
from cnnlab.data.sources import load_dataset
from cnnlab.models import create_model
from cnnlab.training.run import build_model
from cnnlab.training.trainer import TrainConfig, Trainer, evaluate
from cnnlab.training.transfer import fit_transfer

INPUT = 112  # EfficientNet-Lite0 input size for 28x28 Fashion-MNIST (4x cheaper than 224; see README)
TEST_N = 2000


def few_labels(per_class: int, test, cache_root: Path) -> list[dict]:
    full = load_dataset("fashion-mnist", "train")
    train = full.per_class(per_class, seed=0)
    rows = []
    # scratch
    torch.manual_seed(0)
    t0 = time.perf_counter()
    net = build_model(RunConfig.build(model="lecture_cnn"), train)
    Trainer(net, train, None, TrainConfig(epochs=30, batch_size=32, augment="flip,crop=2")).fit()
    rows.append({"labels_per_class": per_class, "method": "lecture CNN from scratch (30 epochs)",
                 "test_accuracy": evaluate(net, test)["accuracy"], "seconds": time.perf_counter() - t0})
    # frozen head and fine-tuned
    for name, fine_tune, epochs in [("frozen EfficientNet-Lite0 + new head (30 epochs)", None, 30),
                                    ("... then fine-tuned (20 head + 3 fine-tune epochs)", 20, 23)]:
        os.environ["CNNLAB_HOME"] = str(cache_root / f"{per_class}-{fine_tune}")  # cold cache: honest timing
        torch.manual_seed(0)
        t0 = time.perf_counter()
        net = create_model("efficientnet_lite0", num_classes=10, pretrained=True, input_size=INPUT)
        cfg = TrainConfig(epochs=epochs, batch_size=32, eval_batch_size=64)
        res = fit_transfer(net, train, None, cfg, fine_tune=fine_tune)
        rows.append({"labels_per_class": per_class, "method": name,
                     "test_accuracy": evaluate(res.model, test, 64, amp_dtype=res.amp_dtype)["accuracy"],
                     "seconds": time.perf_counter() - t0})
    for r in rows:
        print(f"  {per_class:>3}/class  {r['method']:55s} {r['test_accuracy']:.2%}  {r['seconds']:.1f}s", flush=True)
    return rows


def cache_vs_recompute(cache_root: Path) -> dict:
    train = load_dataset("fashion-mnist", "train").per_class(50, seed=0)
    out = {}
    for use_cache in (True, False):
        os.environ["CNNLAB_HOME"] = str(cache_root / f"cache-{use_cache}")
        torch.manual_seed(0)
        net = create_model("efficientnet_lite0", num_classes=10, pretrained=True, input_size=INPUT)
        cfg = TrainConfig(epochs=10, batch_size=32)
        t0 = time.perf_counter()
        fit_transfer(net, train, None, cfg, feature_cache=use_cache)
        out["from_cache" if use_cache else "recompute_each_epoch"] = round(time.perf_counter() - t0, 1)
    print(f"  10 head epochs on 500 images: {out}", flush=True)
    return out


def make_photo_folder(root: Path, per_class: int = 100) -> Path:
    """5 classes x ``per_class`` JPEG photos (random crops, flips, color and size of 5 scikit-image photos)."""
    from PIL import Image
    from skimage import data

    rng = np.random.default_rng(0)
    photos = {"cat": data.chelsea(), "coffee": data.coffee(), "astronaut": data.astronaut(), "rocket": data.rocket(),
              "motorcycle": data.stereo_motorcycle()[0]}
    for name, img in photos.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        h, w = img.shape[:2]
        for i in range(per_class):
            s = rng.uniform(0.5, 0.9)
            ch, cw = int(h * s), int(w * s)
            y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
            crop = img[y:y + ch, x:x + cw]
            crop = crop[:, ::-1] if rng.random() < 0.5 else crop
            crop = np.clip(crop * rng.uniform(0.7, 1.3, size=3), 0, 255).astype(np.uint8)
            size = (int(rng.integers(240, 640)), int(rng.integers(180, 480)))
            Image.fromarray(crop).resize(size).save(root / name / f"{i:03d}.jpg", quality=88)
    return root


def teachable_machine(tmp: Path) -> dict:
    folder = make_photo_folder(tmp / "photos")
    env = dict(os.environ, CNNLAB_HOME=str(tmp / "home"))  # cold: nothing cached
    cmd = [sys.executable, "-m", "cnnlab.cli", "train", "--data", f"folder:{folder}", "--model", "efficientnet_lite0",
           "--pretrained", "--freeze", "--epochs", "10", "--out", str(tmp / "run"), "--quiet"]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(r.stderr)
    meta = json.loads((tmp / "run" / "model.json").read_text())
    out = {"photos": 500, "classes": 5, "seconds_end_to_end": round(seconds, 1),
           "test_accuracy": meta["metrics"]["test_accuracy"], "command": " ".join(cmd[1:])}
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, capture_output=True, text=True)  # decoded photos and features now cached
    out["seconds_second_run_cached"] = round(time.perf_counter() - t0, 1)
    print(f"  Teachable-Machine job: {out}", flush=True)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["few", "cache", "folder"], default=None)
    ap.add_argument("--out", default="bench/results/transfer.json")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cnnlab-bench-"))
    result = {"torch": torch.__version__, "threads": torch.get_num_threads(), "input_size": INPUT}
    try:
        if args.only in (None, "folder"):
            result["teachable_machine"] = teachable_machine(tmp / "tm")
        if args.only in (None, "cache"):
            result["cache"] = cache_vs_recompute(tmp / "cache")
        if args.only in (None, "few"):
            test = load_dataset("fashion-mnist", "test").subset(range(TEST_N))
            result["few_labels"] = [r for k in (10, 50, 100) for r in few_labels(k, test, tmp / "few")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    if "few_labels" in result:
        print("\n| labels/class | method | test accuracy | wall time |\n|---|---|---|---|")
        for r in result["few_labels"]:
            print(f"| {r['labels_per_class']} | {r['method']} | {r['test_accuracy']:.1%} | {r['seconds']:.0f} s |")


if __name__ == "__main__":
    main()
