"""How good is the estimate before training? Predicted vs actual time per epoch and peak memory.

For each case (a data set, a model, a batch size), two fresh Python processes run one after the other:

1. the estimate alone, as ``cnnlab train ... --dry-run`` computes it (a few timed steps on this machine);
2. the real run (``estimate=False``, so the calibration cannot help or hurt it), timing each epoch from its
   ``epoch_begin`` to its ``epoch_end`` event (training + validation) and reading the process's peak
   resident memory (``ru_maxrss``) after the test pass, before the report is written (the estimate's scope),
   and at the very end (with the report's figures).

A frozen pretrained run is compared part by part: the one-off feature pass and the head's epochs.

    nice -n 10 .venv/bin/python bench/estimate_accuracy.py       # writes bench/results/estimate_accuracy.json
    .venv/bin/python bench/estimate_accuracy.py --only digits    # one case
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/estimate_accuracy.py \
        --out bench/results/estimate_accuracy_1thread.json                  # one thread per process
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "estimate_accuracy.json"
EPOCHS = 2
PHOTOS = {"cat": "chelsea", "coffee": "coffee", "rocket": "rocket", "astronaut": "astronaut"}  # skimage samples

CASES = {
    "digits": {"data": "digits", "model": "lecture_cnn"},
    "fashion-mnist": {"data": "fashion-mnist", "model": "lecture_cnn", "per_class": 1000},
    "fashion-mnist-b64": {"data": "fashion-mnist", "model": "lecture_cnn", "per_class": 500, "batch_size": 64},
    "synthetic-stack": {"data": "synthetic", "model": "stack"},
    "photos-frozen": {"data": "folder:PHOTOS", "model": "efficientnet_lite0", "pretrained": True, "freeze": True},
}


def make_photos(root: Path, per_class: int = 40, size: int = 160) -> Path:
    """A small photo folder: random crops of scikit-image's sample photos, one class per photo, as JPEG files."""
    import numpy as np  # deferred: only the parent process builds the folder
    import skimage.data
    from PIL import Image

    g = np.random.default_rng(0)
    for name, sample in PHOTOS.items():
        img = getattr(skimage.data, sample)()
        img = np.stack([img] * 3, -1) if img.ndim == 2 else img[..., :3]
        (root / name).mkdir(parents=True, exist_ok=True)
        h, w = img.shape[:2]
        for i in range(per_class):
            s = int(min(h, w) * g.uniform(0.5, 0.9))
            y, x = g.integers(0, h - s + 1), g.integers(0, w - s + 1)
            crop = Image.fromarray(img[y:y + s, x:x + s]).resize((size, size))
            crop.save(root / name / f"{i}.jpg", quality=90)
    return root


def worker(mode: str, options: dict) -> dict:
    """Run in a fresh process: the estimate (``mode="estimate"``) or the real run (``mode="run"``)."""
    from cnnlab.config import RunConfig  # deferred: each measurement starts from a fresh process
    from cnnlab.training import run as run_module
    from cnnlab.training.estimate import dry_run
    from cnnlab.training.run import build_model, train

    if mode == "estimate":
        return dry_run(RunConfig.build(**options).validate(), build_model)
    marks, epochs = {}, []

    def on_event(e):
        now = time.perf_counter()
        if e["event"] == "epoch_begin":
            marks["begin"] = now
        elif e["event"] == "epoch_end":
            epochs.append({"phase": e["phase"], "seconds": now - marks["begin"],
                           "train_seconds": e["metrics"]["seconds"]})
            marks["peak_after_epochs"] = peak()

    write_report = run_module.write_report

    def measured_report(*args, **kwargs):  # the peak with the test pass, before the report's figures
        marks["peak_before_report"] = peak()
        return write_report(*args, **kwargs)

    run_module.write_report = measured_report
    t0 = time.perf_counter()
    meta = train(**options, estimate=False, out=tempfile.mkdtemp() + "/run", progress=False, on_event=on_event)
    return {"epochs": epochs, "timings": meta["timings"], "wall_seconds": time.perf_counter() - t0,
            "peak_after_epochs": marks["peak_after_epochs"], "peak_before_report": marks["peak_before_report"],
            "peak_end": peak(),
            "test_accuracy": meta["metrics"]["test_accuracy"]}


def peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def in_fresh_process(mode: str, options: dict, env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", mode, json.dumps(options)], env=env,
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def error(predicted: float, actual: float) -> float:
    return round(100 * (predicted - actual) / actual, 1)


def compare(name: str, options: dict, est: dict, run: dict) -> dict:
    row = {"case": name, "options": options, "predicted": {k: est[k] for k in (
        "epoch_seconds", "step_seconds", "val_seconds", "steps_per_epoch", "batch_size", "peak_rss_bytes",
        "calibration_seconds", "calibration_steps", "total_seconds", "features_per_second") if k in est}}
    head = [e["seconds"] for e in run["epochs"]]
    row["actual"] = {"epoch_seconds": head, "peak_rss_after_epochs": run["peak_after_epochs"],
                     "peak_rss_before_report": run["peak_before_report"],
                     "peak_rss_end": run["peak_end"], "wall_seconds": round(run["wall_seconds"], 2),
                     "test_accuracy": run["test_accuracy"]}
    mean = sum(head) / len(head)
    row["error_percent"] = {"epoch": error(est["epoch_seconds"], mean),
                            "last_epoch": error(est["epoch_seconds"], head[-1]),
                            "peak_rss": error(est["peak_rss_bytes"], run["peak_before_report"]),
                            "peak_rss_with_report": error(est["peak_rss_bytes"], run["peak_end"])}
    if est["kind"] == "frozen":
        row["predicted"]["features_seconds"] = est["features_seconds"]
        row["actual"]["features_seconds"] = run["timings"].get("features_seconds")
        row["error_percent"]["features"] = error(est["features_seconds"], run["timings"]["features_seconds"])
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(CASES), action="append")
    p.add_argument("--out", type=Path, default=OUT, help="the JSON file to write")
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        print(json.dumps(worker(a.worker[0], json.loads(a.worker[1]))))
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "CNNLAB_HOME": str(Path(tmp) / "home")}  # cold feature cache for both processes
        photos = make_photos(Path(tmp) / "photos")
        for name in a.only or CASES:
            options = {**CASES[name], "epochs": EPOCHS}
            options["data"] = options["data"].replace("PHOTOS", str(photos))
            load = os.getloadavg()[0]
            est = in_fresh_process("estimate", options, env)
            run = in_fresh_process("run", options, env)
            rows.append(compare(name, options, est, run))
            rows[-1]["load_average"] = [round(load, 2), round(os.getloadavg()[0], 2)]  # before, after (1 minute)
            print(json.dumps({"case": name, **rows[-1]["error_percent"]}), flush=True)
    result = {"cases": rows, "epochs": EPOCHS, "cpu_count": os.cpu_count(),
              "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "unset (torch uses every core)"),
              "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
              "note": "run under nice -n 10 on a 2-core machine shared with other jobs"}
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
