"""The memory of this process: what it holds now (RSS), its peak so far, and a watch for the peak of a stretch of code.

Used by the estimate before training (:mod:`cnnlab.training.estimate`) and the benchmarks that report memory.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading

try:
    import resource
except ImportError:  # Windows
    resource = None


def rss_bytes() -> int:
    """Resident memory of this process now, in bytes (the peak so far where the system has no /proc)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return peak_rss_bytes()


def peak_rss_bytes() -> int:
    """The highest resident memory of this process so far, in bytes (0 where the system cannot say)."""
    if resource is None:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # macOS counts bytes, Linux kilobytes


def trim_heap() -> None:
    """Hand freed heap memory back to the system (glibc's malloc_trim; elsewhere nothing), so that the RSS growth
    of what follows shows the memory it needs, not only what the heap could not recycle."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


class MemoryWatch:
    """Context manager: the highest RSS of this process while it is open (``.peak``), sampled every 5 ms."""

    def __init__(self, every: float = 0.005):
        self.every, self.peak = every, 0
        self._stop = threading.Event()

    def __enter__(self):
        self._start_peak, self.peak = peak_rss_bytes(), rss_bytes()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self):
        while not self._stop.wait(self.every):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())
        if peak_rss_bytes() > self._start_peak:  # a new high while watched: the system's own count is exact
            self.peak = max(self.peak, peak_rss_bytes())


__all__ = ["MemoryWatch", "peak_rss_bytes", "rss_bytes", "trim_heap"]
