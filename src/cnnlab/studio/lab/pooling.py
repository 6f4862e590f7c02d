"""Routes of the lecture page 4. Max pooling: a stepper, and what shifting the picture does."""

from __future__ import annotations

routes: list = []
