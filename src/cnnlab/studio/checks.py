"""What the studio tells you about your images: unreadable files, exact copies, too few images, imbalance.

The checks themselves live in :mod:`cnnlab.data.check` (the data layer, shared with ``cnnlab check``);
this module keeps the names the studio has always used. Each check is one function of plain numbers
(counts per class, a hash per image), so the page, the tests and any other caller get the same
findings. A finding is a dict ``{"kind", "level": "info" | "warning" | "error", "message"}``.

>>> [f["kind"] for f in class_findings({"cat": 40, "dog": 3})]
['too_few', 'imbalance']
>>> class_findings({"cat": 40, "dog": 3})[0]["message"]
"'dog' has only 3 images: add at least 2 more (5 is the least that can work, 20 or more is better)"
"""

from __future__ import annotations

from cnnlab.data.check import (
    GOOD_IMAGES,
    MAX_RATIO,
    MIN_IMAGES,
    SHOW,
    class_findings,
    duplicate_findings,
    finding,
    unreadable_findings,
)

__all__ = ["GOOD_IMAGES", "MAX_RATIO", "MIN_IMAGES", "SHOW", "class_findings", "duplicate_findings", "finding",
           "unreadable_findings"]
