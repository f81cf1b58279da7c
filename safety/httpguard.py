"""Host and Origin checks for every HTTP server halops runs: one ASGI middleware, no framework.

Why: a server on 127.0.0.1 is reachable from any web page the operator opens. With DNS
rebinding, a page on `attacker.example` re-points its own name at 127.0.0.1 and then talks to
the server "same-origin": it can chat (run tools), read the answers and approve pending calls.
The browser still sends `Host: attacker.example:PORT`, and that is what gives it away. So:

- the Host header must name this machine: a loopback IP literal, `localhost`, or a name the
  operator configured (`agent.allowed_hosts`, `server.allowed_hosts`); anything else, an empty
  or missing Host included, gets 403;
- a state-changing request (anything but GET, HEAD, OPTIONS) that carries an Origin must come
  from the page's own origin (the same host and port it is sent to); a foreign Origin, `null`
  included, gets 403. Clients that are not browsers send no Origin and are unaffected.

It answers before the application sees the request, so no handler (and no token check) can forget
it. Imports nothing from halops: the agent daemon and the embedded model server both wrap with it.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LOOPBACK_NAMES = frozenset({"localhost"})


def split_host(value: str) -> tuple[str, str | None] | None:
    """(host, port) of a Host header or an origin's netloc; None when it is not well formed."""
    value = value.strip()
    if not value or any(c.isspace() or c in "/\\@?#" for c in value):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port = rest[1:] if rest else None
    else:
        host, sep, port_text = value.rpartition(":")
        if not sep:
            host, port_text = value, ""
        elif ":" in host:  # a bare IPv6 address is not a valid Host (it needs brackets)
            return None
        port = port_text if sep else None
    if port is not None and (not port.isdigit() or not 0 < int(port) < 65536):
        return None
    host = host.lower().rstrip(".")  # `localhost.` is `localhost`
    return (host, port) if host else None


def is_loopback_literal(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class HostCheck:
    """Which Host values a server answers: loopback literals, `localhost`, configured names."""

    def __init__(self, allowed_hosts: Iterable[str] = ()):
        self.names = frozenset(h.strip().lower().rstrip(".").strip("[]") for h in allowed_hosts if h.strip())

    def host_allowed(self, header: str | None) -> bool:
        parsed = split_host(header or "")
        if parsed is None:
            return False
        host = parsed[0]
        return host in LOOPBACK_NAMES or is_loopback_literal(host) or host in self.names

    def origin_allowed(self, origin: str, host_header: str, scheme: str) -> bool:
        """The Origin is this server itself: same scheme, host and port as the request."""
        if origin.strip().lower() == "null":
            return False
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or parts.path not in ("", "/"):
            return False
        mine, theirs = split_host(host_header), split_host(parts.netloc)
        if mine is None or theirs is None:
            return False
        default = {"http": "80", "https": "443"}
        return (
            parts.scheme == scheme
            and theirs[0] == mine[0]
            and (theirs[1] or default[parts.scheme]) == (mine[1] or default.get(scheme, ""))
        )


class HostGuard:
    """ASGI middleware: 403 for a foreign Host, and for a foreign Origin on state-changing requests."""

    def __init__(self, app: ASGIApp, allowed_hosts: Iterable[str] = ()):
        self.app = app
        self.check = HostCheck(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers: dict[str, list[str]] = {}
        for key, value in scope.get("headers", []):
            headers.setdefault(key.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        hosts = headers.get("host", [])
        # Two Host headers are a request smuggling trick: which one would the app believe?
        host = hosts[0] if len(hosts) == 1 else None
        if not self.check.host_allowed(host):
            await _forbid(scope, send, "host_not_allowed", f"Host {host!r} is not allowed on this server.")
            return
        method = scope.get("method", "GET").upper() if scope["type"] == "http" else "GET"
        origins = headers.get("origin", [])
        state_changing = method not in SAFE_METHODS or scope["type"] == "websocket"
        if state_changing and origins:
            scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
            if len(origins) != 1 or not self.check.origin_allowed(origins[0], host or "", scheme):
                message = f"Origin {origins[0]!r} may not change state here."
                await _forbid(scope, send, "origin_not_allowed", message)
                return
        await self.app(scope, receive, send)


async def _forbid(scope: Scope, send: Send, code: str, message: str) -> None:
    if scope["type"] == "websocket":  # closing before accept is a 403 to the client
        await send({"type": "websocket.close", "code": 1008})
        return
    # OpenAI's error shape: both servers speak that API, so clients parse it as they parse others.
    body = json.dumps(
        {"error": {"message": message, "type": "permission_error", "param": None, "code": code}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 403,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


def guard(app: ASGIApp, allowed_hosts: Iterable[str] = ()) -> ASGIApp:
    """`app` behind the Host/Origin check."""
    return HostGuard(app, allowed_hosts)
