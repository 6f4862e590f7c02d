"""Inference speed: PyTorch vs onnxruntime on the CPU, for the lecture CNN and a frozen EfficientNet-Lite0 run.

Two runs are trained (or given with --fm-run / --lite-run) and exported with ``cnnlab.export(run, format="onnx")``:

  lecture_cnn         the lecture CNN on Fashion-MNIST (2 epochs; flip TTA on, as `cnnlab train` does),
                      input 1x28x28;
  efficientnet_lite0  a frozen pretrained EfficientNet-Lite0 with a new head on a folder of photos (crops of
                      scikit-image sample pictures, 10 classes), input 3x224x224 (no TTA: no flips in training).

Every engine gets the same float32 pixels 0..255 (N, C, H, W) and computes the same thing, the exported graph:
normalization (and resizing) inside, the run's test-time augmentation (image + mirror, when the run has it),
softmax. The engines:

  pytorch fp32        cnnlab.load(run) wrapped as the export wraps it (cnnlab.deploy.export.ProbabilityModel),
                      eval, torch.inference_mode, channels-last, float32: the like-with-like comparison;
  pytorch bf16        the same under bf16 autocast: what `cnnlab predict` runs on a CPU with AVX512-BF16;
  onnxruntime         InferenceSession(model.onnx) on the CPUExecutionProvider with default options;
  onnxruntime 2 thr   the same with intra_op_num_threads=2.

All engines run in one process, interleaved over several rounds (the order reversed every round), and
the median round counts; ratios to pytorch fp32 are taken round by round. torch.set_num_threads(2).

    .venv/bin/python bench/inference_speed.py            # ~4 min; writes bench/results/inference_speed.json
    .venv/bin/python bench/inference_speed.py --quick    # tiny runs and batches: check the harness (~30 s)

The trained runs and their exports stay in --work (default: a folder in the temp directory), so
bench/quantize_int8.py can reuse them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch

import cnnlab
from cnnlab.data.sources import load_dataset
from cnnlab.deploy.export import ProbabilityModel
from cnnlab.deploy.pipeline import RunInput, prepare_images, run_tta

WORK = Path(tempfile.gettempdir()) / "cnnlab-bench-inference"
# the photo classes: scikit-image sample pictures (all ship with scikit-image, no download)
PHOTOS = {"astronaut": "astronaut", "cat": "chelsea", "coffee": "coffee", "rocket": "rocket",
          "motorcycle": "stereo_motorcycle", "galaxies": "hubble_deep_field", "cells": "immunohistochemistry",
          "coins": "coins", "grass": "grass", "gravel": "gravel"}
# full and --quick settings: photos per class (train, test), training epochs, image size, test images, batches
FULL = {"photos": (30, 100), "lite_epochs": 10, "lite_size": None, "fm_epochs": 2, "fm_per_class": None,
        "lite_fm_per_class": 100, "lite_fm_size": 112,
        "classes": len(PHOTOS), "test_images": 2000, "batches": (1, 256), "rounds": 7, "seconds": 1.0}
QUICK = {"photos": (6, 4), "lite_epochs": 1, "lite_size": 64, "fm_epochs": 1, "fm_per_class": 20,
         "lite_fm_per_class": 10, "lite_fm_size": 32,
         "classes": 2, "test_images": 32, "batches": (1, 4), "rounds": 2, "seconds": 0.05}


def make_photo_folder(root: Path, per_class: tuple[int, int], classes: int, size: int | None, seed: int = 0) -> Path:
    """``root/train/<class>/*.jpg`` and ``root/test/<class>/*.jpg``: random crops of scikit-image photos.

    Crops of 25-60% of a picture's side, mirrored half the time, colours scaled by 0.7-1.3 per channel,
    saved as JPEGs of 240-480 pixels (``size`` to ``2 * size`` when given), so textures such as grass and
    gravel are not trivially told apart.
    """
    from PIL import Image  # deferred: only the photo folder needs Pillow and scikit-image (slow to import)
    from skimage import data

    if (root / "done").exists():
        return root
    rng = np.random.default_rng(seed)
    lo = size or 240
    for name, picture in list(PHOTOS.items())[:classes]:
        img = getattr(data, picture)()
        img = img[0] if isinstance(img, tuple) else img  # stereo_motorcycle: (left, right, disparity)
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]  # gray pictures as RGB photos
        h, w = img.shape[:2]
        for split, count in zip(("train", "test"), per_class):
            (root / split / name).mkdir(parents=True, exist_ok=True)
            for i in range(count):
                s = rng.uniform(0.25, 0.6)
                ch, cw = int(h * s), int(w * s)
                y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
                crop = img[y:y + ch, x:x + cw]
                crop = crop[:, ::-1] if rng.random() < 0.5 else crop
                crop = np.clip(crop * rng.uniform(0.7, 1.3, size=3), 0, 255).astype(np.uint8)
                out = (int(rng.integers(lo, 2 * lo)), int(rng.integers(lo, 2 * lo)))
                Image.fromarray(crop).resize(out).save(root / split / name / f"{i:03d}.jpg", quality=85)
    (root / "done").write_text("")
    return root


def train_runs(work: Path, s: dict, fm_run: str | None = None, lite_run: str | None = None,
               models: tuple[str, ...] = ("lecture_cnn", "efficientnet_lite0")) -> dict[str, Path]:
    """The runs (trained into ``work`` unless given or already there), each exported to model.onnx.

    ``models``: lecture_cnn, efficientnet_lite0 (on photos) and efficientnet_lite0_fm (on Fashion-MNIST at
    112x112, 100 images per class: only bench/quantize_int8.py uses it, as a hard test of top-1 agreement).
    """
    os.environ.setdefault("CNNLAB_HOME", str(work / "cnnlab-home"))  # decoded photos and features stay here
    runs = {}
    if "lecture_cnn" in models:
        run = Path(fm_run) if fm_run else work / "fm"
        if not (run / "model.json").exists():
            print(f"training the lecture CNN on Fashion-MNIST ({s['fm_epochs']} epochs) -> {run}", flush=True)
            options = {"per_class": s["fm_per_class"]} if s["fm_per_class"] else {}
            cnnlab.train({"data": "fashion-mnist", "epochs": s["fm_epochs"]}, out=run, progress=False, **options)
        runs["lecture_cnn"] = run
    if "efficientnet_lite0" in models:
        run = Path(lite_run) if lite_run else work / "lite0"
        if not (run / "model.json").exists():
            photos = make_photo_folder(work / "photos", s["photos"], s["classes"], s["lite_size"])
            print(f"training a frozen EfficientNet-Lite0 on {photos} ({s['lite_epochs']} epochs) -> {run}", flush=True)
            size = s["lite_size"]  # None: the model's own, 224
            options = {"image_size": size, "model_args": {"input_size": size}} if size else {}
            cnnlab.train({"data": f"folder:{photos}", "model": "efficientnet_lite0", "pretrained": True,
                          "freeze": True, "epochs": s["lite_epochs"]}, out=run, progress=False, **options)
        runs["efficientnet_lite0"] = run
    if "efficientnet_lite0_fm" in models:  # a harder test of INT8 agreement: a frozen Lite0 that is often unsure
        run = work / "lite0-fm"
        if not (run / "model.json").exists():
            print(f"training a frozen EfficientNet-Lite0 on Fashion-MNIST at {s['lite_fm_size']}x{s['lite_fm_size']} "
                  f"({s['lite_fm_per_class']} images per class) -> {run}", flush=True)
            cnnlab.train({"data": "fashion-mnist", "model": "efficientnet_lite0", "pretrained": True, "freeze": True,
                          "epochs": s["lite_epochs"], "per_class": s["lite_fm_per_class"],
                          "model_args": {"input_size": s["lite_fm_size"]}}, out=run, progress=False)
        runs["efficientnet_lite0_fm"] = run
    for run in runs.values():
        if not (run / "model.onnx").exists():
            cnnlab.export(run, format="onnx")
    return runs


def run_images(run: Path, split: str, limit: int, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """Up to ``limit`` images of a run's data split as the export takes them: float32 pixels 0..255 (N, C, H, W).

    The first ``limit`` images, or with ``seed`` a random choice from the whole split (folders list their
    photos class by class). Returns ``(pixels, labels, meta)``; photos are decoded at the run's size and
    fit, as ``evaluate`` does.
    """
    meta = json.loads((run / "model.json").read_text())
    spec, inp = meta["data"], RunInput.from_meta(meta)
    options = {}
    if spec.startswith("folder:"):
        options = {"image_size": inp.size[0] if inp.size[0] == inp.size[1] else inp.size, "fit": inp.fit,
                   "progress": False}
    data = load_dataset(spec, split, **options)
    pick = torch.arange(min(limit, len(data)))
    if seed is not None:
        pick = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:limit]
    x, _ = prepare_images(data.images[pick], meta)  # uint8 (N, C, H, W) at the run's channels
    return x.float().numpy(), data.labels[pick].numpy(), meta


def torch_engine(run: Path, bf16: bool = False):
    """The run's model as the export wraps it, as a function: float32 numpy (N, C, H, W) -> probabilities (N, K)."""
    model, meta = cnnlab.load(run)
    net = model.float().to(memory_format=torch.channels_last).eval()
    wrapper = ProbabilityModel(net, run_tta(meta)).eval()

    def predict(x: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pixels = torch.from_numpy(x).contiguous(memory_format=torch.channels_last)
            return wrapper(pixels).float().numpy()

    return predict


def ort_engine(path: Path, threads: int | None = None):
    """An onnxruntime CPU session as a function: float32 numpy (N, C, H, W) -> probabilities (N, K)."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run(None, {name: x})[0]

    return predict


def interleaved(engines: dict, x: np.ndarray, rounds: int, seconds: float,
                faults: dict | None = None) -> dict[str, list[float]]:
    """Seconds per call of each engine on ``x``, one value per round; engines take turns within a round.

    Each measurement repeats the call for about ``seconds`` (calibrated once after two warm-up calls);
    the order of the engines is reversed every round, so a slow drift of the machine hits all alike.
    ``faults``, when given, receives each engine's minor page faults per call (fresh memory from the system).
    """
    calls = {}
    for name, fn in engines.items():
        fn(x)
        t0 = time.perf_counter()
        fn(x)
        calls[name] = max(1, min(2000, round(seconds / max(time.perf_counter() - t0, 1e-6))))
    times = {name: [] for name in engines}
    minflt = dict.fromkeys(engines, 0)
    for r in range(rounds):
        for name in list(engines)[::-1 if r % 2 else 1]:
            fn, n = engines[name], calls[name]
            f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            t0 = time.perf_counter()
            for _ in range(n):
                fn(x)
            times[name].append((time.perf_counter() - t0) / n)
            minflt[name] += (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / n
    if faults is not None:
        faults.update({name: round(v / rounds) for name, v in minflt.items()})
    return times


def summarize(times: dict[str, list[float]], batch: int, baseline: str, faults: dict | None = None) -> list[dict]:
    """One row per engine: median ms per batch and images/s, the spread, and the median round-by-round ratio."""
    rows = []
    for name, ts in times.items():
        med = float(np.median(ts))
        ratio = float(np.median([b / t for b, t in zip(times[baseline], ts)]))  # > 1: faster than the baseline
        rows.append({"engine": name, "batch": batch, "ms_per_batch": round(med * 1000, 3),
                     "images_per_second": round(batch / med, 1),
                     "ms_min_max": [round(min(ts) * 1000, 3), round(max(ts) * 1000, 3)],
                     f"speedup_vs_{baseline.replace(' ', '_')}": round(ratio, 3)})
        if faults:
            rows[-1]["page_faults_per_batch"] = faults[name]
    return rows


def machine() -> dict:
    """CPU, the instruction sets that matter for inference (AVX512-VNNI/BF16, AMX), thread counts, versions."""
    info = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "onnxruntime": ort.__version__,
            "onnx": onnx.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "cnnlab": cnnlab.__version__}
    try:
        text = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("model name"))
        flags = set(next(ln for ln in text.splitlines() if ln.startswith("flags")).split(":", 1)[1].split())
        info["flags"] = sorted(f for f in flags if f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16",
                                                           "amx_int8", "amx_bf16", "amx_tile"))
    except (OSError, StopIteration):
        pass
    return info


def load_average() -> list[float]:
    """The 1-minute load average (other programs sharing the CPU make the timings noisy)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def tile(x: np.ndarray, n: int) -> np.ndarray:
    """``n`` images from ``x`` (repeated when it has fewer)."""
    return np.ascontiguousarray(np.resize(x, (n, *x.shape[1:])) if len(x) < n else x[:n])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fm-run", help="a lecture CNN run folder to use instead of training one")
    ap.add_argument("--lite-run", help="a frozen EfficientNet-Lite0 run folder to use instead of training one")
    ap.add_argument("--models", default="lecture_cnn,efficientnet_lite0")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 7; --quick 2)")
    ap.add_argument("--seconds", type=float, help="seconds per measurement (default 1.0)")
    ap.add_argument("--batches", help="batch sizes, e.g. 1,256 (the default; --quick 1,4)")
    ap.add_argument("--work", type=Path, help=f"where runs and exports are kept (default {WORK})")
    ap.add_argument("--quick", action="store_true", help="tiny runs, batches 1 and 4: check the harness")
    ap.add_argument("--out", default="bench/results/inference_speed.json")
    args = ap.parse_args()
    s = dict(QUICK if args.quick else FULL)
    s["rounds"], s["seconds"] = args.rounds or s["rounds"], args.seconds or s["seconds"]
    s["batches"] = tuple(int(b) for b in args.batches.split(",")) if args.batches else s["batches"]
    work = args.work or (WORK / ("quick" if args.quick else "full"))
    torch.set_num_threads(2)
    runs = train_runs(work, s, args.fm_run, args.lite_run, tuple(args.models.split(",")))
    malloc = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}  # glibc tunables, if any were set
    result = {"machine": machine(), "settings": {k: v for k, v in s.items() if k in ("batches", "rounds", "seconds")}
              | {"malloc_environment": malloc}, "quick": args.quick, "load_average_before": load_average(),
              "models": {}, "rows": []}
    for name, run in runs.items():
        x, _, meta = run_images(run, "test", max(s["batches"]))
        engines = {"pytorch fp32": torch_engine(run), "pytorch bf16": torch_engine(run, bf16=True),
                   "onnxruntime": ort_engine(run / "model.onnx"),
                   "onnxruntime 2 threads": ort_engine(run / "model.onnx", threads=2)}
        diff = float(np.abs(engines["onnxruntime"](x) - engines["pytorch fp32"](x)).max())
        result["models"][name] = {"run": str(run), "input": [int(meta["input"]["channels"]), *meta["input"]["size"]],
                                  "tta": run_tta(meta), "test_accuracy": meta["metrics"].get("test_accuracy"),
                                  "onnx_bytes": (run / "model.onnx").stat().st_size,
                                  "max_abs_probability_difference_onnx_vs_torch": diff}
        for batch in s["batches"]:
            xb = tile(x, batch)
            print(f"{name}, batch {batch}: {s['rounds']} interleaved rounds of {list(engines)}", flush=True)
            faults = {}
            rows = summarize(interleaved(engines, xb, s["rounds"], s["seconds"], faults), batch, "pytorch fp32", faults)
            result["rows"] += [{"model": name, **row} for row in rows]
            for row in rows:
                print(f"  {row['engine']:22s} {row['ms_per_batch']:9.2f} ms  {row['images_per_second']:9.1f} img/s  "
                      f"x{row['speedup_vs_pytorch_fp32']:.2f}  {row['page_faults_per_batch']:,} page faults",
                      flush=True)
    result["load_average_after"] = load_average()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


def print_table(r: dict) -> None:
    """The Markdown tables of docs/benchmarks.md."""
    m = r["machine"]
    print(f"\n{m['cpu']}, torch {m['torch']} ({m['torch_threads']} threads), onnxruntime {m['onnxruntime']}\n")
    print("| model | engine | batch | ms per batch (median) | images/s | vs pytorch fp32 | page faults per batch |\n"
          "|---|---|---|---|---|---|---|")
    for row in r["rows"]:
        print(f"| {row['model']} | {row['engine']} | {row['batch']} | {row['ms_per_batch']:,.2f} | "
              f"{row['images_per_second']:,.0f} | {row['speedup_vs_pytorch_fp32']:.2f}x | "
              f"{row.get('page_faults_per_batch', 0):,} |")


if __name__ == "__main__":
    sys.exit(main())
