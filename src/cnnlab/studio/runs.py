"""The studio's training runs: one background job per project, its events, and its status on disk.

    PROJECT/runs/<run_id>/             the engine's run folder (model.json, report.md, model_card.md ...)
      model.onnx                       exported as soon as training finishes, for Try it and the downloads
      .studio/run.json                 mode, options, classes and status (running/finished/failed/interrupted)
      .studio/events.jsonl             every event except the per-batch ones, for pages opened later
      .studio/data/<class>/<image>     the photos the run trained on: hard links to the project's files
      .studio/predictions.json         per test image: its file, true and predicted class, probabilities

Why a copy of the class folders (hard links, so no extra disk space): the engine's folder source takes
every subfolder as a class, and a project folder also holds ``runs/``. The hidden ``.studio/data`` folder
holds only the class folders, named after the classes' display names, so model.json, the model card and
the ONNX export show the names the student typed; and the images behind a confusion-matrix cell stay
viewable after the project changes. The engine ignores hidden files in a run folder.

Test split: the folder source holds out a fixed 20% of each class (seed 1234, at least one image stays in
training), then 10% of the rest is used for validation. 3 classes x 20 images give 12 test images (4 a class),
6 for validation and 42 for training; a class with 1 or 2 images gets no test image (the run says so).

>>> import tempfile
>>> RunManager().list_runs(Path(tempfile.mkdtemp()))
[]
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import threading
import time
from pathlib import Path

from cnnlab.errors import CnnlabError, DataError
from cnnlab.files import read_json, write_json
from cnnlab.studio.exports import onnx_file
from cnnlab.studio.results import STUDIO, drop_folder_cache, ensure_predictions
from cnnlab.studio.run_options import Eta, build_config, folder_names, plain_error
from cnnlab.studio.run_records import append_event, live_owner, past_events, run_info, stored_status
from cnnlab.studio.safety import ID_PATTERN, Conflict
from cnnlab.training.events import END_EVENTS
from cnnlab.training.jobs import Job

log = logging.getLogger("cnnlab.studio")


def project_images(project_dir: Path, class_id: str) -> list[Path]:
    """The image files of one class folder of a project (no hidden, temporary or linked files), sorted."""
    d = project_dir / class_id
    if not d.is_dir() or d.is_symlink():
        return []
    return sorted(p for p in d.iterdir() if p.suffix in (".png", ".jpg") and ID_PATTERN.fullmatch(p.stem)
                  and p.is_file() and not p.is_symlink())


def snapshot(project_dir: Path, folders: dict[str, str], dest: Path) -> None:
    """Hard-link every class's images into ``dest/<folder>/`` (copies where links are impossible)."""
    for folder, class_id in folders.items():
        (dest / folder).mkdir(parents=True)
        for p in project_images(project_dir, class_id):
            try:
                os.link(p, dest / folder / p.name)
            except OSError:  # a file system without hard links
                shutil.copyfile(p, dest / folder / p.name)


class LiveRun:
    """A job this studio started, with its events kept for late subscribers (batch events: only the latest)."""

    def __init__(self, run_dir: Path, job: Job, history: list[dict], data_name: str = ""):
        self.dir, self.job, self.data_name = run_dir, job, data_name
        self.status, self.error = "running", None
        self.cancelled = False
        self._events: list[tuple[int, dict]] = list(enumerate(history))
        self._seq = len(history)
        self._lock = threading.Lock()
        self._eta = Eta()
        self.thread = threading.Thread(target=self._follow, daemon=True, name=f"run {run_dir.name}")
        self.thread.start()

    def add(self, event: dict) -> None:
        """Keep an event (a batch event replaces the batch event before it) and save all but batch events."""
        event.setdefault("time", round(time.time(), 3))
        with self._lock:
            self._seq += 1
            if event.get("event") == "batch" and self._events and self._events[-1][1].get("event") == "batch":
                self._events[-1] = (self._seq, event)
            else:
                self._events.append((self._seq, event))
        if event.get("event") != "batch":
            append_event(self.dir, event)

    def since(self, seq: int) -> list[tuple[int, dict]]:
        """The events after sequence number ``seq`` (-1: all of them), as ``(seq, event)``."""
        with self._lock:
            return [(s, e) for s, e in self._events if s > seq]

    @property
    def done(self) -> bool:
        """True once the final status event was added."""
        return self.status != "running"

    def _follow(self) -> None:
        for event in self.job.events():
            if event.get("event") == "failed" and self.cancelled:  # stopped while the process was starting
                event = {"event": "interrupted", "message": "stopped before training began", "resume": True}
            elif event.get("event") == "failed":
                event = dict(event, message=plain_error(event.get("message"), self.dir / STUDIO / "data",
                                                        self.data_name))
            self.add(self._eta.add(event))
            if event.get("event") == "finished":  # at once, while the training process shuts down
                self._predict()
        status, error = self.job.status, self.job.error
        if self.cancelled and status == "failed":  # stopped before training began: start again on resume
            status, error = "interrupted", None
        if status == "failed":
            error = plain_error(error, self.dir / STUDIO / "data", self.data_name)
        elif status == "interrupted":
            error = None
        info = run_info(self.dir)
        write_json(self.dir / STUDIO / "run.json", dict(info, status=status, error=error))
        final = {"event": "status", "status": status}
        if error:
            final["error"] = error
        if status == "interrupted":
            final["message"] = "stopped; press Resume to continue where it stopped"
        self.error = error
        self.status = status  # last: only now do new runs, results and the end of the event stream see it
        self.add(final)
        if status == "finished":  # after the results are shown: the page needs model.onnx only for Try it
            self._export()

    def _predict(self) -> None:
        try:
            self.add({"event": "stage", "stage": "checking each test image", "done": 0, "total": 1})
            ensure_predictions(self.dir)
            self.add({"event": "stage", "stage": "checking each test image", "done": 1, "total": 1})
        except Exception as e:  # the run is fine; its per-image results are made again on the first request
            log.exception("per-image results of %s", self.dir)
            self.add({"event": "note", "text": f"the per-image results could not be made ({plain_error(e)})"})

    def _export(self) -> None:
        """Export model.onnx right after the run ended (the results are already on the page), so the first visit
        to Try it does not wait for it. No events: the run's event stream has ended."""
        try:
            onnx_file(self.dir)  # exported again if older than model.safetensors
        except Exception:  # the run is fine; Try it and the downloads export it again on their first request
            log.exception("ONNX export of %s", self.dir)


def _warm_up(config: dict) -> None:
    """Import timm in the background while a pretrained run's job starts: its per-image results need timm in
    this process too, and importing it takes seconds (the training process is busy importing meanwhile)."""
    if config["model"]["pretrained"]:
        def load():
            import timm  # noqa: F401  # deferred: timm is slow to import; done while the job starts

        threading.Thread(target=load, daemon=True, name="import timm").start()


class RunManager:
    """The studio's runs: starts, follows, stops and resumes jobs, one running job per project.

    Keyed by run folder; one manager per app (see :func:`cnnlab.studio.runs_api.manager`).
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._live: dict[Path, LiveRun] = {}

    def live(self, run_dir: Path) -> LiveRun | None:
        """The live job of a run folder, if this studio started it."""
        return self._live.get(run_dir)

    def status(self, run_dir: Path) -> tuple[str, str | None]:
        """``(status, error)`` of a run: from its live job, else from its files."""
        live = self._live.get(run_dir)
        return (live.status, live.error) if live is not None else stored_status(run_dir)

    def _running(self, project_dir: Path) -> str | None:
        runs = project_dir / "runs"
        for run_dir in sorted(runs.iterdir()) if runs.is_dir() else []:
            if run_dir.is_dir() and self.status(run_dir)[0] == "running":
                return run_dir.name
        return None

    def start(self, project_dir: Path, project: dict, body: dict) -> dict:
        """Start training a project's classes in a new run folder.

        Args:
            project_dir: the project folder.
            project: its project.json (``name``, ``classes``: ``[{"id", "name"}]``).
            body: the page's options (see :func:`cnnlab.studio.run_options.build_config`).

        Returns:
            ``{"run": run_id, "status": "running"}``.

        Raises:
            Conflict: a run of this project is training. DataError: fewer than two classes with images.
            ConfigError: a bad option.
        """
        classes = [c for c in project.get("classes", []) if isinstance(c, dict) and "id" in c]
        counts = {c["id"]: len(project_images(project_dir, c["id"])) for c in classes}
        empty = [c.get("name", c["id"]) for c in classes if not counts[c["id"]]]
        if len(classes) - len(empty) < 2 or empty:
            what = f"class {empty[0]!r} has no images yet" if empty else f"this project has {len(classes)} class(es)"
            raise DataError(f"{what}; a classifier needs at least two classes, each with images "
                            "(10 or more a class work well): add images, or delete empty classes")
        with self._lock:
            busy = self._running(project_dir)
            if busy:
                raise Conflict(f"run {busy} of this project is still training; wait for it to end or stop it first")
            run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)
            run_dir = project_dir / "runs" / run_id
            data_dir = run_dir / STUDIO / "data"
            config = build_config(body, sum(counts.values()), f"folder:{data_dir.resolve()}")
            folders = folder_names(classes)
            try:
                snapshot(project_dir, folders, data_dir)
                write_json(run_dir / STUDIO / "run.json", {
                    "id": run_id, "mode": body.get("mode", "quick"), "options": body, "config": config,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "status": "running", "error": None,
                    "classes": [{"id": folders[f], "name": f} for f in folders], "folders": folders,
                    "project": project.get("name", "")})
                job = Job.start(config, out=run_dir)
                _warm_up(config)
            except BaseException:
                shutil.rmtree(run_dir, ignore_errors=True)
                raise
            self._live[run_dir] = LiveRun(run_dir, job, [], project.get("name", ""))
        return {"run": run_id, "status": "running"}

    def cancel(self, run_dir: Path, timeout: float = 60) -> dict:
        """Stop a running job like Ctrl-C (it saves a checkpoint and stays resumable); returns its new status.

        Raises:
            Conflict: the run is not training.
        """
        live = self._live.get(run_dir)
        if live is None or live.done:
            pid = live_owner(run_dir) if live is None else None
            if pid is None:
                raise Conflict(f"run {run_dir.name} is not training, so there is nothing to stop")
            os.kill(pid, signal.SIGINT)  # a job started before the studio restarted: same path as Ctrl-C
            for _ in range(int(timeout * 10)):
                if live_owner(run_dir) is None:
                    break
                time.sleep(0.1)
            return {"status": stored_status(run_dir)[0]}
        live.cancelled = True
        try:
            live.job.cancel(wait=True, timeout=timeout)
        except Exception:  # noqa: BLE001  (a timeout: the job ends later and says so in its events)
            log.warning("run %s did not stop within %s s", run_dir, timeout)
        live.thread.join(timeout)
        return {"status": live.status}

    def resume(self, project_dir: Path, run_dir: Path) -> dict:
        """Continue a stopped run with its saved settings.

        Raises:
            Conflict: a run of the project is training, or this run is not a stopped one.
        """
        with self._lock:
            busy = self._running(project_dir)
            if busy:
                raise Conflict(f"run {busy} of this project is still training; wait for it to end or stop it first")
            status, _ = self.status(run_dir)
            if status != "interrupted":
                raise Conflict(f"only a stopped run can be resumed, and run {run_dir.name} is {status}")
            info = run_info(run_dir)
            if (run_dir / "resume.json").is_file():
                job = Job.start(out=run_dir, resume=True)
            elif info.get("config"):  # stopped before the engine began: start again, same settings
                job = Job.start(info["config"], out=run_dir)
            else:
                raise Conflict(f"run {run_dir.name} has nothing saved to resume from; train a new run")
            write_json(run_dir / STUDIO / "run.json", dict(info, status="running", error=None))
            history = [e for e in past_events(run_dir) if e.get("event") not in (*END_EVENTS, "status")]
            self._live[run_dir] = LiveRun(run_dir, job, history, info.get("project", ""))
        return {"status": "running"}

    def delete(self, run_dir: Path) -> dict:
        """Delete a run folder (not while it trains).

        Raises:
            Conflict: the run is training.
        """
        with self._lock:
            if self.status(run_dir)[0] == "running":
                raise Conflict(f"run {run_dir.name} is training; stop it before deleting it")
            self._live.pop(run_dir, None)
            meta = run_dir / "model.json"
            if meta.is_file():
                drop_folder_cache(run_dir, read_json(meta))
            shutil.rmtree(run_dir)
        return {"deleted": run_dir.name}

    def list_runs(self, project_dir: Path) -> list[dict]:
        """Every run of a project, newest first: ``[{"id", "status", "mode", "created", "test_accuracy"}]``."""
        runs = project_dir / "runs"
        rows = []
        for run_dir in sorted(runs.iterdir(), reverse=True) if runs.is_dir() else []:
            if not run_dir.is_dir() or run_dir.is_symlink() or run_dir.name.startswith("."):
                continue
            info = run_info(run_dir)
            status, error = self.status(run_dir)
            acc = None
            if status == "finished":
                try:
                    acc = read_json(run_dir / "model.json").get("metrics", {}).get("test_accuracy")
                except CnnlabError:
                    acc = None
            rows.append({"id": run_dir.name, "status": status, "mode": info.get("mode"),
                         "created": info.get("created"), "test_accuracy": acc, **({"error": error} if error else {})})
        return rows

    def shutdown(self, timeout: float = 30) -> None:
        """Stop every running job resumably (call when the studio stops)."""
        for run_dir, live in list(self._live.items()):
            if not live.done:
                self.cancel(run_dir, timeout)
