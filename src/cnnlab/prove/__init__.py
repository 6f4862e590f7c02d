"""Prove the lecture's claims: seed-paired experiments, 95% confidence intervals, a lab report.

    cnnlab experiment CLAIM|all [--seeds N] [--budget quick|standard] [--out DIR]

or from Python ``cnnlab.experiment("dropout", seeds=3, budget="quick", out="experiments/quick")``.

    claims.py   the claims: two arms differing in one thing, conditions, budgets, comparisons, citations
    trials.py   what each claim measures: one arm, one condition, one seed
    measure.py  shifted test images, unchanged predictions, plain gradient descent's loss curve
    stats.py    per-seed differences, mean, Student-t interval, the computed verdict
    runner.py   runs every trial once, records it as it finishes (a stopped experiment resumes), analyses
    report.py   report.md, report.html (self-contained), results.json, results.csv, figures
"""

from cnnlab.prove.claims import BUDGETS, CLAIMS, Claim, Comparison
from cnnlab.prove.runner import results_of
from cnnlab.prove.runner import run_claims as experiment

__all__ = ["BUDGETS", "CLAIMS", "Claim", "Comparison", "experiment", "results_of"]
