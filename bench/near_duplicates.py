"""The near-copy threshold of cnnlab.data.phash, measured on real photos.

pHash (and, for comparison, dHash) distances between scikit-image's photos and their re-encoded,
resized or brightened copies, and between different images: the photos, their 128x128 tiles that
are not flat, and the 200 LFW faces that ship with scikit-image.
Run: .venv/bin/python bench/near_duplicates.py
"""

import io
import itertools

import numpy as np
from PIL import Image
from skimage import data

from cnnlab.data.phash import phash

NAMES = ["astronaut", "camera", "cat", "coffee", "coins", "horse", "moon", "page", "rocket", "text", "clock",
         "immunohistochemistry", "retina", "brick", "grass", "gravel", "colorwheel", "hubble_deep_field", "logo",
         "cell", "microaneurysms"]


def dhash(arr):
    """The 64-bit difference hash, for comparison."""
    a = np.asarray(Image.fromarray(arr).convert("L").resize((9, 8), Image.LANCZOS), np.int16)
    return int(np.packbits((a[:, 1:] > a[:, :-1]).ravel()).view(">u8")[0])


def jpeg(a, q):
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "JPEG", quality=q)
    return np.asarray(Image.open(buf))


def resize(a, s):
    im = Image.fromarray(a)
    return np.asarray(im.resize((max(8, int(im.width * s)), max(8, int(im.height * s))), Image.BILINEAR))


def crop(a, f):
    h, w = a.shape[:2]
    return a[int(h * f):h - int(h * f), int(w * f):w - int(w * f)]


def photos():
    out = {}
    for n in NAMES:
        a = getattr(data, n)()
        if a.dtype != np.uint8:
            a = (a * 255).astype(np.uint8) if a.max() <= 1 else a.astype(np.uint8)
        out[n] = a[..., :3] if a.ndim == 3 else a
    return out


VARIANTS = {"jpeg90": lambda a: jpeg(a, 90), "jpeg50": lambda a: jpeg(a, 50), "jpeg20": lambda a: jpeg(a, 20),
            "half": lambda a: resize(a, .5), "quarter": lambda a: resize(a, .25),
            "half+jpeg75": lambda a: jpeg(resize(a, .5), 75), "crop2%": lambda a: crop(a, .02),
            "crop5%": lambda a: crop(a, .05),
            "bright+20": lambda a: np.clip(a.astype(int) + 20, 0, 255).astype(np.uint8),
            "gray": lambda a: np.asarray(Image.fromarray(a).convert("L"))}


def main():
    ph = photos()
    different = dict(ph)
    for n, a in ph.items():
        h, w = a.shape[:2]
        for i, (y, x) in enumerate(itertools.product(range(0, h - 127, 128), range(0, w - 127, 128))):
            if a[y:y + 128, x:x + 128].std() >= 8:  # flat tiles (black borders) are the same picture
                different[f"{n}-tile{i}"] = a[y:y + 128, x:x + 128]
    for i, f in enumerate(np.load(data.__path__[0] + "/lfw_subset.npy")):  # 200 25x25 faces, floats
        different[f"lfw{i}"] = (f * 255).astype(np.uint8)
    for name, fn in (("phash", phash), ("dhash", dhash)):
        base = {n: fn(a) for n, a in ph.items()}
        print(name)
        for v, make in VARIANTS.items():
            d = [bin(base[n] ^ fn(make(a))).count("1") for n, a in ph.items()]
            print(f"  {v:12s} same photo: max {max(d):2d} mean {np.mean(d):4.1f}")
        hs = np.array([fn(a) for a in different.values()], dtype=np.uint64)
        dd = np.bitwise_count(hs[:, None] ^ hs[None, :])[np.triu_indices(len(hs), 1)]
        print(f"  different images: {len(hs)} images, {len(dd)} pairs; min {dd.min()}; pairs within "
              + ", ".join(f"{k}: {(dd <= k).sum()}" for k in (4, 6, 8, 10, 12)))


if __name__ == "__main__":
    main()
