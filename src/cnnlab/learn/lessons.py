"""Helpers for the lesson scripts in ``lessons/``: fast mode, output folder, answer checking.

>>> from cnnlab.learn.lessons import check
>>> check("output size of a 3x3 kernel on a 28x28 image", 26, expected=26)
True
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

FAST = bool(os.environ.get("CNNLAB_FAST"))  # CI runs every lesson top to bottom in this mode


def out_dir() -> Path:
    """Where lessons write their figures: $CNNLAB_LESSON_OUT or ./lesson-output."""
    d = Path(os.environ.get("CNNLAB_LESSON_OUT", "lesson-output"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def check(question: str, answer, expected, tol: float = 1e-6, hint: str = "") -> bool:
    """Print whether ``answer`` is right. ``None`` means 'not answered yet'. Returns True when correct."""
    if answer is None:
        print(f"[ ] {question}: not answered yet — replace None with your answer. {hint}".rstrip())
        return False
    try:
        ok = (np.allclose(np.asarray(answer, dtype=float), np.asarray(expected, dtype=float), atol=tol, rtol=0)
              and np.shape(answer) == np.shape(expected))
    except (TypeError, ValueError):
        ok = str(answer).strip().lower() == str(expected).strip().lower()
    print(f"[{'x' if ok else '!'}] {question}: {'correct' if ok else 'not quite'}" + ("" if ok else f" — {hint}"))
    return bool(ok)
