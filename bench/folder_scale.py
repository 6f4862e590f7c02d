"""Photo folders larger than memory: decoding speed, cache size, peak memory and second start-up, by folder size.

Builds synthetic photo folders (random sizes 320-640 px, 4 classes whose colours and stripe angles
differ) of 3,000, 10,000 and 50,000 JPEGs (the photos are made once, in parallel, for the largest folder;
the smaller folders hold hard links to its first photos), then for each folder, every step in its own
process so each peak memory (ru_maxrss from os.wait4) is that step's alone:

1. decode: ``read_folder(..., image_size=224)`` on an empty cache: photos/s, and the cache size on disk
   (50,000 photos x 3 x 224 x 224 bytes = 7.5 GB);
2. start-up: the same folder again, as a second run starts (``load_splits`` from the cache: the photos
   are hashed to check that none changed, the cache file is mapped, nothing is decoded);
3. train: ``cnnlab train --data folder:PATH --model efficientnet_lite0 --pretrained --freeze --epochs 1
   --image-size 224 --model-arg input_size=32 --augment none``, reading the 224-px cache of step 1 a
   batch at a time, and its peak memory. The backbone sees 32-px images: at 224 px it runs at ~20-60
   images/s on 2 shared cores, so 63,000 photos would take 20-50 minutes on the backbone alone; at 32 px
   (resized inside the model, batch by batch) it is several times faster, and the memory story is the same:
   every image of the 224-px cache is read once, in batches. ``--augment none``: one view per photo.

A time budget (``--minutes``) guards the whole run: a step that would end after it (estimated from the
photos/s of the steps before) is skipped and reported as skipped.

    nice -n 10 .venv/bin/python bench/folder_scale.py          # all three sizes
    .venv/bin/python bench/folder_scale.py --sizes 300 --keep  # a quick look; keeps /tmp/cnnlab-folder-bench

Writes bench/results/folder_scale.json and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path("/tmp/cnnlab-folder-bench")
CLASSES = 4
PALETTE = [(200, 60, 40), (40, 170, 60), (50, 80, 210), (190, 180, 40)]


def _make_photos(job: tuple[str, int, int, int]) -> int:
    """Write photos ``start .. stop - 1`` of a folder: class ``i % CLASSES``, its own tint and stripe angle."""
    from PIL import Image

    folder, start, stop, seed = job
    g = np.random.default_rng(seed * 1_000_003 + start)
    for i in range(start, stop):
        c = i % CLASSES
        w, h = (int(v) for v in g.integers(320, 641, 2))
        sw, sh = w // 8, h // 8  # drawn small, then enlarged: fast, and JPEG-like smooth content
        yy, xx = np.mgrid[:sh, :sw]
        angle = np.pi * c / CLASSES + g.normal(0, 0.15)
        stripes = np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * (0.5 + 0.1 * c) + g.uniform(0, 6.3))
        base = np.array(PALETTE[c], np.float32) * g.uniform(0.6, 1.0)
        img = base + 60 * stripes[..., None] + g.normal(0, 25, (sh, sw, 3))
        small = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
        small.resize((w, h), Image.BILINEAR).save(Path(folder) / f"class{c}" / f"{i:06d}.jpg", quality=85)
    return stop - start


def build_pool(n: int, seed: int = 0) -> float:
    """``n`` JPEGs under ROOT/pool, made on every core; returns the seconds it took."""
    pool_dir = ROOT / "pool"
    shutil.rmtree(pool_dir, ignore_errors=True)
    for c in range(CLASSES):
        (pool_dir / f"class{c}").mkdir(parents=True)
    t0 = time.perf_counter()
    step = 250
    jobs = [(str(pool_dir), s, min(n, s + step), seed) for s in range(0, n, step)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        assert sum(pool.map(_make_photos, jobs)) == n
    return time.perf_counter() - t0


def build_folder(n: int) -> Path:
    """A folder of the pool's first ``n`` photos (hard links: no copy, but files of their own path)."""
    folder = ROOT / f"photos-{n}"
    shutil.rmtree(folder, ignore_errors=True)
    for c in range(CLASSES):
        (folder / f"class{c}").mkdir(parents=True)
        for p in sorted((ROOT / "pool" / f"class{c}").iterdir()):
            if int(p.stem) < n:
                os.link(p, folder / f"class{c}" / p.name)
    return folder


def run_child(cmd: list[str], env: dict) -> dict:
    """Run ``cmd``; its wall seconds, peak resident memory (MB, from os.wait4) and the last line it printed."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:  # files: a full pipe never blocks
        p = subprocess.Popen(cmd, env=env, stdout=fo, stderr=fe, text=True)
        _, status, usage = os.wait4(p.pid, 0)  # this child's own peak memory, not the largest of all children
        p.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed ({p.returncode}):\n{err[-3000:]}")
    lines = [line for line in out.splitlines() if line.strip()]
    return {"seconds": time.perf_counter() - t0, "peak_rss_mb": usage.ru_maxrss / 1024,
            "last": lines[-1] if lines else ""}


DECODE = """
import json, sys, time
from cnnlab.data.folder import read_folder
t0 = time.perf_counter()
d = read_folder(sys.argv[1], image_size=int(sys.argv[2]), progress=False)
print(json.dumps({"seconds": time.perf_counter() - t0, "images": len(d), "file": str(d.images.path)}))
"""

STARTUP = """
import json, sys, time
from cnnlab.data.splits import load_splits
t0 = time.perf_counter()
train, val, test = load_splits("folder:" + sys.argv[1], val_fraction=0.1, image_size=int(sys.argv[2]))
t1 = time.perf_counter()
n = len(train) + len(val) + len(test)
print(json.dumps({"startup": t1 - t0, "images": n, "kind": type(train.images).__name__}))
"""


class Budget:
    """Seconds per photo of each step so far, to skip a step that would end after the deadline."""

    def __init__(self, minutes: float):
        self.end = time.time() + minutes * 60
        self.per_photo: dict[str, float] = {}

    def fits(self, step: str, n: int) -> tuple[bool, str]:
        if step not in self.per_photo:
            return True, ""
        need, left = self.per_photo[step] * n * 1.15 + 20, self.end - time.time()
        return need <= left, f"skipped: about {need / 60:.0f} min needed, {max(0.0, left) / 60:.0f} min left"

    def record(self, step: str, n: int, seconds: float) -> None:
        self.per_photo[step] = max(self.per_photo.get(step, 0.0), seconds / n)


def du(path: Path) -> int:
    """Bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def measure(n: int, args, budget: Budget) -> dict:
    """All measurements for a folder of ``n`` photos (see the module docstring)."""
    row = {"photos": n}
    ok, why = budget.fits("decode", n)
    if not ok:
        return dict(row, decode=why)
    folder = build_folder(n)
    home = ROOT / f"home-{n}"
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "CNNLAB_HOME": str(home), "CNNLAB_PROGRESS": "0"}
    py, size = sys.executable, str(args.image_size)
    row["jpeg_mb"] = round(du(folder) / 1e6, 1)
    dec = run_child([py, "-c", DECODE, str(folder), size], env)
    info = json.loads(dec["last"])
    budget.record("decode", n, dec["seconds"])
    cache = Path(info["file"]).parent
    row.update(decode_images_per_s=round(n / info["seconds"], 1), decode_seconds=round(info["seconds"], 1),
               decode_peak_rss_mb=round(dec["peak_rss_mb"]), cache_mb=round(du(cache) / 1e6, 1),
               image_size=args.image_size)
    start = run_child([py, "-c", STARTUP, str(folder), size], env)
    s = json.loads(start["last"])
    assert s["kind"] == "MappedImages" and s["images"] == info["images"], s
    row.update(second_startup_seconds=round(s["startup"], 2), startup_peak_rss_mb=round(start["peak_rss_mb"]))
    ok, why = budget.fits("train", n)
    if not ok:
        row["train"] = why
    else:
        out = ROOT / f"run-{n}"
        shutil.rmtree(out, ignore_errors=True)
        cmd = [py, "-m", "cnnlab.cli", "train", "--data", f"folder:{folder}", "--model", "efficientnet_lite0",
               "--pretrained", "--freeze", "--epochs", "1", "--image-size", size,
               "--model-arg", f"input_size={args.input_size}", "--augment", "none", "--quiet", "--out", str(out)]
        tr = run_child(cmd, env)
        budget.record("train", n, tr["seconds"])
        meta = json.loads((out / "model.json").read_text())
        row.update(train_seconds=round(tr["seconds"], 1), train_peak_rss_mb=round(tr["peak_rss_mb"]),
                   input_size=args.input_size, test_accuracy=round(meta["metrics"]["test_accuracy"], 4))
    if not args.keep:
        for p in (folder, home, ROOT / f"run-{n}"):
            shutil.rmtree(p, ignore_errors=True)
    return row


def table(rows: list[dict]) -> str:
    """The results as a Markdown table."""
    lines = ["| photos | JPEGs | decode at 224 px | cache on disk | decode: peak memory | second start-up | "
             "frozen Lite0 run: time | peak memory | test accuracy |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "decode" in r:
            lines.append(f"| {r['photos']:,} | {r['decode']} | | | | | | | |")
            continue
        train = (f"{r['train_seconds']:,.0f} s | {r['train_peak_rss_mb']:,} MB | {r['test_accuracy']:.1%}"
                 if "train_seconds" in r else f"{r['train']} | | ")
        lines.append(f"| {r['photos']:,} | {r['jpeg_mb']:,.0f} MB | {r['decode_images_per_s']:,.0f} photos/s | "
                     f"{r['cache_mb']:,.0f} MB | {r['decode_peak_rss_mb']:,} MB | "
                     f"{r['second_startup_seconds']:.1f} s | {train} |")
    return "\n".join(lines)


def main() -> None:
    """Parse the options, measure each size, write the JSON, print the table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="3000,10000,50000", help="photos per folder, comma-separated")
    ap.add_argument("--image-size", type=int, default=224, help="size the photos are decoded (and cached) at")
    ap.add_argument("--input-size", type=int, default=32, help="size the backbone sees in the training runs")
    ap.add_argument("--minutes", type=float, default=20, help="skip the steps that would end after this")
    ap.add_argument("--keep", action="store_true", help=f"keep the folders, caches and runs under {ROOT}")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "folder_scale.json"))
    args = ap.parse_args()
    ROOT.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    budget = Budget(args.minutes)
    sizes = [int(v) for v in args.sizes.split(",")]
    made = build_pool(max(sizes))
    print(f"made {max(sizes):,} photos in {made:.0f} s ({max(sizes) / made:.0f} photos/s)", flush=True)
    rows = []
    for n in sizes:
        rows.append(measure(n, args, budget))
        print(json.dumps(rows[-1]), flush=True)
    result = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
              "load_average_at_end": os.getloadavg(), "python": platform.python_version(),
              "photos_made_per_s": round(max(sizes) / made, 1), "total_minutes": round((time.time() - t0) / 60, 1),
              "rows": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(table(rows))
    if not args.keep:
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    main()
