"""Shared helpers for tests that drive a real browser: Debian's Chromium through Playwright.

Import what you need in a test file (pytest finds fixtures imported into a test module):

    from browser import chromium_fixture, launch_chromium, make_y4m, served, watch  # noqa: F401

- ``chromium_fixture`` registers the fixture ``chromium``: a headless Chromium (no camera), one per test
  file. It builds on pytest-playwright's session-scoped ``playwright`` fixture.
- ``launch_chromium(playwright, y4m=...)``: a Chromium whose webcam plays a ``.y4m`` video file
  (``make_y4m`` makes one from pictures); close it yourself.
- ``watch(page)``: records every request and every script error of a page; ``.check()`` fails the test
  if a request left the page's own address (``data:`` and ``blob:`` are fine) or a script failed.
- ``served(folder)``: a web server for a folder (cnnlab's own, :mod:`cnnlab.deploy.serve`), as a
  context manager giving its address.

Chromium and ffmpeg come from Debian (``apt-get install chromium ffmpeg``); Playwright's own browser
download does not work on these machines. When either is missing the tests fail and say so: they
are never skipped.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from cnnlab.deploy.serve import start_server

CHROMIUM = "/usr/bin/chromium"
INSTALL = "install them with: sudo apt-get install chromium ffmpeg"
CAMERA_ARGS = ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream")


def chromium_path() -> str:
    """Debian's Chromium, or a failed test saying how to install it."""
    path = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if not path:
        pytest.fail(f"the browser tests need Chromium ({CHROMIUM} is missing); {INSTALL}", pytrace=False)
    return path


def ffmpeg_path() -> str:
    """ffmpeg, or a failed test saying how to install it."""
    path = shutil.which("ffmpeg")
    if not path:
        pytest.fail(f"the webcam tests need ffmpeg to make a fake camera video (ffmpeg is missing); {INSTALL}",
                    pytrace=False)
    return path


def launch_chromium(playwright, y4m: str | Path | None = None, args: tuple[str, ...] = ()):
    """A headless Chromium; with ``y4m``, its webcam plays that video (and the camera is allowed at once).

    Args:
        playwright: pytest-playwright's ``playwright`` fixture (or ``sync_playwright().start()``).
        y4m: a ``.y4m`` video for the fake webcam (see :func:`make_y4m`), or None for no camera.
        args: more Chromium command-line switches.

    Returns:
        A Playwright ``Browser``; close it when done.
    """
    extra = list(args)
    if y4m is not None:
        if not Path(y4m).is_file():
            raise FileNotFoundError(y4m)
        extra += [*CAMERA_ARGS, f"--use-file-for-fake-video-capture={Path(y4m).resolve()}"]
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=extra)


@pytest.fixture(scope="session", name="chromium")
def chromium_fixture(playwright):
    """``chromium``: a headless Chromium for the whole test session (no camera)."""
    browser = launch_chromium(playwright)
    yield browser
    browser.close()


def make_y4m(images, path: str | Path, seconds: float = 2, fps: int = 10, size: tuple[int, int] | None = None) -> Path:
    """A ``.y4m`` video showing each picture for ``seconds``, for Chromium's fake webcam (it loops it).

    The video is yuv420p, as a real camera's: colours come back from it changed by a few levels, and
    colour detail at half resolution. Gray pictures survive best.

    Args:
        images: picture files and/or uint8 arrays (H, W) or (H, W, 3).
        path: the ``.y4m`` file to write.
        seconds: how long each picture is shown.
        fps: frames per second.
        size: (width, height) of the video; default the first picture's, made even (yuv420p needs it).

    Returns:
        ``path``.
    """
    ffmpeg = ffmpeg_path()
    path = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, im in enumerate(images):
            if isinstance(im, (str, Path)):
                files.append(Path(im))
            else:
                files.append(Path(tmp) / f"{i}.png")
                Image.fromarray(np.asarray(im, dtype=np.uint8)).save(files[-1])
        if size is None:
            w, h = Image.open(files[0]).size
            size = (max(2, w - w % 2), max(2, h - h % 2))
        cmd = [ffmpeg, "-y", "-loglevel", "error"]
        for f in files:
            cmd += ["-loop", "1", "-framerate", str(fps), "-t", str(seconds), "-i", str(f)]
        scaled = "".join(f"[{i}:v]scale={size[0]}:{size[1]}:flags=neighbor,setsar=1,format=yuv420p[v{i}];"
                         for i in range(len(files)))
        joined = "".join(f"[v{i}]" for i in range(len(files))) + f"concat=n={len(files)}:v=1:a=0[out]"
        cmd += ["-filter_complex", scaled + joined, "-map", "[out]", "-r", str(fps), "-pix_fmt", "yuv420p", str(path)]
        subprocess.run(cmd, check=True, capture_output=True)
    return path


def origin(url: str) -> str:
    """``scheme://host:port`` of an address."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class PageWatch:
    """Every request and script error of one page; see :func:`watch`."""

    def __init__(self, page):
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def outside(self, home: str) -> list[str]:
        """Requests that left ``home``'s origin (``data:`` and ``blob:`` are part of the page)."""
        own = origin(home)
        return [u for u in self.requests if not u.startswith(("data:", "blob:")) and origin(u) != own]

    def check(self, home: str) -> None:
        """Fail if a request left ``home``'s origin or a script failed."""
        assert self.requests, "the page made no request at all"
        assert not self.outside(home), f"requests left {origin(home)}: {self.outside(home)}"
        assert not self.errors, f"script errors: {self.errors}"


def watch(page) -> PageWatch:
    """Start recording ``page``'s requests and script errors (call before ``page.goto``)."""
    return PageWatch(page)


@contextmanager
def served(folder):
    """Serve ``folder`` on 127.0.0.1 (a free port) while the block runs; gives its address."""
    server, url = start_server(folder)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
