"""Running claims: every (arm, condition, seed) trial once, recorded as it finishes, so a stopped experiment resumes.

    OUT/experiment.json          the budget and seeds of the folder (one budget per folder)
    OUT/CLAIM/trials.jsonl       one line per finished trial: arm, condition, seed, its numbers, seconds
    OUT/CLAIM/runs/...           the training runs the trials made (kept, for a closer look)
    OUT/report.md, report.html, results.json, results.csv, figures/   (:mod:`cnnlab.prove.report`)

A trial already in ``trials.jsonl`` is never run again: run the same command after an interruption and it
goes on where it stopped. The statistics are always recomputed from ``trials.jsonl`` (:func:`analyse`), never
stored separately, so the report cannot disagree with the recorded numbers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable

from cnnlab.errors import ConfigError
from cnnlab.files import read_json, write_json
from cnnlab.progress import bar
from cnnlab.prove.claims import BUDGETS, CLAIMS, Claim
from cnnlab.prove.report import write_report
from cnnlab.prove.stats import paired

MAX_SEEDS = 50


def check_request(claim: str, budget: str, seeds: int | None) -> list[str]:
    """The claims a request names ("all" or one name), after checking budget and seeds.

    Raises:
        ConfigError: an unknown claim (with the names), budget, or a seed count outside 2..50.

    >>> check_request("dropout", "quick", 3)
    ['dropout']
    >>> check_request("drop", "quick", None)
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: claim='drop': expected all, cnn-vs-mlp, augmentation, normalization, batchnorm, \
dropout, pooling or transfer
    """
    names = list(CLAIMS)
    if claim != "all" and claim not in CLAIMS:
        raise ConfigError("claim", claim, "all, " + ", ".join(names[:-1]) + " or " + names[-1])
    if budget not in BUDGETS:
        raise ConfigError("budget", budget, "quick or standard")
    if seeds is not None and (isinstance(seeds, bool) or not isinstance(seeds, int) or not 2 <= seeds <= MAX_SEEDS):
        raise ConfigError("seeds", seeds, f"a whole number from 2 to {MAX_SEEDS} (an interval needs two seeds)")
    return names if claim == "all" else [claim]


def read_trials(folder: Path) -> list[dict]:
    """The finished trials of one claim's folder (an unfinished last line, cut by a crash, is ignored)."""
    path = Path(folder) / "trials.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(item, dict) and {"arm", "condition", "seed", "numbers"} <= set(item):
            out.append(item)
    return out


def _record(folder: Path, item: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "trials.jsonl", "a") as f:
        f.write(json.dumps(item) + "\n")
        f.flush()


def _check_folder(out: Path, budget: str) -> None:
    info = out / "experiment.json"
    if info.exists():
        saved = read_json(info).get("budget")
        if saved != budget:
            raise ConfigError("budget", budget, f"{saved}, the budget of the experiments already in {out}",
                              hint=f"use another --out folder for the {budget} budget, or --budget {saved} to go on")
    else:
        out.mkdir(parents=True, exist_ok=True)
        write_json(info, {"budget": budget, "started": time.strftime("%Y-%m-%d %H:%M:%S")})


def run_claims(claim: str = "all", seeds: int | None = None, budget: str = "quick", out: str | Path = "experiments",
               progress: bool = True, on_event: Callable[[dict], None] | None = None) -> dict:
    """Run one claim or all of them, resuming what a previous call left, and write the report.

    Args:
        claim: a claim's name or "all".
        seeds: seeds per claim (default: the claim's for the budget: 3 quick, 5 standard).
        budget: "quick" (about a minute per claim on a 2-core laptop) or "standard" (about 5 minutes).
        out: the experiment folder.
        progress: show a progress bar (only on a terminal).
        on_event: receives ``{"event": "started", "total", ...}``, then ``{"event": "trial", "claim", "arm",
            "condition", "seed", "done", "total"}`` after each trial and ``{"event": "report", "path"}`` at the end.

    Returns:
        The results (as in ``results.json``): per claim, its comparisons with per-seed numbers and statistics.
    """
    names = check_request(claim, budget, seeds)
    out = Path(out)
    _check_folder(out, budget)
    plan = []
    for name in names:
        c = CLAIMS[name]
        done = {(t["arm"], t["condition"], t["seed"]) for t in read_trials(out / name)}
        for seed in range(seeds or c.seeds[budget]):
            for condition in c.condition_list(budget):
                for arm in c.arms:
                    if (arm, condition, seed) not in done:
                        plan.append((c, arm, condition, seed))
    if on_event:
        on_event({"event": "started", "claims": names, "budget": budget, "total": len(plan), "out": str(out)})
    with bar(total=len(plan), desc="experiments", unit="trial", enabled=progress) as b:
        for i, (c, arm, condition, seed) in enumerate(plan):
            b.set_description(f"{c.name}: {arm}{' ' + condition if condition else ''}, seed {seed}")
            start = time.perf_counter()
            numbers = c.trial(arm, condition, seed, c.settings[budget], out / c.name)
            _record(out / c.name, {"arm": arm, "condition": condition, "seed": seed, "budget": budget,
                                   "numbers": numbers, "seconds": round(time.perf_counter() - start, 2)})
            b.update(1)
            if on_event:
                on_event({"event": "trial", "claim": c.name, "arm": arm, "condition": condition, "seed": seed,
                          "done": i + 1, "total": len(plan)})
    results = results_of(out, budget)
    path = write_report(out, results)
    if on_event:
        on_event({"event": "report", "path": str(path)})
    return results


def analyse(c: Claim, trials: list[dict], budget: str) -> dict:
    """A claim's statistics from its recorded trials: for each comparison, the seeds where both arms finished,
    each arm's number, the signed differences, and their :func:`cnnlab.prove.stats.paired` summary.

    Returns:
        ``{"name", "title", ..., "comparisons": [{"label", "metric", "condition", "unit", "seeds", "better",
        "other", "differences", "summary"}], "verdict", "headline"}``; a comparison without two complete seeds
        has ``summary: None``.
    """
    by = {(t["arm"], t["condition"], t["seed"]): t["numbers"] for t in trials}
    comparisons = []
    for comp in c.comparisons(c.condition_list(budget)):
        seeds = sorted({s for (a, cond, s) in by if cond == comp.condition and a == c.arms[0]}
                       & {s for (a, cond, s) in by if cond == comp.condition and a == c.arms[1]})
        better = [float(by[(c.arms[0], comp.condition, s)][comp.metric]) for s in seeds]
        other = [float(by[(c.arms[1], comp.condition, s)][comp.metric]) for s in seeds]
        diffs = [(b - o) if comp.higher_is_better else (o - b) for b, o in zip(better, other, strict=True)]
        summary = paired(diffs).as_dict() if len(diffs) >= 2 else None
        comparisons.append({"label": comp.label, "metric": comp.metric, "condition": comp.condition,
                            "unit": comp.unit, "higher_is_better": comp.higher_is_better, "seeds": seeds,
                            "better": better, "other": other, "differences": diffs, "summary": summary})
    head = comparisons[0]["summary"] if comparisons else None
    return {"name": c.name, "title": c.title, "question": c.question, "arms": list(c.arms), "expects": c.expects,
            "setup": c.setup, "explanation": c.explanation, "citation": c.citation, "published": c.published,
            "budget": budget, "conditions": c.condition_list(budget), "comparisons": comparisons,
            "headline": comparisons[0]["label"] if comparisons else None,
            "verdict": head["verdict"] if head else "not run yet",
            "seconds": round(sum(t.get("seconds", 0) for t in trials), 1)}


def results_of(out: str | Path, budget: str | None = None) -> dict:
    """The statistics of every claim that has trials in ``out`` (in the claims' order)."""
    out = Path(out)
    budget = budget or read_json(out / "experiment.json")["budget"]
    recorded = {name: read_trials(out / name) for name in CLAIMS}
    claims = [analyse(c, recorded[name], budget) for name, c in CLAIMS.items() if recorded[name]]
    return {"budget": budget, "folder": str(out), "claims": claims}
