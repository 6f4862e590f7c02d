import os
import signal

import numpy as np
import pytest
from PIL import Image

os.environ.setdefault("MPLBACKEND", "Agg")


def shape_photo(kind: str, w: int, h: int, seed: int) -> Image.Image:
    """A color photo-like image: a red disc or a blue bar on a noisy background, any size."""
    g = np.random.default_rng(seed)
    img = g.integers(90, 160, size=(h, w, 3)).astype(np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    cy, cx = h * g.uniform(0.35, 0.65), w * g.uniform(0.35, 0.65)
    r = min(h, w) * 0.25
    if kind == "disc":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[mask] = (220, 40, 40)
    else:
        mask = (abs(yy - cy) < r * 0.3) & (abs(xx - cx) < r * 1.6)
        img[mask] = (40, 60, 220)
    return Image.fromarray(img)


@pytest.fixture
def photo_folder(tmp_path):
    """photos/disc/*.jpg and photos/bar/*.jpg, 24 each, of different sizes."""
    root = tmp_path / "photos"
    for kind in ("disc", "bar"):
        (root / kind).mkdir(parents=True)
        for i in range(24):
            w, h = 40 + 7 * i, 30 + 5 * (i % 6)
            shape_photo(kind, w, h, seed=i + (100 if kind == "bar" else 0)).save(root / kind / f"{i}.jpg", quality=90)
    return root


@pytest.fixture(autouse=True)
def _ctrl_c_left_as_it_was():
    """Every test leaves Ctrl-C (SIGINT) as it found it. A test that left it ignored would make every process
    started later ignore it too (children inherit that), and a later test of stopping a run would fail far
    from its cause. (A suite started in the background by a script, `make test &`, begins with SIGINT
    ignored: that is the shell's doing, and the code that stops runs must cope with it; see test_jobs.)"""
    before = signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    after = signal.getsignal(signal.SIGINT), signal.SIGINT in signal.pthread_sigmask(signal.SIG_BLOCK, [])
    if after != before:
        signal.signal(signal.SIGINT, before[0])
        if not before[1]:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
        pytest.fail(f"this test changed Ctrl-C (SIGINT) from {before} to {after} and did not put it back")
