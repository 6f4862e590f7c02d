"""Routes of the lecture page 2. Convolution: a stepper over a patch, an editable kernel, stride and padding."""

from __future__ import annotations

routes: list = []
