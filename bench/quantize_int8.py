"""INT8: does quantizing the exported ONNX models make them faster on this CPU, and what does it cost?

For each model of bench/inference_speed.py (the lecture CNN on Fashion-MNIST, a frozen EfficientNet-Lite0
on photos; trained into --work, or reused from there), the exported float32 model.onnx is prepared with
onnxruntime's ``quant_pre_process`` (shape inference, graph optimization) and quantized four ways:

  dynamic            ``quantize_dynamic``: weights to int8 ahead of time, activations quantized at run time
                     from each batch's own range (onnxruntime's default: Conv -> ConvInteger, MatMul -> MatMulInteger);
  dynamic matmul     the same for the fully connected layers only (MatMul, Gemm), the convolutions stay float;
  static s8s8        ``quantize_static``, QDQ format, int8 activations and per-channel int8 weights, ranges
                     calibrated (MinMax) on 128 training images (onnxruntime's recommended default); every
                     operator onnxruntime can quantize except the final softmax (the probabilities stay float);
  static u8s8        the same with uint8 activations (the classic x86 VNNI pairing).

Measured, all with onnxruntime on the CPU in one process: speed at batch 1 and 256 against the float32
model (interleaved rounds, median; ratios taken round by round), file size, top-1 agreement with the
float32 model and test accuracy on up to 2,000 test images, and which operators onnxruntime actually runs
after its own graph optimizations (QLinearConv, ConvInteger or plain Conv).

A variant meets the bar for an ``int8`` export option when, in this run, it is faster at both batch sizes
by more than the noise (10%) and agrees with float32 on at least 99% of the test images ("meets_bar";
whether to ship it is decided in docs/benchmarks.md, over several runs and models).

    .venv/bin/python bench/quantize_int8.py           # ~11 min; writes bench/results/int8.json
    .venv/bin/python bench/quantize_int8.py --quick   # tiny runs: check the harness
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

import inference_speed as speed  # bench/inference_speed.py: the runs, the images and the timing harness
import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry
from onnxruntime.quantization.shape_inference import quant_pre_process

CALIBRATION_IMAGES = 128
MIN_SPEEDUP = 1.10  # faster than float32 by more than the run-to-run noise
MIN_AGREEMENT = 0.99
# static: every operator onnxruntime can quantize except the final softmax, so the probabilities stay float
# (8-bit probabilities come in steps of 1/256: close classes tie and the top-1 flips)
STATIC_OPS = sorted((set(QLinearOpsRegistry) | set(QDQRegistry)) - {"Softmax"})


class Calibration(CalibrationDataReader):
    """Calibration batches of 16 images, float pixels 0..255 (N, C, H, W), for ``quantize_static``."""

    def __init__(self, images: np.ndarray, input_name: str = "pixels"):
        self.batches = iter([{input_name: images[i:i + 16]} for i in range(0, len(images), 16)])

    def get_next(self) -> dict | None:
        return next(self.batches, None)


def quantize(fp32: Path, folder: Path, calibration: np.ndarray) -> tuple[dict[str, Path], dict[str, str]]:
    """The quantized variants of ``fp32`` written into ``folder``: name -> path, and name -> error for failures."""
    folder.mkdir(parents=True, exist_ok=True)
    paths, errors = {}, {}
    pre = folder / "pre.onnx"
    try:
        quant_pre_process(str(fp32), str(pre))
    except Exception as e:  # a lesson, not a crash: record it and quantize the unprocessed model
        errors["quant_pre_process"] = f"{type(e).__name__}: {e}"[:400]
        pre = fp32

    def static(activations):
        return lambda out: quantize_static(pre, out, Calibration(calibration), quant_format=QuantFormat.QDQ,
                                           per_channel=True, activation_type=activations,
                                           weight_type=QuantType.QInt8, op_types_to_quantize=STATIC_OPS)

    build = {
        "dynamic": lambda out: quantize_dynamic(pre, out, per_channel=True, weight_type=QuantType.QInt8),
        "dynamic matmul": lambda out: quantize_dynamic(pre, out, per_channel=True, weight_type=QuantType.QInt8,
                                                       op_types_to_quantize=["MatMul", "Gemm"]),
        "static s8s8": static(QuantType.QInt8),
        "static u8s8": static(QuantType.QUInt8),
    }
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer warns about every 1-D weight it leaves per-tensor
    for name, make in build.items():
        out = folder / f"{name.replace(' ', '-')}.onnx"
        try:
            make(out)
            paths[name] = out
        except Exception as e:  # recorded in the results
            errors[name] = f"{type(e).__name__}: {e}"[:400]
    return paths, errors


def operators(path: Path, folder: Path) -> dict[str, int]:
    """How often each operator occurs in the graph onnxruntime runs after its optimizations (the kernels used)."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # not the warning that the saved graph is specific to this CPU: it is the point
    options.optimized_model_filepath = str(folder / f"{path.stem}.optimized.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    graph = onnx.load(options.optimized_model_filepath).graph
    return dict(Counter(node.op_type for node in graph.node).most_common())


def probabilities(engine, x: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, K) probabilities of ``x`` in batches."""
    return np.concatenate([engine(x[i:i + batch]) for i in range(0, len(x), batch)])


def measure(name: str, run: Path, work: Path, s: dict) -> dict:
    """Quantize one run's export, then measure quality and speed of every variant against float32."""
    fp32 = run / "model.onnx"
    calibration, _, _ = speed.run_images(run, "train", CALIBRATION_IMAGES, seed=0)  # a random choice, all classes
    paths, errors = quantize(fp32, work / "int8" / name, calibration)
    x, labels, _ = speed.run_images(run, "test", s["test_images"])
    fp32_engine = speed.ort_engine(fp32)
    reference = probabilities(fp32_engine, x)
    out = {"run": str(run), "test_images": len(x), "calibration_images": len(calibration), "errors": errors,
           "variants": {"fp32": {"bytes": fp32.stat().st_size, "test_accuracy": float((reference.argmax(1) == labels)
                                                                                        .mean()),
                                 "operators": operators(fp32, work / "int8" / name)}}}
    engines = {"fp32": fp32_engine}
    for variant, path in paths.items():
        try:
            engine = speed.ort_engine(path)
            p = probabilities(engine, x)
        except Exception as e:  # e.g. an operator onnxruntime has no CPU kernel for with these types
            errors[variant] = f"{type(e).__name__}: {e}"[:400]
            continue
        engines[variant] = engine
        out["variants"][variant] = {
            "bytes": path.stat().st_size, "size_vs_fp32": round(path.stat().st_size / fp32.stat().st_size, 3),
            "top1_agreement": float((p.argmax(1) == reference.argmax(1)).mean()),
            "test_accuracy": float((p.argmax(1) == labels).mean()),
            "max_abs_probability_difference": float(np.abs(p - reference).max()),
            "mean_abs_probability_difference": float(np.abs(p - reference).mean()),
            "operators": operators(path, work / "int8" / name)}
    rows = []
    for batch in s["batches"]:
        print(f"{name}, batch {batch}: {s['rounds']} interleaved rounds of {list(engines)}", flush=True)
        times = speed.interleaved(engines, speed.tile(x, batch), s["rounds"], s["seconds"])
        rows += speed.summarize(times, batch, "fp32")
    for row in rows:
        print(f"  {row['engine']:12s} batch {row['batch']:4d} {row['ms_per_batch']:9.2f} ms "
              f"{row['images_per_second']:9.1f} img/s  x{row['speedup_vs_fp32']:.2f}", flush=True)
    out["rows"] = rows
    for variant in paths:
        if variant not in out["variants"]:
            continue
        v = out["variants"][variant]
        v["speedup"] = {str(r["batch"]): r["speedup_vs_fp32"] for r in rows if r["engine"] == variant}
        faster = min(v["speedup"].values()) >= MIN_SPEEDUP
        agrees = v["top1_agreement"] >= MIN_AGREEMENT
        v["meets_bar"] = faster and agrees
        v["why"] = (("faster" if faster else f"not faster by {MIN_SPEEDUP - 1:.0%} at every batch size") + ", "
                    + (f"agrees on {v['top1_agreement']:.2%}" if agrees
                       else f"agrees on only {v['top1_agreement']:.2%} (< {MIN_AGREEMENT:.0%})"))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fm-run", help="a lecture CNN run folder to use instead of training one")
    ap.add_argument("--lite-run", help="a frozen EfficientNet-Lite0 run folder to use instead of training one")
    ap.add_argument("--models", default="lecture_cnn,efficientnet_lite0,efficientnet_lite0_fm")
    ap.add_argument("--rounds", type=int, help="interleaved rounds (default 7; --quick 2)")
    ap.add_argument("--seconds", type=float, help="seconds per measurement (default 1.0)")
    ap.add_argument("--work", type=Path, help=f"where runs, exports and quantized models are kept "
                    f"(default {speed.WORK})")
    ap.add_argument("--quick", action="store_true", help="tiny runs, batches 1 and 4: check the harness")
    ap.add_argument("--out", default="bench/results/int8.json")
    args = ap.parse_args()
    s = dict(speed.QUICK if args.quick else speed.FULL)
    s["rounds"], s["seconds"] = args.rounds or s["rounds"], args.seconds or s["seconds"]
    work = args.work or (speed.WORK / ("quick" if args.quick else "full"))
    torch.set_num_threads(2)
    runs = speed.train_runs(work, s, args.fm_run, args.lite_run, tuple(args.models.split(",")))
    settings = {k: v for k, v in s.items() if k in ("batches", "rounds", "seconds")}
    result = {"machine": speed.machine(), "quick": args.quick,
              "settings": settings | {"min_speedup": MIN_SPEEDUP, "min_agreement": MIN_AGREEMENT},
              "load_average_before": speed.load_average(), "models": {}}
    for name, run in runs.items():
        result["models"][name] = measure(name, run, work, s)
    result["load_average_after"] = speed.load_average()
    result["meets_bar"] = sorted(f"{m}: {v}" for m, d in result["models"].items()
                                 for v, info in d["variants"].items() if info.get("meets_bar"))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print_table(result)


def print_table(r: dict) -> None:
    """The Markdown table of docs/benchmarks.md."""
    batches = r["settings"]["batches"]
    print("\n| model | variant | size | " + " | ".join(f"batch {b}" for b in batches)
          + " | top-1 agreement | test accuracy | meets the bar? |\n|---|---|---|"
          + "---|" * len(batches) + "---|---|---|")
    for name, d in r["models"].items():
        by = {(row["engine"], row["batch"]): row for row in d["rows"]}
        for variant, v in d["variants"].items():
            speed = [f"{by[variant, b]['images_per_second']:,.0f} img/s ({by[variant, b]['speedup_vs_fp32']:.2f}x)"
                     if (variant, b) in by else "—" for b in batches]
            agree = f"{v['top1_agreement']:.2%}" if "top1_agreement" in v else "—"
            bar = "" if variant == "fp32" else ("yes" if v.get("meets_bar") else "no")
            print(f"| {name} | {variant} | {v['bytes'] / 1e6:.2f} MB | {' | '.join(speed)} | {agree} | "
                  f"{v['test_accuracy']:.2%} | {bar} |")
        for variant, error in d["errors"].items():
            print(f"| {name} | {variant} | failed: {error[:120]} |")
    print(f"\nFaster by {r['settings']['min_speedup'] - 1:.0%} at every batch size and agreeing on "
          f"{r['settings']['min_agreement']:.0%} in this run: {', '.join(r['meets_bar']) or 'nothing'}")


if __name__ == "__main__":
    sys.exit(main())
