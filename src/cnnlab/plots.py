"""Figures: matplotlib set up for files (no window, no warnings on the terminal) and saved atomically.

>>> import tempfile
>>> from cnnlab.plots import pyplot, save_figure
>>> fig, ax = pyplot().subplots()
>>> _ = ax.plot([0, 1], [1, 0])
>>> save_figure(fig, tempfile.mkdtemp() + "/line.png")
"""

from __future__ import annotations

import io
import logging
import warnings

from cnnlab.files import atomic_write


def pyplot():
    """matplotlib.pyplot with the file-only Agg backend and quiet logging.

    Returns:
        The ``matplotlib.pyplot`` module.
    """
    # deferred: matplotlib takes ~0.5 s to import and only figures need it
    import matplotlib

    matplotlib.use("Agg")
    logging.getLogger("matplotlib").setLevel(logging.ERROR)  # font cache chatter is not for students
    warnings.filterwarnings("ignore", category=UserWarning, module="matplotlib")  # layout/glyph warnings too
    import matplotlib.pyplot as plt  # deferred, after the backend is chosen

    plt.rcParams.update({"figure.dpi": 100, "axes.titlesize": 10, "font.size": 9})
    return plt


def save_figure(fig, path, dpi: int = 110) -> None:
    """Write ``fig`` as a PNG to ``path`` atomically and close it.

    Args:
        fig: a matplotlib Figure.
        path: where to write the PNG.
        dpi: resolution.
    """
    buf = io.BytesIO()
    with warnings.catch_warnings():  # layout warnings (tight_layout, glyphs) never reach the terminal
        warnings.simplefilter("ignore")
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    pyplot().close(fig)
    atomic_write(path, buf.getvalue())
