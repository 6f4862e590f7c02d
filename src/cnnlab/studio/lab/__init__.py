"""The lecture, interactive: the HTTP side of the studio's ``#/learn`` pages, one module per lecture idea.

Each module has a ``routes`` list under ``/api/learn/<topic>/``; the maths is in :mod:`cnnlab.learn.lab`
(built on :mod:`cnnlab.ref`), the pages in ``cnnlab/studio/static/lab/<topic>.js``. ``TOPICS`` is the
lecture's order, which the page's menu and its previous/next links follow.

>>> [t for t, _ in TOPICS][:4]
['arrays', 'convolution', 'channels', 'pooling']
>>> all(r.path.startswith("/api/learn/") for r in routes)
True
"""

from __future__ import annotations

from cnnlab.studio.lab import (
    arrays,
    augmentation,
    batchnorm,
    builder,
    channels,
    convolution,
    images,
    inside,
    normalization,
    pooling,
    transfer,
)

TOPICS = [("arrays", "Images are arrays"), ("convolution", "Convolution"), ("channels", "Many channels"),
          ("pooling", "Max pooling"), ("augmentation", "Data augmentation"), ("normalization", "Normalization"),
          ("batchnorm", "Batch norm and dropout"), ("transfer", "Transfer learning"),
          ("inside", "Inside your model"), ("builder", "Network builder")]

routes = [*images.routes]
for _module in (arrays, convolution, channels, pooling, augmentation, normalization, batchnorm, transfer, inside,
                builder):
    routes += _module.routes
