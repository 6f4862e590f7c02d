"""Prediction without PyTorch: an exported model.onnx, numpy, Pillow and onnxruntime, nothing else.

The subprocess tests make ``import torch`` fail (as on a ``pip install "cnnlab[deploy]"`` machine) and
check that ``cnnlab predict`` gives the same top-1 as the PyTorch path, and that every other command
says in one line what to install.
"""

import csv
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest

import cnnlab
from cnnlab.data.images import save_image
from cnnlab.deploy.onnx_predict import OnnxPredictor, find_onnx, predict_onnx
from cnnlab.errors import RunError

ROOT = Path(__file__).resolve().parents[1]
# in the child: torch (and what needs it) cannot be imported, exactly as where it is not installed
BLOCK = """
import sys
class NotInstalled:  # a finder that answers as Python does for a package that is not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "torchvision", "timm") or name == "safetensors.torch":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, NotInstalled())
"""


def _run_without_torch(code: str, tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CNNLAB_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A small digits run, exported to ONNX, and 40 test digits saved as PNG files (upscaled 4x: resizing is
    part of what both paths must do the same way)."""
    tmp = tmp_path_factory.mktemp("no-torch")
    run = tmp / "run"
    cnnlab.train({"data": "digits", "epochs": 3, "model_args": {"widths": [8, 16], "hidden": 32}, "tta": True},
                 out=run, progress=False)
    cnnlab.export(run, format="onnx")
    test = cnnlab.load_dataset("digits", "test")
    files = []
    for i in range(40):
        big = np.kron(test.images[i, 0], np.ones((4, 4), np.uint8))  # (32, 32) gray, upscaled
        files.append(tmp / f"digit-{i:02d}.png")
        save_image(big, files[-1])
    return run, files


def _top1(rows):
    return [r["top"][0][0] for r in rows]


def test_onnx_predictor_agrees_with_the_pytorch_path(exported):
    run, files = exported
    torch_rows, _ = cnnlab.predict(run, [str(f) for f in files], top_k=3)
    onnx_rows, skipped = predict_onnx(run, [str(f) for f in files], top_k=3)
    assert skipped == []
    assert _top1(onnx_rows) == _top1(torch_rows)
    # probabilities: against PyTorch in float32 (the default on this CPU is bf16, which the export is not)
    torch_rows, _ = cnnlab.predict(run, [str(f) for f in files], top_k=3, precision="fp32")
    p_torch = np.array([[p for _, p in r["top"]] for r in torch_rows])
    p_onnx = np.array([[p for _, p in r["top"]] for r in onnx_rows])
    assert np.abs(p_torch - p_onnx).max() < 1e-4
    assert [r["notes"] for r in onnx_rows] == [r["notes"] for r in torch_rows]  # same pixels, same notes


def test_cnnlab_predict_runs_where_torch_cannot_be_imported(exported, tmp_path):
    run, files = exported
    out = tmp_path / "p.csv"
    code = ("from cnnlab.launch import main\n"
            f"code = main(['predict', {str(run)!r}, *{[str(f) for f in files]!r}, '--top-k', '1', "
            f"'--csv', {str(out)!r}])\n"
            "assert 'torch' not in [m for m, v in sys.modules.items() if v is not None], 'torch was imported'\n"
            "sys.exit(code)\n")
    done = _run_without_torch(code, tmp_path)
    assert done.returncode == 0, done.stderr
    with open(out) as f:
        got = {r["file"]: r["class1"] for r in csv.DictReader(f)}
    torch_rows, _ = cnnlab.predict(run, [str(f) for f in files], top_k=1)
    assert got == {r["file"]: r["top"][0][0] for r in torch_rows}


def test_other_commands_say_in_one_line_what_to_install(tmp_path):
    done = _run_without_torch("from cnnlab.launch import main\nsys.exit(main(['train', '--data', 'digits', "
                              "'--out', 'r']))\n", tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "PyTorch is not installed" in done.stderr and 'pip install "cnnlab[all]"' in done.stderr


def test_import_cnnlab_works_without_torch_and_names_load_lazily(tmp_path):
    code = ("import cnnlab\n"
            "assert cnnlab.__version__ and 'predict_onnx' in dir(cnnlab)\n"
            "from cnnlab import predict_onnx\n"
            "try:\n    cnnlab.train\nexcept ImportError:\n    print('train needs torch')\n")
    done = _run_without_torch(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "train needs torch"


def test_the_deploy_install_needs_no_torch():
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib is Python 3.11+; cnnlab supports 3.10)
    core = re.search(r"^dependencies = \[(.*?)\]", text, re.M | re.S).group(1)
    deploy = re.search(r"^deploy = \[(.*?)\]", text, re.M | re.S).group(1)
    names = {re.split(r"[<>=\[]", n)[0].strip().lower() for n in re.findall(r'"([^"]+)"', core + deploy)}
    assert names == {"numpy", "pillow", "onnxruntime"}


def test_a_stale_or_missing_model_onnx_is_refused(exported, tmp_path):
    run, _ = exported
    copy = tmp_path / "run"
    copy.mkdir()
    for name in ("model.json", "model.safetensors"):
        (copy / name).write_bytes((run / name).read_bytes())
    with pytest.raises(RunError, match="has no model.onnx; export it"):
        find_onnx(copy)
    (copy / "model.onnx").write_bytes((run / "model.onnx").read_bytes())
    os.utime(copy / "model.onnx", (1, 1))  # exported long before the model was last saved
    with pytest.raises(RunError, match="older than the run's model"):
        find_onnx(copy)
    odd = tmp_path / "odd.onnx"
    odd.write_bytes(b"not a model")
    with pytest.raises(RunError, match="not a readable ONNX model"):
        OnnxPredictor(odd)


def test_cnnlab_serve_serves_a_web_demo_where_torch_cannot_be_imported(exported, tmp_path):
    run, _ = exported
    demo = cnnlab.export(run, format="web", out=tmp_path / "demo")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "CNNLAB_HOME": str(tmp_path / "home")}
    code = BLOCK + f"from cnnlab.launch import main\nsys.exit(main(['serve', {str(demo)!r}, '--port', '0']))\n"
    proc = subprocess.Popen([sys.executable, "-u", "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=tmp_path)
    try:
        line = proc.stdout.readline()  # "Serving DIR at http://127.0.0.1:PORT/"
        assert "http://127.0.0.1:" in line, line + proc.stderr.read()
        url = line.split(" at ")[-1].strip()
        page = urllib.request.urlopen(url, timeout=10).read().decode()
        model = urllib.request.urlopen(url + "model.onnx", timeout=10).read()
        assert "<html" in page.lower() and model == (demo / "model.onnx").read_bytes()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
