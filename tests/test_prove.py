"""Experiments that test the lecture's claims: the statistics, the pairing, resuming, and the report.

The real claims run at the quick budget in tests/test_prove_claims.py; here a made-up claim whose trials
return known numbers checks the machinery exactly.
"""

from __future__ import annotations

import csv
import json

import pytest
from scipy import stats

from cnnlab.cli import main
from cnnlab.errors import ConfigError
from cnnlab.prove import CLAIMS, Claim, Comparison, experiment, results_of
from cnnlab.prove.stats import paired, t_interval, verdict

CALLS: list[tuple] = []


def _trial(arm, condition, seed, settings, work):
    CALLS.append((arm, condition, seed))
    base = 0.70 + 0.01 * seed
    gain = {"small": 0.05, "big": 0.001 * (-1) ** seed}[condition]
    return {"accuracy": base + (gain if arm == "new" else 0.0), "loss": 1.0 - (0.1 if arm == "new" else 0.0)}


FAKE = Claim(name="fake", title="A made-up claim", question="Does new beat old?", arms=("new", "old"),
             conditions={"quick": ["small", "big"], "standard": ["small"]}, seeds={"quick": 3, "standard": 4},
             settings={"quick": {}, "standard": {}}, trial=_trial,
             comparisons=lambda conds: [Comparison("accuracy", f"accuracy, {c}", c) for c in conds]
             + [Comparison("loss", "loss, small", "small", higher_is_better=False, unit="")],
             setup="Two arms.", explanation="Because.", citation="Nobody (2026)", published="It does.",
             expects="new scores higher")


@pytest.fixture
def fake_claim():
    CLAIMS["fake"] = FAKE
    CALLS.clear()
    yield FAKE
    del CLAIMS["fake"]


def test_the_interval_is_students_t_and_the_verdict_is_read_off_it():
    xs = [0.021, 0.034, 0.012, 0.029, 0.018]
    n, mean, sd, lo, hi = t_interval(xs)
    want = stats.t.interval(0.95, n - 1, loc=sum(xs) / n, scale=stats.sem(xs))
    assert (lo, hi) == pytest.approx(want)
    assert paired(xs).verdict == "supported"
    assert paired([-x for x in xs]).verdict == "contradicted"
    assert paired([0.02, -0.03, 0.01]).verdict == "not shown at this budget"
    assert verdict(None, None) == "not shown at this budget"
    with pytest.raises(ValueError):
        t_interval([float("nan"), 1.0])


def test_every_trial_runs_once_paired_by_seed_and_a_stopped_experiment_resumes(fake_claim, tmp_path):
    out = tmp_path / "exp"
    experiment("fake", seeds=2, out=out, progress=False)
    assert sorted(CALLS) == sorted((a, c, s) for a in ("new", "old") for c in ("small", "big") for s in (0, 1))
    CALLS.clear()
    results = experiment("fake", seeds=3, out=out, progress=False)  # one more seed: only its trials run
    assert sorted(CALLS) == sorted((a, c, 2) for a in ("new", "old") for c in ("small", "big"))
    CALLS.clear()
    experiment("fake", seeds=3, out=out, progress=False)
    assert CALLS == []
    claim = results["claims"][0]
    small, big, loss = claim["comparisons"]
    assert small["seeds"] == [0, 1, 2] and small["differences"] == pytest.approx([0.05] * 3)
    assert small["summary"]["verdict"] == "supported" and claim["verdict"] == "supported"
    assert big["summary"]["verdict"] == "not shown at this budget"
    assert loss["differences"] == pytest.approx([0.1] * 3)  # lower is better: old - new
    with pytest.raises(ConfigError, match="another --out folder"):
        experiment("fake", seeds=2, budget="standard", out=out, progress=False)


def test_the_statistics_are_computed_from_the_recorded_trials(fake_claim, tmp_path):
    out = tmp_path / "exp"
    experiment("fake", seeds=3, out=out, progress=False)
    path = out / "fake" / "trials.jsonl"
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    for item in lines:  # make the old arm win every "small" seed by 2 points, in the record only
        if item["condition"] == "small" and item["arm"] == "old":
            item["numbers"]["accuracy"] += 0.07
    path.write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"arm": "new", "cond')  # and a cut last line
    results = results_of(out)
    small = results["claims"][0]["comparisons"][0]
    assert small["differences"] == pytest.approx([-0.02] * 3)
    assert small["summary"]["verdict"] == "contradicted"


def test_the_report_has_every_part_a_student_needs(fake_claim, tmp_path):
    out = tmp_path / "exp"
    experiment("fake", seeds=3, out=out, progress=False)
    md = (out / "report.md").read_text()
    for part in ("**Question.** Does new beat old?", "**Setup.** Two arms.", "![A made-up claim](figures/fake.png)",
                 "**Supported.**", "**Why.** Because.", "**Published.** Nobody (2026): It does. Our numbers agree",
                 f"cnnlab experiment fake --budget quick --seeds 3 --out {out}",
                 "| accuracy, small | 76.0% | 71.0% | +5.0 points"):
        assert part in md, part
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and "http" not in page.replace("http://", "")  # self-contained
    assert (out / "figures" / "fake.png").read_bytes()[:4] == b"\x89PNG"
    rows = list(csv.DictReader(open(out / "results.csv")))
    assert len(rows) == 3 * 3 and {r["claim"] for r in rows} == {"fake"}
    saved = json.loads((out / "results.json").read_text())
    assert saved["claims"][0]["comparisons"][0]["summary"]["n"] == 3


def test_the_command_line_lists_claims_and_refuses_bad_requests_in_one_line(capsys, tmp_path):
    assert main(["experiment", "list"]) == 0
    assert "dropout" in capsys.readouterr().out
    assert main(["experiment", "dropuot", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "dropout" in err
    assert main(["experiment", "dropout", "--seeds", "1", "--out", str(tmp_path)]) == 2
    assert "an interval needs two seeds" in capsys.readouterr().err
    assert main(["experiment", "dropout", "--budget", "huge", "--out", str(tmp_path)]) == 2

