"""Fingerprints of images: an exact one (the decoded pixels) and a perceptual one (what the image looks like).

``pixel_hash`` is equal only for images whose decoded pixels are equal (a PNG and a BMP of the same
pixels match; a re-saved JPEG does not). ``phash`` is the well-known 64-bit perceptual hash (pHash):
shrink to 32x32 gray, take the 2-D discrete cosine transform, keep its 8x8 lowest frequencies, and set
a bit for each coefficient above their median. A resized, re-compressed or slightly brightened copy
changes few of the 64 bits; a different photo changes about half of them. ``near_pairs`` finds every
pair within a Hamming distance, a block of hashes at a time against all later ones with NumPy's
popcount (no Python loop over pairs).

Why the threshold ``NEAR_BITS = 6``: on scikit-image's sample photos (``bench/near_duplicates.py``),
JPEG quality 90/50/20, half and quarter size, half size + JPEG 75 and brightness +20 changed at most
6 bits (mostly 0-2), while among 547 different images (the photos, 128x128 tiles of them, 200 LFW
faces) no pair was closer than 8 bits (0 of 149,331 pairs within 6). Crops of 2-5% change 8-24
bits: a cropped copy is not found.

>>> import numpy as np
>>> from PIL import Image
>>> from skimage import data
>>> cat = data.chelsea()
>>> smaller = np.asarray(Image.fromarray(cat).resize((225, 150)))
>>> distance(phash(cat), phash(smaller)) <= NEAR_BITS, distance(phash(cat), phash(data.astronaut())) > NEAR_BITS
(True, True)
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

NEAR_BITS = 6  # two images whose pHashes differ in at most this many of 64 bits look the same
HASH_SIDE = 32  # pHash looks at a 32x32 copy; smaller images would be enlarged and are not compared
_N = np.arange(HASH_SIDE)
_DCT = 2 * np.cos(np.pi * _N[:, None] * (2 * _N[None, :] + 1) / (2 * HASH_SIDE))  # DCT-II, (32, 32)


def pixel_hash(pixels: np.ndarray) -> str:
    """A hash of decoded pixels (shape included): equal for exact copies, whatever their file format.

    >>> pixel_hash(np.zeros((2, 2), np.uint8)) == pixel_hash(np.zeros((2, 2), np.uint8))
    True
    """
    return hashlib.blake2b(str(pixels.shape).encode() + np.ascontiguousarray(pixels).tobytes(),
                           digest_size=16).hexdigest()


def phash(pixels: np.ndarray) -> int:
    """The 64-bit perceptual hash of a uint8 image ``(H, W)`` or ``(H, W, 3)``, as a Python int.

    >>> phash(np.zeros((40, 40), np.uint8)) == phash(np.zeros((80, 80), np.uint8))
    True
    """
    small = Image.fromarray(np.asarray(pixels, np.uint8)).convert("L").resize((HASH_SIDE, HASH_SIDE), Image.LANCZOS)
    coeffs = (_DCT @ np.asarray(small, np.float64) @ _DCT.T)[:8, :8]  # the 8x8 lowest frequencies
    bits = (coeffs > np.median(coeffs)).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def is_gray(img: np.ndarray, tolerance: int = 6) -> bool:
    """True for a gray image, stored as gray or as three (nearly) equal colour channels.

    >>> is_gray(np.zeros((4, 4), np.uint8)), is_gray(np.dstack([np.zeros((4, 4), np.uint8)] * 2 + [np.ones((4, 4),
    ...     np.uint8) * 90]))
    (True, False)
    """
    if img.ndim == 2:
        return True
    c = img[::4, ::4].astype(np.int16)  # every 4th pixel is plenty to tell
    return bool(np.abs(c[..., 0] - c[..., 1]).max() <= tolerance and np.abs(c[..., 1] - c[..., 2]).max() <= tolerance)


def photo_facts(pixels: np.ndarray, info: dict) -> dict:
    """What ``cnnlab check`` needs to know of one decoded photo (:func:`cnnlab.data.images.load_image_info`).

    Args:
        pixels: the decoded uint8 image ``(H, W)`` or ``(H, W, 3)``, EXIF rotation applied (perhaps at reduced
            scale: a JPEG in draft mode).
        info: ``size``, ``orientation`` and ``scale`` from the same decoding.

    Returns:
        ``pixels`` (:func:`pixel_hash`), ``look`` (:func:`phash`, None for an image under ``HASH_SIDE`` pixels),
        ``size`` (full size, as shown), ``gray``, ``rotated`` and ``scale`` (the hashes of a JPEG decoded at
        reduced scale describe those pixels: ``scale`` > 1).

    >>> facts = photo_facts(np.zeros((40, 50), np.uint8), {"size": (50, 40), "orientation": 6, "scale": 1})
    >>> facts["size"], facts["gray"], facts["rotated"], facts["look"] is not None
    ((50, 40), True, True, True)
    """
    h, w = pixels.shape[:2]
    return {"pixels": pixel_hash(pixels), "look": phash(pixels) if min(h, w) >= HASH_SIDE else None,
            "size": tuple(info["size"]), "gray": is_gray(pixels), "rotated": info["orientation"] != 1,
            "scale": int(info["scale"])}


def distance(a: int, b: int) -> int:
    """How many of the 64 bits differ (the Hamming distance).

    >>> distance(0b1011, 0b0001)
    2
    """
    return (a ^ b).bit_count()


def near_pairs(hashes, max_bits: int = NEAR_BITS, cells: int = 2**23) -> list[tuple[int, int]]:
    """Every pair ``(i, j)``, ``i < j``, whose hashes differ in at most ``max_bits`` bits.

    Args:
        hashes: 64-bit hashes (ints or a uint64 array).
        max_bits: the largest distance that counts as "near".
        cells: distances computed at once (memory: about 9 bytes each).

    >>> near_pairs([0b0000, 0b0011, 0b1111_0000], max_bits=2)
    [(0, 1)]
    """
    h = np.asarray([int(x) for x in hashes], dtype=np.uint64)
    pairs, block = [], max(1, cells // max(1, len(h)))
    for start in range(0, len(h), block):
        part = h[start:start + block]
        bits = np.bitwise_count(part[:, None] ^ h[None, start:])  # (block, N - start): distance to later hashes
        i, j = np.nonzero(bits <= max_bits)
        keep = j > i  # each pair once, never an image with itself
        pairs += zip((i[keep] + start).tolist(), (j[keep] + start).tolist(), strict=True)
    return pairs
