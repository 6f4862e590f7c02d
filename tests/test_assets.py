"""The vendored browser runtime (onnxruntime-web) is complete and unchanged."""

import hashlib
from pathlib import Path

import cnnlab

ASSETS = Path(cnnlab.__file__).parent / "assets" / "onnxruntime-web"


def test_vendored_onnxruntime_web_matches_its_checksums():
    lines = (ASSETS / "SHA256SUMS").read_text().split("\n")
    sums = dict(reversed(line.split()) for line in lines if line.strip())
    assert set(sums) == {"ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"}
    for name, digest in sums.items():
        assert hashlib.sha256((ASSETS / name).read_bytes()).hexdigest() == digest, name


def test_vendored_runtime_loads_nothing_from_elsewhere():
    # the loader must not name a CDN: pages point wasmPaths at our own files
    for name in ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs"):
        text = (ASSETS / name).read_text(errors="replace")
        assert "cdn.jsdelivr" not in text and "unpkg.com" not in text, name
