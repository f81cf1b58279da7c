"""The agent with the real safety policy and real executors against a real sshd: tool results,
a host that is down, and approvals (pending → approve over HTTP → runs once → joins the chat).
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from agent.config import AgentSettings
from agent.wiring import build_daemon
from halops.llm.config import LlmSettings
from tests.support.daemon import serve_daemon
from tests.support.fleet import add_ssh_host
from tests.support.procs import free_port
from tests.support.scripted_llm import ScriptedModel, call

pytestmark = pytest.mark.integration


def results_shown(request: dict) -> list[dict]:
    last = request["messages"][-1]["content"]
    return [json.loads(b) for b in re.findall(r"<tool_response>\n(.*?)\n</tool_response>", last, re.S)]


def shown_anywhere(request: dict) -> list[dict]:
    out = []
    for m in request["messages"]:
        for b in re.findall(r"<tool_response>\n(.*?)\n</tool_response>", m.get("content") or "", re.S):
            out.append(json.loads(b))
    return out


def daemon_for(fleet, tmp_path, model_url):
    fleet.write_inventory()
    settings = fleet.settings().model_copy(
        update={
            "data_dir": tmp_path / "data",
            "llm": LlmSettings(base_url=model_url, max_retries=0),
            "agent": AgentSettings(rag_k=0),
        }
    )
    return build_daemon(settings)


def ask(base: str, text: str) -> dict:
    r = httpx.post(
        f"{base}/v1/chat/completions", json={"messages": [{"role": "user", "content": text}]}, timeout=60
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_ssh_call_runs_on_the_real_host_and_the_result_reaches_the_model(fleet, sshd_server, tmp_path):
    add_ssh_host(fleet, sshd_server, "web1")
    script = [call("ssh", host="web1", command="uptime"), "web1 is up."]
    with ScriptedModel(script) as model, serve_daemon(daemon_for(fleet, tmp_path, model.url)) as base:
        body = ask(base, "Is web1 up?")
    (result,) = results_shown(model.requests[1])
    assert result["status"] == "ok" and "load average" in result["stdout"]
    assert body["halops"]["steps"][0]["verdict"] == "allow"
    assert body["choices"][0]["message"]["content"] == "web1 is up."


def test_a_host_that_is_down_is_reported_to_the_model_and_the_answer_still_comes(
    fleet, sshd_server, tmp_path
):
    # A good key and a known host key: only the host itself is missing (nothing listens there).
    port = free_port()
    fleet.credential("dead_ssh", sshd_server.client_key.read_bytes())
    fleet.known_hosts.write_text(re.sub(r"\]:\d+", f"]:{port}", sshd_server.known_hosts_line) + "\n")
    fleet.hosts["dead"] = {"address": "127.0.0.1", "ssh": {"user": "root", "port": port, "key": "dead_ssh"}}
    script = [call("ssh", host="dead", command="uptime"), "dead is unreachable."]
    with ScriptedModel(script) as model, serve_daemon(daemon_for(fleet, tmp_path, model.url)) as base:
        body = ask(base, "Is dead up?")
    (result,) = results_shown(model.requests[1])
    assert result["status"] == "error" and "refused" in result["stderr"].lower()
    assert body["choices"][0]["message"]["content"] == "dead is unreachable."


def test_unknown_host_and_hostile_command_are_denied_by_policy(fleet, sshd_server, tmp_path):
    add_ssh_host(fleet, sshd_server, "web1")
    script = [
        call("ssh", host="nosuchhost", command="uptime")
        + call("ssh", host="web1", command="cat /etc/shadow"),
        "Both refused.",
    ]
    with ScriptedModel(script) as model, serve_daemon(daemon_for(fleet, tmp_path, model.url)) as base:
        body = ask(base, "try things")
    shown = results_shown(model.requests[1])
    assert [r["status"] for r in shown] == ["denied", "denied"]
    assert all(s["verdict"] == "deny" for s in body["halops"]["steps"])


def test_approval_round_trip(fleet, sshd_server, tmp_path):
    add_ssh_host(fleet, sshd_server, "web1")
    marker = tmp_path / "approved-marker"
    question = "Please create the marker on web1."
    script = [
        call("ssh", host="web1", command=f"touch {marker}"),
        "It needs your approval.",
        "Done: created.",
    ]
    with ScriptedModel(script) as model, serve_daemon(daemon_for(fleet, tmp_path, model.url)) as base:
        first = ask(base, question)
        (shown,) = results_shown(model.requests[1])
        assert shown["status"] == "approval_required" and not marker.exists()
        approval_id = shown["approval_id"]
        assert first["halops"]["steps"][0]["approval_id"] == approval_id

        pending = httpx.get(f"{base}/v1/approvals").json()["data"]
        assert [p["id"] for p in pending] == [approval_id]
        assert pending[0]["arguments"]["command"] == f"touch {marker}"
        assert pending[0]["conversation_id"] == first["halops"]["conversation_id"]

        # A page elsewhere (or one that rebound its name to 127.0.0.1) cannot approve it.
        port = base.rsplit(":", 1)[1]
        for headers in (
            {"Origin": "http://attacker.example"},
            {"Origin": "null"},
            {"Host": f"attacker.example:{port}", "Origin": f"http://attacker.example:{port}"},
        ):
            url = f"{base}/v1/approvals/{approval_id}"
            refused = httpx.post(url, json={"decision": "approve"}, headers=headers)
            assert refused.status_code == 403 and not marker.exists()
        assert [p["id"] for p in httpx.get(f"{base}/v1/approvals").json()["data"]] == [approval_id]

        decided = httpx.post(f"{base}/v1/approvals/{approval_id}", json={"decision": "approve"}, timeout=60)
        assert decided.status_code == 200 and decided.json()["result"]["status"] == "ok"
        assert marker.exists()
        again = httpx.post(f"{base}/v1/approvals/{approval_id}", json={"decision": "approve"})
        assert again.status_code == 404  # runs once, never twice
        assert httpx.get(f"{base}/v1/approvals").json()["data"] == []

        # The operator continues the conversation: the approved result is shown to the model.
        r = httpx.post(
            f"{base}/v1/chat/completions",
            json={
                "messages": [
                    {"role": "user", "content": question},
                    {"role": "assistant", "content": first["choices"][0]["message"]["content"]},
                    {"role": "user", "content": "I approved it."},
                ]
            },
        )
        assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == "Done: created."
    joined = [x for x in shown_anywhere(model.requests[2]) if x.get("approval_id") == approval_id]
    assert joined and joined[0]["status"] == "ok"


def test_denied_approval_joins_the_conversation_as_denied(fleet, sshd_server, tmp_path):
    add_ssh_host(fleet, sshd_server, "web1")
    script = [call("ssh", host="web1", command="systemctl restart nginx"), "Asked.", "Understood."]
    with ScriptedModel(script) as model, serve_daemon(daemon_for(fleet, tmp_path, model.url)) as base:
        ask(base, "restart nginx on web1")
        approval_id = results_shown(model.requests[1])[0]["approval_id"]
        r = httpx.post(f"{base}/v1/approvals/{approval_id}", json={"decision": "deny", "comment": "not now"})
        assert r.json() == {"id": approval_id, "status": "denied"}
        assert httpx.post(f"{base}/v1/approvals/nope", json={"decision": "approve"}).status_code == 404
        assert httpx.post(f"{base}/v1/approvals/{approval_id}", json={"decision": "maybe"}).status_code == 400
        ask(base, "restart nginx on web1")  # same first message: same conversation
    joined = [x for x in shown_anywhere(model.requests[2]) if x.get("approval_id") == approval_id]
    assert joined[0]["status"] == "denied"
