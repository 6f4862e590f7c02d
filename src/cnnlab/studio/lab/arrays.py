"""Routes of the lecture page 1. Images are arrays: pixel values, RGB channels, grayscale, flattening."""

from __future__ import annotations

routes: list = []
