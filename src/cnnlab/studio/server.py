"""``cnnlab studio``: serve the studio with uvicorn and print its address.

The studio listens on 127.0.0.1 (this computer only) unless another host is given; then other
computers can reach it, so it refuses to start without an access code (it never makes one up
silently: the person starting it chooses it and gives it to the others). Folder imports read the
server's disk, so they are allowed only when the studio listens on this computer alone.

>>> default_projects_dir().name
'projects'
>>> is_loopback("127.0.0.1"), is_loopback("0.0.0.0")
(True, False)
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import webbrowser
from pathlib import Path

import uvicorn

from cnnlab.errors import CnnlabError, ConfigError
from cnnlab.studio.app import create_app

DEFAULT_PORT = 8321


def default_projects_dir() -> Path:
    """``$CNNLAB_HOME/projects`` when CNNLAB_HOME is set, else ``~/cnnlab/projects``."""
    home = os.environ.get("CNNLAB_HOME")
    return (Path(home) if home else Path.home() / "cnnlab").expanduser() / "projects"


def is_loopback(host: str) -> bool:
    """True for host names and addresses only this computer can reach (127.x.x.x, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def page_address(host: str, port: int, access_code: str | None = None) -> str:
    """The address to open in a browser (0.0.0.0 and :: are shown as 127.0.0.1).

    >>> page_address("0.0.0.0", 8321, "blue-river-42")
    'http://127.0.0.1:8321/?code=blue-river-42'
    """
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?code={access_code}" if access_code else "")


def run_studio(host: str = "127.0.0.1", port: int = DEFAULT_PORT, projects_dir=None, open_browser: bool = False,
               access_code: str | None = None) -> None:
    """Serve the studio until Ctrl-C.

    Args:
        host: the address to listen on; 127.0.0.1 keeps the studio on this computer.
        port: the port (0: any free port; the printed address says which).
        projects_dir: the projects folder (default :func:`default_projects_dir`).
        open_browser: open the page in the default browser once the server is up.
        access_code: required when ``host`` is not this computer; every request must carry it.

    Raises:
        ConfigError: another host without an access code, a bad port or code.
        CnnlabError: the port is in use.

    >>> run_studio("0.0.0.0", 8321)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
      ...
    cnnlab.errors.ConfigError: host='0.0.0.0': expected 127.0.0.1 (this computer only) unless an access code ...
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError("port", port, "a whole number from 1 to 65535, e.g. 8321")
    if not is_loopback(host) and not access_code:
        raise ConfigError("host", host, "127.0.0.1 (this computer only) unless an access code is given",
                          hint=f"other computers can reach the studio on {host}, so start it with an access code "
                               "too (--access-code CODE on the command line, access_code= in Python; 8 or more "
                               "letters or digits) and give them the address with ?code=CODE")
    app = create_app(projects_dir or default_projects_dir(), access_code=access_code,
                     allow_folder_import=is_loopback(host))
    sock = _bind(host, port)
    url = page_address(host, sock.getsockname()[1], access_code)
    print(f"cnnlab studio: open {url}", flush=True)
    print(f"projects: {app.state.projects_dir}   (Ctrl-C stops the studio)", flush=True)
    config = uvicorn.Config(app, log_level="warning", proxy_headers=False, server_header=False,
                            timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)
    if open_browser:
        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    server.run(sockets=[sock])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        if e.errno == 98 or "in use" in str(e):
            raise CnnlabError(f"port {port} is already in use (another studio?); pick another port, e.g. "
                              f"{port + 1}") from None
        raise CnnlabError(f"cannot listen on {host}:{port} ({e.strerror or e}); check the host address") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock
