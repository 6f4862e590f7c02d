"""Several processes (torchrun + DDP on CPU with gloo): same numbers as one process, restarts after a death."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import torch

from cnnlab import cli
from cnnlab.cli import main
from cnnlab.data.sources import make_synthetic
from cnnlab.data.splits import load_splits
from cnnlab.errors import Interrupted
from cnnlab.files import load_tensors, read_json, write_json
from cnnlab.models import create_model
from cnnlab.training import distributed
from cnnlab.training.rundir import load_model, load_resume, save_resume
from cnnlab.training.trainer import TrainConfig, Trainer, evaluate

NO_BN = "layers=conv 8 3 same, relu, maxpool 2, flatten, dense"  # no batch norm: the sums are the same
COMMON = ["--data", "digits", "--model", "stack", "--model-arg", NO_BN, "--epochs", "3", "--batch-size", "33",
          "--augment", "none", "--precision", "fp32", "--val", "0.15", "--quiet"]


def cnnlab(*args, env=None, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], capture_output=True, text=True, timeout=timeout,
                          env=env)


def test_two_processes_give_the_weights_of_one_process(tmp_path):
    """Global batch 33 splits 17 + 16 and the validation/test shards differ by one image: still the same run."""
    r = cnnlab("train", *COMMON, "--nproc", "2", "--out", str(tmp_path / "two"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("test accuracy") == 1  # rank 0 reports, once
    assert main(["train", *COMMON, "--out", str(tmp_path / "one")]) == 0
    one, two = (load_tensors(tmp_path / name / "model.safetensors") for name in ("one", "two"))
    assert one.keys() == two.keys()
    for k in one:  # tolerance: float sums in another order (the gradient all-reduce), 3 epochs of AdamW
        assert torch.allclose(one[k], two[k], rtol=1e-4, atol=1e-5), k
    m1, m2 = read_json(tmp_path / "one" / "model.json"), read_json(tmp_path / "two" / "model.json")
    assert m2["distributed"]["processes"] == 2 and len(set(m2["distributed"]["fingerprints"])) == 1
    assert m1["distributed"] is None and m1["sizes"] == m2["sizes"] and m2["sizes"]["test"] % 2 == 1
    h1 = [json.loads(x) for x in (tmp_path / "one" / "history.jsonl").read_text().splitlines()]
    h2 = [json.loads(x) for x in (tmp_path / "two" / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in h1] == [h["step"] for h in h2]
    for a, b in zip(h1, h2):
        assert a["val_accuracy"] == pytest.approx(b["val_accuracy"], abs=1 / 200)
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)  # the 17 + 16 images' mean, weighted
    # exact evaluation: the saved model scored by one process gives the accuracy the two processes reported
    model, _ = load_model(tmp_path / "two")
    _, _, test = load_splits("digits", val_fraction=0.15, seed=0)
    assert evaluate(model, test)["accuracy"] == pytest.approx(m2["metrics"]["test_accuracy"], abs=1e-9)


def _rank_pid(tag: str, rank: int) -> int | None:
    for proc in Path("/proc").iterdir():
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"CNNLAB_TEST_TAG={tag}".encode() in env and f"RANK={rank}".encode() in env:
            return int(proc.name)
    return None


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the rank's process through /proc (Linux)")
def test_killed_rank_restarts_from_the_checkpoint_and_finishes(tmp_path):
    """With --overwrite too: the restart continues from the new run's checkpoint (the old run is dropped at the end)."""
    out, tag = tmp_path / "run", uuid.uuid4().hex
    out.mkdir()
    write_json(out / "model.json", {"metrics": {"test_accuracy": 0.5}})  # a finished run to replace
    (out / "model.safetensors").write_bytes(b"old")
    env = {**os.environ, "CNNLAB_TEST_TAG": tag}
    args = ["train", "--data", "fashion-mnist", "--per-class", "250", "--model-arg", "widths=[16,32]",
            "--model-arg", "hidden=32", "--epochs", "8", "--batch-size", "32", "--nproc", "2", "--max-restarts", "1",
            "--out", str(out), "--overwrite"]
    proc = subprocess.Popen([sys.executable, "-m", "cnnlab", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    try:
        deadline = time.time() + 120
        while not (out / "history.jsonl").exists() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        pid = _rank_pid(tag, 1)
        assert pid is not None and proc.poll() is None, "the run ended before rank 1 could be killed"
        killed_after = len((out / "history.jsonl").read_text().splitlines())
        os.kill(pid, signal.SIGKILL)  # rank 1 dies in the middle of an epoch
        log, _ = proc.communicate(timeout=150)
    finally:
        proc.kill()
    assert proc.returncode == 0, log[-4000:]
    # (whether rank 0 notices the lost contact itself or torchrun stops it first is a race: not asserted)
    assert killed_after < 8 and "resuming" in log
    history = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == list(range(1, 9))  # none missing, none doubled
    assert [h["step"] for h in history] == sorted({h["step"] for h in history})
    meta = read_json(out / "model.json")
    prints = meta["distributed"]["fingerprints"]
    assert len(prints) == 2 and prints[0] == prints[1]  # the same weights on both ranks
    assert meta["metrics"]["test_accuracy"] > 0.6 and not (out / "resume.json").exists()
    assert not (out / ".previous-run").exists() and load_tensors(out / "model.safetensors")


def test_the_launcher_refuses_bad_setups_in_one_line_before_starting(tmp_path, capsys):
    finished = tmp_path / "done"
    finished.mkdir()
    write_json(finished / "model.json", {"metrics": {"test_accuracy": 0.9}})
    (finished / "model.safetensors").write_bytes(b"x")
    cases = [(["--nproc", "0"], "--nproc 0"),
             (["--nproc", "2", "--model", "efficientnet_lite0", "--pretrained", "--freeze"], "frozen"),
             (["--nproc", "2", "--max-restarts", "-1"], "--max-restarts -1"),
             (["--nproc", "2", "--batch-size", "3"], "--batch-size 3: expected a whole number of at least 4 with 2"),
             (["--nproc", "2", "--epochs", "-1"], "--epochs")]
    for extra, words in cases:
        assert main(["train", "--data", "digits", "--out", str(tmp_path / "new"), *extra]) == 2
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err
    assert main(["train", "--data", "digits", "--out", str(finished), "--nproc", "2"]) == 2
    assert "already holds a finished run" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_a_checkpoint_keeps_its_position_with_its_weights(tmp_path):
    """A process killed between writing resume.safetensors and resume.json must not mix two checkpoints."""
    data, _ = load_splits("digits", val_fraction=0, seed=0)[:2]

    def trainer(epochs):
        torch.manual_seed(0)
        net = create_model("lecture_cnn", num_classes=10, image_size=8, in_channels=1, widths=(8, 16), hidden=16)
        return Trainer(net, data, None, TrainConfig(epochs=epochs, batch_size=64, precision="fp32"))

    first = trainer(2)
    first.fit()
    save_resume(tmp_path, first, {})
    stale = read_json(tmp_path / "resume.json")
    stale.update(epoch=1, step=1, history=stale["history"][:1])  # the older resume.json a kill could leave
    write_json(tmp_path / "resume.json", stale)
    second = trainer(2)
    meta = load_resume(tmp_path, second)
    assert (second.epoch, second.step, len(second.history)) == (first.epoch, first.step, 2) == \
        (meta["epoch"], meta["step"], len(meta["history"]))


def test_shards_cover_every_item_once():
    for n in range(0, 40):
        for size in range(1, 6):
            parts = [distributed.shard(n, r, size) for r in range(size)]
            assert [i for p in parts for i in range(n)[p]] == list(range(n))
            assert max(p.stop - p.start for p in parts) - min(p.stop - p.start for p in parts) <= 1
    # DDP averages the weighted gradients: sum_r w_r * mean_r / size == the whole batch's mean
    losses = torch.rand(33)
    parts = [losses[distributed.shard(33, r, 2)] for r in range(2)]
    ddp = sum(distributed.loss_weight(len(p), 33, 2) * p.mean() for p in parts) / 2
    assert ddp.item() == pytest.approx(losses.mean().item(), rel=1e-6)


WORKER = """
import json, sys, numpy as np, torch
from cnnlab.data.imageset import ImageSet, MappedImages
from cnnlab.data.sources import make_synthetic
from cnnlab.errors import ConfigError, TrainingError
from cnnlab.models import create_model
from cnnlab.training import distributed
from cnnlab.training.callbacks import NonFiniteGuard
from cnnlab.training.trainer import TrainConfig, Trainer, evaluate

world = distributed.init(torch.device("cpu"))
data = make_synthetic(n=60, seed=1)
torch.manual_seed(0)
net = create_model("lecture_cnn", num_classes=3, image_size=16, widths=(8, 16), hidden=16)
out = {"evaluate": {n: evaluate(net, data.subset(torch.arange(n)), 4)["predictions"].tolist() for n in (1, 2, 3)}}
np.save(sys.argv[1] + f"/images{world.rank}.npy", data.images.numpy())
mapped = ImageSet(MappedImages(sys.argv[1] + f"/images{world.rank}.npy"), data.labels, data.classes)
reads = []
original = MappedImages._read
MappedImages._read = lambda self, rows: reads.append(len(rows)) or original(self, rows)
out["mapped"] = evaluate(net, mapped, 4)["predictions"].tolist()
out["most_read"] = max(reads)
MappedImages._read = original

class CtrlC:  # Ctrl-C reaches rank 1 only, in the middle of step 3
    def before_batch(self, t):
        if t.step == 3 and t.world.rank == 1:
            t.stop_requested = True

class Seen:  # what a checkpoint callback sees after each step
    def __init__(self):
        self.steps = []
    def after_batch(self, t):
        self.steps.append([t.step, t.stop_requested])

seen = Seen()
trainer = Trainer(net, data, None, TrainConfig(epochs=2, batch_size=8, precision="fp32"), callbacks=[CtrlC(), seen])
result = trainer.fit()
out.update(seen=seen.steps, interrupted=result.interrupted, step=trainer.step)
try:
    Trainer(net, data, None, TrainConfig(epochs=1, batch_size=3, precision="fp32"))
except ConfigError as e:
    out["small_batch"] = str(e)

class NaNOnRank1:  # the loss goes bad on rank 1's part of the batch only
    def after_loss(self, t):
        if t.step == 2 and t.world.rank == 1:
            t.loss = torch.tensor(float("nan"))

guarded = Trainer(net, data, None, TrainConfig(epochs=1, batch_size=8, precision="fp32"),
                  callbacks=[NaNOnRank1(), NonFiniteGuard()])
try:
    guarded.fit()
except TrainingError:
    out["nan_stop"] = guarded.step  # both ranks stop at the same step (none waits for the other)
json.dump(out, open(sys.argv[1] + f"/rank{world.rank}.json", "w"))
distributed.barrier()  # neither process leaves while the other still talks to it
distributed.close()
"""


def test_ranks_agree_on_a_stop_and_score_sets_smaller_than_the_number_of_processes(tmp_path):
    """One image for two processes (rank 1 scores nothing); Ctrl-C on rank 1 only: rank 0 saves where both stop."""
    (tmp_path / "worker.py").write_text(WORKER)
    cmd, env = distributed.torchrun_command([], 2)
    cmd = cmd[:cmd.index("-m", 3)] + [str(tmp_path / "worker.py"), str(tmp_path)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in range(2)]
    data = make_synthetic(n=60, seed=1)
    torch.manual_seed(0)
    net = create_model("lecture_cnn", num_classes=3, image_size=16, widths=(8, 16), hidden=16)
    one = {str(n): evaluate(net, data.subset(torch.arange(n)), 4)["predictions"].tolist() for n in (1, 2, 3)}
    assert ranks[0]["evaluate"] == ranks[1]["evaluate"] == one  # every image once, on every rank
    whole = evaluate(net, data, 4)["predictions"].tolist()
    for r in ranks:  # a memory-mapped folder: the same scores, read a batch (4 images) at a time, not a shard (30)
        assert r["mapped"] == whole and r["most_read"] == 4
    for r in ranks:
        assert r["interrupted"] and r["step"] == 4  # both stop after step 4 (the one rank 1 was asked in)
    assert ranks[0]["seen"][-1] == [4, True]  # rank 0's checkpoint callback knows: it saves the last step
    assert "at least 4 with 2 processes" in ranks[0]["small_batch"]
    assert ranks[0]["nan_stop"] == ranks[1]["nan_stop"] == 2  # a NaN on one process stops both, at once


def test_an_interrupted_run_of_several_processes_says_so_once(monkeypatch, capsys):
    def stopped(a):
        raise Interrupted("interrupted; continue with: cnnlab train --out x --resume")

    monkeypatch.setitem(cli.COMMANDS, "train", stopped)
    monkeypatch.setenv("WORLD_SIZE", "2")
    for rank, lines in (("1", 0), ("0", 1)):  # every rank stops at the same step; rank 0 speaks
        monkeypatch.setenv("RANK", rank)
        assert main(["train", "--out", "x"]) == 130
        assert capsys.readouterr().err.count("interrupted") == lines


def test_a_mistake_found_by_the_processes_is_their_one_line_and_exit_code_2(tmp_path):
    """Not torchrun's traceback and its exit code 1: each process names the mistake (here both find it)."""
    (tmp_path / "photos").mkdir()
    r = cnnlab("train", "--data", f"folder:{tmp_path / 'photos'}", "--nproc", "2", "--out", str(tmp_path / "run"))
    assert r.returncode == 2, r.stderr[-3000:]
    lines = r.stderr.strip().splitlines()
    assert lines and all(line.startswith("cnnlab train: error: ") and "class folder" in line for line in lines), lines
