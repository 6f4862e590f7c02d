"""Export (issue 13, items 1-3): ONNX and PT2 files that predict exactly what the run's PyTorch path does.

Two tiny runs are trained once per module: a lecture CNN on Fashion-MNIST (flip TTA on, the default)
and a frozen EfficientNet-Lite0 on a small photo folder. Each export is compared with onnxruntime on
the CPU: probabilities within 1e-4 of the PyTorch fp32 path, identical top-1.
"""

import json
import subprocess
import sys
import textwrap

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from conftest import shape_photo

import cnnlab
from cnnlab.deploy.evaluate import load_test_split
from cnnlab.deploy.export import export
from cnnlab.deploy.pipeline import prepare_images, run_logits
from cnnlab.errors import CnnlabError, ConfigError

TOL = 1e-4


@pytest.fixture(scope="module")
def fm_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("fm") / "run"
    cnnlab.train(data="fashion-mnist", out=out, epochs=1, progress=False, per_class=30,
                 model_args={"widths": [8, 16]})
    return out


@pytest.fixture(scope="module")
def lite_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for kind in ("disc", "bar"):
        (root / kind).mkdir()
        for i in range(24):
            w, h = 40 + 7 * i, 30 + 5 * (i % 6)
            shape_photo(kind, w, h, seed=i + (100 if kind == "bar" else 0)).save(root / kind / f"{i}.jpg", quality=90)
    out = tmp_path_factory.mktemp("lite") / "run"
    cnnlab.train(data=f"folder:{root}", out=out, model="efficientnet_lite0", pretrained=True, freeze=True,
                 model_args={"input_size": 64}, image_size=64, epochs=1, progress=False)
    return out


@pytest.fixture(scope="module")
def fm_onnx(fm_run):
    return export(fm_run)


@pytest.fixture(scope="module")
def lite_onnx(lite_run):
    return export(lite_run, format="onnx")


def run_test_images(run, limit=200):
    """uint8 (N, C, H, W) test images of the run, as evaluate prepares them, and the run's model.json."""
    meta = json.loads((run / "model.json").read_text())
    x, _ = prepare_images(load_test_split(meta).images[:limit], meta)
    return x, meta


def torch_probabilities(run, x, tta=None):
    """The PyTorch fp32 path: the run's model, its TTA (or ``tta``), softmax."""
    model, meta = cnnlab.load(run)
    return run_logits(model, x, meta, precision="fp32", tta=tta).softmax(1).numpy()


def onnx_probabilities(path, x, batch):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pixels = x.float().numpy()  # float pixels 0..255
    parts = [session.run(["probabilities"], {"pixels": pixels[i:i + batch]})[0] for i in range(0, len(pixels), batch)]
    return np.concatenate(parts)


def check_parity(path, run):
    x, _ = run_test_images(run)
    expected = torch_probabilities(run, x)
    for batch in (1, 7):
        got = onnx_probabilities(path, x, batch)
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= TOL, batch
        assert (got.argmax(1) == expected.argmax(1)).all(), batch
    return x


def test_lecture_cnn_onnx_matches_pytorch(fm_run, fm_onnx):
    assert fm_onnx == fm_run / "model.onnx"
    x = check_parity(fm_onnx, fm_run)
    assert len(x) == 200
    onnx.checker.check_model(str(fm_onnx), full_check=True)
    assert not list(fm_run.glob("*.data")), "the weights belong inside the one .onnx file"


def test_frozen_lite0_onnx_matches_pytorch(lite_run, lite_onnx):
    x = check_parity(lite_onnx, lite_run)
    assert len(x) > 0 and x.shape[1:] == (3, 64, 64)
    onnx.checker.check_model(str(lite_onnx), full_check=True)


def test_onnx_metadata_and_io(fm_run, fm_onnx):
    proto = onnx.load(str(fm_onnx))
    md = {p.key: p.value for p in proto.metadata_props}
    meta = json.loads((fm_run / "model.json").read_text())
    assert json.loads(md["classes"]) == meta["classes"]
    assert json.loads(md["input_size"]) == [28, 28] and md["channels"] == "1"
    assert md["data"] == "fashion-mnist" and md["tta"] == "true" and md["cnnlab_version"] == cnnlab.__version__
    session = ort.InferenceSession(str(fm_onnx), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.type, inp.shape[1:]) == ("pixels", "tensor(float)", [1, 28, 28])
    assert isinstance(inp.shape[0], str), "the batch size must be free"
    assert (outp.name, outp.shape[1]) == ("probabilities", 10)


def test_tta_is_in_the_graph(fm_run, fm_onnx, tmp_path):
    """The run was tested with flip TTA: the export averages the image and its mirror, as evaluate does."""
    plain = export(fm_run, out=tmp_path / "plain.onnx", tta=False)
    x, meta = run_test_images(fm_run)
    assert meta["training"]["tta"] is True
    with_tta, without = onnx_probabilities(fm_onnx, x, 64), onnx_probabilities(plain, x, 64)
    assert np.abs(with_tta - without).max() > 1e-3, "the TTA graph should give other probabilities"
    assert np.abs(without - torch_probabilities(fm_run, x, tta=False)).max() <= TOL
    # evaluate's accuracy is the TTA export's accuracy
    test = load_test_split(meta)
    x_all, _ = prepare_images(test.images, meta)
    accuracy = float((onnx_probabilities(fm_onnx, x_all, 1000).argmax(1) == test.labels.numpy()).mean())
    assert accuracy == pytest.approx(cnnlab.evaluate(fm_run, device="cpu", precision="fp32")["test_accuracy"])


def test_pt2_loads_without_cnnlab(fm_run, lite_run, tmp_path):
    paths = {"fm": export(fm_run, format="pt2"), "lite": export(lite_run, format="pt2", out=tmp_path / "lite.pt2")}
    assert paths["fm"] == fm_run / "model.pt2"
    assert export(fm_run, format="pt2", out=tmp_path) == tmp_path / "model.pt2"  # a folder: the file goes inside
    expected = {}
    for name, run in (("fm", fm_run), ("lite", lite_run)):
        x, _ = run_test_images(run, limit=20)
        np.save(tmp_path / f"{name}.npy", x.float().numpy())
        expected[name] = torch_probabilities(run, x)
    script = textwrap.dedent(f"""
        import json, sys
        import numpy as np, torch
        paths = {json.dumps({k: str(v) for k, v in paths.items()})}
        for name, path in paths.items():
            extra = {{"cnnlab.json": ""}}
            program = torch.export.load(path, extra_files=extra)
            x = torch.from_numpy(np.load({str(tmp_path)!r} + "/" + name + ".npy"))
            for batch in (1, 7):
                out = torch.cat([program.module()(x[i:i + batch]) for i in range(0, len(x), batch)])
                np.save({str(tmp_path)!r} + f"/{{name}}-{{batch}}-out.npy", out.detach().numpy())
            json.loads(extra["cnnlab.json"])["classes"]
        assert "cnnlab" not in sys.modules
    """)
    # -I: isolated, so neither the source tree nor an installed cnnlab is importable by accident
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    for name in paths:
        for batch in (1, 7):
            got = np.load(tmp_path / f"{name}-{batch}-out.npy")
            assert np.abs(got - expected[name]).max() <= TOL
            assert (got.argmax(1) == expected[name].argmax(1)).all()


@pytest.mark.parametrize("name", ["torchscript", "TorchScript"])
def test_torchscript_is_refused_with_the_alternatives(fm_run, name):
    with pytest.raises(ConfigError, match="deprecated") as info:
        export(fm_run, format=name)
    assert info.value.key == "format" and "onnx" in str(info.value) and "pt2" in str(info.value)


def test_unknown_format_lists_the_known_ones(fm_run):
    with pytest.raises(ConfigError, match="onnx, pt2") as info:
        export(fm_run, format="tflite")
    assert info.value.key == "format"


@pytest.mark.parametrize("opset", [0, 2.5, "x", 999])
def test_bad_opset_is_a_config_error(fm_run, opset):
    with pytest.raises(ConfigError) as info:
        export(fm_run, opset=opset)
    assert info.value.key == "opset"


def test_opset_is_written_or_refused(fm_run, lite_run, tmp_path):
    path = export(fm_run, out=tmp_path / "fm18.onnx", opset=18)
    assert [o.version for o in onnx.load(str(path)).opset_import if o.domain in ("", "ai.onnx")] == [18]
    # the exporter cannot bring Lite0 below 18 (no Pad adapter); it must say so rather than write opset 18
    with pytest.raises(ConfigError, match="stays at opset 18") as info:
        export(lite_run, out=tmp_path / "lite13.onnx", opset=13)
    assert info.value.key == "opset" and not (tmp_path / "lite13.onnx").exists()


def test_missing_onnx_packages_say_what_to_install(fm_run, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # importing it now raises ImportError
    with pytest.raises(CnnlabError, match="pip install onnx onnxscript onnxruntime"):
        export(fm_run)


def test_pt2_takes_no_opset(fm_run):
    with pytest.raises(ConfigError) as info:
        export(fm_run, format="pt2", opset=17)
    assert info.value.key == "opset"


def test_photo_of_any_size_goes_through_the_export(lite_run, lite_onnx, tmp_path):
    """A big photo prepared by cnnlab's pipeline scores the same in onnxruntime as in predict's PyTorch path."""
    photo = tmp_path / "big.jpg"
    shape_photo("disc", 300, 200, seed=7).save(photo)
    meta = json.loads((lite_run / "model.json").read_text())
    x, _ = prepare_images([photo], meta)
    got = onnx_probabilities(lite_onnx, x, 1)
    assert np.abs(got - torch_probabilities(lite_run, x)).max() <= TOL
