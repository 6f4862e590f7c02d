"""Every claim of the lecture, run for real at the quick budget with 2 seeds (the fewest that give an interval;
the budget's own 3 make it a minute longer): about 2.5 minutes for all seven.

The checks are about honesty, not about which way the verdicts go: each claim's report has every part a student
needs, and every number in results.json, report.md and results.csv is recomputed here from the trials recorded
in trials.jsonl (the arms' numbers, the paired differences, the Student-t interval, the verdict).
"""

from __future__ import annotations

import csv
import json
import math

import pytest
from scipy import stats

from cnnlab.prove import CLAIMS, experiment
from cnnlab.prove.report import fmt, interval

SEEDS = 2


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiments") / "quick"
    return out, experiment("all", seeds=SEEDS, budget="quick", out=out, progress=False)


def _expected_verdict(lo, hi):
    return "supported" if lo > 0 else "contradicted" if hi < 0 else "not shown at this budget"


def test_every_claim_ran_every_trial_once_with_the_seeds_asked(quick):
    out, results = quick
    assert [c["name"] for c in results["claims"]] == list(CLAIMS)
    for name, claim in CLAIMS.items():
        trials = [json.loads(x) for x in (out / name / "trials.jsonl").read_text().splitlines()]
        keys = [(t["arm"], t["condition"], t["seed"]) for t in trials]
        assert len(keys) == len(set(keys)) == 2 * SEEDS * len(claim.conditions["quick"])
        for t in trials:
            assert all(isinstance(v, float) and math.isfinite(v) for v in t["numbers"].values()), t
            cond = f"-{t['condition']}" if t["condition"] else ""
            run = out / name / "runs" / f"{t['arm']}{cond}-seed{t['seed']}" / "model.json"
            if run.exists():  # a trained run: the recorded accuracy is its own, on the full test set, its seed
                meta = json.loads(run.read_text())
                assert meta["metrics"]["test_accuracy"] == pytest.approx(t["numbers"]["test_accuracy"])
                assert meta["sizes"]["test"] == 10_000 and meta["config"]["training"]["seed"] == t["seed"]


def test_the_statistics_are_recomputed_from_the_recorded_trials(quick):
    out, results = quick
    for c in results["claims"]:
        trials = [json.loads(x) for x in (out / c["name"] / "trials.jsonl").read_text().splitlines()]
        by = {(t["arm"], t["condition"], t["seed"]): t["numbers"] for t in trials}
        a, b = c["arms"]
        for comp in c["comparisons"]:
            seeds = sorted(s for (arm, cond, s) in by if arm == a and cond == comp["condition"])
            better = [by[(a, comp["condition"], s)][comp["metric"]] for s in seeds]
            other = [by[(b, comp["condition"], s)][comp["metric"]] for s in seeds]
            diffs = [(x - y) if comp["higher_is_better"] else (y - x) for x, y in zip(better, other, strict=True)]
            assert comp["seeds"] == seeds and comp["better"] == better and comp["other"] == other
            assert comp["differences"] == pytest.approx(diffs)
            s = comp["summary"]
            n = len(diffs)
            mean = sum(diffs) / n
            assert s["n"] == n and s["mean"] == pytest.approx(mean)
            if any(d != diffs[0] for d in diffs):
                lo, hi = stats.t.interval(0.95, n - 1, loc=mean, scale=stats.sem(diffs))
            else:
                lo = hi = mean  # no spread: the interval is the point
            assert (s["lo"], s["hi"]) == pytest.approx((lo, hi), abs=1e-9)
            assert s["verdict"] == _expected_verdict(s["lo"], s["hi"])
        assert c["verdict"] == c["comparisons"][0]["summary"]["verdict"]


def test_the_report_has_each_claims_question_setup_plot_numbers_verdict_explanation_and_command(quick):
    out, results = quick
    md = (out / "report.md").read_text()
    page = (out / "report.html").read_text()
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == sum(len(comp["seeds"]) for c in results["claims"] for comp in c["comparisons"])
    for c in results["claims"]:
        claim = CLAIMS[c["name"]]
        head = c["comparisons"][0]
        for part in (f"## {claim.title}", f"**Question.** {claim.question}", f"**Setup.** {claim.setup}",
                     f"![{claim.title}](figures/{claim.name}.png)", f"**Why.** {claim.explanation}",
                     f"**Published.** {claim.citation}", f"cnnlab experiment {claim.name} --budget quick --seeds",
                     f"| {head['label']} |", interval(head["summary"], head["unit"]),
                     fmt(head["summary"]["mean"], head["unit"])):
            assert part in md, (c["name"], part)
        assert (out / "figures" / f"{claim.name}.png").read_bytes()[:4] == b"\x89PNG"
        assert f"id='{claim.name}'" in page
    assert page.count("data:image/png;base64,") == len(results["claims"])
