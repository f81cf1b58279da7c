"""The Host/Origin guard on its own: which Host and Origin values pass, on a tiny ASGI app."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from safety.httpguard import HostCheck, guard, split_host

pytestmark = pytest.mark.unit


def _ok(request):  # noqa: ANN001, ANN202
    return PlainTextResponse("ok")


@pytest.fixture
def client() -> TestClient:
    app = Starlette(routes=[Route("/x", _ok, methods=["GET", "POST", "DELETE"])])
    return TestClient(guard(app, ["halops.lan", "10.0.0.5"]), base_url="http://127.0.0.1:8080")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:8080",
        "127.0.0.1",
        "127.8.9.1:1",
        "[::1]:8080",
        "[::1]",
        "localhost:8080",
        "LOCALHOST",
        "localhost.:8080",
        "halops.lan:8080",
        "HALOPS.LAN",
        "10.0.0.5:8080",
    ],
)
def test_allowed_hosts(host: str) -> None:
    assert HostCheck(["halops.lan", "10.0.0.5"]).host_allowed(host)


@pytest.mark.parametrize(
    "host",
    [
        None,
        "",
        " ",
        "attacker.example:8080",
        "attacker.example",
        "localhost.attacker.example:8080",
        "127.0.0.1.nip.io:8080",
        "halops.lan.attacker.example",
        "0.0.0.0:8080",
        "[::]:8080",
        "10.0.0.6:8080",
        "::1",
        "[::1",
        "[::1]x",
        "127.0.0.1:99999",
        "127.0.0.1:0",
        "127.0.0.1:http",
        "user@127.0.0.1",
        "127.0.0.1/x",
        "127.0.0.1:8080 evil",
    ],
)
def test_refused_hosts(host: str | None) -> None:
    assert not HostCheck(["halops.lan", "10.0.0.5"]).host_allowed(host)


def test_split_host_reads_ports_and_brackets() -> None:
    assert split_host("[::1]:80") == ("::1", "80")
    assert split_host("Web1.Example.:443") == ("web1.example", "443")
    assert split_host("localhost") == ("localhost", None)


def test_rebinding_host_gets_403_before_the_app(client: TestClient) -> None:
    r = client.get("/x", headers={"host": "attacker.example:8080"})
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "host_not_allowed"
    assert client.get("/x").status_code == 200
    assert client.get("/x", headers={"host": "halops.lan:8080"}).status_code == 200


@pytest.mark.parametrize(
    ("origin", "status"),
    [
        ("http://127.0.0.1:8080", 200),  # the page the server itself served
        ("http://attacker.example:8080", 403),
        ("http://attacker.example", 403),
        ("null", 403),
        ("http://localhost:3000", 403),  # another local page is still another origin
        ("https://127.0.0.1:8080", 403),  # another scheme is another origin
        ("http://127.0.0.1:8080/path", 403),
        ("not a url", 403),
    ],
)
def test_origin_on_state_changing_requests(client: TestClient, origin: str, status: int) -> None:
    r = client.post("/x", headers={"origin": origin})
    assert r.status_code == status
    if status == 403:
        assert r.json()["error"]["code"] == "origin_not_allowed"
    assert client.delete("/x", headers={"origin": origin}).status_code == status


def test_reads_and_originless_clients_are_unaffected(client: TestClient) -> None:
    assert client.get("/x", headers={"origin": "http://attacker.example"}).status_code == 200
    assert client.post("/x").status_code == 200  # curl, the openai client: no Origin


def test_two_host_headers_are_refused(client: TestClient) -> None:
    r = client.get("/x", headers=[("host", "127.0.0.1:8080"), ("host", "attacker.example")])
    assert r.status_code == 403


def test_the_bind_address_is_answered_a_wildcard_is_not() -> None:
    from agent.server.app import bind_hosts
    from halops.llm.config import ServerSettings
    from halops.llm.server import embedded_argv

    assert bind_hosts("10.0.0.5", ["ops.example"]) == ["ops.example", "10.0.0.5"]
    assert bind_hosts("0.0.0.0", []) == [] and bind_hosts("::", ["a"]) == ["a"]
    argv = embedded_argv(
        ServerSettings(host="10.0.0.7", allowed_hosts=["llm.lan"]), Path("m.gguf"), alias="x"
    )
    assert argv[argv.index("agent.model_server") :][0] == "agent.model_server"
    assert " ".join(argv).endswith("--halops_allowed_host llm.lan --halops_allowed_host 10.0.0.7")
