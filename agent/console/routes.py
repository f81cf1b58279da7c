"""The console's own routes: the page, its files, and the session calls. Nothing else.

Everything the page shows or changes goes through the public API (`/v1/...`), with the session
cookie instead of the bearer token: the console has no back door of its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from agent.console.auth import ConsoleAuth, clear_cookie, set_cookie

STATIC = Path(__file__).resolve().parent / "static"
TYPES = {".html": "text/html", ".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
# Only this origin's own files and connections; no inline script, no framing (clickjacking an
# Approve button), no plugins. The page needs nothing from elsewhere, so nothing else is allowed.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=4096, description="The daemon's bearer token.")


def static_files() -> dict[str, Path]:
    """The files the page may load, fixed at start: a request names one of them or gets 404."""
    return {p.name: p for p in STATIC.iterdir() if p.is_file() and p.suffix in TYPES}


def _file(path: Path) -> FileResponse:
    return FileResponse(path, media_type=TYPES[path.suffix], headers=HEADERS)


def _error(status: int, message: str, code: str) -> JSONResponse:
    body = {"error": {"message": message, "type": "authentication_error", "param": None, "code": code}}
    return JSONResponse(body, status)


def mount_console(app: FastAPI, auth: ConsoleAuth) -> None:
    files = static_files()

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return _file(files["index.html"])

    @app.get("/console/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        path = files.get(name)
        if path is None:
            return _error(404, f"no console file {name}", "not_found")
        return _file(path)

    @app.get("/console/session")
    def session(request: Request) -> Any:
        """The CSRF token for this browser's session; a new session where no token is needed."""
        current = auth.session(request)
        if current is not None:
            return _session_body(auth, current.csrf)
        if auth.token_required():
            return JSONResponse(
                {"authenticated": False, "token_required": True, "csrf": None}, headers=HEADERS
            )
        sid, created = auth.create()
        response = _session_body(auth, created.csrf)
        set_cookie(response, request, sid)
        return response

    @app.post("/console/login")
    def login(body: Login, request: Request) -> Any:
        if auth.token_required() and not auth.token_ok(body.token.strip()):
            return _error(401, "wrong token", "unauthorized")
        auth.drop(request)
        sid, created = auth.create()
        response = _session_body(auth, created.csrf)
        set_cookie(response, request, sid)
        return response

    @app.post("/console/logout")
    def logout(request: Request) -> Any:
        auth.drop(request)
        response = JSONResponse({"authenticated": False, "token_required": auth.token_required()})
        clear_cookie(response)
        return response


def _session_body(auth: ConsoleAuth, csrf: str) -> JSONResponse:
    body = {"authenticated": True, "token_required": auth.token_required(), "csrf": csrf}
    return JSONResponse(body, headers=HEADERS)
