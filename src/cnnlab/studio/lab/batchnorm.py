"""Routes of the lecture page 7. Batch norm and dropout: activation histograms, dropout masks."""

from __future__ import annotations

routes: list = []
