"""The console's sessions over plain HTTP: the page and its files, the cookie's flags, the CSRF
token on state changes, signing in with the bearer token, and API clients unaffected.
"""

from __future__ import annotations

import httpx
import pytest

from agent.console.auth import COOKIE
from tests.agent.test_api import SCRIPT, daemon_for
from tests.support.daemon import serve_daemon
from tests.support.scripted_llm import ScriptedModel

pytestmark = pytest.mark.integration
TOKEN = "a-long-enough-token-value"


@pytest.fixture
def open_daemon(tmp_path):
    with ScriptedModel(SCRIPT) as model, serve_daemon(daemon_for(tmp_path, model.url)) as base:
        yield base


@pytest.fixture
def token_daemon(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    with (
        ScriptedModel(SCRIPT) as model,
        serve_daemon(daemon_for(tmp_path, model.url, token_file=token_file)) as base,
    ):
        yield base


def _answer(client: httpx.Client, base: str, **headers: str) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": "uptime?"}]}
    return client.post(f"{base}/v1/chat/completions", json=body, headers=headers, timeout=30)


def test_the_page_and_its_files_are_served_with_a_strict_policy(open_daemon):
    page = httpx.get(f"{open_daemon}/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script" in page.text and "http://" not in page.text and "https://" not in page.text  # no CDN
    js = httpx.get(f"{open_daemon}/console/static/app.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    for name in ("../auth.py", "..%2Fauth.py", "nope.js", "routes.py"):
        assert httpx.get(f"{open_daemon}/console/static/{name}").status_code == 404


def test_loopback_session_cookie_needs_the_csrf_token_for_changes(open_daemon):
    with httpx.Client() as browser:
        s = browser.get(f"{open_daemon}/console/session")
        assert s.json()["authenticated"] is True and not s.json()["token_required"]
        csrf = s.json()["csrf"]
        cookie = s.headers["set-cookie"]
        assert (
            f"{COOKIE}=" in cookie
            and "HttpOnly" in cookie
            and "SameSite=strict" in cookie.replace("Strict", "strict")
        )
        assert browser.get(f"{open_daemon}/v1/approvals").status_code == 200  # reads need no token
        refused = _answer(browser, open_daemon)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
        wrong = _answer(browser, open_daemon, **{"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403
        assert _answer(browser, open_daemon, **{"X-CSRF-Token": csrf}).status_code == 200
        # The same session answers the same token; a stale cookie on a change is refused.
        assert browser.get(f"{open_daemon}/console/session").json()["csrf"] == csrf
        browser.cookies.set(COOKIE, "forged")
        stale = _answer(browser, open_daemon, **{"X-CSRF-Token": csrf})
        assert stale.status_code == 403 and stale.json()["error"]["code"] == "session_expired"
    # An API client without the cookie is not affected.
    with httpx.Client() as client:
        assert _answer(client, open_daemon).status_code == 200


def test_with_a_token_the_page_signs_in_and_gets_a_session(token_daemon):
    with httpx.Client() as browser:
        s = browser.get(f"{token_daemon}/console/session").json()
        assert s == {"authenticated": False, "token_required": True, "csrf": None}
        assert COOKIE not in browser.cookies
        assert browser.get(f"{token_daemon}/").status_code == 200  # the page itself holds nothing
        assert browser.get(f"{token_daemon}/v1/approvals").status_code == 401
        bad = browser.post(f"{token_daemon}/console/login", json={"token": "not-the-token"})
        assert bad.status_code == 401 and COOKIE not in browser.cookies
        ok = browser.post(f"{token_daemon}/console/login", json={"token": TOKEN})
        assert ok.status_code == 200 and ok.json()["authenticated"] is True
        csrf = ok.json()["csrf"]
        assert browser.get(f"{token_daemon}/v1/approvals").status_code == 200
        assert _answer(browser, token_daemon).status_code == 403
        assert _answer(browser, token_daemon, **{"X-CSRF-Token": csrf}).status_code == 200
        out = browser.post(f"{token_daemon}/console/logout", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 200
        assert browser.get(f"{token_daemon}/v1/approvals").status_code == 401
    with httpx.Client() as client:  # the bearer token still works on its own
        assert _answer(client, token_daemon, Authorization=f"Bearer {TOKEN}").status_code == 200


def test_a_foreign_origin_cannot_sign_in_or_change_anything(token_daemon):
    evil = {"Origin": "http://127.0.0.1:1"}
    r = httpx.post(f"{token_daemon}/console/login", json={"token": TOKEN}, headers=evil)
    assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
    with httpx.Client() as browser:
        csrf = browser.post(f"{token_daemon}/console/login", json={"token": TOKEN}).json()["csrf"]
        r = _answer(browser, token_daemon, **{"X-CSRF-Token": csrf, **evil})
        assert r.status_code == 403 and r.json()["error"]["code"] == "origin_not_allowed"
