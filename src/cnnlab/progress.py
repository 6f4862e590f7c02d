"""Progress bars that appear only where someone watches: on a terminal, never in a log file.

``make run > log`` used to fill the log with 178 KB of redrawn bars; :func:`bar` draws a tqdm bar
only when standard error is a terminal (or ``CNNLAB_PROGRESS=1`` forces it), and otherwise returns a
silent stand-in with the same methods.

>>> from cnnlab.progress import bar
>>> with bar(total=3, desc="demo", enabled=False) as b:
...     b.update(3)
"""

from __future__ import annotations

import os
import sys


class _Silent:
    """Does nothing, with tqdm's methods."""

    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def set_description(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def on_terminal() -> bool:
    """True when progress bars should be drawn: stderr is a terminal, or ``CNNLAB_PROGRESS=1``."""
    forced = os.environ.get("CNNLAB_PROGRESS")
    if forced is not None:
        return forced not in ("", "0", "false", "no")
    return sys.stderr.isatty()


def bar(total: int | None = None, desc: str = "", unit: str = "it", enabled: bool = True, initial: int = 0,
        leave: bool = False):
    """A tqdm progress bar on a terminal, a silent stand-in elsewhere.

    Args:
        total: number of steps (None if unknown).
        desc: the label in front of the bar.
        unit: what one step is ("img", "batch").
        enabled: False turns the bar off whatever the output is.
        initial: steps already done (when resuming).
        leave: keep the finished bar on screen.

    Returns:
        An object with ``update``, ``set_postfix``, ``close`` (and usable with ``with``).
    """
    if not (enabled and on_terminal()):
        return _Silent()
    from tqdm.auto import tqdm  # deferred: only terminals need it

    return tqdm(total=total, desc=desc, unit=unit, initial=initial, leave=leave, dynamic_ncols=True)
