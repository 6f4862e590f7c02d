"""The studio's gate: every request passes these checks before any route sees it.

1. Host: without an access code the studio answers only to ``127.0.0.1``, ``localhost`` and
   ``[::1]``, so a web page on another site cannot reach it through a DNS trick (rebinding).
2. Access code (when set): every request — pages, files, API — carries it, as ``?code=`` (which
   sets the ``cnnlab_code`` cookie, HttpOnly and SameSite=Strict), the cookie, or the
   ``X-Access-Code`` header; else 401.
3. Origin: a request that changes something (POST, PUT, PATCH, DELETE) must come from the studio's
   own page (``Origin`` equal to the studio's address); else 403.
4. Size: a request body over ``max_upload_mb`` is refused with 413, from its ``Content-Length``
   before it is read, or while it is read.
5. Every answer gets headers that keep browsers strict: no MIME sniffing, no framing by other
   sites, no referrer, and a Content-Security-Policy that allows only the studio's own origin.

>>> origin_of("http", "127.0.0.1:8321")
('http', '127.0.0.1', 8321)
>>> is_loopback_host("localhost:8321"), is_loopback_host("evil.example:8321")
(True, False)
"""

from __future__ import annotations

import hmac
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.datastructures import Headers
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse

from cnnlab.studio.safety import TooLarge

COOKIE = "cnnlab_code"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
CSP = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:; media-src 'self' blob: mediastream:; connect-src 'self' data: blob:; "
       "worker-src 'self' blob:; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
       "form-action 'self'")
HEADERS = [(b"x-content-type-options", b"nosniff"), (b"x-frame-options", b"DENY"),
           (b"referrer-policy", b"no-referrer"), (b"cross-origin-opener-policy", b"same-origin"),
           (b"cross-origin-resource-policy", b"same-origin"), (b"content-security-policy", CSP.encode())]
ASK_CODE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>cnnlab studio: access code</title></head><body><main><h1>This studio needs its access code</h1>
<p>Open the address that <code>cnnlab studio</code> printed (it ends with <code>?code=...</code>), or type the code:</p>
<form method="get"><label>Access code <input name="code" type="password" autofocus required></label>
<button type="submit">Open the studio</button></form></main></body></html>"""


def origin_of(scheme: str, host: str) -> tuple[str, str, int] | None:
    """``(scheme, host name, port)`` of an address, the default port filled in; None if unreadable."""
    try:
        parts = urlsplit(f"{scheme}://{host}")
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return (parts.scheme, parts.hostname, port) if parts.hostname else None


def is_loopback_host(host: str) -> bool:
    """True when a ``Host`` header names this computer (127.0.0.1, localhost or [::1])."""
    o = origin_of("http", host)
    return o is not None and o[1] in LOOPBACK


class Guard:
    """ASGI middleware doing the checks of the module docstring.

    Args:
        app: the application inside.
        access_code: the code every request must carry, or None (then only loopback host names are served).
        max_body: the largest request body, in bytes.
    """

    def __init__(self, app, access_code: str | None, max_body: int):
        self.app, self.code, self.max_body = app, access_code, max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope["path"]

        async def send_safe(message):
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in HEADERS if k not in have]
                if path.startswith("/api/") and b"cache-control" not in have:
                    extra.append((b"cache-control", b"no-store"))
                message = {**message, "headers": list(message.get("headers", [])) + extra}
            await send(message)

        headers = Headers(scope=scope)
        host = headers.get("host", "")
        refusal = self.refuse(scope, headers, host)
        if refusal is not None:
            return await refusal(scope, receive, send_safe)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if self.code is not None and self._same(query.get("code")):
            if scope["method"] == "GET" and not path.startswith("/api/"):  # the page: keep the code out of the bar
                rest = urlencode([(k, v) for k, v in query.items() if k != "code"])
                response = RedirectResponse(path + (f"?{rest}" if rest else ""), status_code=303)
                response.set_cookie(COOKIE, self.code, httponly=True, samesite="strict")
                return await response(scope, receive, send_safe)
        received = 0

        async def receive_limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise TooLarge(self.too_large())
            return message

        await self.app(scope, receive_limited, send_safe)

    def refuse(self, scope, headers: Headers, host: str):
        """The response refusing this request, or None when it may go on."""
        if self.code is None and not is_loopback_host(host):
            return _error(403, f"this studio answers only at http://127.0.0.1 (this request asked for "
                               f"'{host[:100]}'); open the address that cnnlab studio printed")
        if self.code is not None and not self.allowed(scope, headers):
            if scope["method"] == "GET" and not scope["path"].startswith("/api/"):
                return HTMLResponse(ASK_CODE, status_code=401)
            return _error(401, "this studio needs its access code: open the address that cnnlab studio printed "
                               "(it ends with ?code=...)")
        if scope["method"] in UNSAFE:
            origin = headers.get("origin")
            own = origin_of(scope.get("scheme", "http"), host)
            if origin is None or own is None or _origin(origin) != own:
                return _error(403, "this request did not come from the studio's own page, so nothing was changed; "
                                   "use the studio in the browser tab that shows it")
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            return _error(413, self.too_large())
        return None

    def allowed(self, scope, headers: Headers) -> bool:
        """True when the request carries the access code (query, header or cookie)."""
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except Exception:  # noqa: BLE001 - a malformed cookie header is simply no code
            cookie = SimpleCookie()
        given = [query.get("code"), headers.get("x-access-code"), cookie[COOKIE].value if COOKIE in cookie else None]
        return any(self._same(g) for g in given)

    def _same(self, given) -> bool:
        return isinstance(given, str) and self.code is not None and hmac.compare_digest(given.encode(),
                                                                                      self.code.encode())

    def too_large(self) -> str:
        """The message for a request over the size limit."""
        return (f"this upload is bigger than the limit of {self.max_body / 2**20:g} MB per upload; "
                "send fewer or smaller files at a time")


def _origin(value: str):
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    return origin_of(parts.scheme, parts.netloc) if parts.scheme in ("http", "https") else None


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)
