"""Routes of the lecture page 10, the network builder: a stack's table and code, training it, the leaderboard.

    POST /api/learn/builder/summary   {"layers", "data", "epochs"?} -> {"layers", "input", "rows", "totals",
                                      "data": {"key", "name", "shape", "classes"}, "code": {"cnnlab", "keras"}};
                                      an impossible stack: 400 {"error": one sentence, "layer": its number}
                                      (with "explain": true, the page's way: 200 {"refused": {"error", "layer"}})
    POST /api/learn/builder/train     {"layers", "data", "epochs"} -> 201 {"run", "status": "running"}
    GET  /api/learn/builder/runs      the leaderboard: every builder run, best test accuracy first
    GET  /api/learn/builder/runs/{r}  one run's progress: status, epoch, progress 0..1, accuracies, error

``data`` is "fashion-mnist", "digits" or "project:ID" (a studio project's photos at 32 pixels). Training goes
through the job API (:class:`cnnlab.training.jobs.Job`, a child process), one builder run at a time, with
a classroom budget (a subset of Fashion-MNIST, 1 to 5 epochs, no augmentation): seconds, not minutes.

Builder runs live in ``PROJECTS/.builder/<run id>/`` (a hidden folder: never listed as a project), each an
ordinary cnnlab run folder with the builder's record in ``.studio/builder.json``; every run gets a new
folder, so a finished run is never overwritten.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from functools import lru_cache
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from cnnlab.data.images import load_image
from cnnlab.errors import CnnlabError, DataError
from cnnlab.files import read_json, write_json
from cnnlab.learn.lab.builder import DATA, DataChoice, cnnlab_code, keras_code, project_choice, table, train_options
from cnnlab.models.stack import StackError, canonical, plan
from cnnlab.studio.lab.common import choice_field, int_field, json_response
from cnnlab.studio.lab.common import read_json as read_body
from cnnlab.studio.run_options import folder_names, plain_error
from cnnlab.studio.runs import project_images, snapshot
from cnnlab.studio.safety import Conflict, NotFound, check_id
from cnnlab.training.jobs import Job

log = logging.getLogger("cnnlab.studio")
FOLDER = ".builder"  # under the projects folder
RECORD = ".studio/builder.json"
MAX_EPOCHS = 5
MAX_SPEC = 2000  # characters of a stack


def _spec(data: dict) -> str:
    spec = data.get("layers")
    if not isinstance(spec, str) or len(spec) > MAX_SPEC:
        raise StackError(str(spec)[:80], f"send the layers as text of at most {MAX_SPEC} characters, e.g. "
                                         "'conv 32 3, relu, maxpool 2, flatten, dense'")
    return spec


def _choice(request, key) -> tuple[DataChoice, Path | None, dict | None]:
    """The data the page picked: (choice, project folder or None, project.json or None)."""
    if key in DATA:
        return DATA[key], None, None
    if not isinstance(key, str) or not key.startswith("project:"):
        choice_field({"data": key}, "data", [*DATA, "project:ID"])
    store = request.app.state.store
    project_dir = store.project_dir(key.split(":", 1)[1])
    meta = store.meta(project_dir.name)
    classes = [c for c in meta.get("classes", []) if isinstance(c, dict) and "id" in c]
    filled = [c for c in classes if project_images(project_dir, c["id"])]
    if len(filled) < 2 or len(filled) < len(classes):
        empty = [c.get("name", c["id"]) for c in classes if c not in filled]
        what = (f"class {empty[0]!r} has no photos yet" if empty
                else f"project {meta['name']!r} has fewer than two classes")
        raise DataError(f"{what}; the builder trains on a project whose classes (at least two) all have photos")
    files = [p for c in classes for p in project_images(project_dir, c["id"])]
    channels = photo_channels(tuple((str(p), p.stat().st_mtime_ns) for p in files))
    choice = project_choice(project_dir.name, meta["name"], str(project_dir), [c["id"] for c in classes], channels)
    return choice, project_dir, meta


@lru_cache(maxsize=16)
def photo_channels(files: tuple[tuple[str, int], ...]) -> int:
    """1 when every photo is gray, else 3: the rule training applies to a folder (``channels="auto"``), so the
    table the page shows has the input the trained network will have. Cached by the files and their times."""
    for path, _ in files:
        if load_image(path).ndim == 3:
            return 3
    return 1


def _refused(e: StackError):
    """400 with the sentence and the number of the layer it names (the page marks that block)."""
    response = json_response({"error": e.sentence, "layer": e.layer})
    response.status_code = 400
    return response


async def summary(request):
    """POST /api/learn/builder/summary: each layer's output shape, parameters and FLOPs; the code."""
    data = await read_body(request)
    epochs = int_field(data, "epochs", 1, MAX_EPOCHS, default=2)

    def work():
        choice, _, _ = _choice(request, data.get("data", "fashion-mnist"))
        out = table(_spec(data), choice)
        out["data"] = {"key": choice.key, "name": choice.name, "shape": list(choice.shape),
                       "classes": len(choice.classes)}
        out["code"] = {"cnnlab": cnnlab_code(out["layers"], choice, epochs),
                       "keras": keras_code(out["layers"], choice, epochs)}
        return out

    try:
        return json_response(await run_in_threadpool(work))
    except StackError as e:
        if data.get("explain") is True:  # the page: an impossible stack is part of the exercise, not a bad request
            return json_response({"refused": {"error": e.sentence, "layer": e.layer}})
        return _refused(e)


# ------------------------------------------------------------------------------------------- training


class BuilderRun:
    """A builder network training in a job; follows its events into a small progress record."""

    def __init__(self, run_dir: Path, job: Job, record: dict):
        self.dir, self.job, self.record = run_dir, job, record
        self.progress = {"stage": "starting", "epoch": 0, "epochs": record["epochs"], "fraction": 0.0,
                         "history": []}
        self.thread = threading.Thread(target=self._follow, daemon=True, name=f"builder {run_dir.name}")
        self.thread.start()

    @property
    def done(self) -> bool:
        """True once the record holds the final status."""
        return self.record["status"] != "running"

    def _follow(self) -> None:
        p = self.progress
        for e in self.job.events():
            kind = e.get("event")
            if kind == "stage":
                p["stage"] = e.get("stage", "preparing")
            elif kind == "epoch_begin":
                p.update(stage="training", epoch=e["epoch"], epochs=e["epochs"])
            elif kind == "batch" and e.get("batches"):
                p["fraction"] = round((e["epoch"] - 1 + e["batch"] / e["batches"]) / max(1, p["epochs"]), 4)
            elif kind == "epoch_end":
                m = e.get("metrics", {})
                p["history"].append({"epoch": e.get("epoch"), "train_loss": m.get("train_loss"),
                                     "val_accuracy": m.get("val_accuracy")})
                p.update(fraction=round(e.get("epoch", 0) / max(1, p["epochs"]), 4), stage="testing"
                         if e.get("epoch") == p["epochs"] else "training")
        record = dict(self.record, status=self.job.status)
        if self.job.status == "finished":
            m = self.job.result["metrics"]
            record.update(test_accuracy=m["test_accuracy"], val_accuracy=m.get("val_accuracy"),
                          train_seconds=m["train_seconds"])
            p["fraction"] = 1.0
        else:
            record["error"] = plain_error(self.job.error, self.dir / ".studio" / "data", self.record["data_name"])
        record["ended"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        write_json(self.dir / RECORD, record)
        self.record = record  # last: only now does the page see the end


def _root(app) -> Path:
    root = Path(app.state.projects_dir) / FOLDER
    if root.is_symlink():
        raise NotFound("the builder's runs folder is a link, which the studio never follows")
    root.mkdir(exist_ok=True)
    return root


def shutdown(app) -> None:
    """Stop the builder's running jobs (the studio is stopping); they stay resumable like any run."""
    for run in list(getattr(app.state, "builder_runs", {}).values()):
        if not run.done():
            run.job.cancel(wait=True, timeout=30)


def _live(app) -> dict[str, BuilderRun]:
    if not hasattr(app.state, "builder_runs"):
        app.state.builder_runs = {}
    return app.state.builder_runs


_starting = threading.Lock()


def start(request, data: dict) -> dict:
    """Start training the page's network; returns ``{"run", "status"}``.

    Raises:
        StackError: the stack cannot work. ConfigError: a bad epochs or data value. Conflict: a builder run is
        still training (one at a time: the computer's cores are shared).
    """
    epochs = int_field(data, "epochs", 1, MAX_EPOCHS, default=2)
    choice, project_dir, meta = _choice(request, data.get("data", "fashion-mnist"))
    spec = canonical(_spec(data))
    steps = plan(spec, choice.shape[0], choice.shape[1:], len(choice.classes))
    live = _live(request.app)
    with _starting:
        busy = [r for r in live.values() if not r.done]
        if busy:
            raise Conflict("your last network is still training; wait for it to finish, then train the next one")
        root = _root(request.app)
        run_id = time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        run_dir = root / run_id
        options = train_options(spec, choice, epochs)
        if project_dir is not None:  # the photos as they are now, in folders named like the classes
            classes = [c for c in meta["classes"] if isinstance(c, dict) and "id" in c]
            folders = folder_names(classes)
            snapshot(project_dir, folders, run_dir / ".studio" / "data")
            options["data"] = f"folder:{(run_dir / '.studio' / 'data').resolve()}"
        record = {"id": run_id, "layers": spec, "data": choice.key, "data_name": choice.name, "epochs": epochs,
                  "params": sum(s.params for s in steps), "flops": sum(s.flops for s in steps),
                  "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "status": "running"}
        write_json(run_dir / RECORD, record)
        try:
            job = Job.start(None, out=run_dir, **options)
        except BaseException:
            write_json(run_dir / RECORD, dict(record, status="failed", error="training could not start"))
            raise
        live[run_id] = BuilderRun(run_dir, job, record)
    return {"run": run_id, "status": "running"}


def _record(app, run_dir: Path) -> dict:
    """A run's record, with its live progress while it trains (a run left running by a stopped studio: stopped)."""
    live = _live(app).get(run_dir.name)
    if live is not None:
        out = dict(live.record)
        if not live.done:
            out["progress"] = {k: (list(v) if isinstance(v, list) else v) for k, v in live.progress.items()}
        return out
    record = read_json(run_dir / RECORD)
    if record.get("status") == "running":
        record = dict(record, status="stopped", error="the studio stopped while this network trained")
        if (run_dir / "model.json").is_file():
            m = read_json(run_dir / "model.json")["metrics"]
            record.update(status="finished", error=None, test_accuracy=m["test_accuracy"],
                          val_accuracy=m.get("val_accuracy"), train_seconds=m["train_seconds"])
    return record


def leaderboard(app) -> list[dict]:
    """Every builder run, finished ones by test accuracy (best first), then the others, newest first."""
    root = Path(app.state.projects_dir) / FOLDER
    rows = []
    for run_dir in sorted(root.iterdir(), reverse=True) if root.is_dir() and not root.is_symlink() else []:
        if run_dir.is_symlink() or not (run_dir / RECORD).is_file():
            continue
        try:
            rows.append(_record(app, run_dir))
        except CnnlabError as e:  # one damaged record must not hide the others
            log.warning("skipping builder run %s: %s", run_dir, e)
    done = sorted((r for r in rows if r.get("status") == "finished"), key=lambda r: -r.get("test_accuracy", 0))
    return done + [r for r in rows if r.get("status") != "finished"]


async def train(request):
    """POST /api/learn/builder/train: start training the page's network."""
    data = await read_body(request)
    try:
        out = await run_in_threadpool(start, request, data)
    except StackError as e:
        return _refused(e)
    response = json_response(out)
    response.status_code = 201
    return response


async def runs(request):
    """GET /api/learn/builder/runs: the leaderboard."""
    return json_response(await run_in_threadpool(leaderboard, request.app))


async def run(request):
    """GET /api/learn/builder/runs/{r}: one run's record and, while it trains, its progress."""
    run_id = check_id(request.path_params["r"], "run")
    run_dir = Path(request.app.state.projects_dir) / FOLDER / run_id
    if run_dir.is_symlink() or not (run_dir / RECORD).is_file():
        raise NotFound(f"there is no builder run '{run_id}'")
    return json_response(await run_in_threadpool(_record, request.app, run_dir))


routes = [
    Route("/api/learn/builder/summary", summary, methods=["POST"]),
    Route("/api/learn/builder/train", train, methods=["POST"]),
    Route("/api/learn/builder/runs", runs, methods=["GET"]),
    Route("/api/learn/builder/runs/{r}", run, methods=["GET"]),
]
