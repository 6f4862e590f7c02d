"""Routes of the lecture page 3. Many channels: one kernel per input channel, and their sum."""

from __future__ import annotations

routes: list = []
