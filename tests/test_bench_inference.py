"""The inference-speed and INT8 benchmarks stay runnable: each runs with --quick on tiny runs and writes its JSON.

bench/inference_speed.py runs on the lecture CNN (Fashion-MNIST, 20 images per class, 1 epoch) and
bench/quantize_int8.py on a frozen EfficientNet-Lite0 at 64x64 (2 classes of photos): one model each
keeps the test short while both runs, exports and quantizations are exercised. No timing is asserted.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, tmp_path: Path, model: str) -> dict:
    out = tmp_path / f"{Path(script).stem}.json"
    cmd = [sys.executable, str(ROOT / "bench" / script), "--quick", "--models", model, "--work", str(tmp_path / "work"),
           "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "| model |" in r.stdout  # the Markdown table for docs/benchmarks.md
    return json.loads(out.read_text())


def test_inference_speed_quick(tmp_path):
    r = run_bench("inference_speed.py", tmp_path, "lecture_cnn")
    assert r["quick"] is True
    assert {"torch", "onnxruntime", "onnx", "cpu", "flags"} <= set(r["machine"])
    model = r["models"]["lecture_cnn"]
    assert model["input"] == [1, 28, 28] and model["tta"] is True  # the default run trains and tests with flips
    assert model["max_abs_probability_difference_onnx_vs_torch"] <= 1e-4  # the same computation in both engines
    engines = {"pytorch fp32", "pytorch bf16", "onnxruntime", "onnxruntime 2 threads"}
    assert {(row["engine"], row["batch"]) for row in r["rows"]} == {(e, b) for e in engines for b in (1, 4)}
    for row in r["rows"]:
        assert row["model"] == "lecture_cnn"
        assert row["images_per_second"] > 0 and row["ms_per_batch"] > 0
        assert row["ms_min_max"][0] <= row["ms_per_batch"] <= row["ms_min_max"][1]
        assert row["page_faults_per_batch"] >= 0
        if row["engine"] == "pytorch fp32":
            assert row["speedup_vs_pytorch_fp32"] == 1.0


def test_quantize_int8_quick(tmp_path):
    r = run_bench("quantize_int8.py", tmp_path, "efficientnet_lite0")
    model = r["models"]["efficientnet_lite0"]
    assert model["errors"] == {}, model["errors"]
    variants = model["variants"]
    assert set(variants) == {"fp32", "dynamic", "dynamic matmul", "static s8s8", "static u8s8"}
    assert "Conv" in variants["fp32"]["operators"]
    assert "ConvInteger" in variants["dynamic"]["operators"]  # dynamic quantization converts the convolutions
    assert "QLinearConv" in variants["static u8s8"]["operators"]
    assert "Softmax" in variants["static u8s8"]["operators"]  # the probabilities stay float
    for name, v in variants.items():
        assert v["bytes"] > 0
        if name != "fp32":
            assert 0 <= v["top1_agreement"] <= 1 and set(v["speedup"]) == {"1", "4"}
            assert isinstance(v["meets_bar"], bool) and v["why"]
            assert v["meets_bar"] == (min(v["speedup"].values()) >= 1.1 and v["top1_agreement"] >= 0.99)
    assert variants["static u8s8"]["size_vs_fp32"] < 0.5  # int8 weights: about a quarter of the float32 file
    assert isinstance(r["meets_bar"], list)
