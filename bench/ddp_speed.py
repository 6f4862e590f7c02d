"""Several processes on one machine: images/s and wall time of `cnnlab train --nproc N`, side by side.

    .venv/bin/python bench/ddp_speed.py                 # N = 1 and 2, lecture CNN, 20,000 Fashion-MNIST images
    .venv/bin/python bench/ddp_speed.py --nproc 1,2,4 --epochs 2

Each run is a real `cnnlab train` (N = 1 without torchrun, the usual run); images/s is the training speed of the
last epoch from history.jsonl (all processes together), wall is the whole command (start-up, torchrun, data, test).
Each count runs --rounds times, taking turns; the table shows medians. Writes bench/results/ddp_speed.json.
With N processes on C cores each process gets C / N threads.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(nproc: int, epochs: int, per_class: int, model: str) -> dict:
    out = Path(tempfile.mkdtemp()) / f"n{nproc}"
    cmd = [sys.executable, "-m", "cnnlab", "train", "--data", "fashion-mnist", "--per-class", str(per_class),
           "--model", model, "--epochs", str(epochs), "--out", str(out), "--quiet", "--no-estimate"]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"nproc {nproc} failed:\n{r.stderr[-3000:]}")
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    meta = json.loads((out / "model.json").read_text())
    return {"nproc": nproc, "images_per_second": history[-1]["images_per_second"], "wall_seconds": round(wall, 1),
            "train_seconds": meta["metrics"]["train_seconds"], "test_accuracy": meta["metrics"]["test_accuracy"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nproc", default="1,2")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--per-class", type=int, default=2000)
    ap.add_argument("--model", default="lecture_cnn")
    ap.add_argument("--rounds", type=int, default=3, help="the process counts take turns; medians are reported")
    ap.add_argument("--out", default="bench/results/ddp_speed.json")
    a = ap.parse_args()
    counts = [int(n) for n in a.nproc.split(",")]
    runs = {n: [] for n in counts}
    for _ in range(a.rounds):  # interleaved, so a busy spell on a shared machine hits every count alike
        for n in counts:
            runs[n].append(run(n, a.epochs, a.per_class, a.model))
    rows = [{k: statistics.median(r[k] for r in runs[n]) for k in runs[n][0]} for n in counts]
    base = rows[0]["images_per_second"]
    print(f"{os.cpu_count()} CPU cores; {a.model}, {a.per_class * 10:,} images x {a.epochs} epochs")
    print("| processes | images/s (all together) | vs first | training s | wall s | test accuracy |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['nproc']} | {r['images_per_second']:,.0f} | {r['images_per_second'] / base:.2f}x | "
              f"{r['train_seconds']:.1f} | {r['wall_seconds']:.1f} | {r['test_accuracy']:.2%} |")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps({"cpu_count": os.cpu_count(), "model": a.model, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
