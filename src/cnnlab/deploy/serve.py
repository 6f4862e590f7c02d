"""A small web server for a web demo folder: ``cnnlab serve DIR``.

Browsers refuse to run onnxruntime-web from a ``file://`` page, so the demo must come from a web
server. This one serves one folder and nothing else:

- only files inside the folder (``/../`` and ``%2e%2e`` tricks and links pointing outside get 404),
  and no folder listings;
- the right types for the demo's files (``.wasm`` application/wasm, ``.mjs``/``.js`` text/javascript,
  ``.onnx`` application/octet-stream);
- on 127.0.0.1 by default, so only this computer can open it. Browsers allow the webcam on
  http://127.0.0.1 and http://localhost only (other addresses need https).

It needs only the Python standard library (no PyTorch), so it works in a deploy-only install.

>>> import tempfile, urllib.request
>>> folder = Path(tempfile.mkdtemp())
>>> _ = (folder / "index.html").write_text("<p>hello</p>")
>>> server, url = start_server(folder)
>>> url.startswith("http://127.0.0.1:")
True
>>> urllib.request.urlopen(url).read()
b'<p>hello</p>'
>>> server.shutdown(); server.server_close()
"""

from __future__ import annotations

import errno
import os
import sys
import threading
import webbrowser
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cnnlab.errors import CnnlabError, ConfigError

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".wasm": "application/wasm",
    ".onnx": "application/octet-stream",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}


class DemoHandler(SimpleHTTPRequestHandler):
    """Serves the files of one folder (``directory``): no listings, nothing outside it, quiet logs.

    >>> DemoHandler.extensions_map[".wasm"], DemoHandler.extensions_map[".mjs"]
    ('application/wasm', 'text/javascript; charset=utf-8')
    """

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **TYPES}

    def send_head(self):
        path = self._inside()
        if path is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        return super().send_head()

    def _inside(self) -> Path | None:
        """The requested file if it lies inside the folder (after following links), else None."""
        raw = unquote(urlsplit(self.path).path)
        if "\x00" in raw or any(part == ".." for part in raw.replace("\\", "/").split("/")):
            return None
        root = Path(self.directory).resolve()
        target = Path(self.translate_path(self.path)).resolve()
        if target.is_dir():
            target = target / "index.html"  # a folder: its page, never a listing
        if not target.is_file() or not target.is_relative_to(root):
            return None
        return target

    def list_directory(self, path):  # never list a folder's files
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")
        return None

    def end_headers(self):
        self.send_header("Cache-Control", "no-cache")  # an exported-again model shows at once
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def log_request(self, code="-", size="-"):  # quiet: only what went wrong
        status = int(code) if isinstance(code, int) or str(code).isdigit() else 0
        if status >= 400:
            sys.stderr.write(f"{self.command} {self.path}: {status}\n")

    def log_message(self, format, *args):
        pass


def _check_folder(folder) -> Path:
    path = Path(folder)
    if not path.is_dir():
        raise CnnlabError(f"{path}: no such folder; make a web demo first with: cnnlab export RUN --format web "
                          f"--out {path}")
    if not (path / "index.html").is_file():
        raise CnnlabError(f"{path} has no index.html, so there is no page to show; make a web demo with: "
                          f"cnnlab export RUN --format web --out FOLDER")
    return path.resolve()


def start_server(folder, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Serve ``folder`` in a background thread; for tests and notebooks.

    Args:
        folder: a folder with an ``index.html`` (a web demo).
        host: the address to listen on; 127.0.0.1 (the default) lets only this computer in.
        port: the port; 0 picks a free one.

    Returns:
        ``(server, url)``: stop it with ``server.shutdown(); server.server_close()``.

    Raises:
        CnnlabError: the folder is missing or has no index.html, or the port is taken.
        ConfigError: the port is not a whole number from 0 to 65535 (key ``port``).

    >>> start_server("no/such/folder")
    Traceback (most recent call last):
      ...
    cnnlab.errors.CnnlabError: no/such/folder: no such folder; make a web demo first with: \
cnnlab export RUN --format web --out no/such/folder
    """
    root = _check_folder(folder)
    server = _bind(root, host, port)
    thread = threading.Thread(target=server.serve_forever, name="cnnlab-serve", daemon=True)
    thread.start()
    return server, _url(server, host)


def serve(folder, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    """Serve a web demo folder until Ctrl-C: ``cnnlab serve DIR``.

    Args:
        folder: a folder with an ``index.html`` (made by ``cnnlab export RUN --format web``).
        host: the address to listen on. 127.0.0.1 (the default): only this computer. ``0.0.0.0``: other
            computers too, but their browsers allow the webcam only over https.
        port: the port (8000 by default; 0 picks a free one).
        open_browser: open the page in the default web browser.

    Raises:
        CnnlabError: the folder is missing or has no index.html, or the port is taken.
        ConfigError: the port is not a whole number from 0 to 65535 (key ``port``).

    >>> serve("no/such/folder")
    Traceback (most recent call last):
      ...
    cnnlab.errors.CnnlabError: no/such/folder: no such folder; make a web demo first with: \
cnnlab export RUN --format web --out no/such/folder
    """
    root = _check_folder(folder)
    server = _bind(root, host, port)
    url = _url(server, host)
    print(f"Serving {root} at {url}")
    print("Open that address in your browser. Press Ctrl-C to stop.", flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print("Note: other computers can open it, but their browsers allow the camera only over https.")
    if open_browser:
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nStopped.")
    finally:
        server.server_close()


def _bind(root: Path, host: str, port) -> ThreadingHTTPServer:
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError("port", port, "a whole number from 0 to 65535", hint="0 picks a free port")
    handler = partial(DemoHandler, directory=os.fspath(root))
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise CnnlabError(f"port {port} is already in use (another server is running there); "
                              f"stop it, or pick another port, e.g. {port + 1}") from None
        raise CnnlabError(f"cannot listen on {host}:{port} ({e.strerror or e}); try host 127.0.0.1") from None
    server.daemon_threads = True
    return server


def _url(server: ThreadingHTTPServer, host: str) -> str:
    port = server.server_address[1]
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/"


__all__ = ["DemoHandler", "serve", "start_server"]
