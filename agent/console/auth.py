"""The console's browser sessions: an HttpOnly, SameSite=Strict cookie and a CSRF token per session.

Why a cookie at all: the page cannot hold the bearer token where a script injected into it could
read it back, and EventSource (the job stream) cannot send an Authorization header. So the page
trades the token once (`POST /console/login`) for a session cookie the browser keeps out of
JavaScript's reach. On loopback without a token the API is open anyway, and the page gets a
session on its first `GET /console/session`.

A cookie is sent by the browser on its own, which is what CSRF abuses. SameSite=Strict and the
Origin check (safety/httpguard.py) already stop a foreign page; the CSRF token is the third lock:
every state-changing request that carries the cookie must also carry `X-CSRF-Token`, which only
the page itself can read (from `/console/session`, same-origin, never in a cookie).
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

COOKIE = "halops_console"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The page and its files, and the two calls that start a session: no credentials needed (the
# files hold nothing secret; `/console/login` checks the token itself).
PUBLIC_PATHS = frozenset({"/", "/health", "/console/session", "/console/login"})
PUBLIC_PREFIX = "/console/static/"


@dataclass
class Session:
    csrf: str
    created_at: float
    seen_at: float


class ConsoleAuth:
    """Sessions in memory: a daemon restart signs every browser out, which is the safe default."""

    def __init__(self, token: str | None, *, idle_s: float = 12 * 3600, max_sessions: int = 256):
        self.token = token
        self.idle_s = idle_s
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()

    # -- sessions ------------------------------------------------------------------------------

    def token_required(self) -> bool:
        return self.token is not None

    def token_ok(self, supplied: str) -> bool:
        return self.token is not None and hmac.compare_digest(supplied.encode(), self.token.encode())

    def create(self) -> tuple[str, Session]:
        now = time.time()
        sid, session = secrets.token_urlsafe(32), Session(secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._sessions[sid] = session
            while len(self._sessions) > self.max_sessions:  # oldest first: a flood cannot grow memory
                self._sessions.popitem(last=False)
        return sid, session

    def session(self, request: Request) -> Session | None:
        sid = request.cookies.get(COOKIE)
        if not sid:
            return None
        now = time.time()
        with self._lock:
            session = self._sessions.get(sid)
            if session is None:
                return None
            if now - session.seen_at > self.idle_s:
                del self._sessions[sid]
                return None
            session.seen_at = now
            self._sessions.move_to_end(sid)
            return session

    def drop(self, request: Request) -> None:
        sid = request.cookies.get(COOKIE)
        if sid:
            with self._lock:
                self._sessions.pop(sid, None)

    # -- the checks the app's guard makes --------------------------------------------------------

    @staticmethod
    def public(request: Request) -> bool:
        path = request.url.path
        return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIX)

    def signed_in(self, request: Request) -> bool:
        return self.session(request) is not None

    def refuse(self, request: Request) -> tuple[int, str, str] | None:
        """(status, code, message) when a cookie-carrying state change lacks its CSRF token."""
        if request.method.upper() in SAFE_METHODS or COOKIE not in request.cookies:
            return None
        if request.url.path == "/console/login":  # starts a session: the token is its proof
            return None
        session = self.session(request)
        if session is None:
            return 403, "session_expired", "the console session expired: reload the page and sign in"
        supplied = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), session.csrf.encode()):
            return 403, "csrf_failed", "missing or wrong CSRF token"
        return None


def set_cookie(response: Response, request: Request, sid: str) -> None:
    response.set_cookie(
        COOKIE,
        sid,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def clear_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
