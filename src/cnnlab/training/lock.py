"""One writer per run folder: a lock file with the owner's PID, and the rules for reusing a folder.

Two ``cnnlab train --out same/`` at once used to both "succeed" and leave one run's model next to
the other's report. Now the first takes ``same/.lock`` (created with O_EXCL, so exactly one wins);
the second is refused with who holds it. A lock whose process is gone (killed, machine rebooted)
is stale and taken over.

Reusing a folder (:func:`prepare_out`): a finished run is never replaced unless asked
(``overwrite``), and then none of its files survive; an interrupted run is continued with
``resume`` or replaced with ``overwrite``; a folder that holds something else is never touched.

>>> import tempfile
>>> from cnnlab.training.lock import RunLock
>>> d = tempfile.mkdtemp()
>>> with RunLock(d):
...     RunLock(d).acquire()
Traceback (most recent call last):
  ...
cnnlab.errors.RunError: ... is in use by another cnnlab run ...
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from pathlib import Path

from cnnlab.errors import RunError

LOCK_NAME = ".lock"
PREVIOUS = ".previous-run"  # a run being overwritten waits here until its replacement is complete
# what a run writes; an overwrite removes exactly these (and the figures), nothing else
RUN_FILES = ("model.safetensors", "model.json", "history.jsonl", "report.md", "resume.json", "resume.safetensors",
             "model_card.md", "model.onnx", "model.pt2", "events.jsonl", "web")  # web/: an exported web demo
FIGURES = ("curves.png", "confusion.png", "misclassified.png")


def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (tells a live owner from a new process that reused its PID)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunLock:
    """Exclusive use of a run folder while a run writes it.

    Args:
        run_dir: the folder (created if missing).

    Raises:
        RunError: (on acquire) another live process holds the folder.
    """

    def __init__(self, run_dir):
        self.dir = Path(run_dir)
        self.path = self.dir / LOCK_NAME
        self.owner = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                      "proc_start": _process_start(os.getpid())}
        self.held = False

    def acquire(self) -> RunLock:
        """Take the lock, taking over a stale one; returns self."""
        self.dir.mkdir(parents=True, exist_ok=True)
        for _ in range(3):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = self.holder()
                if holder is not None and not self.stale(holder):
                    raise RunError(
                        f"{self.dir} is in use by another cnnlab run (process {holder.get('pid')} on "
                        f"{holder.get('host')}, started {holder.get('started')}); wait for it to finish or "
                        "choose another out folder") from None
                self.path.unlink(missing_ok=True)  # stale: its owner is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(self.owner, f)
            self.held = True
            return self
        raise RunError(f"{self.dir}: could not take the lock {self.path}; remove it if no cnnlab run is using "
                       "the folder")

    def holder(self) -> dict | None:
        """Who holds the lock (None if the lock file vanished meanwhile)."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:  # being written right now, or truncated by a crash
            age = time.time() - self.path.stat().st_mtime if self.path.exists() else 99
            return {"pid": -1, "host": "?", "started": "?", "broken": age > 5}

    def stale(self, holder: dict) -> bool:
        """True when the lock's owner no longer runs (same machine) or the lock file is broken."""
        if holder.get("broken"):
            return True
        if holder.get("host") != self.owner["host"]:
            return False  # another machine (shared disk): we cannot tell, so we respect it
        pid = holder.get("pid")
        if not isinstance(pid, int) or pid <= 0 or not _alive(pid):
            return True
        started = holder.get("proc_start")
        return started is not None and _process_start(pid) not in (None, started)  # PID reused by another program

    def release(self) -> None:
        """Remove the lock if we still hold it."""
        if self.held:
            holder = self.holder()
            if holder and holder.get("pid") == self.owner["pid"]:
                self.path.unlink(missing_ok=True)
            self.held = False

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def folder_state(run_dir) -> str:
    """``"new"`` (missing or empty), ``"finished"``, ``"interrupted"`` or ``"other"`` (holds other files)."""
    d = Path(run_dir)
    if not d.exists():
        return "new"
    if not d.is_dir():
        return "other"
    if (d / "resume.json").is_file():
        return "interrupted"
    if (d / "model.json").is_file():
        return "finished"
    visible = [p for p in d.iterdir() if not p.name.startswith(".")]
    if not visible:
        return "new"
    if all(p.name in RUN_FILES or p.name in FIGURES for p in visible):
        return "interrupted"  # a run that stopped before its first checkpoint
    return "other"


def prepare_out(run_dir, resume: bool = False, overwrite: bool = False) -> str:
    """Check that a run may write ``run_dir`` (call it while holding the lock); returns its state.

    Args:
        run_dir: the output folder.
        resume: continue the interrupted run there.
        overwrite: replace what is there (a finished or an interrupted run; never other files).

    Raises:
        RunError: the folder holds a finished run (without overwrite), an interrupted run (without resume or
            overwrite), files that are not a cnnlab run, or nothing to resume.
    """
    d = Path(run_dir)
    state = check_out(d, resume, overwrite)
    if overwrite and not resume and state in ("finished", "interrupted"):
        set_aside(d)
    return state


def check_out(run_dir, resume: bool = False, overwrite: bool = False) -> str:
    """What :func:`prepare_out` checks, changing nothing: returns the folder's state or raises RunError."""
    d = Path(run_dir)
    state = folder_state(d)
    if state == "other":
        raise RunError(f"{d} holds files that are not a cnnlab run; choose a new or empty out folder")
    if resume:
        if state == "finished":
            raise RunError(f"{d} holds a finished run: there is nothing to resume")
        if not (d / "resume.json").is_file():
            raise RunError(f"nothing to resume in {d} (no resume.json); start a new run without resume (--resume)")
        return state
    if state == "finished" and not overwrite:
        acc = _finished_accuracy(d)
        raise RunError(f"{d} already holds a finished run{acc}; choose another out folder, or replace it with "
                       "overwrite=True (--overwrite)")
    if state == "interrupted" and not overwrite:
        raise RunError(f"{d} holds an interrupted run; continue it with resume=True (--resume), or start over "
                       "with overwrite=True (--overwrite)")
    return state


def set_aside(run_dir) -> None:
    """Move a run's files into ``.previous-run/`` (the folder then looks new; nothing stale survives)."""
    d = Path(run_dir)
    keep = d / PREVIOUS
    if keep.exists():
        shutil.rmtree(keep)
    keep.mkdir()
    for name in RUN_FILES + FIGURES:
        if (d / name).exists():
            os.replace(d / name, keep / name)


def restore_previous(run_dir) -> None:
    """Undo :func:`set_aside` after a failed overwrite: the new run's files go, the old run comes back."""
    d = Path(run_dir)
    keep = d / PREVIOUS
    if not keep.is_dir():
        return
    for name in RUN_FILES + FIGURES:
        if (d / name).is_dir():
            shutil.rmtree(d / name)
        else:
            (d / name).unlink(missing_ok=True)
    for p in keep.iterdir():
        os.replace(p, d / p.name)
    keep.rmdir()


def drop_previous(run_dir) -> None:
    """Delete the replaced run once its replacement is complete."""
    keep = Path(run_dir) / PREVIOUS
    if keep.exists():
        shutil.rmtree(keep)


def _finished_accuracy(d: Path) -> str:
    try:
        acc = json.loads((d / "model.json").read_text())["metrics"]["test_accuracy"]
        return f" (test accuracy {acc:.2%})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


__all__ = ["RunLock", "drop_previous", "folder_state", "prepare_out", "restore_previous", "set_aside"]
