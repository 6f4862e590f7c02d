"""Augmentation throughput: cnnlab's batched pipeline vs torchvision v2 per image vs kornia on batches.

The full five-step pipeline of the lecture (mirror, rotate, translate, random crop, color shift),
every step on every image (p=1), on the same images, in the same process, one after the other.

    .venv/bin/python bench/augment_speed.py            # prints a Markdown table, writes bench/results/augment.json

Each method runs in turns (5 rounds by default) and reports its median rate.

Needs kornia for its column (pip install kornia); torchvision comes with cnnlab.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

SPEC = "flip,rotate=15,translate=0.1,crop=4,color=0.2"


def images(size: int, n: int) -> torch.Tensor:
    if size == 28:
        from cnnlab.data.sources import load_dataset

        return load_dataset("fashion-mnist", "train").images[:n]
    from skimage import data

    from cnnlab.data.images import resize, to_chw

    photos = [data.chelsea(), data.coffee(), data.astronaut(), data.rocket()]
    imgs = [torch.from_numpy(to_chw(resize(p, size))) for p in photos]
    return torch.stack([imgs[i % len(imgs)] for i in range(n)])


def rate(fn, n_images: int, min_seconds: float, warm_up: bool = True) -> float:
    if warm_up:
        fn()
    done, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < min_seconds:
        fn()
        done += n_images
    return done / (time.perf_counter() - t0)


def cnnlab_fn(x, batch):
    from cnnlab.data.augment import parse_augment

    pipe = parse_augment(SPEC)
    chunks = x.split(batch)

    def run():
        for i, c in enumerate(chunks):
            pipe(c, seed=i)
    return run


def torchvision_fn(x, size):
    from torchvision.transforms import v2

    t = v2.Compose([v2.RandomHorizontalFlip(), v2.RandomRotation(15), v2.RandomAffine(0, translate=(0.1, 0.1)),
                    v2.RandomCrop(size, padding=4), v2.ColorJitter(0.2, 0.2, 0.2, 0.05)])

    def run():
        for img in x:
            t(img)
    return run


def kornia_fn(x, size, batch):
    import kornia.augmentation as KA

    # kornia's saturation/hue need 3 channels: on gray images only brightness/contrast (as cnnlab does)
    color = KA.ColorJitter(0.2, 0.2, 0.2, 0.05, p=1.0) if x.shape[1] == 3 else KA.ColorJitter(0.2, 0.2, p=1.0)
    aug = KA.AugmentationSequential(
        KA.RandomHorizontalFlip(), KA.RandomRotation(15.0, p=1.0), KA.RandomAffine(0, translate=(0.1, 0.1), p=1.0),
        KA.RandomCrop((size, size), padding=4, p=1.0), color)
    chunks = x.split(batch)

    def run():
        with torch.no_grad():
            for c in chunks:
                aug(c.float() / 255)  # kornia works on float 0..1
    return run


def _times(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio < 10 else f"{ratio:.0f}x"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=3.0, help="minimum time per method and image size, in all")
    ap.add_argument("--rounds", type=int, default=5,
                    help="the methods take turns this many times; each reports its median rate (robust to other "
                         "programs starting or stopping on a shared machine)")
    ap.add_argument("--out", default="bench/results/augment.json")
    args = ap.parse_args()
    rows = []
    for size, n, per_image_n, batch in [(28, 16384, 2000, 1024), (224, 256, 64, 32)]:
        x = images(size, n)
        r = {"size": f"{size}x{size}", "channels": x.shape[1]}
        runs = {"cnnlab": (cnnlab_fn(x, batch), len(x)),
                "torchvision_v2_per_image": (torchvision_fn(x[:per_image_n], size), per_image_n)}
        try:
            runs["kornia_batched"] = (kornia_fn(x, size, batch), len(x))
        except ImportError:
            r["kornia_batched"] = None
        seen = {name: [] for name in runs}
        for i in range(args.rounds):  # interleaved, so that a busy spell of the machine hits every method alike
            for name, (fn, count) in runs.items():
                seen[name].append(rate(fn, count, args.seconds / args.rounds, warm_up=i == 0))
        for name, rates in seen.items():
            r[name] = statistics.median(rates)
            r[name + "_rounds"] = [round(v, 1) for v in rates]
        rows.append(r)
        print(f"{r['size']}: {r}", flush=True)
    print(f"\nimages/s (median of {args.rounds} interleaved rounds), full pipeline `{SPEC}`, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}\n")
    print("| image size | cnnlab (batched) | torchvision v2 (per image) | kornia (batched) | cnnlab / torchvision |")
    print("|---|---|---|---|---|")
    for r in rows:
        k = f"{r['kornia_batched']:,.0f}" if r["kornia_batched"] else "n/a"
        print(f"| {r['size']} ({'gray' if r['channels'] == 1 else 'RGB'}) | {r['cnnlab']:,.0f} | "
              f"{r['torchvision_v2_per_image']:,.0f} | {k} | {_times(r['cnnlab'] / r['torchvision_v2_per_image'])} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"spec": SPEC, "torch": torch.__version__, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
