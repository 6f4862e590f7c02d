"""Routes of the lecture page 10. Network builder: stack layers, shapes, parameters, code, train, leaderboard."""

from __future__ import annotations

routes: list = []
