"""Routes of the lecture page 5. Augmentation: one slider per technique, live previews, the --augment spec."""

from __future__ import annotations

routes: list = []
