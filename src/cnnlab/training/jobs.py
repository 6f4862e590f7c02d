"""Training in the background for front ends: start a run, read its events, cancel it.

A :class:`Job` runs :func:`cnnlab.training.run.train` in a **child process** and streams its events
(plain dicts, see :mod:`cnnlab.training.events`) back over a pipe as JSON lines.

Why a process and not a thread: training is CPU-bound and runs Python between the torch kernels, so
a thread would compete with the web server for the interpreter lock and make the studio sluggish;
torch's thread pool settings are per process; a crash or an out-of-memory kill in training would take
a thread's host (the studio) down with it; and cancelling must work at any moment, also while photos
are decoded or features computed, where no training loop checks a flag. A signal to a child process
does all of that, through the very path Ctrl-C takes: SIGINT, the trainer finishes its batch, saves a
checkpoint, and the run stays resumable. The price is a second or two to start the child.

>>> import tempfile
>>> from cnnlab.training.jobs import Job
>>> job = Job.start({"data": "synthetic", "epochs": 1, "model_args": {"widths": [8, 16], "hidden": 16}},
...                 out=tempfile.mkdtemp() + "/run")
>>> [e["event"] for e in job.events()][-1]
'finished'
>>> job.status, job.result["metrics"]["test_accuracy"] > 0
('finished', True)
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Iterator

from cnnlab.config import RunConfig


def _stoppable() -> None:
    """In the new worker, before it starts: SIGINT (how a job is cancelled) acts, even when the parent ignores it
    (a studio started in the background by a shell ignores SIGINT, and children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])


class Job:
    """A training run in a child process.

    Use :meth:`Job.start`; then read :meth:`events` (blocking iterator) or :meth:`poll` (what is there now),
    :meth:`cancel` to stop it resumably, :meth:`wait` for the exit code.

    Attributes:
        out: the run folder.
        status: "running", "finished", "failed" or "interrupted".
        result: model.json of a finished run (None before).
        error: the message of a failed or interrupted run.
    """

    def __init__(self, proc: subprocess.Popen, out: Path):
        self.proc, self.out = proc, out
        self.status, self.result, self.error = "running", None, None
        self._cancelled = False
        self._queue: queue.Queue = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, config: RunConfig | dict | str | None = None, *, out, resume: bool = False,
              overwrite: bool = False, **options) -> Job:
        """Start training in a child process.

        Args:
            config: a RunConfig, a dict or a JSON file path (as for ``cnnlab.train``).
            out: the run folder.
            resume: continue the interrupted run in ``out``.
            overwrite: replace a run in ``out``.
            **options: flat options on top of ``config``.

        Returns:
            The running Job.

        Raises:
            ConfigError: a bad option (checked here, before any process starts).
        """
        cfg = RunConfig.build(config, **options) if config is not None or options else None
        if cfg is not None and not resume:
            cfg.validate()
        spec = {"config": cfg.to_dict() if cfg is not None else None, "out": str(out), "resume": resume,
                "overwrite": overwrite}
        return cls.run_worker("cnnlab.training.worker", spec, out)

    @classmethod
    def run_worker(cls, module: str, spec: dict, out) -> Job:
        """Start ``python -m MODULE SPEC_JSON`` as a job: any worker that prints events as JSON lines and ends
        with a "finished", "failed" or "interrupted" event (``cnnlab.training.worker`` for training,
        ``cnnlab.prove.worker`` for experiments)."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen([sys.executable, "-m", module, json.dumps(spec)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True,  # a Ctrl-C in the front end's terminal is not the job's
                                preexec_fn=_stoppable)
        return cls(proc, Path(out))

    def _read(self) -> None:
        for line in self.proc.stdout:
            line = line.strip()
            if not line.startswith("{"):
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            self._see(event)
            self._queue.put(event)
        code = self.proc.wait()
        if self.status == "running" and self._cancelled and code in (130, -signal.SIGINT):
            # stopped while Python was still starting, before the run had anything to save
            event = {"event": "interrupted", "run": str(self.out), "resume": False,
                     "message": "stopped before training began: nothing was saved; start the run again"}
            self._see(event)
            self._queue.put(event)
        elif self.status == "running":  # the process died without saying why (killed, out of memory)
            stderr = self.proc.stderr.read()[-2000:] if self.proc.stderr else ""
            event = {"event": "failed", "run": str(self.out), "kind": "bug",
                     "message": f"the training process ended unexpectedly (exit code {code}) {stderr}".strip()}
            self._see(event)
            self._queue.put(event)
        self._queue.put(None)

    def _see(self, event: dict) -> None:
        kind = event.get("event")
        if kind == "finished":
            self.status, self.result = "finished", event.get("result")
        elif kind in ("failed", "interrupted"):
            self.status, self.error = kind, event.get("message")

    def events(self, timeout: float | None = None) -> Iterator[dict]:
        """Yield events until the job ends (its last event is finished, failed or interrupted).

        Args:
            timeout: give up waiting for the next event after this many seconds (raises queue.Empty).
        """
        while True:
            event = self._queue.get(timeout=timeout)
            if event is None:
                self._queue.put(None)  # later calls end at once too
                return
            yield event

    def poll(self) -> list[dict]:
        """The events that arrived since the last call, without waiting."""
        out = []
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return out
            if event is None:
                self._queue.put(None)
                return out
            out.append(event)

    def cancel(self, wait: bool = True, timeout: float = 60) -> None:
        """Stop the run like Ctrl-C: it finishes its batch, saves a checkpoint and stays resumable."""
        if self.proc.poll() is None and not self._cancelled:  # once: a second SIGINT means "stop without saving"
            self._cancelled = True
            self.proc.send_signal(signal.SIGINT)
        if wait:
            self.wait(timeout)

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the process to end; returns its exit code (0 finished, 2 failed, 130 interrupted)."""
        code = self.proc.wait(timeout)
        self._reader.join(timeout)
        return code

    @property
    def running(self) -> bool:
        """True while the child process runs."""
        return self.proc.poll() is None
