"""Routes of the lecture page 6. Normalization: descent on the loss contours, raw vs normalized input."""

from __future__ import annotations

routes: list = []
