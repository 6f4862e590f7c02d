"""Shared helpers for the tests of the studio's lecture pages (``#/learn/<topic>``).

    from browser import chromium_fixture  # noqa: F401   (registers the ``chromium`` fixture)
    from labkit import lab_studio, open_page, shot  # noqa: F401

- ``lab_studio``: the studio served by uvicorn on a free port of 127.0.0.1 (one per test file), with an
  empty projects folder; gives ``(base_url, app)``.
- ``open_page(chromium, base, "convolution")``: a fresh tab at 1366x768 on that page, once its heading shows,
  watched for script errors and requests leaving the studio (``tab.watch.check(base)`` at the end).
- ``shot(page, "convolution")``: a screenshot into ``$CNNLAB_SHOTS`` (when set) as ``learn-<name>.png``.
- ``timings(page)``: the interaction times the page measured (``window.cnnlabLab.timings``), in ms.
- ``tab.close()`` also appends those times to the JSON-lines file named by ``$CNNLAB_LAB_TIMINGS``, when set
  (``bench/learn_latency.py`` runs the page tests that way and summarizes them).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn
from browser import watch

from cnnlab.studio.app import create_app
from cnnlab.studio.runs_api import shutdown

VIEWPORT = {"width": 1366, "height": 768}


def until(condition, timeout: float, what: str) -> None:
    """Wait until ``condition()`` is true (checked every 0.05 s); fail saying what did not happen."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def served_studio(projects):
    """The studio app for ``projects`` served by uvicorn on a free port of 127.0.0.1 while the block runs;
    gives ``(base_url, app)``. Its jobs are stopped at the end, as the studio's own shutdown does."""
    app = create_app(projects)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    until(lambda: server.started, 20, "the studio to start")
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        shutdown(app)
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def lab_studio(tmp_path_factory):
    """``(base_url, app)``: the studio on a free port of 127.0.0.1, with an empty projects folder."""
    with served_studio(tmp_path_factory.mktemp("projects")) as served:
        yield served


@dataclass
class Tab:
    page: object
    context: object
    watch: object
    topic: str = ""

    def close(self):
        record = os.environ.get("CNNLAB_LAB_TIMINGS")
        if record:
            measured = timings(self.page)
            if measured:
                with open(record, "a") as f:
                    f.write(json.dumps({"topic": self.topic, "timings": measured}) + "\n")
        self.context.close()


def open_page(chromium, base: str, topic: str, image: str | None = None) -> Tab:
    """A new tab on ``#/learn/<topic>`` (``image``: a picture id to start with, e.g. "sample-camera")."""
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    seen = watch(page)
    if image is not None:
        page.add_init_script(f"sessionStorage.setItem('cnnlab-lab-image', {image!r})")
    page.goto(f"{base}/#/learn/{topic}")
    page.wait_for_selector("h1")
    return Tab(page, context, seen, topic)


def shot(page, name: str) -> Path | None:
    """Save a screenshot as ``$CNNLAB_SHOTS/learn-<name>.png`` when ``CNNLAB_SHOTS`` is set."""
    folder = os.environ.get("CNNLAB_SHOTS")
    if not folder:
        return None
    path = Path(folder) / f"learn-{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def timings(page) -> dict[str, list[float]]:
    """The interaction times (ms) the page recorded, by label."""
    return page.evaluate("() => window.cnnlabLab ? window.cnnlabLab.timings : {}")
