"""The statistics of a paired experiment: per-seed differences, their mean, a 95% t interval, the verdict.

Both arms of a claim run with the same seed (the same training subset, the same initial weights, the same
batch order), so each seed gives one difference ``d = better-arm metric - other-arm metric`` signed so that
a positive ``d`` is what the claim expects. With ``n`` seeds, the mean difference has the interval

    mean ± t(0.975, n - 1) · sd / √n

(Student's t, because the spread is estimated from only a few seeds). The verdict is read off the interval,
never written by hand: entirely above 0 -> "supported"; entirely below 0 -> "contradicted"; containing 0 ->
"not shown at this budget" (more seeds or a bigger budget might show it either way).

>>> s = paired([0.02, 0.03, 0.025, 0.035])
>>> round(s.mean, 4), round(s.lo, 4), round(s.hi, 4), s.verdict
(0.0275, 0.0172, 0.0378, 'supported')
>>> paired([0.01, -0.02, 0.015]).verdict
'not shown at this budget'
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

SUPPORTED, NOT_SHOWN, CONTRADICTED = "supported", "not shown at this budget", "contradicted"


@dataclass(frozen=True)
class Paired:
    """The summary of ``n`` paired differences.

    Attributes:
        n: number of seeds.
        mean: mean difference (positive: the claim's direction).
        sd: sample standard deviation of the differences (0 for one seed).
        lo, hi: the confidence interval of the mean (None with fewer than 2 seeds).
        confidence: the interval's level (0.95).
        verdict: "supported", "not shown at this budget" or "contradicted".
    """

    n: int
    mean: float
    sd: float
    lo: float | None
    hi: float | None
    confidence: float
    verdict: str

    def as_dict(self) -> dict:
        """The summary as a plain dict (for results.json)."""
        return asdict(self)


def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float, float | None, float | None]:
    """``(n, mean, sd, lo, hi)`` of the mean of ``values`` with a Student-t interval.

    Args:
        values: the per-seed differences.
        confidence: the interval's level.

    Returns:
        n, mean, sample standard deviation, and the interval (None, None with fewer than 2 values).

    Raises:
        ValueError: no values, or a value that is not a finite number.

    >>> [round(x, 4) for x in t_interval([1.0, 2.0, 3.0])[3:]]   # 2 ± 4.303 * 1 / sqrt(3)
    [-0.4841, 4.4841]
    """
    xs = [float(v) for v in values]
    if not xs or not all(math.isfinite(x) for x in xs):
        raise ValueError(f"need at least one finite number, got {values!r}")
    n = len(xs)
    mean = sum(xs) / n
    if n < 2:
        return n, mean, 0.0, None, None
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    from scipy import stats as _stats  # deferred: 0.6 s of every command's start-up (the CLI imports prove)

    half = float(_stats.t.ppf(0.5 + confidence / 2, n - 1)) * sd / math.sqrt(n)
    return n, mean, sd, mean - half, mean + half


def verdict(lo: float | None, hi: float | None) -> str:
    """The verdict an interval gives: above 0 supported, below 0 contradicted, else not shown.

    >>> verdict(0.01, 0.05), verdict(-0.05, -0.01), verdict(-0.01, 0.02), verdict(None, None)
    ('supported', 'contradicted', 'not shown at this budget', 'not shown at this budget')
    """
    if lo is None or hi is None:
        return NOT_SHOWN
    if lo > 0:
        return SUPPORTED
    if hi < 0:
        return CONTRADICTED
    return NOT_SHOWN


def paired(differences, confidence: float = 0.95) -> Paired:
    """Summarize per-seed differences (positive = the claim's direction): mean, interval, verdict."""
    n, mean, sd, lo, hi = t_interval(differences, confidence)
    return Paired(n, mean, sd, lo, hi, confidence, verdict(lo, hi))
