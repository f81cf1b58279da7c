"""The http executor against a real local HTTP(S) server."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from halops.calls import ToolCall
from tests.support.fleet import Fleet, add_http
from tests.support.httpserver import run_http_server
from tests.support.procs import free_port

pytestmark = pytest.mark.integration


def get(url: str, method: str = "GET", **extra) -> ToolCall:
    return ToolCall(tool="http", arguments={"method": method, "url": url, **extra})


@pytest.fixture
def web(fleet: Fleet, http_server):
    add_http(fleet, http_server)
    with fleet.executors(settings={"http_max_body_bytes": 200_000}) as ex:
        yield ex


def test_get_by_inventory_name_and_by_address(web, http_server) -> None:
    r = web.execute(get(f"http://box:{http_server.port}/ok"))
    assert r.status == "ok", r
    assert r.exit_code == 200
    assert r.stdout.startswith("HTTP/1.0 200 OK\n")
    assert "content-type: application/json" in r.stdout.lower()
    assert r.stdout.endswith('{"ok": true}\n')
    r = web.execute(get(f"{http_server.url}/ok"))
    assert r.status == "ok" and r.exit_code == 200
    r = web.execute(get(f"http://box:{http_server.port}/echo"))
    assert json.loads(r.stdout.split("\n\n", 1)[1])["headers"]["Host"] == f"box:{http_server.port}"


def test_error_status_is_an_error_result(web, http_server) -> None:
    r = web.execute(get(f"{http_server.url}/status/503"))
    assert r.status == "error"
    assert r.exit_code == 503


def test_head_and_post_with_json_body(web, http_server) -> None:
    r = web.execute(get(f"{http_server.url}/ok", method="HEAD"))
    assert r.status == "ok" and r.stdout.endswith("\n\n")
    r = web.execute(get(f"{http_server.url}/echo", method="POST", body={"a": 1}), approved=True)
    assert r.status == "ok", r
    doc = json.loads(r.stdout.split("\n\n", 1)[1])
    assert doc["method"] == "POST" and json.loads(doc["body"]) == {"a": 1}
    assert doc["headers"]["Content-Type"] == "application/json"


def test_redirect_within_inventory_is_followed(web, http_server) -> None:
    target = quote(f"http://box:{http_server.port}/ok", safe="")
    r = web.execute(get(f"{http_server.url}/redirect?to={target}"))
    assert r.status == "ok", r
    assert r.stdout.endswith('{"ok": true}\n')


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/ok",  # loopback, but not an inventory address
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata
        "http://example.com/",
        "file:///etc/passwd",
    ],
)
def test_redirect_off_inventory_is_refused(web, http_server, target: str) -> None:
    to = quote(target.format(port=http_server.port), safe="")
    r = web.execute(get(f"{http_server.url}/redirect?to={to}&code=302"))
    assert r.status == "denied", r
    assert r.exit_code == 302
    assert "not followed" in r.stderr
    assert "finally" not in r.stdout and "ok" not in r.stdout.split("\n\n", 1)[1]


def test_redirect_loop_stops(web, http_server) -> None:
    loop = quote(f"{http_server.url}/redirect?to=" + quote(f"{http_server.url}/redirect", safe=""), safe="")
    r = web.execute(get(f"{http_server.url}/redirect?to={loop}"))
    # /redirect without `to` sends to /ok: 2 hops, within the limit.
    assert r.status == "ok", r
    fleet_limit = web.settings.http_max_redirects
    chain = f"{http_server.url}/ok"
    for _ in range(fleet_limit + 1):
        chain = f"{http_server.url}/redirect?to={quote(chain, safe='')}"
    r = web.execute(get(chain))
    assert r.status == "denied"
    assert "redirects" in r.stderr


def test_response_size_cap_stops_reading(web, http_server) -> None:
    r = web.execute(get(f"{http_server.url}/forever"))  # never ends on its own
    assert r.status == "ok"
    assert r.truncated
    assert "response body cut at 200000 bytes" in r.stderr
    assert "bytes cut here" in r.stdout  # and the 16 KiB output cap on top


def test_gzip_counts_decoded_bytes(web, http_server) -> None:
    r = web.execute(get(f"{http_server.url}/gzip/5000000"))  # 5 MB of 'z', ~5 KB on the wire
    assert r.truncated and "cut at 200000 bytes" in r.stderr


def test_secret_in_a_response_is_scrubbed(web, fleet: Fleet, http_server) -> None:
    secret = "Yh7-halops-known-credential-Q2w"
    fleet.credential("box_bmc", secret)
    fleet.hosts["box"]["bmc"] = {"address": "127.0.0.1", "port": 623, "user": "admin", "password": "box_bmc"}
    with fleet.executors() as ex:
        r = ex.execute(get(f"{http_server.url}/say?text=" + quote(f"db password is {secret} ok")))
    assert r.status == "ok"
    assert secret not in r.stdout
    assert "[REDACTED" in r.stdout


def test_timeout(fleet: Fleet, http_server) -> None:
    add_http(fleet, http_server)
    with fleet.executors(settings={"http_timeout_s": 0.5}) as ex:
        r = ex.execute(get(f"{http_server.url}/slow/3"))
    assert r.status == "timeout", r
    assert "timed out" in r.stderr


def test_connection_refused(web) -> None:
    r = web.execute(get(f"http://127.0.0.1:{free_port()}/ok"))
    assert r.status == "error"
    assert "cannot connect" in r.stderr


def test_tls_is_verified(fleet: Fleet) -> None:
    with run_http_server(tls=True) as srv:
        add_http(fleet, srv)
        with fleet.executors() as ex:
            r = ex.execute(get(f"{srv.url}/ok"))
    assert r.status == "error", r
    assert "certificate" in r.stderr.lower()
