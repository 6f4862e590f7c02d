import json
import shlex
import subprocess
import sys

import pytest
import torch
from PIL import Image

from cnnlab.cli import COMMANDS, EXAMPLES, _parser, main
from cnnlab.data.sources import load_dataset
from cnnlab.training.rundir import load_model


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_help_example_is_shown_and_parsed_by_the_real_parser(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([command, "--help"])
    assert e.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert EXAMPLES[command]
    for example in EXAMPLES[command]:
        assert " ".join(example.split()) in shown
        words = shlex.split(example)
        assert words[0] == "cnnlab" and words[1] == command
        args = _parser().parse_args(words[1:])  # a rejected example would exit here
        assert args.command == command


def test_console_script_runs():
    r = subprocess.run([sys.executable, "-m", "cnnlab.cli", "datasets"], capture_output=True, text=True)
    assert r.returncode == 0 and "digits" in r.stdout and "present" in r.stdout


def test_starting_a_command_does_not_import_scipy():
    # scipy.stats is ~0.5 s of start-up that only the experiments' intervals need (the photo job waits for it)
    r = subprocess.run([sys.executable, "-c", "import sys, cnnlab.cli; print('scipy' in sys.modules)"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "False", r.stdout + r.stderr


@pytest.fixture(scope="module")
def fashion_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "fm"
    assert main(["train", "--data", "fashion-mnist", "--per-class", "60", "--epochs", "3", "--out", str(out),
                 "--batch-size", "64", "--quiet", "--model-arg", "widths=[16,32]"]) == 0
    return out


def test_train_evaluate_predict_on_fashion_mnist(fashion_run, tmp_path, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(fashion_run), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert r["images"] == 10000 and 0.5 < r["test_accuracy"] <= 1.0
    saved = json.loads((fashion_run / "model.json").read_text())["metrics"]["test_accuracy"]
    assert abs(r["test_accuracy"] - saved) <= 1e-3  # the run's own score, test-time augmentation included
    # a test image saved as PNG is predicted exactly as the model predicts the tensor
    test = load_dataset("fashion-mnist", "test")
    png = tmp_path / "item.png"
    Image.fromarray(test.images[0, 0].numpy()).save(png)
    model, meta = load_model(fashion_run)
    expected = meta["classes"][int(model(test.images[:1]).argmax())]
    assert main(["predict", str(fashion_run), str(png), "--top-k", "2", "--csv", str(tmp_path / "p.csv")]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{png}: {expected} ")
    rows = (tmp_path / "p.csv").read_text().splitlines()
    assert rows[0] == "file,class1,prob1,class2,prob2" and rows[1].startswith(f"{png},{expected},")


def test_predict_folder_with_corrupt_file(fashion_run, tmp_path, capsys):
    test = load_dataset("fashion-mnist", "test")
    for i in range(3):
        Image.fromarray(test.images[i, 0].numpy()).save(tmp_path / f"{i}.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    capsys.readouterr()
    assert main(["predict", str(fashion_run), str(tmp_path)]) == 0
    cap = capsys.readouterr()
    assert len(cap.out.strip().splitlines()) == 3
    assert "skipped 1 file(s) that could not be read" in cap.err and "broken.png: cannot decode" in cap.err
    assert main(["predict", str(fashion_run), str(tmp_path / "*.png")]) == 0


def test_train_on_a_folder_of_jpegs(photo_folder, tmp_path, capsys):
    (photo_folder / "disc" / "oops.jpg").write_text("not an image")
    out = tmp_path / "run"
    code = main(["train", "--data", f"folder:{photo_folder}", "--epochs", "4", "--out", str(out),
                 "--image-size", "32", "--batch-size", "8", "--quiet", "--model-arg", "widths=[8,16]"])
    assert code == 0
    text = capsys.readouterr().out
    assert "skipped 1 file(s) that could not be read" in text and "oops.jpg" in text
    meta = json.loads((out / "model.json").read_text())
    assert meta["classes"] == ["bar", "disc"] and meta["input"] == {"channels": 3, "size": [32, 32], "fit": "crop"}
    assert meta["metrics"]["test_accuracy"] >= 0.7
    # predicting a big photo works: it is resized to the model's input
    big = tmp_path / "big.jpg"
    from conftest import shape_photo

    shape_photo("disc", 300, 200, seed=7).save(big)
    assert main(["predict", str(out), str(big)]) == 0


def test_bad_input_gives_clean_errors(tmp_path, capsys):
    assert main(["train", "--data", "synthetic", "--model", "nope", "--out", str(tmp_path / "x"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--model nope: expected a registered model" in err and "lecture_cnn" in err
    assert main(["evaluate", str(tmp_path / "missing")]) == 2
    assert "no trained model" in capsys.readouterr().err
    assert main(["train", "--data", "folder:/does/not/exist", "--out", str(tmp_path / "y"), "--quiet"]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_summary_command(capsys):
    assert main(["summary", "--model", "lecture_cnn", "--data", "fashion-mnist"]) == 0
    out = capsys.readouterr().out
    assert "Total params" in out and "(32, 28, 28)" in out and "FLOPs" in out


def test_wrong_channel_count_is_a_clear_error():
    from cnnlab.models import create_model

    m = create_model("lecture_cnn", in_channels=3)
    with pytest.raises(ValueError, match="expects 3 channel"):
        m(torch.zeros(1, 1, 28, 28, dtype=torch.uint8))


@pytest.mark.parametrize("extra,why", [(["--pretrained"],
                                        "a model with pretrained weights, and lecture_cnn has none"),
                                       (["--model", "efficientnet_lite0", "--freeze"], "(--pretrained)"),
                                       (["--model", "efficientnet_lite0", "--pretrained", "--fine-tune", "2"],
                                        "(--pretrained --freeze)")])
def test_contradictory_options_are_refused(extra, why, tmp_path, capsys):
    assert main(["train", "--data", "synthetic", "--out", str(tmp_path / "r"), "--quiet", *extra]) == 2
    assert why in capsys.readouterr().err


def test_export_command_writes_onnx_and_refuses_torchscript(fashion_run, tmp_path, capsys):
    import onnxruntime as ort

    capsys.readouterr()
    assert main(["export", str(fashion_run), "--format", "onnx", "--out", str(tmp_path)]) == 0
    path = tmp_path / "model.onnx"
    assert f"wrote {path}" in capsys.readouterr().out
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs = session.run(None, {"pixels": load_dataset("fashion-mnist", "test").images[:5].float().numpy()})[0]
    assert probs.shape == (5, 10) and abs(probs.sum(1) - 1).max() < 1e-4
    assert main(["export", str(fashion_run), "--format", "torchscript"]) == 2
    err = capsys.readouterr().err
    assert "--format torchscript" in err and "deprecated" in err and "pt2" in err
