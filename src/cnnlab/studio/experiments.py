"""The studio's Experiments page: test a claim of the lecture through the job API and read its lab report.

    GET  /api/experiments                          the claims, the running job's progress, each budget's verdicts
    POST /api/experiments        {claim, budget, seeds?}   start one claim (or "all"); 409 while one runs
    POST /api/experiments/cancel                   stop it (the finished trials are kept; start it again to go on)
    GET  /api/experiments/{budget}/results         results.json of that budget's folder (per-seed numbers, statistics)
    GET  /api/experiments/{budget}/figures/{claim}.png
    GET  /api/experiments/{budget}/report.html     the self-contained lab report; report.md as a download

The experiments run in a child process (:meth:`cnnlab.training.jobs.Job.run_worker` with
:mod:`cnnlab.prove.worker`), one at a time (the computer's cores are shared), into
``PROJECTS/.experiments/BUDGET/``: a hidden folder, never shown as a project. Running a claim again reuses
the trials already there (an experiment folder only grows), exactly as ``cnnlab experiment`` does.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from cnnlab.errors import ConfigError
from cnnlab.prove import BUDGETS, CLAIMS
from cnnlab.prove.runner import check_request, results_of
from cnnlab.studio.lab.common import read_json as read_body
from cnnlab.studio.safety import Conflict, NotFound
from cnnlab.training.jobs import Job

FOLDER = ".experiments"
SECONDS = {"quick": "about a minute a claim", "standard": "about 5 minutes a claim"}


class ExperimentJob:
    """The running experiment and what the page shows of it (updated by a thread reading the job's events)."""

    def __init__(self, job: Job, request: dict):
        self.job = job
        self.state = {**request, "status": "running", "done": 0, "total": None, "current": None, "error": None,
                      "started": time.time(), "result": None}
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        for e in self.job.events():
            kind = e.get("event")
            if kind == "started":
                self.state["total"] = e.get("total")
            elif kind == "trial":
                self.state.update(done=e["done"], total=e["total"],
                                  current=f"{e['claim']}: {e['arm']}{' ' + e['condition'] if e['condition'] else ''}"
                                          f", seed {e['seed']}")
            elif kind == "finished":
                result = {k: v for k, v in (e.get("result") or {}).items() if k != "out"}  # no server paths
                self.state.update(status="finished", result=result, current=None)
            elif kind in ("failed", "interrupted"):
                self.state.update(status=kind, error=e.get("message"), current=None)
        if self.state["status"] == "running":
            self.state.update(status=self.job.status, error=self.job.error)

    @property
    def running(self) -> bool:
        return self.state["status"] == "running"


def _folder(app, budget: str) -> Path:
    if budget not in BUDGETS:
        raise NotFound(f"there is no budget {budget[:20]!r}; use quick or standard")
    root = Path(app.state.projects_dir) / FOLDER
    if root.is_symlink():
        raise NotFound("the experiments folder is a link, which the studio never follows")
    return root / budget


def _current(app) -> ExperimentJob | None:
    return getattr(app.state, "experiment_job", None)


def shutdown(app) -> None:
    """Stop a running experiment (the studio is stopping); its finished trials are kept."""
    job = _current(app)
    if job is not None and job.running:
        job.job.cancel(wait=True, timeout=30)


def _verdicts(app) -> dict:
    out = {}
    for budget in BUDGETS:
        folder = _folder(app, budget)
        if (folder / "experiment.json").is_file():
            results = results_of(folder, budget)
            out[budget] = {c["name"]: {"verdict": c["verdict"], "headline": c["headline"],
                                       "summary": c["comparisons"][0]["summary"] if c["comparisons"] else None,
                                       "unit": c["comparisons"][0]["unit"] if c["comparisons"] else ""}
                           for c in results["claims"]}
    return out


async def overview(request):
    """GET /api/experiments: the claims, the job, the verdicts so far."""
    claims = [{"name": c.name, "title": c.title, "question": c.question, "expects": c.expects,
               "citation": c.citation, "arms": list(c.arms), "seeds": c.seeds} for c in CLAIMS.values()]
    job = _current(request.app)
    return JSONResponse({"claims": claims, "budgets": [{"name": b, "time": SECONDS[b]} for b in BUDGETS],
                         "job": dict(job.state) if job else None,
                         "verdicts": await run_in_threadpool(_verdicts, request.app)})


async def start(request):
    """POST /api/experiments: start a claim (or "all") at a budget."""
    data = await read_body(request)
    claim, budget, seeds = data.get("claim"), data.get("budget", "quick"), data.get("seeds")
    if not isinstance(claim, str):
        raise ConfigError("claim", claim, "a claim's name (see GET /api/experiments) or all")
    check_request(claim, budget if isinstance(budget, str) else str(budget), seeds)
    app = request.app
    # no await from the check to the new job: on the event loop nothing can start another one in between
    job = _current(app)
    if job is not None and job.running:
        raise Conflict("an experiment is running already; wait for it or stop it first (one at a time: the "
                       "computer's cores are shared)")
    out = _folder(app, budget)
    out.parent.mkdir(exist_ok=True)
    spec = {"claim": claim, "budget": budget, "seeds": seeds, "out": str(out)}
    app.state.experiment_job = ExperimentJob(Job.run_worker("cnnlab.prove.worker", spec, out),
                                             {"claim": claim, "budget": budget, "seeds": seeds})
    return JSONResponse(dict(app.state.experiment_job.state), status_code=201)


async def cancel(request):
    """POST /api/experiments/cancel: stop the running experiment (its finished trials stay)."""
    job = _current(request.app)
    if job is None or not job.running:
        raise Conflict("no experiment is running")
    await run_in_threadpool(job.job.cancel, True, 60)
    return JSONResponse(dict(job.state))


def _existing(request, name: str) -> Path:
    folder = _folder(request.app, request.path_params["budget"])
    path = folder / name
    if not path.is_file() or path.is_symlink():
        raise NotFound(f"no experiment has been run at the {request.path_params['budget']} budget yet; run one first")
    return path


async def results(request):
    """GET /api/experiments/{budget}/results: every claim's per-seed numbers and statistics."""
    folder = _folder(request.app, request.path_params["budget"])
    if not (folder / "experiment.json").is_file():
        raise NotFound(f"no experiment has been run at the {request.path_params['budget']} budget yet; run one first")
    return JSONResponse(await run_in_threadpool(results_of, folder, request.path_params["budget"]))


async def figure(request):
    """GET /api/experiments/{budget}/figures/{claim}.png."""
    claim = request.path_params["claim"]
    if claim not in CLAIMS:
        raise NotFound(f"there is no claim {claim[:40]!r}")
    return FileResponse(_existing(request, f"figures/{claim}.png"), media_type="image/png",
                        headers={"cache-control": "no-store"})


async def report(request):
    """GET /api/experiments/{budget}/report.html (or .md, as a download)."""
    kind = request.path_params["kind"]
    if kind not in ("html", "md"):
        raise NotFound("the report is report.html or report.md")
    if kind == "html":
        return FileResponse(_existing(request, "report.html"), media_type="text/html",
                            headers={"cache-control": "no-store"})
    path = _existing(request, "report.md")
    return Response(path.read_bytes(), media_type="text/markdown",
                    headers={"content-disposition": f'attachment; filename="lab-report-{path.parent.name}.md"'})


routes = [
    Route("/api/experiments", overview, methods=["GET"]),
    Route("/api/experiments", start, methods=["POST"]),
    Route("/api/experiments/cancel", cancel, methods=["POST"]),
    Route("/api/experiments/{budget}/results", results, methods=["GET"]),
    Route("/api/experiments/{budget}/figures/{claim}.png", figure, methods=["GET"]),
    Route("/api/experiments/{budget}/report.{kind:str}", report, methods=["GET"]),
]
