"""Run folders: locked while written, never silently replaced, interrupted runs always resumable."""

import json
import os
import signal
import subprocess
import sys

import pytest

import cnnlab
from cnnlab.errors import DataError, Interrupted, RunError
from cnnlab.training.lock import RunLock

SMALL = {"data": "synthetic", "model_args": {"widths": [8, 16], "hidden": 16}, "batch_size": 16}


def test_a_second_writer_is_refused_while_a_run_holds_the_folder(tmp_path):
    out = tmp_path / "r"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom cnnlab.training.lock import RunLock\n"
                               f"l = RunLock({str(out)!r}).acquire()\nprint('locked', flush=True)\ntime.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunError, match=f"in use by another cnnlab run \\(process {holder.pid}"):
            cnnlab.train(out=out, epochs=1, progress=False, **SMALL)
        assert not (out / "model.json").exists()
    finally:
        holder.kill()
        holder.wait()
    # its owner is gone: the lock is stale and the next run takes it over
    meta = cnnlab.train(out=out, epochs=1, progress=False, **SMALL)
    assert meta["metrics"]["epochs_run"] == 1
    assert not (out / ".lock").exists()


def test_concurrent_cli_trains_into_one_folder_never_mix(tmp_path):
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "cnnlab.cli", "train", "--data", "synthetic", "--epochs", "2", "--quiet",
           "--model-arg", "widths=[8,16]", "--out", str(out)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [(p.wait(), p.stderr.read()) for p in procs]
    codes = sorted(c for c, _ in results)
    assert codes == [0, 2], results  # one ran, the other was refused with a clear message
    refused = next(err for c, err in results if c == 2)
    assert "in use by another cnnlab run" in refused or "already holds a finished run" in refused
    meta = json.loads((out / "model.json").read_text())
    assert meta["metrics"]["epochs_run"] == 2


def test_a_finished_run_is_not_replaced_without_overwrite_and_leaves_nothing_stale(tmp_path):
    out = tmp_path / "r"
    first = cnnlab.train(out=out, epochs=1, progress=False, **SMALL)
    before = (out / "model.safetensors").read_bytes()
    with pytest.raises(RunError, match="already holds a finished run"):
        cnnlab.train(out=out, epochs=1, progress=False, seed=1, **SMALL)
    assert (out / "model.safetensors").read_bytes() == before
    for name in ("curves.png", "confusion.png", "misclassified.png", "model.onnx"):
        (out / name).write_bytes(b"stale file of the old run")
    (out / "web").mkdir()  # an exported web demo of the old model
    (out / "web" / "model.onnx").write_bytes(b"stale file of the old run")
    second = cnnlab.train(out=out, epochs=1, progress=False, seed=1, overwrite=True, **SMALL)
    assert second["created"] >= first["created"]
    for name in ("curves.png", "confusion.png", "misclassified.png", "model.onnx", "web/model.onnx"):
        assert not (out / name).exists() or (out / name).read_bytes() != b"stale file of the old run"


def test_a_folder_with_other_files_is_never_used(tmp_path):
    (tmp_path / "holiday.jpg").write_bytes(b"my photo")
    for overwrite in (False, True):
        with pytest.raises(RunError, match="not a cnnlab run"):
            cnnlab.train(out=tmp_path, epochs=1, progress=False, overwrite=overwrite, **SMALL)
    assert (tmp_path / "holiday.jpg").read_bytes() == b"my photo"


def test_an_interrupted_run_is_protected_and_a_failed_start_leaves_no_trace(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(DataError, match="nonexistent"):
        cnnlab.train(out=out, epochs=1, progress=False, data="folder:/nonexistent/photos")
    assert not (out / "resume.json").exists()  # nothing ran: the folder can be used again as it is
    meta = cnnlab.train(out=out, epochs=1, progress=False, **SMALL)
    assert meta["metrics"]["epochs_run"] == 1


def test_ctrl_c_during_fine_tuning_exits_interrupted_and_resumes(tmp_path, photo_folder):
    out = tmp_path / "ft"
    seen = []

    def press_ctrl_c_in_fine_tuning(e):
        seen.append(e["event"])
        if e["event"] == "batch" and e["epoch"] == 2 and "pressed" not in seen:
            seen.append("pressed")
            os.kill(os.getpid(), signal.SIGINT)

    opts = dict(data=f"folder:{photo_folder}", model="efficientnet_lite0", pretrained=True, freeze=True,
                fine_tune=1, epochs=2, image_size=64, batch_size=8, model_args={"input_size": 64})
    with pytest.raises(Interrupted, match="--resume"):
        cnnlab.train(out=out, progress=False, on_event=press_ctrl_c_in_fine_tuning, **opts)
    assert "interrupted" in seen and "finished" not in seen
    assert not (out / "model.json").exists()  # a half-fine-tuned model is never reported as finished
    meta = cnnlab.train(out=out, resume=True, progress=False)
    assert meta["metrics"]["epochs_run"] == 2


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / ".lock").write_text(json.dumps({"pid": dead.pid, "host": os.uname().nodename, "started": "earlier"}))
    with RunLock(out) as lock:
        assert lock.held
    assert not (out / ".lock").exists()


def test_a_small_folder_gets_a_batch_size_that_trains_and_a_note(photo_folder, tmp_path):
    notes = []
    meta = cnnlab.train(data=f"folder:{photo_folder}", out=tmp_path / "r", epochs=2, image_size=16, progress=False,
                        model_args={"widths": [8]},
                        on_event=lambda e: notes.append(e["text"]) if e["event"] == "note" else None)
    # 48 photos: 38 for training after the test and validation splits; batch 256 would be one step per epoch
    assert meta["training"]["batch_size"] <= 8
    assert meta["sizes"]["train"] // meta["training"]["batch_size"] >= 4
    assert any("training steps" in n and "more epochs" in n for n in notes)


def test_a_class_without_test_images_is_not_reported_as_zero_percent(tmp_path):
    from conftest import shape_photo

    root = tmp_path / "photos"
    for kind, n in (("disc", 20), ("bar", 20), ("rare", 1)):
        (root / kind).mkdir(parents=True)
        for i in range(n):
            shape_photo("disc" if kind == "rare" else kind, 40, 30, seed=i).save(root / kind / f"{i}.png")
    notes = []
    cnnlab.train(data=f"folder:{root}", out=tmp_path / "r", epochs=1, image_size=16, progress=False,
                 model_args={"widths": [8]}, on_event=lambda e: notes.append(e.get("text", "")))
    report = (tmp_path / "r" / "report.md").read_text()
    assert "| rare | 0 | — (no test images" in report and "| rare | 0 | 0.0% |" not in report
    assert any("rare" in n for n in notes)


def test_cache_command_shows_and_clears(photo_folder, tmp_path, capsys):
    from cnnlab.cli import main

    cnnlab.train(data=f"folder:{photo_folder}", out=tmp_path / "r", epochs=1, image_size=16, progress=False,
                 model_args={"widths": [8]})
    capsys.readouterr()
    assert main(["cache"]) == 0
    shown = capsys.readouterr().out
    assert "folders" in shown and "in all" in shown
    assert main(["cache", "clear"]) == 0
    assert "freed" in capsys.readouterr().out
    assert main(["cache"]) == 0
    assert "the cache is empty" in capsys.readouterr().out
