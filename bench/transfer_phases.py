"""Where the time of the Teachable-Machine job goes (bench/transfer.py's photo folder), phase by phase.

Runs ``cnnlab train --data folder:PHOTOS --model efficientnet_lite0 --pretrained --freeze --epochs 10`` in a
fresh process per run, with a cold cache (a new CNNLAB_HOME) or a warm one, and times each phase by wrapping
the functions ``cnnlab.training.run`` calls: start-up (imports), decoding (load_splits), the data check,
the model, the estimate, features + head epochs (fit_transfer), the test (from cached features) and the
report's figures. Prints the median of ``--runs`` runs per phase.

    .venv/bin/python bench/transfer_phases.py --runs 3          # writes bench/results/transfer_phases.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
import cnnlab.cli
import cnnlab.training.run as run
import cnnlab.training.transfer as transfer
phases = {"imports": time.perf_counter() - t0}
def timed(module, name, key):
    real = getattr(module, name)
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            phases[key] = phases.get(key, 0.0) + time.perf_counter() - t
    setattr(module, name, wrapper)
for name, key in [("load_splits", "decode"), ("check_data", "check"), ("build_model", "model"),
                  ("emit_estimate", "estimate"), ("fit_transfer", "features + head epochs"),
                  ("evaluate_frozen", "test"), ("write_report", "report"), ("save_model", "save")]:
    timed(run, name, key)
timed(transfer, "extract_features", "(features alone)")
t1 = time.perf_counter()
code = cnnlab.cli.main(sys.argv[1:])
phases["train() total"] = time.perf_counter() - t1
print("PHASES" + json.dumps(phases))
sys.exit(code)
"""


def one_run(photos: Path, home: Path, out: Path, src: str | None = None) -> dict:
    cmd = [sys.executable, "-c", CHILD, "train", "--data", f"folder:{photos}", "--model", "efficientnet_lite0",
           "--pretrained", "--freeze", "--epochs", "10", "--out", str(out), "--quiet", "--overwrite"]
    t0 = time.perf_counter()
    env = dict(os.environ, CNNLAB_HOME=str(home), **({"PYTHONPATH": src} if src else {}))
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    phases = json.loads(r.stdout.split("PHASES", 1)[1])
    phases["end to end (wall)"] = wall
    return phases


def main():
    sys.path.insert(0, str(Path(__file__).parent))
    from transfer import make_photo_folder

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="bench/results/transfer_phases.json")
    ap.add_argument("--src", default=None, help="run the cnnlab in this src folder (e.g. an older version)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cnnlab-phases-"))
    try:
        photos = make_photo_folder(tmp / "photos")
        result = {}
        for kind in ("cold", "warm"):
            runs = []
            for i in range(args.runs):
                home = tmp / f"home-{kind}-{i}" if kind == "cold" else tmp / "home-warm"
                if kind == "warm" and i == 0:
                    one_run(photos, home, tmp / "run", args.src)  # fills the caches
                runs.append(one_run(photos, home, tmp / "run", args.src))
                print(kind, {k: round(v, 2) for k, v in runs[-1].items()}, flush=True)
            result[kind] = {k: round(statistics.median(r.get(k, 0.0) for r in runs), 2) for k in runs[0]}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print("\n| phase | cold (median) | warm (median) |\n|---|---|---|")
    for k in result["cold"]:
        print(f"| {k} | {result['cold'][k]:.2f} s | {result['warm'].get(k, 0):.2f} s |")


if __name__ == "__main__":
    main()
