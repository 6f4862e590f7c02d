"""Routes of the lecture page 9. Inside your model: first-layer kernels, feature maps, Grad-CAM."""

from __future__ import annotations

routes: list = []
