"""Web security shared by every page: security headers, allowed hosts, CSRF.

- Every response carries a Content-Security-Policy without 'unsafe-inline' (styles come from
  /static only; no scripts at all), X-Content-Type-Options, Referrer-Policy no-referrer, and
  Cache-Control no-store (pages hold personal answers).
- Host headers outside the allowed list are rejected (DNS-rebinding protection).
- State-changing requests need a CSRF token equal to the ``st_csrf`` cookie (double submit; the
  cookie is SameSite=Strict and HttpOnly) and are refused when the browser says the request is
  cross-site (Sec-Fetch-Site) or its Origin is another origin (scheme, host and port).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "st_csrf"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
DEFAULT_HOSTS = ("127.0.0.1", "localhost", "[::1]", "::1")


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):
        return host_header.split("]")[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


class SecurityMiddleware:
    """Allowed hosts, cross-site refusal, CSRF cookie issuing and security headers.

    A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which runs every request
    through a task group and memory streams on the event loop): it looks at the request's
    headers, then adds its headers to the response's start message as it passes."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = DEFAULT_HOSTS) -> None:
        self.app = app
        self.allowed_hosts = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = _hostname(request.headers.get("host", "")).lower()
        refusal: Response | None = None
        if host not in self.allowed_hosts:
            refusal = PlainTextResponse("Invalid host header", status_code=400)
        elif request.method not in ("GET", "HEAD", "OPTIONS"):
            refusal = self._cross_site(request, host)
        if refusal is not None:
            await self._headers(refusal)(scope, receive, send)
            return
        sent = request.cookies.get(CSRF_COOKIE)
        token = sent or secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf"] = token  # request.state.csrf for the pages
        cookie = None
        if sent != token:
            issued = Response()
            issued.set_cookie(
                CSRF_COOKIE, token, httponly=True, samesite="strict", secure=False, path="/"
            )
            cookie = issued.headers["set-cookie"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if cookie is not None:
                    headers.append("set-cookie", cookie)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def _cross_site(request: Request, host: str) -> Response | None:
        if request.headers.get("sec-fetch-site") == "cross-site":
            return PlainTextResponse("Cross-site request refused", status_code=403)
        origin = request.headers.get("origin")
        if origin and origin != "null" and not same_origin(origin, request):
            return PlainTextResponse("Cross-origin request refused", status_code=403)
        return None

    @staticmethod
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin_of(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        return None
    if port is None or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port


def same_origin(origin: str, request: Request) -> bool:
    """True when the Origin header names this server: the same scheme, host AND port.

    The server's own origin is the request's scheme (``X-Forwarded-Proto`` only through a
    trusted proxy) and its Host header (host and port); a page served by another program on
    another port of the same host is another origin (RFC 6454) and is refused.
    """
    try:
        parts = urlsplit(origin)
    except ValueError:
        return False
    theirs = _origin_of(parts.scheme.lower(), parts.netloc)
    ours = _origin_of(request.url.scheme, request.headers.get("host", ""))
    return theirs is not None and theirs == ours


def check_csrf(request: Request, submitted: str | None) -> bool:
    """True when the submitted form token equals the request's CSRF cookie."""
    cookie = request.cookies.get(CSRF_COOKIE)
    return bool(cookie and submitted and hmac.compare_digest(cookie, submitted))
