"""What the studio keeps in a run folder, and the status of runs no live job of this studio follows.

    RUN/.studio/run.json       {"id", "mode", "options", "config", "created", "status", "error", "classes", "folders"}
    RUN/.studio/events.jsonl   one event a line, except the per-batch ones (a page opened later replays them)

A run saved as running whose process is gone (the studio was stopped meanwhile) is finished when
model.json is there, interrupted (resumable) when resume.json is, else failed; a run whose folder lock
a live process holds (a job started before the studio restarted) is still running.

>>> import tempfile
>>> stored_status(Path(tempfile.mkdtemp()))
('failed', 'the studio stopped before this run could start training; train again')
"""

from __future__ import annotations

import json
from pathlib import Path

from cnnlab.errors import CnnlabError
from cnnlab.files import read_json, write_json
from cnnlab.studio.results import STUDIO
from cnnlab.training.lock import RunLock

STATUSES = ("running", "finished", "failed", "interrupted")


def append_event(run_dir: Path, event: dict) -> None:
    with open(run_dir / STUDIO / "events.jsonl", "a") as f:  # append-only: a cut-off last line is skipped on reading
        f.write(json.dumps(event, default=str) + "\n")


def past_events(run_dir: Path) -> list[dict]:
    """The saved events of a run (its history.jsonl as epoch_end events when the studio saved none).

    >>> import tempfile
    >>> past_events(Path(tempfile.mkdtemp()))
    []
    """
    for path in (run_dir / STUDIO / "events.jsonl", run_dir / "history.jsonl"):
        if path.is_file():
            events = []
            for line in path.read_text().splitlines():
                try:
                    e = json.loads(line)
                except json.JSONDecodeError:
                    continue
                if isinstance(e, dict):
                    events.append(e if "event" in e else {"event": "epoch_end", "epoch": e.get("epoch"), "metrics": e})
            return events
    return []


def run_info(run_dir: Path) -> dict:
    """The studio's record of a run (``.studio/run.json``); an empty dict for runs the studio did not start."""
    try:
        info = read_json(run_dir / STUDIO / "run.json")
    except CnnlabError:
        return {}
    return info if isinstance(info, dict) else {}


def live_owner(run_dir: Path) -> int | None:
    """The process id of a live process holding the run folder's lock (a job the studio lost on a restart)."""
    lock = RunLock(run_dir)
    holder = lock.holder() if lock.path.is_file() else None
    return holder.get("pid") if holder is not None and not lock.stale(holder) else None


def stored_status(run_dir: Path) -> tuple[str, str | None]:
    """``(status, error)`` of a run no live job of this studio follows, from its files.

    A run saved as running whose process is gone (the studio was stopped meanwhile) is finished when
    model.json is there, interrupted (resumable) when resume.json is, else failed.
    """
    info = run_info(run_dir)
    status, error = info.get("status"), info.get("error")
    if status == "running" or status not in STATUSES:
        if live_owner(run_dir):
            return "running", None
        if (run_dir / "model.json").is_file():
            status, error = "finished", None
        elif (run_dir / "resume.json").is_file():
            status, error = "interrupted", None
        else:
            status, error = "failed", "the studio stopped before this run could start training; train again"
        if info:
            write_json(run_dir / STUDIO / "run.json", dict(info, status=status, error=error))
    return status, error
