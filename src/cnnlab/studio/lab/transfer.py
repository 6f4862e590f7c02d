"""Routes of the lecture page 8. Transfer learning: the backbone as blocks, frozen vs trained."""

from __future__ import annotations

routes: list = []
