"""The job API: background runs whose events front ends read, cancelled cleanly and resumed exactly."""

import json
import signal

import pytest
import torch

from cnnlab.errors import ConfigError
from cnnlab.files import load_tensors
from cnnlab.training.events import EVENT_TYPES
from cnnlab.training.jobs import Job

# slow enough per epoch (about a second) that a cancel lands mid-epoch, small enough for CI
MEDIUM = {"data": "fashion-mnist", "per_class": 400, "epochs": 2, "batch_size": 32, "precision": "fp32"}


def test_a_job_streams_json_events_to_the_end(tmp_path):
    job = Job.start({"data": "synthetic", "epochs": 2, "model_args": {"widths": [8, 16], "hidden": 16}},
                    out=tmp_path / "r")
    events = list(job.events(timeout=120))
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "finished"
    assert {"epoch_begin", "batch", "epoch_end"} <= set(kinds)
    assert set(kinds) <= set(EVENT_TYPES)
    assert [e["epoch"] for e in events if e["event"] == "epoch_end"] == [1, 2]
    for e in events:
        assert json.loads(json.dumps(e)) == e  # plain JSON-able dicts
    assert job.wait() == 0 and job.status == "finished"
    assert job.result["metrics"]["test_accuracy"] == events[-1]["metrics"]["test_accuracy"]


def test_a_cancelled_job_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path):
    straight = Job.start(MEDIUM, out=tmp_path / "straight")
    assert straight.wait(300) == 0, straight.error

    job = Job.start(MEDIUM, out=tmp_path / "cut")
    for e in job.events(timeout=300):
        if e["event"] == "batch" and e["epoch"] == 1 and e["batch"] >= 3:
            job.cancel(wait=False)
    assert job.wait(120) == 130
    assert job.status == "interrupted" and "--resume" in job.error
    state = json.loads((tmp_path / "cut" / "resume.json").read_text())
    assert (state["epoch"], state["batch"]) < (2, 0) and state["step"] > 0  # stopped mid-run, checkpointed

    resumed = Job.start(out=tmp_path / "cut", resume=True)
    assert resumed.wait(300) == 0, resumed.error
    a = load_tensors(tmp_path / "straight" / "model.safetensors")
    b = load_tensors(tmp_path / "cut" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    history = (tmp_path / "cut" / "history.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in history] == [1, 2]


def test_bad_options_are_refused_before_a_process_starts(tmp_path):
    with pytest.raises(ConfigError, match="batch_size"):
        Job.start({"batch_size": 0}, out=tmp_path / "r")
    assert not (tmp_path / "r").exists()


def test_a_failing_job_reports_the_reason(tmp_path):
    job = Job.start({"data": "folder:/nonexistent/photos", "epochs": 1}, out=tmp_path / "r")
    events = list(job.events(timeout=120))
    assert events[-1]["event"] == "failed" and events[-1]["kind"] == "user"
    assert "/nonexistent/photos" in events[-1]["message"]
    assert job.wait() == 2


def test_a_job_stops_even_when_its_parent_ignores_ctrl_c(tmp_path):
    """A studio started in the background by a shell ignores SIGINT, and children inherit that: a Stop at the
    job's very start (while Python still imports) must still stop it; before the fix it was lost and the run
    trained to the end."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        job = Job.start(MEDIUM, out=tmp_path / "r")
    finally:
        signal.signal(signal.SIGINT, before)
    job.cancel(wait=False)
    code = job.wait(300)
    assert job.status == "interrupted" and code in (130, -signal.SIGINT), (code, job.status, job.error)
    assert not (tmp_path / "r" / "model.safetensors").exists()
