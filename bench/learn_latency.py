"""How fast the lecture pages answer: every interaction the page tests make, timed in the browser.

    .venv/bin/python bench/learn_latency.py [--repeat N] [PYTEST ARGS...]   (default: all tests/test_lab_*.py, once)

Each page wraps an interaction's update in ``timed()`` (studio/static/lab/common.js): from the input event
(a slider moved, a kernel number typed, a stepper step) to the new result drawn on the screen, including the
server's work and the round trip. The page tests close their tabs through ``tests/labkit.py``, which, with
``$CNNLAB_LAB_TIMINGS`` set, appends those times to a file; this script runs the tests that way and prints
the median, 90th percentile and maximum per page and interaction (headless Debian Chromium and the studio
on the same machine). The issue's bar: about 100 ms for a 256x256 picture. Results: docs/benchmarks.md
("Lecture pages"); raw numbers: bench/results/learn_latency.json.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(args: list[str]) -> int:
    repeat = 1
    if args[:1] == ["--repeat"]:
        repeat, args = int(args[1]), args[2:]
    record = Path(tempfile.mkdtemp()) / "timings.jsonl"
    tests = args or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_lab_*.py"))
    env = {**os.environ, "CNNLAB_LAB_TIMINGS": str(record)}
    for _ in range(repeat):
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests], cwd=ROOT,
                              env=env)
    if not record.exists():
        print("no timings were recorded (do the page tests close their tabs with tab.close()?)")
        return 1
    merged: dict[tuple[str, str], list[float]] = {}
    for line in record.read_text().splitlines():
        item = json.loads(line)
        for label, values in item["timings"].items():
            merged.setdefault((item["topic"] or "tour", label), []).extend(values)
    rows = []
    for (topic, label), values in sorted(merged.items()):
        v = np.asarray(values)
        rows.append({"page": topic, "interaction": label, "n": len(v), "median_ms": round(float(np.median(v)), 1),
                     "p90_ms": round(float(np.percentile(v, 90)), 1), "max_ms": round(float(v.max()), 1)})
    print(f"\n{'page':14s} {'interaction':28s} {'n':>4s} {'median ms':>10s} {'p90 ms':>8s} {'max ms':>8s}")
    for r in rows:
        print(f"{r['page']:14s} {r['interaction'][:28]:28s} {r['n']:4d} {r['median_ms']:10.1f} {r['p90_ms']:8.1f} "
              f"{r['max_ms']:8.1f}")
    out = ROOT / "bench" / "results" / "learn_latency.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rows, indent=1))
    print(f"\nwritten: {out.relative_to(ROOT)}")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
